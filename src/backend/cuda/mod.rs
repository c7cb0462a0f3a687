//! The CUDA backend: a device per ordinal (context, stream, caching allocator, kernel modules) and
//! one launcher file per kernel family of kernels/. Everything is loaded at run time (cudarc's
//! dynamic loading), so this module builds everywhere and reports, never panics, when no GPU is there.
mod allocator;
pub mod attention;
pub mod conv;
pub mod copy;
mod device;
pub mod elementwise;
pub mod embedding;
pub mod gemm;
mod launch;
pub mod loss;
pub mod lstm;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod optim;
pub mod reduce;
pub mod softmax;
mod storage;

pub use allocator::MemoryStats;
pub use copy::fill;
pub use device::{device, probe, CudaDevice};
pub use storage::CudaStorage;

/// One compiled kernels/*.cu file (see build.rs).
pub struct KernelModule {
    pub name: &'static str,
    pub ptx: &'static str,
    pub sm90a_cubin: Option<&'static [u8]>,
}

mod compiled {
    use super::KernelModule;
    include!(concat!(env!("OUT_DIR"), "/kernels.rs"));
}
pub use compiled::{KERNELS_COMPILED, KERNEL_MODULES, NO_KERNELS_REASON};
