//! Embedding lookup and its gradient, the reference for kernels/embedding.cu. The gradient sums
//! the rows of repeated ids in position order, as the kernel does.
use rayon::prelude::*;

use super::{buffer_pool, read_f32};
use crate::tensor::{CpuStorage, Layout};

/// out[n, :] = table[ids[n], :]; ids are in range (the op checked them).
pub fn forward(table: &CpuStorage, table_layout: &Layout, ids: &[i32]) -> CpuStorage {
    let values = read_f32(table, table_layout);
    let dim = table_layout.shape()[1];
    let mut out = buffer_pool::for_overwrite(ids.len() * dim);
    out.par_chunks_mut(dim.max(1)).zip(ids.par_iter()).for_each(|(row, &id)| {
        let start = id as usize * dim;
        row.copy_from_slice(&values[start..start + dim]);
    });
    CpuStorage::from_f32(out, table.dtype())
}

/// Vocabulary rows per rayon task in the backward (a few thousand tasks of one 400-byte row each
/// cost more in scheduling than the additions they do).
const ROWS_PER_TASK: usize = 256;

/// grad_table[v, :] = Σ_{n : ids[n] = v} grad[n, :], each vocabulary row owned by one task and summed
/// in position order.
pub fn backward(grad: &CpuStorage, grad_layout: &Layout, ids: &[i32], vocab: usize) -> CpuStorage {
    let grad_values = read_f32(grad, grad_layout);
    let dim = *grad_layout.shape().last().unwrap_or(&1);
    // Positions grouped by id by a counting sort into two flat arrays (no list per vocabulary row):
    // id v's positions, in position order, are positions[starts[v]..starts[v + 1]].
    let in_range = |id: i32| usize::try_from(id).ok().filter(|&id| id < vocab);
    let mut starts = vec![0usize; vocab + 1];
    for id in ids.iter().filter_map(|&id| in_range(id)) {
        starts[id + 1] += 1;
    }
    for v in 0..vocab {
        starts[v + 1] += starts[v];
    }
    let mut positions = vec![0usize; starts[vocab]];
    let mut filled = starts.clone();
    for (position, id) in ids.iter().enumerate() {
        if let Some(id) = in_range(*id) {
            positions[filled[id]] = position;
            filled[id] += 1;
        }
    }
    let mut out = buffer_pool::zeros(vocab * dim);
    if dim == 0 {
        return CpuStorage::from_f32(out, grad.dtype());
    }
    out.par_chunks_mut(ROWS_PER_TASK * dim).enumerate().for_each(|(block, rows)| {
        for (offset, row) in rows.chunks_mut(dim).enumerate() {
            let v = block * ROWS_PER_TASK + offset;
            for &position in &positions[starts[v]..starts[v + 1]] {
                let source = &grad_values[position * dim..(position + 1) * dim];
                row.iter_mut().zip(source).for_each(|(o, &g)| *o += g);
            }
        }
    });
    CpuStorage::from_f32(out, grad.dtype())
}
