//! Launchers for kernels/copy.cu: strided copies, casts, fill, axpby.
use cudarc::driver::PushKernelArg;

use super::launch::{checked, grid_for, StridedLayout};
use super::CudaStorage;
use crate::tensor::{DType, Layout};
use crate::{Error, Result};

/// Copies elements by width, so one kernel serves f32 and i32, another f16 and bf16.
fn copy_kernel_name(dtype: DType) -> &'static str {
    match dtype.size_in_bytes() {
        4 => "copy_strided_b32",
        _ => "copy_strided_b16",
    }
}

fn copy_strided(source: &CudaStorage, source_layout: &Layout, destination: &CudaStorage, destination_layout: &Layout) -> Result<()> {
    let device = source.device();
    let n = source_layout.elem_count();
    if n == 0 {
        return Ok(());
    }
    let name = copy_kernel_name(source.dtype());
    let function = device.function("copy", name)?;
    let (count, sl, dl) = (n as u64, StridedLayout::new(source_layout)?, StridedLayout::new(destination_layout)?);
    let (src, dst) = (source.pointer_at(source_layout.offset()), destination.pointer_at(destination_layout.offset()));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&count).arg(&src).arg(&sl).arg(&dst).arg(&dl);
    // SAFETY: both layouts describe n elements inside their storages (checked when the views were made).
    checked(device, name, unsafe { launch.launch(grid_for(device, n)) })
}

pub fn contiguous(x: &CudaStorage, layout: &Layout) -> Result<CudaStorage> {
    let out = CudaStorage::alloc_on(x.device(), x.dtype(), layout.elem_count())?;
    copy_strided(x, layout, &out, &Layout::contiguous(layout.shape()))?;
    Ok(out)
}

pub fn copy_into(source: &CudaStorage, source_layout: &Layout, destination: &mut CudaStorage, destination_layout: &Layout) -> Result<()> {
    if source.dtype() != destination.dtype() || source_layout.shape() != destination_layout.shape() {
        return Err(Error::shape("copy_into", "source and destination must have the same shape and dtype"));
    }
    copy_strided(source, source_layout, destination, destination_layout)
}

pub fn cast(x: &CudaStorage, layout: &Layout, dtype: DType) -> Result<CudaStorage> {
    let device = x.device();
    let n = layout.elem_count();
    let out = CudaStorage::alloc_on(device, dtype, n)?;
    if n == 0 {
        return Ok(out);
    }
    let name = format!("cast_{}_{}", x.dtype().kernel_suffix(), dtype.kernel_suffix());
    let function = device.function("copy", &name)?;
    let (count, (xl, contiguous)) = (n as u64, StridedLayout::unless_contiguous(layout)?);
    let (x_ptr, out_ptr) = (x.pointer_at(layout.offset()), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&count).arg(&x_ptr).arg(&xl).arg(&contiguous).arg(&out_ptr);
    // SAFETY: reads n elements through the input layout, writes n into `out`.
    checked(device, &name, unsafe { launch.launch(grid_for(device, n)) })?;
    Ok(out)
}

pub fn fill(y: &mut CudaStorage, value: f32) -> Result<()> {
    let device = y.device().clone();
    let n = y.len();
    if n == 0 {
        return Ok(());
    }
    let name = format!("fill_{}", y.dtype().kernel_suffix());
    let function = device.function("copy", &name)?;
    let (count, y_ptr) = (n as u64, y.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&count).arg(&y_ptr).arg(&value);
    // SAFETY: writes the storage's own n elements.
    checked(&device, &name, unsafe { launch.launch(grid_for(&device, n)) })
}

/// y ← alpha·x + beta·y over whole storages of equal length (x None: y ← beta·y).
pub fn axpby(y: &mut CudaStorage, alpha: f32, x: Option<&CudaStorage>, beta: f32) -> Result<()> {
    let device = y.device().clone();
    let n = y.len();
    if let Some(x) = x {
        if x.len() != n || x.dtype() != y.dtype() {
            return Err(Error::shape("axpby", "x and y must have the same length and dtype"));
        }
    }
    if n == 0 {
        return Ok(());
    }
    let name = format!("axpby_{}", y.dtype().kernel_suffix());
    let function = device.function("copy", &name)?;
    let (count, x_ptr, y_ptr) = (n as u64, x.map_or(0u64, |x| x.pointer_at(0)), y.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&count).arg(&alpha).arg(&x_ptr).arg(&beta).arg(&y_ptr);
    // SAFETY: x (when present) and y both hold n elements; a null x is never dereferenced.
    checked(&device, &name, unsafe { launch.launch(grid_for(&device, n)) })
}
