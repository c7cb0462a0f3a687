//! memefuse: a deep-learning framework written from scratch in Rust, with hand-written CUDA kernels,
//! built to train and study classifiers for the Hateful Memes task.
//!
//! Reading order (see ARCHITECTURE.md): `tensor` → `autograd` → `ops` → `backend::{cpu, cuda}` →
//! `nn` → `models`; `data` feeds them, `train` and `viz` report on them.

pub mod data;
pub mod util;
pub mod train;
pub mod viz;
pub mod autograd;
pub mod backend;
pub mod io;
mod error;
pub mod nn;
// Until the trainer's src/models/mod.rs lands on main (then: `pub mod text_lstm;` there).
pub mod models {
    pub mod text_lstm;
    pub mod text_lstm_predict;
}
pub mod ops;
pub mod optim;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{DType, Device, Tensor};
