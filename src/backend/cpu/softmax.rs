//! Softmax and log-softmax over the last axis, numerically stable (the row maximum is subtracted).
//! Exponentials and the row sums are in f64 (`simd_math`'s exp, lane sums in a fixed order), so
//! every row's result depends on that row alone, whatever the thread count.
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

#[inline(always)]
fn softmax_row_body(row: &[f32], out: &mut [f32], log: bool) {
    let max = simd_math::lane_max(row);
    let sum = simd_math::lane_sum(row, #[inline(always)] |v| shifted_exp(v, max));
    let out = &mut out[..row.len()];
    if log {
        let log_sum = sum.ln() as f32;
        for i in 0..out.len() {
            out[i] = row[i] - max - log_sum;
        }
    } else {
        for i in 0..out.len() {
            out[i] = (shifted_exp(row[i], max) / sum) as f32;
        }
    }
}

#[inline(always)]
fn shifted_exp(v: f32, max: f32) -> f64 {
    simd_math::exp((v - max) as f64)
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
        let total = simd_math::lane_sum(g, #[inline(always)] |v| v as f64) as f32;
        for i in 0..out.len() {
            out[i] = g[i] - simd_math::exp_f32(y[i]) * total;
        }
    } else {
        let dot = simd_math::lane_sum2(g, y, #[inline(always)] |a, b| a as f64 * b as f64) as f32;
        for i in 0..out.len() {
            out[i] = y[i] * (g[i] - dot);
        }
    }
}
