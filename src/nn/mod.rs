//! Layers: parameters plus a forward function built from ops. Parameters carry stable names
//! (`classifier.6.weight`) so checkpoints and weight import address them by name.
mod dropout;
mod linear;
pub mod loss;

pub use dropout::dropout;
pub use linear::Linear;

use crate::Tensor;

/// A named parameter list, in a fixed order.
pub type NamedParameters = Vec<(String, Tensor)>;
