//! Convolution on the CPU: im2col over a block of output pixels of one image at a time, then
//! matrixmultiply's sgemm. Blocks are independent, so rayon spreads them over cores, and the im2col
//! buffer stays small (PIXELS_PER_BLOCK rows) whatever the image size.
//!
//! Inputs are contiguous NHWC, weights contiguous KRSC (see ops/conv.rs), all read as f32.
use rayon::prelude::*;

use super::matmul::{gemm, Strided};
use super::read_f32;
use crate::ops::ConvGeometry;
use crate::tensor::{CpuStorage, Layout};

const PIXELS_PER_BLOCK: usize = 1024;

/// Rows `first..first+rows` of one image's im2col matrix: row = output pixel (p, q), column =
/// (r, s, c) in KRSC order; taps in the padding are zero.
fn im2col(image: &[f32], g: &ConvGeometry, first: usize, rows: usize, col: &mut [f32]) {
    let taps = g.filter_len();
    let filter_row = g.kernel_w * g.in_c;
    for row in 0..rows {
        let (p, q) = ((first + row) / g.out_w, (first + row) % g.out_w);
        let first_iw = (q * g.stride_w) as isize - g.pad_w as isize;
        for r in 0..g.kernel_h {
            let target = &mut col[row * taps + r * filter_row..][..filter_row];
            let ih = (p * g.stride_h + r) as isize - g.pad_h as isize;
            if ih < 0 || ih as usize >= g.in_h {
                target.fill(0.0);
            } else if first_iw >= 0 && first_iw as usize + g.kernel_w <= g.in_w {
                // The whole filter row lies inside the image: its kernel_w pixels are contiguous in
                // NHWC, and in (s, c) order in the column, so one copy does (few channels made the
                // per-pixel copies the bulk of the CPU convolution).
                target.copy_from_slice(&image[(ih as usize * g.in_w + first_iw as usize) * g.in_c..][..filter_row]);
            } else {
                for (s, pixel) in target.chunks_mut(g.in_c.max(1)).enumerate() {
                    let iw = first_iw + s as isize;
                    if iw < 0 || iw as usize >= g.in_w {
                        pixel.fill(0.0);
                    } else {
                        pixel.copy_from_slice(&image[(ih as usize * g.in_w + iw as usize) * g.in_c..][..g.in_c]);
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds each column entry back onto the input pixel it was read from.
fn col2im_add(col: &[f32], g: &ConvGeometry, first: usize, rows: usize, image: &mut [f32]) {
    let taps = g.filter_len();
    let filter_row = g.kernel_w * g.in_c;
    for row in 0..rows {
        let (p, q) = ((first + row) / g.out_w, (first + row) % g.out_w);
        let first_iw = (q * g.stride_w) as isize - g.pad_w as isize;
        for r in 0..g.kernel_h {
            let ih = (p * g.stride_h + r) as isize - g.pad_h as isize;
            if ih < 0 || ih as usize >= g.in_h {
                continue;
            }
            let source = &col[row * taps + r * filter_row..][..filter_row];
            // As in im2col: a filter row inside the image is one contiguous run of pixels.
            let (first_s, last_s) = ((-first_iw).max(0) as usize, (g.in_w as isize - first_iw).clamp(0, g.kernel_w as isize) as usize);
            if first_s >= last_s {
                continue;
            }
            let start = (ih as usize * g.in_w + (first_iw + first_s as isize) as usize) * g.in_c;
            let target = &mut image[start..][..(last_s - first_s) * g.in_c];
            for (t, v) in target.iter_mut().zip(&source[first_s * g.in_c..]) {
                *t += v;
            }
        }
    }
}

/// Output-pixel blocks of every image: (image, first pixel, pixel count).
fn pixel_blocks(g: &ConvGeometry) -> Vec<(usize, usize, usize)> {
    let pixels = g.out_h * g.out_w;
    (0..g.batch).flat_map(|n| (0..pixels).step_by(PIXELS_PER_BLOCK).map(move |first| (n, first, PIXELS_PER_BLOCK.min(pixels - first)))).collect()
}

/// y[n, p, q, k] = relu?(Σ x·w + bias[k]).
pub fn conv2d_forward(x: &CpuStorage, x_layout: &Layout, w: &CpuStorage, w_layout: &Layout, bias: Option<(&CpuStorage, &Layout)>, g: &ConvGeometry, relu: bool) -> CpuStorage {
    let dtype = x.dtype();
    let (x, w) = (read_f32(x, x_layout), read_f32(w, w_layout));
    let bias = bias.map(|(b, layout)| read_f32(b, layout));
    let (taps, k, image_len) = (g.filter_len(), g.out_c, g.in_h * g.in_w * g.in_c);
    let mut out = vec![0.0f32; g.output_pixels() * k];
    // Split the output into the same blocks as the work, so each task owns its rows.
    let mut chunks: Vec<&mut [f32]> = Vec::new();
    let mut rest = out.as_mut_slice();
    for &(_, _, rows) in &pixel_blocks(g) {
        let (head, tail) = rest.split_at_mut(rows * k);
        chunks.push(head);
        rest = tail;
    }
    pixel_blocks(g).into_par_iter().zip(chunks).for_each(|((n, first, rows), y)| {
        let mut col = vec![0.0f32; rows * taps];
        im2col(&x[n * image_len..][..image_len], g, first, rows, &mut col);
        // y (rows×k) = col (rows×taps) · wᵀ (taps×k); w is [k, taps] row-major.
        gemm(rows, taps, k, &col, Strided::rows(0, taps), &w, Strided::transposed_rows(0, taps), 0.0, y, Strided::rows(0, k));
        for pixel in y.chunks_mut(k.max(1)) {
            if let Some(b) = &bias {
                pixel.iter_mut().zip(b.iter()).for_each(|(v, b)| *v += b);
            }
            if relu {
                pixel.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
    });
    CpuStorage::from_f32(out, dtype)
}

/// dx = col2im(dy · w): the gradient of the forward with respect to its input.
pub fn conv2d_backward_data(dy: &CpuStorage, dy_layout: &Layout, w: &CpuStorage, w_layout: &Layout, g: &ConvGeometry) -> CpuStorage {
    let dtype = dy.dtype();
    let (dy, w) = (read_f32(dy, dy_layout), read_f32(w, w_layout));
    let (taps, k, image_len, pixels) = (g.filter_len(), g.out_c, g.in_h * g.in_w * g.in_c, g.out_h * g.out_w);
    let mut dx = vec![0.0f32; g.batch * image_len];
    dx.par_chunks_mut(image_len.max(1)).enumerate().for_each(|(n, image)| {
        let mut col = vec![0.0f32; PIXELS_PER_BLOCK.min(pixels) * taps];
        for first in (0..pixels).step_by(PIXELS_PER_BLOCK) {
            let rows = PIXELS_PER_BLOCK.min(pixels - first);
            // col (rows×taps) = dy (rows×k) · w (k×taps).
            gemm(rows, k, taps, &dy, Strided::rows((n * pixels + first) * k, k), &w, Strided::rows(0, taps), 0.0, &mut col, Strided::rows(0, taps));
            col2im_add(&col, g, first, rows, image);
        }
    });
    CpuStorage::from_f32(dx, dtype)
}

/// Partial weight gradients summed in parallel: a fixed number, so that the grouping of the float
/// additions (and so the result, to the last bit) does not depend on the thread count or on
/// work stealing — a rayon fold/reduce would make training on the CPU irreproducible.
const WEIGHT_GRADIENT_GROUPS: usize = 8;

/// dw = Σ_images dyᵀ · im2col(x): the gradient with respect to the KRSC weight.
pub fn conv2d_backward_weight(x: &CpuStorage, x_layout: &Layout, dy: &CpuStorage, dy_layout: &Layout, g: &ConvGeometry) -> CpuStorage {
    let dtype = x.dtype();
    let (x, dy) = (read_f32(x, x_layout), read_f32(dy, dy_layout));
    let (taps, k, image_len, pixels) = (g.filter_len(), g.out_c, g.in_h * g.in_w * g.in_c, g.out_h * g.out_w);
    let blocks = pixel_blocks(g);
    let group_len = blocks.len().div_ceil(WEIGHT_GRADIENT_GROUPS).max(1);
    let partials: Vec<Vec<f32>> = blocks
        .par_chunks(group_len)
        .map(|group| {
            let (mut dw, mut col) = (vec![0.0f32; k * taps], Vec::new());
            for &(n, first, rows) in group {
                col.resize(rows * taps, 0.0);
                im2col(&x[n * image_len..][..image_len], g, first, rows, &mut col);
                // dw (k×taps) += dyᵀ (k×rows) · col (rows×taps).
                gemm(k, rows, taps, &dy, Strided::transposed_rows((n * pixels + first) * k, k), &col, Strided::rows(0, taps), 1.0, &mut dw, Strided::rows(0, taps));
            }
            dw
        })
        .collect();
    // Summed in group order.
    let mut dw = vec![0.0f32; k * taps];
    for partial in &partials {
        dw.iter_mut().zip(partial).for_each(|(a, b)| *a += b);
    }
    CpuStorage::from_f32(dw, dtype)
}
