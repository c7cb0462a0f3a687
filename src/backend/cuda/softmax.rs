//! Launchers for kernels/softmax.cu: one block per row of the (contiguous) input.
use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::CudaStorage;
use super::launch::checked;
use crate::tensor::Layout;
use crate::Result;

/// Threads per row: enough for the row (the forward caches 16 elements per thread in registers),
/// a multiple of 32, at most 1024.
fn block_for(columns: usize) -> u32 {
    (columns.div_ceil(16).next_multiple_of(32)).clamp(32, 1024) as u32
}

fn rows_config(layout: &Layout) -> (usize, LaunchConfig) {
    let columns = *layout.shape().last().unwrap_or(&1);
    let rows = layout.elem_count() / columns.max(1);
    (columns, LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (block_for(columns), 1, 1), shared_mem_bytes: 0 })
}

pub fn softmax(x: &CudaStorage, layout: &Layout, log: bool) -> Result<CudaStorage> {
    let device = x.device();
    let out = CudaStorage::alloc_on(device, x.dtype(), layout.elem_count())?;
    let (columns, config) = rows_config(layout);
    if layout.elem_count() == 0 {
        return Ok(out);
    }
    let name = format!("softmax_{}", x.dtype().kernel_suffix());
    let function = device.function("softmax", &name)?;
    let (cols, x_ptr, out_ptr, log_flag) = (columns as u64, x.pointer_at(layout.offset()), out.pointer_at(0), log as i32);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&cols).arg(&x_ptr).arg(&out_ptr).arg(&log_flag);
    // SAFETY: block b reads and writes row b (columns elements) of contiguous rows·columns buffers.
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok(out)
}

pub fn softmax_backward(y: &CudaStorage, y_layout: &Layout, g: &CudaStorage, g_layout: &Layout, log: bool) -> Result<CudaStorage> {
    let device = y.device();
    let out = CudaStorage::alloc_on(device, y.dtype(), y_layout.elem_count())?;
    let (columns, config) = rows_config(y_layout);
    if y_layout.elem_count() == 0 {
        return Ok(out);
    }
    let name = format!("softmax_backward_{}", y.dtype().kernel_suffix());
    let function = device.function("softmax", &name)?;
    let (cols, y_ptr, g_ptr, out_ptr, log_flag) = (columns as u64, y.pointer_at(y_layout.offset()), g.pointer_at(g_layout.offset()), out.pointer_at(0), log as i32);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&cols).arg(&y_ptr).arg(&g_ptr).arg(&out_ptr).arg(&log_flag);
    // SAFETY: as the forward; y and g are contiguous with the same shape (the op made them so).
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok(out)
}
