//! Softmax and log-softmax over the last axis, numerically stable (the row maximum is subtracted).
//! Exponentials are `simd_math`'s f32 exp (within 1 ulp), the row sums f64 lane sums in a fixed
//! order, so every row's result depends on that row alone, whatever the thread count.
use rayon::prelude::*;

use super::{buffer_pool, read_f32, simd_math};
use crate::tensor::{CpuStorage, Layout};

/// Rows per rayon task: about 16K elements, so short rows do not make a task each.
fn rows_per_task(columns: usize) -> usize {
    ((1 << 14) / columns).max(1)
}

/// `f(input range of the row, output row)` for every row, in tasks of whole rows, into a pooled buffer.
fn rows_map(len: usize, columns: usize, f: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = buffer_pool::for_overwrite(len);
    let task = rows_per_task(columns) * columns;
    out.par_chunks_mut(task).enumerate().for_each(|(t, out)| {
        for (r, out_row) in out.chunks_mut(columns).enumerate() {
            let start = t * task + r * columns;
            f(start..start + out_row.len(), out_row);
        }
    });
    out
}

pub fn softmax(x: &CpuStorage, layout: &Layout, log: bool) -> CpuStorage {
    let values = read_f32(x, layout);
    let columns = layout.shape().last().copied().unwrap_or(1).max(1);
    let out = rows_map(values.len(), columns, |range, out| softmax_row(&values[range], out, log));
    CpuStorage::from_f32(out, x.dtype())
}

simd_math::widest_fn!(fn softmax_row(row: &[f32], out: &mut [f32], log: bool) => softmax_row_body);

/// One row: the maximum, the exponentials of x − max into `out` (one f32 exp each, kept for the
/// normalisation instead of computed twice), their f64 lane sum, then exp / sum as exp · (1/sum)
/// (within 1 ulp of the division; the CUDA kernel multiplies by the inverse too), or x − max − ln sum.
#[inline(always)]
fn softmax_row_body(row: &[f32], out: &mut [f32], log: bool) {
    let out = &mut out[..row.len()];
    let max = simd_math::max(row);
    for i in 0..out.len() {
        out[i] = simd_math::exp_f32(row[i] - max);
    }
    let sum = simd_math::sum(out);
    if log {
        let log_sum = sum.ln() as f32;
        for i in 0..out.len() {
            out[i] = row[i] - max - log_sum;
        }
    } else {
        let inverse = (1.0 / sum) as f32;
        for i in 0..out.len() {
            out[i] *= inverse;
        }
    }
}

/// Given the forward output y and the gradient g of a row:
/// softmax: dx = y ⊙ (g − Σ g⊙y); log-softmax: dx = g − exp(y) Σ g.
pub fn softmax_backward(y: &CpuStorage, y_layout: &Layout, g: &CpuStorage, g_layout: &Layout, log: bool) -> CpuStorage {
    let (y_values, g_values) = (read_f32(y, y_layout), read_f32(g, g_layout));
    let columns = y_layout.shape().last().copied().unwrap_or(1).max(1);
    let out = rows_map(y_values.len(), columns, |range, out| backward_row(&y_values[range.clone()], &g_values[range], out, log));
    CpuStorage::from_f32(out, y.dtype())
}

simd_math::widest_fn!(fn backward_row(y: &[f32], g: &[f32], out: &mut [f32], log: bool) => backward_row_body);

#[inline(always)]
fn backward_row_body(y: &[f32], g: &[f32], out: &mut [f32], log: bool) {
    let (out, g) = (&mut out[..y.len()], &g[..y.len()]);
    if log {
        let total = simd_math::sum(g) as f32;
        for i in 0..out.len() {
            out[i] = g[i] - simd_math::exp_f32(y[i]) * total;
        }
    } else {
        let dot = simd_math::sum_products(g, y) as f32;
        for i in 0..out.len() {
            out[i] = y[i] * (g[i] - dot);
        }
    }
}
