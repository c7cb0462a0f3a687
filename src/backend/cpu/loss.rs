//! Fused losses: each returns the per-row (or per-element) loss in f32 and the gradient of the
//! loss with respect to the logits, already multiplied by `grad_scale`.
use rayon::prelude::*;

use super::read_f32;
use crate::tensor::{CpuStorage, Layout};

/// Softmax cross-entropy over rows of [rows, cols] logits: loss = logsumexp(x) − x[target],
/// grad = (softmax(x) − one_hot(target))·grad_scale.
pub fn cross_entropy(logits: &CpuStorage, layout: &Layout, targets: &[i32], grad_scale: f32) -> (CpuStorage, CpuStorage) {
    let x = read_f32(logits, layout);
    let cols = *layout.shape().last().unwrap_or(&1);
    let mut grad = vec![0.0f32; x.len()];
    let losses: Vec<f32> = grad
        .par_chunks_mut(cols.max(1))
        .zip(x.par_chunks(cols.max(1)))
        .zip(targets.par_iter())
        .map(|((g, row), &target)| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let log_sum = (row.iter().map(|&v| ((v - max) as f64).exp()).sum::<f64>().ln() as f32) + max;
            for (c, (g, &v)) in g.iter_mut().zip(row).enumerate() {
                *g = ((v - log_sum).exp() - (c == target as usize) as u8 as f32) * grad_scale;
            }
            log_sum - row[target as usize]
        })
        .collect();
    (CpuStorage::F32(losses), CpuStorage::from_f32(grad, logits.dtype()))
}

/// Element-wise BCE on logits: loss = max(x,0) − x·t + log(1 + e^(−|x|)), grad = (σ(x) − t)·grad_scale.
pub fn bce_with_logits(logits: &CpuStorage, layout: &Layout, targets: &CpuStorage, target_layout: &Layout, grad_scale: f32) -> (CpuStorage, CpuStorage) {
    let (x, t) = (read_f32(logits, layout), read_f32(targets, target_layout));
    let loss = x.iter().zip(t.iter()).map(|(&x, &t)| x.max(0.0) - x * t + (-x.abs()).exp().ln_1p()).collect();
    let grad = x.iter().zip(t.iter()).map(|(&x, &t)| (1.0 / (1.0 + (-x).exp()) - t) * grad_scale).collect();
    (CpuStorage::F32(loss), CpuStorage::from_f32(grad, logits.dtype()))
}
