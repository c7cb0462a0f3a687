//! Convolution on the CPU. On AVX-512 CPUs the direct convolution (conv_direct.rs: hand-written
//! micro-kernels, no im2col) does every pass it fits: stride 1 for the forward and backward-data,
//! any stride for backward-weight, at least MIN_DIRECT_CHANNELS vector channels. Everything else is
//! this file's im2col over a block of output pixels at a time, then the CPU GEMM
//! (backend/cpu/matmul.rs: the gemm crate's single-threaded kernels). Blocks are independent, so
//! rayon spreads them over cores, and the im2col buffer stays small whatever the image size.
//!
//! - forward: y[block] = im2col(x)[block] · wᵀ, the bias written into y first and accumulated onto
//!   by the GEMM, ReLU on the block while it is in cache;
//! - backward-data at stride 1: the forward convolution of dy with the flipped, transposed weight
//!   (what the GPU does, docs/vgg16.md), so it splits over pixel blocks like the forward; other
//!   strides scatter dy · w back with col2im, one image per task;
//! - backward-weight: dw = Σ_pixels dyᵀ · im2col(x), split into a fixed number of pixel groups
//!   (a function of the shape, never of the thread count) times the filter rows; each task owns its
//!   slice of the result and the groups are summed in order, so every bit of dw is the same on any
//!   number of threads.
//!
//! Every block and group boundary depends on the shape alone: the results do not depend on the
//! thread count (tests/conv.rs checks all three passes).
//!
//! Inputs are contiguous NHWC, weights contiguous KRSC (see ops/conv.rs), all read as f32.
use rayon::prelude::*;

use super::{buffer_pool, conv_direct};
use super::matmul::{gemm, transposed_copy, Strided};
use super::read_f32;
use crate::ops::ConvGeometry;
use crate::tensor::{CpuStorage, Layout};

thread_local! {
    /// Set by `with_im2col` on the calling thread.
    static IM2COL_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every convolution this thread starts on the im2col + GEMM path, even where the
/// direct convolution would serve, so that tests reach that path on AVX-512 hosts too.
/// `MEMEFUSE_CONV_IM2COL=1` in the environment does the same for the whole process.
pub fn with_im2col<R>(f: impl FnOnce() -> R) -> R {
    let before = IM2COL_ONLY.replace(true);
    let result = f();
    IM2COL_ONLY.set(before);
    result
}

/// Whether the direct convolution may serve this call (AVX-512, and neither switch above).
fn direct_allowed() -> bool {
    static FROM_ENV: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let im2col_forced = *FROM_ENV.get_or_init(|| std::env::var("MEMEFUSE_CONV_IM2COL").is_ok_and(|v| v == "1"));
    conv_direct::available() && !im2col_forced && !IM2COL_ONLY.get()
}

/// Channels along the direct kernels' vectors (the forward's K, the backward passes' C) below
/// which im2col + GEMM is kept: with fewer, most lanes would be masked off (an RGB input layer).
const MIN_DIRECT_CHANNELS: usize = 16;

/// Output pixels per forward block, roughly: large enough that the GEMM's packing of the weight
/// pays off, small enough that an image splits into several blocks for the cores to share.
const BLOCK_PIXELS: usize = 256;

/// Rows of one image's im2col matrix from `first`, filter rows `filter_rows` only: row = output
/// pixel (p, q), column = (r, s, c) in KRSC order with r in `filter_rows`; taps in the padding are 0.
/// Rows are `width` apart; the columns past the taps (a width padded for the GEMM) are set to 0.
fn im2col(image: &[f32], g: &ConvGeometry, first: usize, rows: usize, filter_rows: std::ops::Range<usize>, width: usize, col: &mut [f32]) {
    let filter_row = g.kernel_w * g.in_c;
    let taps = filter_rows.len() * filter_row;
    for row in 0..rows {
        col[row * width + taps..][..width - taps].fill(0.0);
        let (p, q) = ((first + row) / g.out_w, (first + row) % g.out_w);
        let first_iw = (q * g.stride_w) as isize - g.pad_w as isize;
        for (slot, r) in filter_rows.clone().enumerate() {
            let target = &mut col[row * width + slot * filter_row..][..filter_row];
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

/// The adjoint of `im2col` over all filter rows: adds each column entry back onto the input pixel
/// it was read from.
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

/// Output pixels per block of each image: the image is cut into near-equal blocks of about
/// BLOCK_PIXELS, one more when that makes the total over the batch even (so that two cores get
/// equal halves even of a single image); a function of the shape only.
fn block_pixels(g: &ConvGeometry) -> usize {
    let pixels = g.out_h * g.out_w;
    let mut count = pixels.div_ceil(BLOCK_PIXELS);
    if (count * g.batch) % 2 == 1 && pixels >= 64 {
        count += 1;
    }
    pixels.div_ceil(count.max(1))
}

/// y[n, p, q, k] = relu?(Σ x·w + bias[k]) on f32 slices: x NHWC, w KRSC.
fn forward_f32(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, relu: bool) -> Vec<f32> {
    let (taps, k, image_len) = (g.filter_len(), g.out_c, g.in_h * g.in_w * g.in_c);
    // The gemm crate packs a transposed or narrow b into a buffer it allocates on every call (see
    // matmul.rs): wᵀ is copied once per call into a row-major [taps, padded_k] buffer instead, its
    // width a multiple of the crate's register, and a block whose k is not goes through a padded
    // scratch block of its own.
    let padded_k = k.next_multiple_of(GEMM_LANES);
    let weight = transposed_copy(w, k, taps, padded_k);
    // Every element is written: the bias copy or the GEMM (beta 0 ignores what the buffer held).
    let mut out = buffer_pool::for_overwrite(g.output_pixels() * k);
    if out.is_empty() {
        buffer_pool::give(weight);
        return out;
    }
    // One task per block of an image's output pixels (the last block of an image may be shorter).
    let (pixels, block) = (g.out_h * g.out_w, block_pixels(g));
    out.par_chunks_mut(pixels * k).enumerate().for_each(|(n, image_out)| image_out.par_chunks_mut(block * k).enumerate().for_each(|(index, y)| {
        let (first, rows) = (index * block, y.len() / k);
        with_scratch([rows * taps, if padded_k == k { 0 } else { rows * padded_k }], |[col, padded]| {
            // im2col writes every entry (the padding's as zeros).
            im2col(&x[n * image_len..][..image_len], g, first, rows, 0..g.kernel_h, taps, col);
            let target = if padded_k == k { &mut *y } else { &mut *padded };
            // target (rows×padded_k) = col (rows×taps) · wᵀ (taps×padded_k) + bias. The bias goes in
            // first and the GEMM adds onto it: no separate pass over y.
            let beta = match bias {
                Some(b) => {
                    target.chunks_mut(padded_k.max(1)).for_each(|pixel| {
                        let (values, padding) = pixel.split_at_mut(k);
                        values.copy_from_slice(b);
                        padding.fill(0.0);
                    });
                    1.0
                }
                None => 0.0,
            };
            gemm(rows, taps, padded_k, col, Strided::rows(0, taps), &weight, Strided::rows(0, padded_k), beta, target, Strided::rows(0, padded_k));
            if padded_k != k {
                for (pixel, padded_pixel) in y.chunks_mut(k.max(1)).zip(padded.chunks(padded_k)) {
                    pixel.copy_from_slice(&padded_pixel[..k]);
                }
            }
            if relu {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        })
    }));
    buffer_pool::give(weight);
    out
}

thread_local! {
    /// Each thread's scratch for the block it is working on (im2col columns, a padded output block,
    /// dyᵀ), kept between calls. From the shared pool, scratch made a steady step's allocations
    /// depend on scheduling: the pool holds as many buffers of a length as were ever out at once,
    /// and whether both workers were inside one layer's blocks at the same moment varies from step
    /// to step. Grown on demand only, a thread's scratch still grew on whichever step it first ran
    /// the layer with the largest blocks; it starts at SCRATCH_FLOOR instead, which every block of
    /// vgg16-small fits, like the gemm crate's per-thread workspace.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The least a thread's scratch holds once made: 1 MiB.
const SCRATCH_FLOOR: usize = 1 << 18;

/// Runs `f` on disjoint slices of `lens` from this thread's scratch, in unspecified contents
/// (callers write every element they read).
fn with_scratch<const N: usize, R>(lens: [usize; N], f: impl FnOnce([&mut [f32]; N]) -> R) -> R {
    // Taken out while in use: a nested call (none today) would get a fresh buffer, not this one.
    let mut buffer = SCRATCH.with(|scratch| std::mem::take(&mut *scratch.borrow_mut()));
    let total: usize = lens.iter().sum();
    if buffer.len() < total {
        buffer.resize(total.max(SCRATCH_FLOOR), 0.0);
    }
    let mut rest = buffer.as_mut_slice();
    let result = f(lens.map(|len| {
        let (slice, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        slice
    }));
    SCRATCH.with(|scratch| *scratch.borrow_mut() = buffer);
    result
}

/// f32 lanes of the gemm crate's widest register: an output width it needs no packing copy for.
const GEMM_LANES: usize = 16;

/// y[n, p, q, k] = relu?(Σ x·w + bias[k]).
pub fn conv2d_forward(x: &CpuStorage, x_layout: &Layout, w: &CpuStorage, w_layout: &Layout, bias: Option<(&CpuStorage, &Layout)>, g: &ConvGeometry, relu: bool) -> CpuStorage {
    let dtype = x.dtype();
    let (x, w) = (read_f32(x, x_layout), read_f32(w, w_layout));
    let bias = bias.map(|(b, layout)| read_f32(b, layout));
    if direct_allowed() && conv_direct::strips_fit(g) && g.out_c >= MIN_DIRECT_CHANNELS {
        return CpuStorage::from_f32(conv_direct::forward(&x, &w, bias.as_deref(), g, relu), dtype);
    }
    CpuStorage::from_f32(forward_f32(&x, &w, bias.as_deref(), g, relu), dtype)
}

/// The weight that turns backward-data into a forward convolution (stride 1):
/// w′[c, r, s, k] = w[k, R−1−r, S−1−s, c], KRSC with C output and K input channels. Per tap it is a
/// K×C → C×K transpose, done in tiles so that neither side walks memory a whole row apart per
/// element (element by element it cost as much as the GEMM at C256@14).
fn flipped_transposed_weight(w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    const TILE: usize = 16;
    let (k, c, kh, kw) = (g.out_c, g.in_c, g.kernel_h, g.kernel_w);
    let (source_row, target_row) = (kh * kw * c, kh * kw * k);
    // A permutation of w: every element is written.
    let mut flipped = buffer_pool::for_overwrite(w.len());
    for r in 0..kh {
        for s in 0..kw {
            let source = (r * kw + s) * c;
            let target = ((kh - 1 - r) * kw + (kw - 1 - s)) * k;
            for k0 in (0..k).step_by(TILE) {
                for c0 in (0..c).step_by(TILE) {
                    for channel in c0..(c0 + TILE).min(c) {
                        for out_k in k0..(k0 + TILE).min(k) {
                            flipped[target + channel * target_row + out_k] = w[source + out_k * source_row + channel];
                        }
                    }
                }
            }
        }
    }
    flipped
}

/// dx = col2im(dy · w): the gradient of the forward with respect to its input.
pub fn conv2d_backward_data(dy: &CpuStorage, dy_layout: &Layout, w: &CpuStorage, w_layout: &Layout, g: &ConvGeometry) -> CpuStorage {
    let dtype = dy.dtype();
    let (dy, w) = (read_f32(dy, dy_layout), read_f32(w, w_layout));
    if direct_allowed() && g.in_c >= MIN_DIRECT_CHANNELS {
        if let Some(dx) = conv_direct::backward_data(&dy, &w, g) {
            return CpuStorage::from_f32(dx, dtype);
        }
    }
    if let Some(flipped) = g.data_gradient_as_forward() {
        // dx = conv(dy, w′) with padding R−1−pad: every dx pixel is one GEMM row, no scatter.
        let weight = flipped_transposed_weight(&w, g);
        let dx = forward_f32(&dy, &weight, None, &flipped, false);
        buffer_pool::give(weight);
        return CpuStorage::from_f32(dx, dtype);
    }
    let (taps, k, image_len, pixels) = (g.filter_len(), g.out_c, g.in_h * g.in_w * g.in_c, g.out_h * g.out_w);
    let mut dx = buffer_pool::zeros(g.batch * image_len);
    dx.par_chunks_mut(image_len.max(1)).enumerate().for_each(|(n, image)| {
        let block = BLOCK_PIXELS.min(pixels);
        // Each block's rows are overwritten by the GEMM (beta 0) before col2im reads them.
        with_scratch([block * taps], |[col]| {
            for first in (0..pixels).step_by(block.max(1)) {
                let rows = block.min(pixels - first);
                // col (rows×taps) = dy (rows×k) · w (k×taps).
                gemm(rows, k, taps, &dy, Strided::rows((n * pixels + first) * k, k), &w, Strided::rows(0, taps), 0.0, col, Strided::rows(0, taps));
                col2im_add(col, g, first, rows, image);
            }
        });
    });
    CpuStorage::from_f32(dx, dtype)
}

/// Pixels (over the whole batch) one backward-weight GEMM call reduces over: bounds the im2col
/// buffer; each call adds its product onto the task's partial result.
const WEIGHT_GRADIENT_CHUNK: usize = 512;

/// Partial weight gradients summed in parallel: a number that depends on the shape alone (at least
/// 2 so that two cores share even one small image, at most 8), so that the grouping of the float
/// additions (and so the result, to the last bit) does not depend on the thread count or on work
/// stealing — a rayon fold/reduce would make training on the CPU irreproducible.
fn weight_gradient_groups(total_pixels: usize) -> usize {
    (total_pixels / 2048).clamp(2, 8).min(total_pixels.max(1))
}

/// dw = Σ_images dyᵀ · im2col(x): the gradient with respect to the KRSC weight.
pub fn conv2d_backward_weight(x: &CpuStorage, x_layout: &Layout, dy: &CpuStorage, dy_layout: &Layout, g: &ConvGeometry) -> CpuStorage {
    let dtype = x.dtype();
    let (x, dy) = (read_f32(x, x_layout), read_f32(dy, dy_layout));
    if direct_allowed() && g.in_c >= MIN_DIRECT_CHANNELS {
        return CpuStorage::from_f32(conv_direct::backward_weight(&x, &dy, g), dtype);
    }
    let (taps, k, image_len, pixels) = (g.filter_len(), g.out_c, g.in_h * g.in_w * g.in_c, g.out_h * g.out_w);
    let total = g.batch * pixels;
    let filter_row = g.kernel_w * g.in_c;
    // The GEMM's output row is padded to a multiple of the crate's register and its a (dyᵀ) is a
    // row-major copy per chunk: with a narrow output or a transposed a, the crate would pack into
    // a buffer it allocates on every call (see forward_f32).
    let padded_row = filter_row.next_multiple_of(GEMM_LANES);
    let groups = weight_gradient_groups(total);
    // Task (group, r): dw[:, r-th filter row] over the group's pixels, into a buffer of its own.
    let tasks: Vec<(usize, usize)> = (0..groups).flat_map(|group| (0..g.kernel_h).map(move |r| (group, r))).collect();
    let partials: Vec<Vec<f32>> = tasks
        .into_par_iter()
        .map(|(group, r)| {
            let (start, end) = (group * total / groups, (group + 1) * total / groups);
            let mut dw = buffer_pool::zeros(k * padded_row);
            // Room for the longest chunk; each chunk's rows are written by im2col before the GEMM,
            // and dyᵀ's columns by the transpose.
            let longest = WEIGHT_GRADIENT_CHUNK.min(end - start).min(pixels);
            with_scratch([longest * padded_row, k * longest], |[col, dy_t]| {
                let mut at = start;
                let mut beta = 0.0;
                while at < end {
                    // A chunk stays inside one image.
                    let (n, first) = (at / pixels, at % pixels);
                    let rows = WEIGHT_GRADIENT_CHUNK.min(end - at).min(pixels - first);
                    im2col(&x[n * image_len..][..image_len], g, first, rows, r..r + 1, padded_row, &mut col[..rows * padded_row]);
                    for (pixel, gradient) in dy[at * k..][..rows * k].chunks(k.max(1)).enumerate() {
                        gradient.iter().enumerate().for_each(|(out_k, &v)| dy_t[out_k * rows + pixel] = v);
                    }
                    // dw_r (k×padded S·C) += dyᵀ (k×rows) · col (rows×padded S·C).
                    gemm(k, rows, padded_row, dy_t, Strided::rows(0, rows), col, Strided::rows(0, padded_row), beta, &mut dw, Strided::rows(0, padded_row));
                    beta = 1.0;
                    at += rows;
                }
            });
            dw
        })
        .collect();
    // Summed in group order, each filter row's slice into its columns of the KRSC gradient.
    let mut dw = buffer_pool::zeros(k * taps);
    for (task, partial) in partials.into_iter().enumerate() {
        let r = task % g.kernel_h;
        for (out_k, row) in partial.chunks(padded_row.max(1)).enumerate() {
            dw[out_k * taps + r * filter_row..][..filter_row].iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        buffer_pool::give(partial);
    }
    CpuStorage::from_f32(dw, dtype)
}

#[cfg(test)]
mod tests {
    use super::conv_direct::tests::{geometry, random};
    use super::*;
    use crate::tensor::DType;

    fn values(storage: CpuStorage) -> Vec<f32> {
        match storage {
            CpuStorage::F32(values) => values,
            _ => unreachable!("f32 in, f32 out"),
        }
    }

    /// Forward (bias, ReLU), backward-data and backward-weight of `g` on seeded inputs, by whichever
    /// path the dispatch picks on this thread.
    fn passes(g: &ConvGeometry, seed: u64) -> [Vec<f32>; 3] {
        let (x, w, bias) = (random(g.batch * g.in_h * g.in_w * g.in_c, seed), random(g.out_c * g.filter_len(), seed + 1), random(g.out_c, seed + 2));
        let dy = random(g.output_pixels() * g.out_c, seed + 3);
        let store = |v: &[f32]| (CpuStorage::from_f32(v.to_vec(), DType::F32), Layout::contiguous(&[v.len()]));
        let ((x, xl), (w, wl), (b, bl), (dy, dyl)) = (store(&x), store(&w), store(&bias), store(&dy));
        [
            values(conv2d_forward(&x, &xl, &w, &wl, Some((&b, &bl)), g, true)),
            values(conv2d_backward_data(&dy, &dyl, &w, &wl, g)),
            values(conv2d_backward_weight(&x, &xl, &dy, &dyl, g)),
        ]
    }

    fn shapes() -> Vec<ConvGeometry> {
        vec![
            geometry(2, 7, 19, 19, 37, [3, 3], 1, 1),
            geometry(1, 9, 30, 70, 33, [5, 3], 1, 2),
            geometry(3, 4, 4, 20, 40, [3, 3], 1, 1),
            geometry(2, 6, 16, 48, 20, [3, 3], 1, 1),
            geometry(2, 9, 12, 3, 16, [3, 3], 1, 1),
            geometry(1, 9, 11, 20, 13, [3, 3], 2, 1),
        ]
    }

    /// The im2col + GEMM path (forced) agrees with the direct convolution to f32 rounding, and
    /// gives the same bits on 1 and 3 threads; on a CPU without AVX-512 both runs take im2col.
    #[test]
    fn im2col_path_matches_the_direct_path_and_is_reproducible() {
        let on = |threads: usize, f: &(dyn Fn() -> [Vec<f32>; 3] + Sync)| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f);
        for (index, g) in shapes().iter().enumerate() {
            let seed = 100 + 10 * index as u64;
            let direct = passes(g, seed);
            let im2col = on(1, &|| with_im2col(|| passes(g, seed)));
            assert_eq!(im2col, on(3, &|| with_im2col(|| passes(g, seed))), "im2col path differs between 1 and 3 threads, {g:?}");
            for (pass, (a, b)) in ["forward", "backward-data", "backward-weight"].iter().zip(direct.iter().zip(&im2col)) {
                assert_eq!(a.len(), b.len());
                let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let worst = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(worst <= 1e-5 * scale, "{pass} {g:?}: direct and im2col differ by {worst} (scale {scale})");
            }
        }
    }
}
