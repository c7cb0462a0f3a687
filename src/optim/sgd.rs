//! SGD with momentum, as PyTorch: g ← g + wd·p; buf ← μ·buf + g; p ← p − lr·buf.
use std::collections::HashMap;

use super::{find_state, Optimizer};
use crate::autograd::{no_grad, Gradients};
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
        let c = &self.config;
        for (name, param) in params {
            let Some(grad) = grads.get(param) else { continue };
            let mut grad = grad.to_dtype(DType::F32)?;
            if c.weight_decay != 0.0 {
                grad = grad.add(&param.scale(c.weight_decay)?)?;
            }
            let grad = grad.contiguous()?;
            if c.momentum == 0.0 {
                param.axpy_(-c.learning_rate, &grad)?;
                continue;
            }
            match self.velocity.get(name) {
                Some(buffer) => buffer.axpby_(1.0, &grad, c.momentum)?,
                // The first step starts the buffer at g, as PyTorch does.
                None => {
                    self.velocity.insert(name.clone(), grad.affine(1.0, 0.0)?);
                }
            }
            param.axpy_(-c.learning_rate, &self.velocity[name])?;
        }
        Ok(())
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
