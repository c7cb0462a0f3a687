//! Launchers for kernels/pool.cu (contiguous NHWC inputs; one thread per output element).
use cudarc::driver::{DeviceRepr, PushKernelArg};

use super::launch::{checked, grid_for};
use super::CudaStorage;
use crate::tensor::{DType, Layout};
use crate::{Error, Result};

/// `struct PoolShape` of kernels/pool.cu.
#[repr(C)]
#[derive(Clone, Copy)]
struct PoolShape {
    batch: i32,
    in_h: i32,
    in_w: i32,
    channels: i32,
    out_h: i32,
    out_w: i32,
}
// SAFETY: plain-old-data with the kernel-side C layout (6 ints).
unsafe impl DeviceRepr for PoolShape {}

fn pool_shape(input: &[usize], out_h: usize, out_w: usize) -> Result<PoolShape> {
    if input.iter().product::<usize>() > i32::MAX as usize {
        return Err(Error::shape("pool", format!("{input:?} exceeds the pooling kernels' 32-bit indexing")));
    }
    let i = |v: usize| v as i32;
    Ok(PoolShape { batch: i(input[0]), in_h: i(input[1]), in_w: i(input[2]), channels: i(input[3]), out_h: i(out_h), out_w: i(out_w) })
}

pub fn max_pool2d_2x2(x: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, CudaStorage)> {
    let device = x.device();
    let s = layout.shape();
    let shape = pool_shape(s, s[1] / 2, s[2] / 2)?;
    let count = s[0] * (s[1] / 2) * (s[2] / 2) * s[3];
    let (out, argmax) = (CudaStorage::alloc_on(device, x.dtype(), count)?, CudaStorage::alloc_on(device, DType::I32, count)?);
    if count == 0 {
        return Ok((out, argmax));
    }
    let name = format!("max_pool2x2_{}", x.dtype().kernel_suffix());
    let function = device.function("pool", &name)?;
    let (x_ptr, y_ptr, argmax_ptr) = (x.pointer_at(layout.offset()), out.pointer_at(0), argmax.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&x_ptr).arg(&y_ptr).arg(&argmax_ptr);
    // SAFETY: one thread per output element; its window rows 2p, 2p+1 < H and columns 2q, 2q+1 < W.
    checked(device, &name, unsafe { launch.launch(grid_for(device, count)) })?;
    Ok((out, argmax))
}

pub fn max_pool2d_2x2_backward(dy: &CudaStorage, dy_layout: &Layout, argmax: &CudaStorage, input_shape: &[usize]) -> Result<CudaStorage> {
    let device = dy.device();
    let count = input_shape.iter().product();
    let dx = CudaStorage::alloc_on(device, dy.dtype(), count)?;
    if count == 0 {
        return Ok(dx);
    }
    let shape = pool_shape(input_shape, dy_layout.shape()[1], dy_layout.shape()[2])?;
    let name = format!("max_pool2x2_backward_{}", dy.dtype().kernel_suffix());
    let function = device.function("pool", &name)?;
    let (dy_ptr, argmax_ptr, dx_ptr) = (dy.pointer_at(dy_layout.offset()), argmax.pointer_at(0), dx.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&dy_ptr).arg(&argmax_ptr).arg(&dx_ptr);
    // SAFETY: one thread per dx element; it reads dy and argmax at its window (p, q) only when in range.
    checked(device, &name, unsafe { launch.launch(grid_for(device, count)) })?;
    Ok(dx)
}

pub fn adaptive_avg_pool2d(x: &CudaStorage, layout: &Layout, out_h: usize, out_w: usize) -> Result<CudaStorage> {
    let device = x.device();
    let s = layout.shape();
    let count = s[0] * out_h * out_w * s[3];
    let out = CudaStorage::alloc_on(device, x.dtype(), count)?;
    if count == 0 {
        return Ok(out);
    }
    let shape = pool_shape(s, out_h, out_w)?;
    let name = format!("adaptive_avg_pool_{}", x.dtype().kernel_suffix());
    let function = device.function("pool", &name)?;
    let (x_ptr, y_ptr) = (x.pointer_at(layout.offset()), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&x_ptr).arg(&y_ptr);
    // SAFETY: one thread per output element; PyTorch's bins lie inside [0, H) × [0, W).
    checked(device, &name, unsafe { launch.launch(grid_for(device, count)) })?;
    Ok(out)
}

pub fn adaptive_avg_pool2d_backward(dy: &CudaStorage, dy_layout: &Layout, input_shape: &[usize]) -> Result<CudaStorage> {
    let device = dy.device();
    let count = input_shape.iter().product();
    let dx = CudaStorage::alloc_on(device, dy.dtype(), count)?;
    if count == 0 {
        return Ok(dx);
    }
    let shape = pool_shape(input_shape, dy_layout.shape()[1], dy_layout.shape()[2])?;
    let name = format!("adaptive_avg_pool_backward_{}", dy.dtype().kernel_suffix());
    let function = device.function("pool", &name)?;
    let (dy_ptr, dx_ptr) = (dy.pointer_at(dy_layout.offset()), dx.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&dy_ptr).arg(&dx_ptr);
    // SAFETY: one thread per dx element; it reads dy only at bins (i < out_h, j < out_w).
    checked(device, &name, unsafe { launch.launch(grid_for(device, count)) })?;
    Ok(dx)
}
