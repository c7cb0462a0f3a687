//! Embedding lookup and its gradient, the reference for kernels/embedding.cu. The gradient sums
//! the rows of repeated ids in position order, as the kernel does.
use rayon::prelude::*;

use super::read_f32;
use crate::tensor::{CpuStorage, Layout};

/// out[n, :] = table[ids[n], :]; ids are in range (the op checked them).
pub fn forward(table: &CpuStorage, table_layout: &Layout, ids: &[i32]) -> CpuStorage {
    let values = read_f32(table, table_layout);
    let dim = table_layout.shape()[1];
    let mut out = vec![0.0f32; ids.len() * dim];
    out.par_chunks_mut(dim.max(1)).zip(ids.par_iter()).for_each(|(row, &id)| {
        let start = id as usize * dim;
        row.copy_from_slice(&values[start..start + dim]);
    });
    CpuStorage::from_f32(out, table.dtype())
}

/// grad_table[v, :] = Σ_{n : ids[n] = v} grad[n, :], each vocabulary row owned by one task.
pub fn backward(grad: &CpuStorage, grad_layout: &Layout, ids: &[i32], vocab: usize) -> CpuStorage {
    let grad_values = read_f32(grad, grad_layout);
    let dim = *grad_layout.shape().last().unwrap_or(&1);
    // Positions grouped by id (a counting sort keeps position order inside each group).
    let mut positions_by_id: Vec<Vec<usize>> = vec![Vec::new(); vocab];
    for (position, &id) in ids.iter().enumerate() {
        if let Some(list) = usize::try_from(id).ok().and_then(|id| positions_by_id.get_mut(id)) {
            list.push(position);
        }
    }
    let mut out = vec![0.0f32; vocab * dim];
    out.par_chunks_mut(dim.max(1)).zip(positions_by_id.par_iter()).for_each(|(row, positions)| {
        for &position in positions {
            let source = &grad_values[position * dim..(position + 1) * dim];
            row.iter_mut().zip(source).for_each(|(o, &g)| *o += g);
        }
    });
    CpuStorage::from_f32(out, grad.dtype())
}
