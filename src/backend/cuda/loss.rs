//! Launchers for kernels/loss.cu.
use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::launch::{checked, grid_for};
use super::CudaStorage;
use crate::tensor::{DType, Layout};
use crate::Result;

/// Per-row losses (f32) and the scaled gradient of [rows, cols] contiguous logits; `targets` holds
/// the rows' i32 class indices from element `target_offset` on.
pub fn cross_entropy(logits: &CudaStorage, layout: &Layout, targets: &CudaStorage, target_offset: usize, grad_scale: f32) -> Result<(CudaStorage, CudaStorage)> {
    let device = logits.device();
    let cols = *layout.shape().last().unwrap_or(&1);
    let rows = layout.elem_count() / cols.max(1);
    let losses = CudaStorage::alloc_on(device, DType::F32, rows)?;
    let grad = CudaStorage::alloc_on(device, logits.dtype(), layout.elem_count())?;
    if rows == 0 {
        return Ok((losses, grad));
    }
    let name = format!("cross_entropy_{}", logits.dtype().kernel_suffix());
    let function = device.function("loss", &name)?;
    let (c, x, t, l, g) = (cols as u64, logits.pointer_at(layout.offset()), targets.pointer_at(target_offset), losses.pointer_at(0), grad.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&c).arg(&x).arg(&t).arg(&l).arg(&g).arg(&grad_scale);
    let threads = (cols.next_multiple_of(32)).clamp(32, 256) as u32;
    let config = LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (threads, 1, 1), shared_mem_bytes: 0 };
    // SAFETY: block r reads row r of the contiguous logits and targets[r] (checked < cols by the op),
    // writes losses[r] and row r of grad; all buffers hold rows (·cols) elements.
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok((losses, grad))
}

/// Element-wise losses (f32) and scaled gradient; logits and targets contiguous, same shape and dtype.
pub fn bce_with_logits(logits: &CudaStorage, layout: &Layout, targets: &CudaStorage, target_layout: &Layout, grad_scale: f32) -> Result<(CudaStorage, CudaStorage)> {
    let device = logits.device();
    let n = layout.elem_count();
    let losses = CudaStorage::alloc_on(device, DType::F32, n)?;
    let grad = CudaStorage::alloc_on(device, logits.dtype(), n)?;
    if n == 0 {
        return Ok((losses, grad));
    }
    let name = format!("bce_with_logits_{}", logits.dtype().kernel_suffix());
    let function = device.function("loss", &name)?;
    let (count, x, t, l, g) = (n as u64, logits.pointer_at(layout.offset()), targets.pointer_at(target_layout.offset()), losses.pointer_at(0), grad.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&count).arg(&x).arg(&t).arg(&l).arg(&g).arg(&grad_scale);
    // SAFETY: n contiguous elements read from logits and targets, written to losses and grad.
    checked(device, &name, unsafe { launch.launch(grid_for(device, n)) })?;
    Ok((losses, grad))
}
