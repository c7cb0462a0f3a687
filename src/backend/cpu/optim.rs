//! Optimiser updates on f32 master weights, the reference for kernels/optim.cu.
use rayon::prelude::*;

use crate::backend::params::{AdamHyper, SgdHyper};

/// Elements per rayon task: whole slices, so the per-element update below is a plain loop the
/// compiler vectorises (an element-wise parallel zip of four iterators was not).
const CHUNK: usize = 8192;

pub fn adam(param: &mut [f32], grad: &[f32], first: &mut [f32], second: &mut [f32], h: &AdamHyper) {
    param.par_chunks_mut(CHUNK).zip(grad.par_chunks(CHUNK)).zip(first.par_chunks_mut(CHUNK).zip(second.par_chunks_mut(CHUNK))).for_each(|((param, grad), (first, second))| {
        adam_chunk(param, grad, first, second, h);
    });
}

/// One chunk at the widest vector width the CPU has: the same IEEE operations per element at any
/// width (no FMA contraction; division and square root are correctly rounded), so the same result.
fn adam_chunk(param: &mut [f32], grad: &[f32], first: &mut [f32], second: &mut [f32], h: &AdamHyper) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { adam_chunk_avx512(param, grad, first, second, h) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { adam_chunk_avx2(param, grad, first, second, h) };
        }
    }
    adam_chunk_body(param, grad, first, second, h)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn adam_chunk_avx512(param: &mut [f32], grad: &[f32], first: &mut [f32], second: &mut [f32], h: &AdamHyper) {
    adam_chunk_body(param, grad, first, second, h)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn adam_chunk_avx2(param: &mut [f32], grad: &[f32], first: &mut [f32], second: &mut [f32], h: &AdamHyper) {
    adam_chunk_body(param, grad, first, second, h)
}

#[inline(always)]
fn adam_chunk_body(param: &mut [f32], grad: &[f32], first: &mut [f32], second: &mut [f32], h: &AdamHyper) {
    for (((p, &g), m), v) in param.iter_mut().zip(grad).zip(first.iter_mut()).zip(second.iter_mut()) {
        let mut g = g * h.grad_scale;
        if h.weight_decay != 0.0 {
            if h.decoupled_weight_decay != 0 {
                *p *= 1.0 - h.learning_rate * h.weight_decay;
            } else {
                g += h.weight_decay * *p;
            }
        }
        *m = h.beta1 * *m + (1.0 - h.beta1) * g;
        *v = h.beta2 * *v + (1.0 - h.beta2) * g * g;
        let denominator = (*v / h.bias_correction2).sqrt() + h.epsilon;
        *p -= (h.learning_rate / h.bias_correction1) * *m / denominator;
    }
}

pub fn sgd(param: &mut [f32], grad: &[f32], velocity: Option<&mut [f32]>, h: &SgdHyper) {
    match velocity {
        Some(velocity) => param.par_iter_mut().zip(grad.par_iter()).zip(velocity.par_iter_mut()).for_each(|((p, &g), v)| {
            let g = g * h.grad_scale + h.weight_decay * *p;
            *v = h.momentum * *v + g;
            *p -= h.learning_rate * *v;
        }),
        None => param.par_iter_mut().zip(grad.par_iter()).for_each(|(p, &g)| {
            *p -= h.learning_rate * (g * h.grad_scale + h.weight_decay * *p);
        }),
    }
}
