//! `image-mlp`: the image average-pooled to 8×8×3, then Linear → ReLU → dropout → Linear(2).
use anyhow::Result;

use super::dropout_head::DropoutHead;
use super::{average_pool_nhwc, Model, ModelConfig, ModelInput, Needs};
use crate::nn::Linear;
use crate::util::Rng;
use crate::{Device, Tensor};

/// Side of the pooled grid: 8×8 cells of 3 channels, 192 features.
pub const POOL_GRID: usize = 8;

pub struct ImageMlp {
    hidden: Linear,
    head: DropoutHead,
}

impl ImageMlp {
    pub fn new(config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        Ok(Self {
            hidden: Linear::new("image.hidden", POOL_GRID * POOL_GRID * 3, config.hidden, rng, device)?,
            head: DropoutHead::new(config.hidden, config.dropout, rng, device)?,
        })
    }

    fn features(&self, input: &ModelInput) -> Result<Tensor> {
        let pooled = average_pool_nhwc(input.images()?, POOL_GRID)?;
        Ok(self.hidden.forward(&pooled)?.relu()?)
    }
}

impl Model for ImageMlp {
    fn name(&self) -> &str {
        "image-mlp"
    }

    fn needs(&self) -> Needs {
        Needs { image: true, text: false }
    }

    fn forward(&self, input: &ModelInput, training: bool, rng: &mut Rng) -> Result<Tensor> {
        self.head.forward(&self.features(input)?, training, rng)
    }

    fn embed(&self, input: &ModelInput) -> Result<Tensor> {
        self.features(input)
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.hidden.parameters(), self.head.parameters()].concat()
    }
}
