//! Optimisers update parameters in place from their gradients; their state (moments, step count)
//! is a list of named tensors so checkpoints can save and restore it. Parameters are f32 masters.
mod adam;
mod clip;
mod learning_rate_groups;
mod loss_scaler;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use clip::clip_grad_norm;
pub use learning_rate_groups::LearningRateGroups;
pub use loss_scaler::LossScaler;
pub use sgd::{Sgd, SgdConfig};

use crate::autograd::Gradients;
use crate::{Result, Tensor};

pub trait Optimizer {
    /// One update of every parameter that has a gradient.
    fn step(&mut self, params: &[(String, Tensor)], grads: &Gradients) -> Result<()>;
    fn learning_rate(&self) -> f32;
    fn set_learning_rate(&mut self, learning_rate: f32);
    /// Named state tensors, for checkpoints.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores what `state` returned (matched by name).
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()>;
}

/// The state tensor named `name` in a saved state list, on `like`'s device.
fn find_state(state: &[(String, Tensor)], name: &str, like: &Tensor) -> Result<Tensor> {
    let (_, tensor) = state.iter().find(|(n, _)| n == name).ok_or_else(|| crate::Error::Optimizer(format!("the saved state has no tensor named {name}")))?;
    if tensor.shape() != like.shape() {
        return Err(crate::Error::shape("load optimiser state", format!("{name} has shape {:?}, the parameter has {:?}", tensor.shape(), like.shape())));
    }
    // A private copy: the optimiser updates it in place.
    tensor.to_dtype(crate::DType::F32)?.to_device(like.device())?.affine(1.0, 0.0)
}
