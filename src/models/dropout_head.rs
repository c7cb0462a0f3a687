//! The classification head the MLP models share: dropout (in training) on the features, then
//! Linear(hidden → 2). Its parameters are named `head.weight` and `head.bias`.
use anyhow::Result;

use super::NUM_CLASSES;
use crate::nn::{dropout, Linear};
use crate::util::Rng;
use crate::{Device, Tensor};

pub struct DropoutHead {
    linear: Linear,
    dropout: f32,
}

impl DropoutHead {
    pub fn new(hidden: usize, dropout: f32, rng: &mut Rng, device: Device) -> Result<Self> {
        Ok(Self { linear: Linear::new("head", hidden, NUM_CLASSES, rng, device)?, dropout })
    }

    /// Logits `[B, 2]` from features `[B, hidden]`; `rng` draws the dropout mask when `training`.
    pub fn forward(&self, features: &Tensor, training: bool, rng: &mut Rng) -> Result<Tensor> {
        Ok(self.linear.forward(&dropout(features, self.dropout, training, rng)?)?)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        self.linear.parameters()
    }
}
