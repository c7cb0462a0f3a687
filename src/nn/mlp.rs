//! The transformer's feed-forward block: fc2(act(fc1(x))), HuggingFace's names `{name}.fc1`,
//! `{name}.fc2`, with the activation a config names (`hidden_act`).
use serde::{Deserialize, Serialize};

use crate::nn::Linear;
use crate::util::Rng;
use crate::{Device, Result, Tensor};

/// The activations CLIP configs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// x·σ(1.702·x), OpenAI CLIP's.
    QuickGelu,
    /// The exact (erf) GELU.
    Gelu,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::QuickGelu => x.quick_gelu(),
            Activation::Gelu => x.gelu(),
        }
    }
}

pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl Mlp {
    pub fn new(name: &str, width: usize, hidden: usize, activation: Activation, rng: &mut Rng, device: Device) -> Result<Self> {
        Ok(Self { fc1: Linear::new(&format!("{name}.fc1"), width, hidden, rng, device)?, fc2: Linear::new(&format!("{name}.fc2"), hidden, width, rng, device)?, activation })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&self.activation.apply(&self.fc1.forward(x)?)?)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.fc1.parameters(), self.fc2.parameters()].concat()
    }
}
