//! Matrix product on the GPU: the tensor-core GEMM of gemm.rs, or — with `MEMEFUSE_MATMUL=reference`
//! in the environment — the simple tiled kernel of kernels/matmul.cu, kept as a slow but obviously
//! correct reference to bypass (and to compare against) the fast kernels on a new machine.
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::gemm::{gemm, Epilogue};
use super::CudaStorage;
use crate::backend::params::{MatmulDims, MatrixStrides};
use crate::{Error, Result};

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

/// Whether `MEMEFUSE_MATMUL=reference` asks for the reference kernel (read once).
fn reference_requested() -> bool {
    static REFERENCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REFERENCE.get_or_init(|| std::env::var("MEMEFUSE_MATMUL").is_ok_and(|v| v == "reference"))
}

/// out[batch] = a[batch] · b[batch], in the inputs' dtype.
pub fn matmul(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims) -> Result<CudaStorage> {
    if reference_requested() {
        return matmul_reference(a, b, dims);
    }
    gemm(a, b, dims, &Epilogue::default(), a.dtype())
}

/// The placeholder kernel: 16×16 shared-memory tiles, any strides, f32 accumulation.
pub fn matmul_reference(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims) -> Result<CudaStorage> {
    let device = a.device();
    let out = CudaStorage::alloc_on(device, a.dtype(), dims.batch * dims.m * dims.n)?;
    if dims.batch * dims.m * dims.n == 0 {
        return Ok(out);
    }
    let name = format!("matmul_{}", a.dtype().kernel_suffix());
    let function = device.function("matmul", &name)?;
    // The grid's y and z sides hold at most 65535 blocks; this kernel is a debugging aid, so a
    // clear error does instead of a batch loop.
    if dims.batch > 65_535 || dims.m.div_ceil(TILE as usize) > 65_535 || dims.n > u32::MAX as usize || dims.k > u32::MAX as usize {
        return Err(Error::shape("matmul (reference kernel)", format!("batch {}, m {}, n {}, k {} exceed its limits (batch and m/16 at most 65535, n and k below 2^32)", dims.batch, dims.m, dims.n, dims.k)));
    }
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

/// out = a·b + bias (bias broadcast over rows): the GEMM with its bias epilogue, one launch.
pub fn linear(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims, bias: &CudaStorage, bias_layout: &crate::tensor::Layout) -> Result<CudaStorage> {
    if reference_requested() {
        let product = matmul_reference(a, b, dims)?;
        let out_layout = crate::tensor::Layout::contiguous(&[dims.batch * dims.m, dims.n]);
        return super::elementwise::binary(crate::ops::BinaryOp::Add, &product, &out_layout, bias, &bias_layout.broadcast_to(out_layout.shape())?);
    }
    let epilogue = Epilogue { bias: Some(super::gemm::Bias { storage: bias, offset: bias_layout.offset() }), ..Epilogue::default() };
    gemm(a, b, dims, &epilogue, a.dtype())
}
