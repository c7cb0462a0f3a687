//! The crate's error type: every failure says which op or file it came from and what was wrong.
use crate::tensor::{DType, Device};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op}: {message}")]
    Shape { op: &'static str, message: String },
    #[error("{op}: {message}")]
    DType { op: &'static str, message: String },
    #[error("{op}: operands on different devices ({lhs} and {rhs}); move one with to_device")]
    DeviceMismatch { op: &'static str, lhs: Device, rhs: Device },
    #[error("{op} is not supported for {dtype}")]
    UnsupportedDType { op: &'static str, dtype: DType },
    #[error("CUDA is not available: {0}")]
    CudaUnavailable(String),
    #[error("CUDA error in {context}: {message}")]
    Cuda { context: String, message: String },
    /// A command-line value that names nothing (e.g. `--device tpu`).
    #[error("{0}")]
    InvalidArgument(String),
    #[error("autograd: {0}")]
    Autograd(String),
    #[error("optimiser: {0}")]
    Optimizer(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn shape(op: &'static str, message: impl Into<String>) -> Self {
        Error::Shape { op, message: message.into() }
    }
    pub fn dtype(op: &'static str, message: impl Into<String>) -> Self {
        Error::DType { op, message: message.into() }
    }
    pub fn cuda(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Cuda { context: context.into(), message: message.to_string() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
