//! Softmax and log-softmax over the last axis, numerically stable (the row maximum is subtracted).
use rayon::prelude::*;

use super::read_f32;
use crate::tensor::{CpuStorage, Layout};

fn rows_map(values: &[f32], columns: usize, f: impl Fn(&[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    out.par_chunks_mut(columns.max(1)).zip(values.par_chunks(columns.max(1))).for_each(|(o, x)| f(x, o));
    out
}

pub fn softmax(x: &CpuStorage, layout: &Layout, log: bool) -> CpuStorage {
    let values = read_f32(x, layout);
    let columns = *layout.shape().last().unwrap_or(&1);
    let out = rows_map(&values, columns, |row, out| {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
        for (o, &v) in out.iter_mut().zip(row) {
            *o = if log { v - max - sum.ln() as f32 } else { (((v - max) as f64).exp() / sum) as f32 };
        }
    });
    CpuStorage::from_f32(out, x.dtype())
}

/// Given the forward output y and the gradient g of a row:
/// softmax: dx = y ⊙ (g − Σ g⊙y); log-softmax: dx = g − exp(y) Σ g.
pub fn softmax_backward(y: &CpuStorage, y_layout: &Layout, g: &CpuStorage, g_layout: &Layout, log: bool) -> CpuStorage {
    let (y_values, g_values) = (read_f32(y, y_layout), read_f32(g, g_layout));
    let columns = *y_layout.shape().last().unwrap_or(&1);
    let mut out = vec![0.0; y_values.len()];
    out.par_chunks_mut(columns.max(1))
        .zip(y_values.par_chunks(columns.max(1)).zip(g_values.par_chunks(columns.max(1))))
        .for_each(|(o, (y, g))| {
            if log {
                let total: f64 = g.iter().map(|&v| v as f64).sum();
                for i in 0..o.len() {
                    o[i] = g[i] - y[i].exp() * total as f32;
                }
            } else {
                let dot: f64 = g.iter().zip(y).map(|(&a, &b)| a as f64 * b as f64).sum();
                for i in 0..o.len() {
                    o[i] = y[i] * (g[i] - dot as f32);
                }
            }
        });
    CpuStorage::from_f32(out, y.dtype())
}
