//! Layers: parameters plus a forward function built from ops. Parameters carry stable names
//! (`classifier.6.weight`) so checkpoints and weight import address them by name.
mod attention;
mod conv;
mod dropout;
mod embedding;
mod layer_norm;
mod linear;
mod lstm;
mod mlp;
pub mod loss;

pub use attention::MultiHeadAttention;
pub use conv::{adaptive_avg_pool2d, max_pool2d, Conv2d, MaxPool2d};
pub use dropout::dropout;
pub use embedding::Embedding;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use lstm::{Lstm, LstmLayer};
pub use mlp::{Activation, Mlp};

use crate::Tensor;

/// A named parameter list, in a fixed order.
pub type NamedParameters = Vec<(String, Tensor)>;
