//! Tensors: an n-dimensional view (`Layout`) onto reference-counted storage on some `Device`.
mod dtype;
mod device;
pub(crate) mod layout;
mod storage;
// The Tensor type itself; the folder holds what it is made of.
#[allow(clippy::module_inception)]
mod tensor;

pub use device::Device;
pub use dtype::DType;
pub use layout::Layout;
pub use storage::{CpuStorage, Storage};
pub use tensor::{Tensor, TensorId};
