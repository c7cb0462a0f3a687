//! Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter), as PyTorch computes them:
//!   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
//!   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
//! with L2 weight decay added to g (Adam) or decoupled as p ← p·(1 − lr·wd) (AdamW). All parameters
//! are updated by one fused launch on the GPU (kernels/optim.cu).
use std::collections::HashMap;

use super::{find_state, Optimizer};
use crate::autograd::{no_grad, Gradients};
use crate::backend::dispatch;
use crate::backend::params::AdamHyper;
use crate::{DType, Device, Result, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub struct AdamConfig {
    pub learning_rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    /// AdamW when true.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.0, decoupled_weight_decay: false }
    }
}

struct Moments {
    first: Tensor,
    second: Tensor,
}

pub struct Adam {
    config: AdamConfig,
    step: u64,
    moments: HashMap<String, Moments>,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Self { config, step: 0, moments: HashMap::new() }
    }

    pub fn steps_taken(&self) -> u64 {
        self.step
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &[(String, Tensor)], grads: &Gradients) -> Result<()> {
        let _no_grad = no_grad();
        self.step += 1;
        let mut slots = Vec::new();
        for (name, param) in params {
            let Some(grad) = grads.get(param) else { continue };
            let grad = grad.to_dtype(DType::F32)?.compact()?;
            if !self.moments.contains_key(name) {
                let zeros = || Tensor::zeros(param.shape(), DType::F32, param.device());
                self.moments.insert(name.clone(), Moments { first: zeros()?, second: zeros()? });
            }
            let moments = &self.moments[name];
            slots.push([param.clone(), grad, moments.first.clone(), moments.second.clone()]);
        }
        let refs: Vec<[&Tensor; 4]> = slots.iter().map(|[p, g, m, v]| [p, g, m, v]).collect();
        let c = &self.config;
        let hyper = AdamHyper {
            learning_rate: c.learning_rate,
            beta1: c.beta1,
            beta2: c.beta2,
            epsilon: c.epsilon,
            weight_decay: c.weight_decay,
            bias_correction1: 1.0 - c.beta1.powi(self.step as i32),
            bias_correction2: 1.0 - c.beta2.powi(self.step as i32),
            grad_scale: 1.0,
            decoupled_weight_decay: c.decoupled_weight_decay as i32,
        };
        dispatch::adam_update(&refs, &hyper)
    }

    fn learning_rate(&self) -> f32 {
        self.config.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.config.learning_rate = learning_rate;
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut names: Vec<&String> = self.moments.keys().collect();
        names.sort();
        let mut state = vec![("adam.step".to_string(), Tensor::from_vec(vec![self.step as f32], &[1], Device::Cpu).expect("scalar"))];
        for name in names {
            let m = &self.moments[name];
            state.push((format!("adam.m.{name}"), m.first.clone()));
            state.push((format!("adam.v.{name}"), m.second.clone()));
        }
        state
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let step = state.iter().find(|(n, _)| n == "adam.step").map(|(_, t)| t.to_scalar()).transpose()?;
        self.step = step.unwrap_or(0.0) as u64;
        self.moments.clear();
        for (name, tensor) in state {
            if let Some(param_name) = name.strip_prefix("adam.m.") {
                let first = find_state(state, name, tensor)?;
                let second = find_state(state, &format!("adam.v.{param_name}"), tensor)?;
                self.moments.insert(param_name.to_string(), Moments { first, second });
            }
        }
        Ok(())
    }
}
