//! Reductions along one axis of a contiguous tensor viewed as [outer, reduced, inner].
use rayon::prelude::*;

use super::{read_f32, PARALLEL_THRESHOLD};
use crate::ops::ReduceOp;
use crate::tensor::{CpuStorage, DType, Layout};

/// Reduces `axis`; the result has the input's shape with that axis of size 1. Sums accumulate in
/// f64 so the reference is more precise than any kernel it checks.
pub fn reduce(op: ReduceOp, x: &CpuStorage, layout: &Layout, axis: usize) -> CpuStorage {
    let values = read_f32(x, layout);
    let shape = layout.shape();
    let reduced = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let reduce_one = |output_index: usize| -> f32 {
        let (o, i) = (output_index / inner, output_index % inner);
        let at = |r: usize| values[(o * reduced + r) * inner + i];
        match op {
            ReduceOp::Sum => (0..reduced).map(|r| at(r) as f64).sum::<f64>() as f32,
            ReduceOp::Max => (0..reduced).map(at).fold(f32::NEG_INFINITY, f32::max),
            ReduceOp::ArgMax => {
                let mut best = 0;
                for r in 1..reduced {
                    // NaN never wins; the first of equal maxima wins, as in PyTorch.
                    if at(r) > at(best) {
                        best = r;
                    }
                }
                best as f32
            }
        }
    };
    let count = outer * inner;
    let out: Vec<f32> = if count * reduced >= PARALLEL_THRESHOLD {
        (0..count).into_par_iter().map(reduce_one).collect()
    } else {
        (0..count).map(reduce_one).collect()
    };
    match op {
        ReduceOp::ArgMax => CpuStorage::I32(out.iter().map(|&i| i as i32).collect()),
        _ => CpuStorage::from_f32(out, if x.dtype() == DType::I32 { DType::F32 } else { x.dtype() }),
    }
}
