//! Backends execute ops on storage. `cpu` is the reference every kernel is tested against; `cuda`
//! launches the kernels of kernels/. `dispatch` holds the one place where an op picks its backend.
pub mod cpu;
pub mod cuda;
pub(crate) mod dispatch;
