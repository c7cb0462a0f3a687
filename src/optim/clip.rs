//! Gradient clipping by global norm: when ‖g‖₂ over all parameters exceeds `max_norm`, every
//! gradient is scaled by max_norm / ‖g‖₂ (PyTorch's clip_grad_norm_, with its 1e-6 guard).
use crate::autograd::{no_grad, Gradients};
use crate::{DType, Result, Tensor};

/// Clips in place and returns the norm before clipping.
pub fn clip_grad_norm(params: &[(String, Tensor)], grads: &mut Gradients, max_norm: f32) -> Result<f32> {
    let _no_grad = no_grad();
    // Summed on the parameters' device and read once: one host synchronisation, not one per parameter.
    let mut squared: Option<Tensor> = None;
    for (_, param) in params {
        if let Some(g) = grads.get(param) {
            let g = g.to_dtype(DType::F32)?;
            let sum = g.mul(&g)?.sum_all()?;
            squared = Some(match squared {
                Some(total) => total.add(&sum)?,
                None => sum,
            });
        }
    }
    let norm = match squared {
        Some(total) => total.to_scalar()?.sqrt(),
        None => 0.0,
    };
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        for (_, param) in params {
            if let Some(g) = grads.get(param) {
                let clipped = g.scale(factor)?;
                grads.insert(param, clipped);
            }
        }
    }
    Ok(norm)
}
