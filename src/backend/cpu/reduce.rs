//! Reductions along one axis of a contiguous tensor viewed as [outer, reduced, inner].
use rayon::prelude::*;

use super::{read_f32, simd_math, PARALLEL_THRESHOLD};
use crate::ops::ReduceOp;
use crate::tensor::{CpuStorage, DType, Layout};

/// Reduces `axis`; the result has the input's shape with that axis of size 1. Sums accumulate in
/// f64 so the reference is more precise than any kernel it checks, in an order fixed by the shape.
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
            // Only reached with no outputs (inner = 0); other sums take sum_rows or sum_contiguous_rows.
        ReduceOp::Sum => unreachable!("a sum with inner = {inner}"),
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
    let float_dtype = if x.dtype() == DType::I32 { DType::F32 } else { x.dtype() };
    if op == ReduceOp::Sum && inner > 1 {
        return CpuStorage::from_f32(sum_rows(&values, outer, reduced, inner), float_dtype);
    }
    if op == ReduceOp::Sum && inner == 1 {
        return CpuStorage::from_f32(sum_contiguous_rows(&values, outer, reduced), float_dtype);
    }
    let out: Vec<f32> = if count * reduced >= PARALLEL_THRESHOLD {
        (0..count).into_par_iter().map(reduce_one).collect()
    } else {
        (0..count).map(reduce_one).collect()
    };
    match op {
        ReduceOp::ArgMax => CpuStorage::I32(out.iter().map(|&i| i as i32).collect()),
        _ => CpuStorage::from_f32(out, float_dtype),
    }
}

/// Values per block of `sum_contiguous_rows`.
const SUM_BLOCK: usize = 1 << 15;

/// Σ over each contiguous row of `reduced` values (the reduced axis is the last one): blocks of
/// `SUM_BLOCK` values, each summed in f64 over `simd_math`'s lanes, in parallel, then each row's
/// block sums in order. The order depends on the row length alone; a whole-tensor sum uses every
/// core instead of one.
fn sum_contiguous_rows(values: &[f32], outer: usize, reduced: usize) -> Vec<f32> {
    let blocks_per_row = reduced.div_ceil(SUM_BLOCK).max(1);
    let block_sum = |index: usize| {
        let (row, block) = (index / blocks_per_row, index % blocks_per_row);
        let start = row * reduced + block * SUM_BLOCK;
        let end = (start + SUM_BLOCK).min((row + 1) * reduced);
        simd_math::sum(&values[start..end])
    };
    let blocks = outer * blocks_per_row;
    let sums: Vec<f64> = if values.len() >= PARALLEL_THRESHOLD { (0..blocks).into_par_iter().map(block_sum).collect() } else { (0..blocks).map(block_sum).collect() };
    sums.chunks(blocks_per_row).map(|row| row.iter().fold(-0.0f64, |total, &s| total + s) as f32).collect()
}

/// Columns of `inner` per task in `sum_rows`.
const SUM_COLUMNS_PER_TASK: usize = 64;

/// The sum over the middle axis of [outer, reduced, inner] when inner > 1, walking the rows in
/// memory order with one f64 accumulator per column (a column-by-column walk strides through the
/// whole tensor once per column). Each output is Σ_r in ascending r in f64.
fn sum_rows(values: &[f32], outer: usize, reduced: usize, inner: usize) -> Vec<f32> {
    let mut out = super::buffer_pool::for_overwrite(outer * inner);
    let sum_block = |o: usize, first: usize, block: &mut [f32]| {
        // Start from the neutral element `Iterator::sum` starts from (−0.0), so the sums are those
        // of `reduce`'s column walk bit for bit, signed zeros included.
        let neutral: f64 = std::iter::empty::<f64>().sum();
        let mut sums = [neutral; SUM_COLUMNS_PER_TASK];
        let sums = &mut sums[..block.len()];
        for r in 0..reduced {
            let row = &values[(o * reduced + r) * inner + first..][..block.len()];
            sums.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
        }
        block.iter_mut().zip(sums.iter()).for_each(|(b, &s)| *b = s as f32);
    };
    // Blocks never cross an outer row: each row of `out` is cut on its own.
    if outer * inner * reduced >= PARALLEL_THRESHOLD {
        out.par_chunks_mut(inner).enumerate().for_each(|(o, row)| {
            row.par_chunks_mut(SUM_COLUMNS_PER_TASK).enumerate().for_each(|(b, block)| sum_block(o, b * SUM_COLUMNS_PER_TASK, block));
        });
    } else {
        out.chunks_mut(inner).enumerate().for_each(|(o, row)| {
            row.chunks_mut(SUM_COLUMNS_PER_TASK).enumerate().for_each(|(b, block)| sum_block(o, b * SUM_COLUMNS_PER_TASK, block));
        });
    }
    out
}
