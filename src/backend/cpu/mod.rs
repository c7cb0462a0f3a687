//! The CPU reference backend: every op in f32 (f16/bf16 are widened on load and rounded on store),
//! parallel with rayon, matmul through the matrixmultiply crate's sgemm.
pub mod conv;
pub mod copy;
pub mod elementwise;
pub mod embedding;
pub mod loss;
pub mod lstm;
pub mod matmul;
pub mod pool;
pub mod optim;
pub mod reduce;
pub mod softmax;

use std::borrow::Cow;

use crate::tensor::{CpuStorage, Layout};

/// Below this many elements a loop runs on one thread: spawning work costs more than it saves.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

/// The elements of `layout` as contiguous f32, borrowing when the storage already is exactly that.
pub fn read_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Cow<'a, [f32]> {
    if let CpuStorage::F32(values) = storage {
        if layout.is_contiguous() {
            return Cow::Borrowed(&values[layout.offset()..layout.offset() + layout.elem_count()]);
        }
        return Cow::Owned(layout.storage_indices().map(|i| values[i]).collect());
    }
    Cow::Owned(layout.storage_indices().map(|i| storage.get_f32(i)).collect())
}
