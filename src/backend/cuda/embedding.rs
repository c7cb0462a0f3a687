//! Launchers for kernels/embedding.cu.
use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::launch::{checked, grid_for, BLOCK};
use super::CudaStorage;
use crate::tensor::DType;
use crate::{Error, Result};

fn fits_u32(what: &str, value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::shape("embedding", format!("{what} {value} exceeds 2^32")))
}

/// table: contiguous [vocab, dim]; ids: contiguous i32, `positions` of them → [positions, dim].
pub fn forward(table: &CudaStorage, table_offset: usize, vocab: usize, dim: usize, ids: &CudaStorage, ids_offset: usize, positions: usize) -> Result<CudaStorage> {
    let device = table.device();
    let n = positions * dim;
    let out = CudaStorage::alloc_on(device, table.dtype(), n)?;
    if n == 0 {
        return Ok(out);
    }
    let name = format!("embedding_forward_{}", table.dtype().kernel_suffix());
    let function = device.function("embedding", &name)?;
    let (count, dim32, vocab32) = (n as u64, fits_u32("dimension", dim)?, fits_u32("vocabulary", vocab)?);
    let (table_ptr, ids_ptr, out_ptr) = (table.pointer_at(table_offset), ids.pointer_at(ids_offset), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&count).arg(&dim32).arg(&vocab32).arg(&table_ptr).arg(&ids_ptr).arg(&out_ptr);
    // SAFETY: element i reads ids[i / dim] (< positions) and, for an id inside [0, vocab), table row id
    // (vocab·dim elements from table_offset); it writes out[i], i < positions·dim = out's length.
    checked(device, &name, unsafe { launch.launch(grid_for(device, n)) })?;
    Ok(out)
}

/// grad: contiguous [positions, dim] → grad_table [vocab, dim], in two launches: count each id's
/// occurrences (integer atomics), then one warp per vocabulary row sums its rows in position order.
pub fn backward(grad: &CudaStorage, grad_offset: usize, dim: usize, ids: &CudaStorage, ids_offset: usize, positions: usize, vocab: usize) -> Result<CudaStorage> {
    let device = grad.device();
    let out = CudaStorage::alloc_on(device, grad.dtype(), vocab * dim)?;
    if vocab * dim == 0 {
        return Ok(out);
    }
    let mut counts = CudaStorage::alloc_on(device, DType::I32, vocab)?;
    super::fill(&mut counts, 0.0)?;
    let (positions64, dim32, vocab32) = (positions as u64, fits_u32("dimension", dim)?, fits_u32("vocabulary", vocab)?);
    let (ids_ptr, counts_ptr) = (ids.pointer_at(ids_offset), counts.pointer_at(0));
    if positions > 0 {
        let function = device.function("embedding", "embedding_count_ids")?;
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&positions64).arg(&vocab32).arg(&ids_ptr).arg(&counts_ptr);
        // SAFETY: reads `positions` ids; increments counts[id] only for ids inside [0, vocab).
        checked(device, "embedding_count_ids", unsafe { launch.launch(grid_for(device, positions)) })?;
    }
    let name = format!("embedding_backward_{}", grad.dtype().kernel_suffix());
    let function = device.function("embedding", &name)?;
    let rows_per_block = BLOCK as usize / 32;
    let config = LaunchConfig { grid_dim: (vocab.div_ceil(rows_per_block) as u32, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 };
    let (grad_ptr, out_ptr) = (grad.pointer_at(grad_offset), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&positions64).arg(&dim32).arg(&vocab32).arg(&grad_ptr).arg(&ids_ptr).arg(&counts_ptr).arg(&out_ptr);
    // SAFETY: warp w < vocab owns row w of out (vocab·dim elements) and reads counts[w], ids[0..positions)
    // and grad rows at matching positions (positions·dim elements); warps past vocab return at once.
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok(out)
}
