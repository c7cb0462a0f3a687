//! Dynamic loss scaling for fp16 training: the loss is multiplied by `scale` before backward so small
//! gradients survive fp16; gradients are divided by it before the update. A step whose gradients hold
//! inf or NaN is skipped and the scale halved; after `growth_interval` good steps it doubles.
use crate::autograd::{no_grad, Gradients};
use crate::backend::dispatch;
use crate::{DType, Device, Result, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub struct LossScaler {
    scale: f32,
    good_steps: u32,
    pub growth_interval: u32,
    pub skipped_steps: u64,
}

impl LossScaler {
    /// PyTorch's GradScaler starts at 65536 and grows every 2000 good steps.
    pub fn new(initial_scale: f32) -> Self {
        Self { scale: initial_scale, good_steps: 0, growth_interval: 2000, skipped_steps: 0 }
    }

    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Replaces each parameter's gradient by its f32 value divided by the scale; returns whether
    /// all of them are finite (if not, the caller skips the optimiser step).
    pub fn unscale_and_check(&self, params: &[(String, Tensor)], grads: &mut Gradients) -> Result<bool> {
        let _no_grad = no_grad();
        let mut unscaled_all = Vec::new();
        for (_, param) in params {
            if let Some(g) = grads.get(param) {
                let unscaled = g.to_dtype(DType::F32)?.scale(1.0 / self.scale)?;
                grads.insert(param, unscaled.clone());
                unscaled_all.push(unscaled);
            }
        }
        // One fused check over every gradient (one launch and one 4-byte read on a GPU).
        dispatch::all_finite(&unscaled_all)
    }

    /// Adjusts the scale after a step: halve on overflow, double after a run of good steps.
    pub fn update(&mut self, finite: bool) {
        if finite {
            self.good_steps += 1;
            if self.good_steps >= self.growth_interval {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale = (self.scale * 0.5).max(1.0);
            self.good_steps = 0;
            self.skipped_steps += 1;
        }
    }

    pub fn state(&self) -> Vec<(String, Tensor)> {
        let values = vec![self.scale, self.good_steps as f32, self.skipped_steps as f32];
        vec![("loss_scaler".to_string(), Tensor::from_vec(values, &[3], Device::Cpu).expect("3 values"))]
    }

    pub fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        if let Some((_, t)) = state.iter().find(|(n, _)| n == "loss_scaler") {
            let v = t.to_vec_f32()?;
            if v.len() == 3 {
                (self.scale, self.good_steps, self.skipped_steps) = (v[0], v[1] as u32, v[2] as u64);
            }
        }
        Ok(())
    }
}
