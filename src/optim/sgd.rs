//! SGD with momentum, as PyTorch: g ← g + wd·p; buf ← μ·buf + g (buf starts at g); p ← p − lr·buf.
//! All parameters are updated by one fused launch on the GPU (kernels/optim.cu).
use std::collections::HashMap;

use super::{find_state, Optimizer};
use crate::autograd::{no_grad, Gradients};
use crate::backend::dispatch;
use crate::backend::params::SgdHyper;
use crate::{DType, Result, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub struct SgdConfig {
    pub learning_rate: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

pub struct Sgd {
    config: SgdConfig,
    velocity: HashMap<String, Tensor>,
}

impl Sgd {
    pub fn new(config: SgdConfig) -> Self {
        Self { config, velocity: HashMap::new() }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &[(String, Tensor)], grads: &Gradients) -> Result<()> {
        let _no_grad = no_grad();
        let mut slots = Vec::new();
        for (name, param) in params {
            let Some(grad) = grads.get(param) else { continue };
            let grad = grad.to_dtype(DType::F32)?.compact()?;
            if self.config.momentum != 0.0 && !self.velocity.contains_key(name) {
                // A zero velocity makes the first update buf = g, as PyTorch starts it.
                self.velocity.insert(name.clone(), Tensor::zeros(param.shape(), DType::F32, param.device())?);
            }
            slots.push((param.clone(), grad, self.velocity.get(name).cloned()));
        }
        let refs: Vec<(&Tensor, &Tensor, Option<&Tensor>)> = slots.iter().map(|(p, g, v)| (p, g, v.as_ref())).collect();
        let hyper = SgdHyper { learning_rate: self.config.learning_rate, momentum: self.config.momentum, weight_decay: self.config.weight_decay, grad_scale: 1.0 };
        dispatch::sgd_update(&refs, &hyper)
    }

    fn learning_rate(&self) -> f32 {
        self.config.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.config.learning_rate = learning_rate;
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut state: Vec<(String, Tensor)> = self.velocity.iter().map(|(n, t)| (format!("sgd.velocity.{n}"), t.clone())).collect();
        state.sort_by(|a, b| a.0.cmp(&b.0));
        state
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        self.velocity.clear();
        for (name, tensor) in state {
            if let Some(param_name) = name.strip_prefix("sgd.velocity.") {
                self.velocity.insert(param_name.to_string(), find_state(state, name, tensor)?);
            }
        }
        Ok(())
    }
}
