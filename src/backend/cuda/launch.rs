//! What every launcher needs: launch geometry, the strided-layout argument, and the check after
//! each launch.
use cudarc::driver::{DeviceRepr, LaunchConfig};

use super::CudaDevice;
use crate::tensor::Layout;
use crate::{Error, Result};

pub const BLOCK: u32 = 256;
const MAX_RANK: usize = 8;

/// A grid-stride launch over `n` elements: enough blocks to fill the GPU, no more than needed.
pub fn grid_for(device: &CudaDevice, n: usize) -> LaunchConfig {
    let wanted = n.div_ceil(BLOCK as usize).max(1) as u32;
    let cap = device.multiprocessors() * 16;
    LaunchConfig { grid_dim: (wanted.min(cap), 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

/// `struct StridedLayout` of kernels/common.cuh.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StridedLayout {
    rank: u32,
    shape: [u32; MAX_RANK],
    strides: [u32; MAX_RANK],
}

// SAFETY: plain-old-data with the same C layout as the kernel-side struct.
unsafe impl DeviceRepr for StridedLayout {}

impl StridedLayout {
    /// The layout's shape and strides; its offset is applied to the pointer by the caller.
    pub fn new(layout: &Layout) -> Result<Self> {
        if layout.rank() > MAX_RANK {
            return Err(Error::shape("cuda kernel", format!("rank {} exceeds the kernels' limit of {MAX_RANK}", layout.rank())));
        }
        let fits = |v: usize| u32::try_from(v).map_err(|_| Error::shape("cuda kernel", "a dimension or stride exceeds 2^32"));
        let mut strided = Self { rank: layout.rank() as u32, shape: [1; MAX_RANK], strides: [0; MAX_RANK] };
        for d in 0..layout.rank() {
            strided.shape[d] = fits(layout.shape()[d])?;
            strided.strides[d] = fits(layout.strides()[d])?;
        }
        Ok(strided)
    }

    /// The layout argument and the `contiguous` flag of kernels that index a contiguous operand
    /// directly: such an operand's layout is never read, so its rank and sizes need not fit.
    pub fn unless_contiguous(layout: &Layout) -> Result<(Self, i32)> {
        if layout.is_contiguous() {
            Ok((Self { rank: 0, shape: [1; MAX_RANK], strides: [0; MAX_RANK] }, 1))
        } else {
            Ok((Self::new(layout)?, 0))
        }
    }
}

/// Turns a launch's result into our error, naming the kernel. With MEMEFUSE_CUDA_SYNC=1 it also
/// synchronizes, so an asynchronous fault is reported at the launch that caused it.
pub fn checked<T>(device: &CudaDevice, kernel: &str, result: std::result::Result<T, cudarc::driver::DriverError>) -> Result<()> {
    result.map_err(|e| Error::cuda(format!("launching {kernel}"), e))?;
    static SYNC_EVERY_LAUNCH: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *SYNC_EVERY_LAUNCH.get_or_init(|| std::env::var("MEMEFUSE_CUDA_SYNC").is_ok_and(|v| v == "1")) {
        device.synchronize().map_err(|e| Error::cuda(format!("after {kernel}"), e))?;
    }
    Ok(())
}
