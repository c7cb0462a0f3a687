//! Layer norm over the last axis, with the statistics in f32 whatever the storage dtype:
//! y = (x − mean) · rstd · weight + bias, rstd = 1/√(var + eps), var the biased variance (PyTorch's).
//! The forward can first add a residual (s = x + r, then y = norm(s)), one pass instead of two.
use rayon::prelude::*;

use super::read_f32;
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
    let mut values = read_f32(x, x_layout).into_owned();
    let sum = residual.map(|(r, r_layout)| {
        let r = read_f32(r, r_layout);
        values.iter_mut().zip(r.iter()).for_each(|(v, &r)| *v += r);
        // The sum is stored in the storage dtype; the norm reads the rounded values, as a second pass would.
        let stored = CpuStorage::from_f32(values.clone(), dtype);
        if dtype != DType::F32 {
            values = read_f32(&stored, &Layout::contiguous(x_layout.shape())).into_owned();
        }
        stored
    });
    let (weight, bias) = (read_f32(weight, weight_layout), read_f32(bias, bias_layout));
    let rows = values.len() / columns;
    let mut output = vec![0.0f32; values.len()];
    let (mut mean, mut rstd) = (vec![0.0f32; rows], vec![0.0f32; rows]);
    output.par_chunks_mut(columns).zip(values.par_chunks(columns)).zip(mean.par_iter_mut().zip(rstd.par_iter_mut())).for_each(|((out, row), (mean, rstd))| {
        let row_mean = row.iter().map(|&v| v as f64).sum::<f64>() / columns as f64;
        let variance = row.iter().map(|&v| (v as f64 - row_mean).powi(2)).sum::<f64>() / columns as f64;
        let row_rstd = 1.0 / (variance + eps as f64).sqrt();
        for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
            *o = ((v as f64 - row_mean) * row_rstd) as f32 * weight[j] + bias[j];
        }
        (*mean, *rstd) = (row_mean as f32, row_rstd as f32);
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
    let mut dx = vec![0.0f32; x_values.len()];
    dx.par_chunks_mut(columns).zip(x_values.par_chunks(columns).zip(dy_values.par_chunks(columns))).zip(mean.par_iter().zip(rstd.par_iter())).for_each(|((dx, (x, dy)), (&mean, &rstd))| {
        let x_hat = |j: usize| (x[j] - mean) * rstd;
        let (mut mean_d, mut mean_d_xhat) = (0.0f64, 0.0f64);
        for j in 0..columns {
            let d = dy[j] * weight[j];
            mean_d += d as f64;
            mean_d_xhat += (d * x_hat(j)) as f64;
        }
        let (mean_d, mean_d_xhat) = ((mean_d / columns as f64) as f32, (mean_d_xhat / columns as f64) as f32);
        for j in 0..columns {
            dx[j] = rstd * (dy[j] * weight[j] - mean_d - x_hat(j) * mean_d_xhat);
        }
    });
    // Column sums over rows in f64: fixed blocks of rows in parallel, then the blocks in order, so
    // the result does not depend on how rayon splits the work.
    const ROWS_PER_BLOCK: usize = 64;
    let partials: Vec<(Vec<f64>, Vec<f64>)> = x_values
        .par_chunks(ROWS_PER_BLOCK * columns)
        .zip(dy_values.par_chunks(ROWS_PER_BLOCK * columns))
        .enumerate()
        .map(|(block, (x, dy))| {
            let (mut dw, mut db) = (vec![0.0f64; columns], vec![0.0f64; columns]);
            for (r, (x, dy)) in x.chunks(columns).zip(dy.chunks(columns)).enumerate() {
                let row = block * ROWS_PER_BLOCK + r;
                for j in 0..columns {
                    dw[j] += (dy[j] * (x[j] - mean[row]) * rstd[row]) as f64;
                    db[j] += dy[j] as f64;
                }
            }
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
