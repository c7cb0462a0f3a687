//! Layers: parameters plus a forward function built from ops. Parameters carry stable names
//! (`classifier.6.weight`) so checkpoints and weight import address them by name.
mod conv;
mod dropout;
mod embedding;
mod linear;
mod lstm;
pub mod loss;

pub use conv::{adaptive_avg_pool2d, max_pool2d, Conv2d, MaxPool2d};
pub use dropout::dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use lstm::{Lstm, LstmLayer};

use crate::Tensor;

/// A named parameter list, in a fixed order.
pub type NamedParameters = Vec<(String, Tensor)>;
