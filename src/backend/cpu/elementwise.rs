//! Element-wise unary and binary ops. The scalar functions here are the definitions the CUDA kernels
//! (kernels/elementwise.cu) must match.
use rayon::prelude::*;

use super::{read_f32, PARALLEL_THRESHOLD};
use crate::ops::{BinaryOp, UnaryOp};
use crate::tensor::{CpuStorage, Layout};

const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// The slope inside quick_gelu's sigmoid (OpenAI CLIP's constant).
pub const QUICK_GELU_SLOPE: f32 = 1.702;

fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub fn unary_scalar(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Gelu => 0.5 * x * (1.0 + libm::erff(x * INV_SQRT_2)),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        UnaryOp::Powf(p) => x.powf(p),
        UnaryOp::Affine { mul, add } => mul * x + add,
        UnaryOp::QuickGelu => x * logistic(QUICK_GELU_SLOPE * x),
    }
}

pub fn binary_scalar(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Equal => (a == b) as u8 as f32,
        BinaryOp::ReluBackward => {
            if a > 0.0 {
                b
            } else {
                0.0
            }
        }
        BinaryOp::SigmoidBackward => b * a * (1.0 - a),
        BinaryOp::TanhBackward => b * (1.0 - a * a),
        BinaryOp::GeluBackward => {
            let cdf = 0.5 * (1.0 + libm::erff(a * INV_SQRT_2));
            let pdf = INV_SQRT_2PI * (-0.5 * a * a).exp();
            b * (cdf + a * pdf)
        }
        BinaryOp::QuickGeluBackward => {
            // d/dx x·σ(kx) = σ(kx) + k·x·σ(kx)(1 − σ(kx))
            let s = logistic(QUICK_GELU_SLOPE * a);
            b * (s + QUICK_GELU_SLOPE * a * s * (1.0 - s))
        }
    }
}

fn map_values(values: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = super::buffer_pool::for_overwrite(values.len());
    if values.len() >= PARALLEL_THRESHOLD {
        out.par_iter_mut().zip(values.par_iter()).for_each(|(o, &x)| *o = f(x));
    } else {
        out.iter_mut().zip(values.iter()).for_each(|(o, &x)| *o = f(x));
    }
    out
}

/// `op` applied to every element; the result is contiguous and keeps the input's dtype.
pub fn unary(op: UnaryOp, x: &CpuStorage, layout: &Layout) -> CpuStorage {
    let values = read_f32(x, layout);
    CpuStorage::from_f32(map_values(&values, |v| unary_scalar(op, v)), x.dtype())
}

/// `op` applied pairwise; both layouts already broadcast to the output shape. Keeps `a`'s dtype.
pub fn binary(op: BinaryOp, a: &CpuStorage, a_layout: &Layout, b: &CpuStorage, b_layout: &Layout) -> CpuStorage {
    let (a_values, b_values) = (read_f32(a, a_layout), read_f32(b, b_layout));
    let f = |(&x, &y): (&f32, &f32)| binary_scalar(op, x, y);
    let mut out = super::buffer_pool::for_overwrite(a_values.len());
    if a_values.len() >= PARALLEL_THRESHOLD {
        out.par_iter_mut().zip(a_values.par_iter().zip(b_values.par_iter())).for_each(|(o, pair)| *o = f(pair));
    } else {
        out.iter_mut().zip(a_values.iter().zip(b_values.iter())).for_each(|(o, pair)| *o = f(pair));
    }
    CpuStorage::from_f32(out, a.dtype())
}
