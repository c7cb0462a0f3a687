//! memefuse: a deep-learning framework written from scratch in Rust, with hand-written CUDA kernels,
//! built to train and study classifiers for the Hateful Memes task.
//!
//! Reading order (see ARCHITECTURE.md): `tensor` → `autograd` → `ops` → `backend::{cpu, cuda}` →
//! `nn` → `models`; `data` feeds them, `train` and `viz` report on them.

pub mod autograd;
pub mod backend;
pub mod data;
mod error;
pub mod io;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod study;
pub mod tensor;
pub mod train;
pub mod util;
pub mod viz;

pub use error::{Error, Result};
pub use tensor::{DType, Device, Tensor};
