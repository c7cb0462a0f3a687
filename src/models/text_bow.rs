//! `text-bow`: bag-of-words counts over the vocabulary, then Linear → ReLU → dropout → Linear(2).
use anyhow::Result;

use super::{bag_of_words, Model, ModelConfig, ModelInput, Needs, NUM_CLASSES};
use crate::nn::{dropout, Linear};
use crate::util::Rng;
use crate::{Device, Tensor};

pub struct TextBow {
    hidden: Linear,
    head: Linear,
    vocab_size: usize,
    dropout: f32,
}

impl TextBow {
    pub fn new(config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        Ok(Self {
            hidden: Linear::new("text.hidden", config.vocab_size, config.hidden, rng, device)?,
            head: Linear::new("head", config.hidden, NUM_CLASSES, rng, device)?,
            vocab_size: config.vocab_size,
            dropout: config.dropout,
        })
    }

    fn features(&self, input: &ModelInput) -> Result<Tensor> {
        let counts = bag_of_words(input.tokens()?, input.batch_size, self.vocab_size, input.dtype, input.device)?;
        Ok(self.hidden.forward(&counts)?.relu()?)
    }
}

impl Model for TextBow {
    fn name(&self) -> &str {
        "text-bow"
    }

    fn needs(&self) -> Needs {
        Needs { image: false, text: true }
    }

    fn forward(&self, input: &ModelInput, training: bool, rng: &mut Rng) -> Result<Tensor> {
        let hidden = dropout(&self.features(input)?, self.dropout, training, rng)?;
        Ok(self.head.forward(&hidden)?)
    }

    fn embed(&self, input: &ModelInput) -> Result<Tensor> {
        self.features(input)
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.hidden.parameters(), self.head.parameters()].concat()
    }
}
