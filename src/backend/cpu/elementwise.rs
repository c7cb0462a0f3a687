//! Element-wise unary and binary ops. The scalar functions here are the definitions the CUDA kernels
//! (kernels/elementwise.cu) must match; exp and erf are `simd_math`'s f32 polynomials (within 1 ulp
//! of the correctly rounded value; see there), so the loops vectorise.
//!
//! Each op runs as its own loop (the op is matched once per block, not per element), over blocks of
//! at most `BLOCK` elements, in rayon tasks of `TASK` elements. Broadcast operands are read in place:
//! a broadcast scalar or a row repeated along an axis is never materialised at the output's size.
use std::borrow::Cow;

use rayon::prelude::*;

use super::{read_f32, simd_math, PARALLEL_THRESHOLD};
use crate::ops::{BinaryOp, UnaryOp};
use crate::tensor::{CpuStorage, Layout};

const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// The slope inside quick_gelu's sigmoid (OpenAI CLIP's constant).
pub const QUICK_GELU_SLOPE: f32 = 1.702;

#[inline(always)]
fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + simd_math::exp_f32(-x))
}

/// tanh through e^{2|x|} in f64 (x − x³/3 below |x| = 2⁻⁸, where the relative error of that is
/// under 1e−10 and the exp form would cancel), rounded once to f32.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let wide = x as f64;
    let magnitude = wide.abs();
    let through_exp = 1.0 - 2.0 / (simd_math::exp(2.0 * magnitude) + 1.0);
    let small = magnitude - magnitude * magnitude * magnitude / 3.0;
    let value = if magnitude < 1.0 / 256.0 { small } else { through_exp };
    (if wide.is_nan() { wide } else { value.copysign(wide) }) as f32
}

#[inline(always)]
pub fn unary_scalar(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => simd_math::exp_f32(x),
        UnaryOp::Log => x.ln(),
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::Sigmoid => logistic(x),
        UnaryOp::Tanh => tanh(x),
        UnaryOp::Gelu => 0.5 * x * (1.0 + simd_math::erf_f32(x * INV_SQRT_2)),
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

#[inline(always)]
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
            let cdf = 0.5 * (1.0 + simd_math::erf_f32(a * INV_SQRT_2));
            let pdf = INV_SQRT_2PI * simd_math::exp_f32(-0.5 * a * a);
            b * (cdf + a * pdf)
        }
        BinaryOp::QuickGeluBackward => {
            // d/dx x·σ(kx) = σ(kx) + k·x·σ(kx)(1 − σ(kx))
            let s = logistic(QUICK_GELU_SLOPE * a);
            b * (s + QUICK_GELU_SLOPE * a * s * (1.0 - s))
        }
    }
}

/// Elements per rayon task: fixed, and large enough that a task's work dwarfs its scheduling.
const TASK: usize = 1 << 14;
/// Elements per call of an op's loop (a broadcast operand is spread over a buffer this long).
const BLOCK: usize = 1024;
/// Shortest row of a broadcast operand read row by row; shorter ones are gathered first.
const MIN_ROW: usize = 16;

/// `work(first, chunk)` over consecutive chunks of `out` (`first` is the chunk's first index),
/// in parallel tasks of `TASK` elements when `out` is large.
fn for_tasks(out: &mut [f32], work: impl Fn(usize, &mut [f32]) + Sync) {
    if out.len() >= PARALLEL_THRESHOLD {
        out.par_chunks_mut(TASK).enumerate().for_each(|(task, chunk)| work(task * TASK, chunk));
    } else {
        work(0, out);
    }
}

/// Names `op` as a constant in each arm so that the scalar function's `match` folds away and the
/// loop body is that op's arithmetic alone.
macro_rules! per_unary_op {
    ($op:expr, $run:ident) => {
        match $op {
            UnaryOp::Neg => $run!(UnaryOp::Neg),
            UnaryOp::Exp => $run!(UnaryOp::Exp),
            UnaryOp::Log => $run!(UnaryOp::Log),
            UnaryOp::Relu => $run!(UnaryOp::Relu),
            UnaryOp::Sigmoid => $run!(UnaryOp::Sigmoid),
            UnaryOp::Tanh => $run!(UnaryOp::Tanh),
            UnaryOp::Gelu => $run!(UnaryOp::Gelu),
            UnaryOp::Sqrt => $run!(UnaryOp::Sqrt),
            UnaryOp::Abs => $run!(UnaryOp::Abs),
            UnaryOp::Sign => $run!(UnaryOp::Sign),
            UnaryOp::Powf(p) => $run!(UnaryOp::Powf(p)),
            UnaryOp::Affine { mul, add } => $run!(UnaryOp::Affine { mul, add }),
            UnaryOp::QuickGelu => $run!(UnaryOp::QuickGelu),
        }
    };
}

macro_rules! per_binary_op {
    ($op:expr, $run:ident) => {
        match $op {
            BinaryOp::Add => $run!(BinaryOp::Add),
            BinaryOp::Sub => $run!(BinaryOp::Sub),
            BinaryOp::Mul => $run!(BinaryOp::Mul),
            BinaryOp::Div => $run!(BinaryOp::Div),
            BinaryOp::Equal => $run!(BinaryOp::Equal),
            BinaryOp::ReluBackward => $run!(BinaryOp::ReluBackward),
            BinaryOp::SigmoidBackward => $run!(BinaryOp::SigmoidBackward),
            BinaryOp::TanhBackward => $run!(BinaryOp::TanhBackward),
            BinaryOp::GeluBackward => $run!(BinaryOp::GeluBackward),
            BinaryOp::QuickGeluBackward => $run!(BinaryOp::QuickGeluBackward),
        }
    };
}

fn unary_block(op: UnaryOp, x: &[f32], out: &mut [f32]) {
    macro_rules! run {
        ($constant:expr) => {
            simd_math::map(x, out, #[inline(always)] |v| unary_scalar($constant, v))
        };
    }
    per_unary_op!(op, run)
}

fn binary_block(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    macro_rules! run {
        ($constant:expr) => {
            simd_math::map2(a, b, out, #[inline(always)] |x, y| binary_scalar($constant, x, y))
        };
    }
    per_binary_op!(op, run)
}

/// `op` applied to every element; the result is contiguous and keeps the input's dtype.
pub fn unary(op: UnaryOp, x: &CpuStorage, layout: &Layout) -> CpuStorage {
    let values = read_f32(x, layout);
    let mut out = super::buffer_pool::for_overwrite(values.len());
    for_tasks(&mut out, |first, chunk| {
        for (block, out) in chunk.chunks_mut(BLOCK).enumerate() {
            let start = first + block * BLOCK;
            unary_block(op, &values[start..start + out.len()], out);
        }
    });
    CpuStorage::from_f32(out, x.dtype())
}

/// Where a binary op's operand takes its values for a run of output elements.
enum Operand<'a> {
    /// Stored in the output's order: a contiguous f32 view, or a copy gathered into that order.
    Dense(Cow<'a, [f32]>),
    /// One value everywhere (a broadcast scalar).
    Splat(f32),
    /// Output row r (of the last axis) starts at `row_starts[r]` and steps by `step`: 1 for a stored
    /// row, 0 for one value broadcast along the row.
    Rows { values: &'a [f32], row_starts: Vec<usize>, step: usize },
}

impl<'a> Operand<'a> {
    fn new(storage: &'a CpuStorage, layout: &Layout) -> Self {
        let CpuStorage::F32(values) = storage else { return Operand::Dense(read_f32(storage, layout)) };
        let rank = layout.rank();
        if layout.is_contiguous() || layout.elem_count() == 0 {
            return Operand::Dense(read_f32(storage, layout));
        }
        if layout.strides().iter().all(|&stride| stride == 0) {
            return Operand::Splat(values[layout.offset()]);
        }
        let (columns, step) = (layout.shape()[rank - 1], layout.strides()[rank - 1]);
        if step <= 1 && columns >= MIN_ROW {
            let outer = Layout::new(layout.shape()[..rank - 1].to_vec(), layout.strides()[..rank - 1].to_vec(), layout.offset());
            return Operand::Rows { values, row_starts: outer.storage_indices().collect(), step };
        }
        Operand::Dense(read_f32(storage, layout))
    }

    /// The values of output elements `start..start + len` (within one row for `Rows`), borrowed, or
    /// spread over `spread` for a broadcast value.
    fn run<'s>(&'s self, start: usize, len: usize, columns: usize, spread: &'s mut [f32; BLOCK]) -> &'s [f32] {
        let value = match self {
            Operand::Dense(values) => return &values[start..start + len],
            Operand::Splat(value) => *value,
            Operand::Rows { values, row_starts, step: 1 } => {
                let first = row_starts[start / columns] + start % columns;
                return &values[first..first + len];
            }
            Operand::Rows { values, row_starts, .. } => values[row_starts[start / columns]],
        };
        spread[..len].fill(value);
        &spread[..len]
    }
}

/// `op` applied pairwise; both layouts already broadcast to the output shape. Keeps `a`'s dtype.
pub fn binary(op: BinaryOp, a: &CpuStorage, a_layout: &Layout, b: &CpuStorage, b_layout: &Layout) -> CpuStorage {
    let (a_operand, b_operand) = (Operand::new(a, a_layout), Operand::new(b, b_layout));
    let columns = a_layout.shape().last().copied().unwrap_or(1).max(1);
    let by_rows = [&a_operand, &b_operand].iter().any(|operand| matches!(operand, Operand::Rows { .. }));
    let mut out = super::buffer_pool::for_overwrite(a_layout.elem_count());
    for_tasks(&mut out, |first, chunk| {
        let (mut a_spread, mut b_spread) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        let mut done = 0;
        while done < chunk.len() {
            let position = first + done;
            // A block never crosses a row when an operand is read row by row.
            let row_left = if by_rows { columns - position % columns } else { usize::MAX };
            let len = BLOCK.min(chunk.len() - done).min(row_left);
            let a_run = a_operand.run(position, len, columns, &mut a_spread);
            let b_run = b_operand.run(position, len, columns, &mut b_spread);
            binary_block(op, a_run, b_run, &mut chunk[done..done + len]);
            done += len;
        }
    });
    CpuStorage::from_f32(out, a.dtype())
}
