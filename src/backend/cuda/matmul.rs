//! Launcher for the placeholder tiled matmul of kernels/matmul.cu.
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::CudaStorage;
use crate::backend::dispatch::{MatmulDims, MatrixStrides};
use crate::Result;

const TILE: u32 = 16;

/// `struct MatrixStrides` of kernels/matmul.cu (in elements).
#[repr(C)]
#[derive(Clone, Copy)]
struct KernelStrides {
    batch: u64,
    row: u64,
    col: u64,
}
// SAFETY: plain-old-data with the kernel-side C layout.
unsafe impl DeviceRepr for KernelStrides {}

impl From<&MatrixStrides> for KernelStrides {
    fn from(s: &MatrixStrides) -> Self {
        Self { batch: s.batch_stride as u64, row: s.row_stride as u64, col: s.col_stride as u64 }
    }
}

pub fn matmul(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims) -> Result<CudaStorage> {
    let device = a.device();
    let out = CudaStorage::alloc_on(device, a.dtype(), dims.batch * dims.m * dims.n)?;
    if dims.batch * dims.m * dims.n == 0 {
        return Ok(out);
    }
    let name = format!("matmul_{}", a.dtype().kernel_suffix());
    let function = device.function("matmul", &name)?;
    let (m, n, k) = (dims.m as u32, dims.n as u32, dims.k as u32);
    let (sa, sb) = (KernelStrides::from(&dims.a), KernelStrides::from(&dims.b));
    let (a_ptr, b_ptr, c_ptr) = (a.pointer_at(dims.a.offset), b.pointer_at(dims.b.offset), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&m).arg(&n).arg(&k).arg(&a_ptr).arg(&sa).arg(&b_ptr).arg(&sb).arg(&c_ptr);
    let config = LaunchConfig { grid_dim: (n.div_ceil(TILE), m.div_ceil(TILE), dims.batch as u32), block_dim: (TILE, TILE, 1), shared_mem_bytes: 0 };
    // SAFETY: MatmulDims came from the operands' layouts, so every (batch, row, col) index the kernel
    // forms with bounds checks row < m, col < n, k-index < k lies inside a and b; c holds batch·m·n.
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok(out)
}
