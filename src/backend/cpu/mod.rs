//! The CPU reference backend: every op in f32 (f16/bf16 are widened on load and rounded on store),
//! parallel with rayon, matmul through the gemm crate (single-threaded kernels, rayon splits).
pub mod attention;
pub mod buffer_pool;
pub mod conv;
#[cfg(target_arch = "x86_64")]
pub mod conv_avx512;
pub mod conv_direct;
pub mod copy;
pub mod elementwise;
pub mod embedding;
pub mod layer_norm;
pub mod loss;
pub mod lstm;
pub mod lstm_inference;
pub mod lstm_step_product;
pub mod matmul;
pub mod pool;
pub mod optim;
pub mod reduce;
pub mod simd_math;
pub mod small_batch_product;
pub mod softmax;

use std::borrow::Cow;

use crate::tensor::{CpuStorage, Layout};

/// Below this many elements a loop runs on one thread: spawning work costs more than it saves.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

/// The elements of `layout` as contiguous f32, borrowing when the storage already is exactly that.
pub fn read_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Cow<'a, [f32]> {
    let range = layout.offset()..layout.offset() + layout.elem_count();
    match storage {
        CpuStorage::F32(values) if layout.is_contiguous() => Cow::Borrowed(&values[range]),
        CpuStorage::F32(values) => Cow::Owned(copy::gather(values, layout)),
        // Contiguous half-precision data converts slice-wise (SIMD where the CPU has it).
        CpuStorage::F16(values) if layout.is_contiguous() => Cow::Owned(widen(&values[range])),
        CpuStorage::BF16(values) if layout.is_contiguous() => Cow::Owned(widen(&values[range])),
        _ => Cow::Owned(layout.storage_indices().map(|i| storage.get_f32(i)).collect()),
    }
}

fn widen<T: half::slice::HalfFloatSliceExt + ?Sized>(values: &T) -> Vec<f32> {
    values.to_f32_vec()
}
