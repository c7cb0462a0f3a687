//! Pooling on the CPU over contiguous NHWC data: 2×2/2 max pooling with argmax, adaptive average
//! pooling with PyTorch's bins. Each output (or input, for the backward passes) is computed
//! independently, one image per rayon task; outputs come from the buffer pool (a steady training
//! step allocates none).
use rayon::prelude::*;

use super::read_f32;
use crate::ops::adaptive_bin;
use crate::tensor::{CpuStorage, Layout};

/// Returns (pooled values, flat input index of each maximum as i32).
pub fn max_pool2d_2x2(x: &CpuStorage, layout: &Layout) -> (CpuStorage, CpuStorage) {
    let dtype = x.dtype();
    let values = read_f32(x, layout);
    let [n, h, w, c] = [layout.shape()[0], layout.shape()[1], layout.shape()[2], layout.shape()[3]];
    let (p, q) = (h / 2, w / 2);
    let image_out = p * q * c;
    let mut out = super::buffer_pool::for_overwrite(n * image_out);
    // Every index is written below (each output pixel's c channels).
    let mut argmax = super::buffer_pool::i32_for_overwrite(n * image_out);
    out.par_chunks_mut(image_out.max(1)).zip(argmax.par_chunks_mut(image_out.max(1))).enumerate().for_each(|(image, (out, argmax))| {
        // One output pixel at a time, its c channels a contiguous run in all four window pixels
        // (a loop over channels with no index arithmetic per element).
        for (pixel, (out, argmax)) in out.chunks_exact_mut(c).zip(argmax.chunks_exact_mut(c)).enumerate() {
            let (row, col) = (pixel / q, pixel % q);
            let window: [usize; 4] = [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(dh, dw)| ((image * h + 2 * row + dh) * w + 2 * col + dw) * c);
            let runs = window.map(|start| &values[start..start + c]);
            for channel in 0..c {
                let (mut best, mut at) = (runs[0][channel], 0);
                for (k, run) in runs.iter().enumerate().skip(1) {
                    let v = run[channel];
                    // `>` keeps the first of equal maxima; a NaN wins, as in PyTorch.
                    if v > best || v.is_nan() && !best.is_nan() {
                        (best, at) = (v, k);
                    }
                }
                out[channel] = best;
                argmax[channel] = (window[at] + channel) as i32;
            }
        }
    });
    (CpuStorage::from_f32(out, dtype), CpuStorage::I32(argmax))
}

/// dx[i] = dy[o] where argmax[o] = i (2×2/2 windows do not overlap: at most one o per i), else 0.
pub fn max_pool2d_2x2_backward(dy: &CpuStorage, dy_layout: &Layout, argmax: &CpuStorage, input_shape: &[usize]) -> CpuStorage {
    let dtype = dy.dtype();
    let dy = read_f32(dy, dy_layout);
    let CpuStorage::I32(argmax) = argmax else { unreachable!("max-pool argmax is i32") };
    let mut dx = super::buffer_pool::zeros(input_shape.iter().product());
    let (image_in, image_out) = (input_shape[1..].iter().product::<usize>(), dy.len() / input_shape[0].max(1));
    if image_in == 0 || image_out == 0 {
        return CpuStorage::from_f32(dx, dtype);
    }
    // One image per task: an image's maxima lie in its own input.
    dx.par_chunks_mut(image_in).zip(dy.par_chunks(image_out).zip(argmax.par_chunks(image_out))).enumerate().for_each(|(image, (dx, (dy, argmax)))| {
        let first = image * image_in;
        for (&g, &i) in dy.iter().zip(argmax) {
            dx[i as usize - first] = g;
        }
    });
    CpuStorage::from_f32(dx, dtype)
}

pub fn adaptive_avg_pool2d(x: &CpuStorage, layout: &Layout, out_h: usize, out_w: usize) -> CpuStorage {
    let dtype = x.dtype();
    let values = read_f32(x, layout);
    let [n, h, w, c] = [layout.shape()[0], layout.shape()[1], layout.shape()[2], layout.shape()[3]];
    let image_out = out_h * out_w * c;
    let mut out = super::buffer_pool::for_overwrite(n * image_out);
    out.par_chunks_mut(image_out.max(1)).enumerate().for_each(|(image, out)| {
        for i in 0..out_h {
            let (h0, h1) = adaptive_bin(i, out_h, h);
            for j in 0..out_w {
                let (w0, w1) = adaptive_bin(j, out_w, w);
                let count = ((h1 - h0) * (w1 - w0)) as f32;
                for channel in 0..c {
                    let mut sum = 0.0f32;
                    for row in h0..h1 {
                        for col in w0..w1 {
                            sum += values[((image * h + row) * w + col) * c + channel];
                        }
                    }
                    out[(i * out_w + j) * c + channel] = sum / count;
                }
            }
        }
    });
    CpuStorage::from_f32(out, dtype)
}

/// dx[n, h, w, c] = Σ over the bins (i, j) that contain (h, w) of dy[n, i, j, c] / |bin|.
pub fn adaptive_avg_pool2d_backward(dy: &CpuStorage, dy_layout: &Layout, input_shape: &[usize]) -> CpuStorage {
    let dtype = dy.dtype();
    let dy = read_f32(dy, dy_layout);
    let [n, h, w, c] = [input_shape[0], input_shape[1], input_shape[2], input_shape[3]];
    let (out_h, out_w) = (dy_layout.shape()[1], dy_layout.shape()[2]);
    let image_in = h * w * c;
    let mut dx = super::buffer_pool::zeros(n * image_in);
    dx.par_chunks_mut(image_in.max(1)).enumerate().for_each(|(image, dx)| {
        for i in 0..out_h {
            let (h0, h1) = adaptive_bin(i, out_h, h);
            for j in 0..out_w {
                let (w0, w1) = adaptive_bin(j, out_w, w);
                let count = ((h1 - h0) * (w1 - w0)) as f32;
                for channel in 0..c {
                    let share = dy[((image * out_h + i) * out_w + j) * c + channel] / count;
                    for row in h0..h1 {
                        for col in w0..w1 {
                            dx[(row * w + col) * c + channel] += share;
                        }
                    }
                }
            }
        }
    });
    CpuStorage::from_f32(dx, dtype)
}
