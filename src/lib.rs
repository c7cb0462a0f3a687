//! memefuse: a deep-learning framework written from scratch in Rust, with hand-written CUDA kernels,
//! built to train and study classifiers for the Hateful Memes task.
//!
//! Reading order (see ARCHITECTURE.md): `tensor` → `autograd` → `ops` → `backend::{cpu, cuda}` →
//! `nn` → `models`; `data` feeds them, `train` and `viz` report on them.

pub mod data;
pub mod models;
pub mod util;
pub mod train;
pub mod viz;
pub mod autograd;
pub mod backend;
mod error;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{DType, Device, Tensor};
