//! Layer norm over the last axis, with the statistics in f32 whatever the storage dtype:
//! y = (x − mean) · rstd · weight + bias, rstd = 1/√(var + eps), var the biased variance (PyTorch's).
//! The forward can first add a residual (s = x + r, then y = norm(s)), one pass instead of two.
//!
//! Row sums are `simd_math`'s f64 lane sums (a fixed order per row), rows run in tasks of whole rows
//! and the weight/bias gradients sum fixed blocks of rows in order, so nothing depends on the
//! thread count; the loops are compiled for the widest vectors the CPU has.
use std::borrow::Cow;

use rayon::prelude::*;

use super::{buffer_pool, read_f32, simd_math};
use crate::tensor::{CpuStorage, DType, Layout};

/// What the forward computes: the sum (when a residual was added), the output, and the per-row
/// mean and rstd (f32) that the backward needs.
pub struct LayerNormForward {
    pub sum: Option<CpuStorage>,
    pub output: CpuStorage,
    pub mean: Vec<f32>,
    pub rstd: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
pub fn forward(x: &CpuStorage, x_layout: &Layout, residual: Option<(&CpuStorage, &Layout)>, weight: &CpuStorage, weight_layout: &Layout, bias: &CpuStorage, bias_layout: &Layout, eps: f32) -> LayerNormForward {
    let dtype = x.dtype();
    let columns = (*x_layout.shape().last().unwrap_or(&1)).max(1);
    // The input is read in place; only a residual makes a new array (the sum).
    let mut values = read_f32(x, x_layout);
    let sum = residual.map(|(r, r_layout)| {
        let r = read_f32(r, r_layout);
        let mut summed = buffer_pool::for_overwrite(values.len());
        summed.iter_mut().zip(values.iter().zip(r.iter())).for_each(|(s, (&v, &r))| *s = v + r);
        // The sum is stored in the storage dtype; the norm reads the rounded values, as a second pass would.
        let stored = CpuStorage::from_f32(buffer_pool::copy_of(&summed), dtype);
        values = if dtype == DType::F32 {
            Cow::Owned(summed)
        } else {
            buffer_pool::give(summed);
            Cow::Owned(read_f32(&stored, &Layout::contiguous(x_layout.shape())).into_owned())
        };
        stored
    });
    let (weight, bias) = (read_f32(weight, weight_layout), read_f32(bias, bias_layout));
    let rows = values.len() / columns;
    let mut output = buffer_pool::for_overwrite(values.len());
    let (mut mean, mut rstd) = (vec![0.0f32; rows], vec![0.0f32; rows]);
    let task_rows = rows_per_task(columns);
    output.par_chunks_mut(task_rows * columns).zip(values.par_chunks(task_rows * columns)).zip(mean.par_chunks_mut(task_rows).zip(rstd.par_chunks_mut(task_rows))).for_each(|((out, x), (mean, rstd))| {
        forward_rows(x, out, mean, rstd, &weight, &bias, eps)
    });
    LayerNormForward { sum, output: CpuStorage::from_f32(output, dtype), mean, rstd }
}

/// The gradients of input, weight and bias (in the input's dtype) from the output's gradient `dy`:
/// with x̂ = (x − mean)·rstd and d = dy·weight,
/// dx = rstd · (d − mean(d) − x̂ · mean(d·x̂)), dweight = Σ_rows dy·x̂, dbias = Σ_rows dy.
#[allow(clippy::too_many_arguments)]
pub fn backward(x: &CpuStorage, x_layout: &Layout, weight: &CpuStorage, weight_layout: &Layout, mean: &[f32], rstd: &[f32], dy: &CpuStorage, dy_layout: &Layout) -> (CpuStorage, CpuStorage, CpuStorage) {
    let dtype = x.dtype();
    let columns = (*x_layout.shape().last().unwrap_or(&1)).max(1);
    let (x_values, dy_values, weight) = (read_f32(x, x_layout), read_f32(dy, dy_layout), read_f32(weight, weight_layout));
    let mut dx = buffer_pool::for_overwrite(x_values.len());
    // One pass over x and dy: fixed blocks of rows, in parallel, each writing its rows of dx and its
    // own column sums (f64) of dy·x̂ and dy; then the blocks' sums are added in order, so the result
    // does not depend on how rayon splits the work.
    const ROWS_PER_BLOCK: usize = 64;
    let block = ROWS_PER_BLOCK * columns;
    let partials: Vec<(Vec<f64>, Vec<f64>)> = dx
        .par_chunks_mut(block)
        .zip(x_values.par_chunks(block).zip(dy_values.par_chunks(block)))
        .zip(mean.par_chunks(ROWS_PER_BLOCK).zip(rstd.par_chunks(ROWS_PER_BLOCK)))
        .map(|((dx, (x, dy)), (mean, rstd))| {
            let (mut dw, mut db) = (vec![0.0f64; columns], vec![0.0f64; columns]);
            gradient_rows(x, dy, dx, mean, rstd, &weight, (&mut dw, &mut db));
            (dw, db)
        })
        .collect();
    let (mut d_weight, mut d_bias) = (vec![0.0f64; columns], vec![0.0f64; columns]);
    for (dw, db) in partials {
        d_weight.iter_mut().zip(dw).for_each(|(a, b)| *a += b);
        d_bias.iter_mut().zip(db).for_each(|(a, b)| *a += b);
    }
    let to_storage = |v: Vec<f64>| CpuStorage::from_f32(v.into_iter().map(|x| x as f32).collect(), dtype);
    (CpuStorage::from_f32(dx, dtype), to_storage(d_weight), to_storage(d_bias))
}

simd_math::widest_fn!(fn forward_rows(x: &[f32], out: &mut [f32], mean: &mut [f32], rstd: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) => forward_rows_body);

/// The rows of one task: their mean and rstd (in f64, stored as f32) and the normalised output.
/// (Index loops: iterator adapters are not always inlined into the vector-compiled wrapper.)
#[inline(always)]
fn forward_rows_body(x: &[f32], out: &mut [f32], mean: &mut [f32], rstd: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let columns = weight.len();
    let bias = &bias[..columns];
    for r in 0..mean.len() {
        let (row, out) = (&x[r * columns..][..columns], &mut out[r * columns..][..columns]);
        // One pass for both moments: Σx and Σx² in f64 (exact squares), var = E[x²] − mean². The
        // cancellation costs f64's 1e−16 times (mean² + var)/var, harmless in the f32 result
        // unless |mean| exceeds the spread by ~10⁴.
        let (sum, sum_of_squares) = simd_math::sum_and_sum_products(row, row);
        let row_mean = sum / columns as f64;
        let variance = (sum_of_squares / columns as f64 - row_mean * row_mean).max(0.0);
        let (row_mean, row_rstd) = (row_mean as f32, (1.0 / (variance + eps as f64).sqrt()) as f32);
        // x̂ in f32 from the stored statistics: the x̂ the backward recomputes, bit for bit.
        for j in 0..columns {
            out[j] = ((row[j] - row_mean) * row_rstd) * weight[j] + bias[j];
        }
        (mean[r], rstd[r]) = (row_mean, row_rstd);
    }
}

simd_math::widest_fn!(fn gradient_rows(x: &[f32], dy: &[f32], dx: &mut [f32], mean: &[f32], rstd: &[f32], weight: &[f32], column_sums: (&mut [f64], &mut [f64])) => gradient_rows_body);

/// dx for the rows of one block, and the block's column sums of dy·x̂ and dy (dw, db) added row
/// after row. d = dy·weight and x̂ go through two row buffers, so that the two row means are plain
/// lane sums (f64, exact products) and the last loop reads them back.
#[inline(always)]
fn gradient_rows_body(x: &[f32], dy: &[f32], dx: &mut [f32], mean: &[f32], rstd: &[f32], weight: &[f32], column_sums: (&mut [f64], &mut [f64])) {
    let columns = weight.len();
    let (dw, db) = column_sums;
    let (dw, db) = (&mut dw[..columns], &mut db[..columns]);
    let (mut d, mut x_hat) = (vec![0.0f32; columns], vec![0.0f32; columns]);
    for r in 0..dx.len() / columns {
        let (x, dy, dx) = (&x[r * columns..][..columns], &dy[r * columns..][..columns], &mut dx[r * columns..][..columns]);
        let (mean, rstd) = (mean[r], rstd[r]);
        for j in 0..columns {
            let centred = x[j] - mean;
            d[j] = dy[j] * weight[j];
            x_hat[j] = centred * rstd;
            dw[j] += (dy[j] * centred * rstd) as f64;
            db[j] += dy[j] as f64;
        }
        let (sum_d, sum_d_xhat) = simd_math::sum_and_sum_products(&d, &x_hat);
        let (mean_d, mean_d_xhat) = ((sum_d / columns as f64) as f32, (sum_d_xhat / columns as f64) as f32);
        for j in 0..columns {
            dx[j] = rstd * (d[j] - mean_d - x_hat[j] * mean_d_xhat);
        }
    }
}

/// Rows per rayon task: about 16K elements.
fn rows_per_task(columns: usize) -> usize {
    ((1 << 14) / columns).max(1)
}

