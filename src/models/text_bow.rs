//! `text-bow`: bag-of-words counts over the vocabulary, then Linear → ReLU → dropout → Linear(2).
use anyhow::Result;

use super::dropout_head::DropoutHead;
use super::{bag_of_words, Model, ModelConfig, ModelInput, Needs};
use crate::nn::Linear;
use crate::util::Rng;
use crate::{Device, Tensor};

pub struct TextBow {
    hidden: Linear,
    head: DropoutHead,
    vocab_size: usize,
}

impl TextBow {
    pub fn new(config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        Ok(Self {
            hidden: Linear::new("text.hidden", config.vocab_size, config.hidden, rng, device)?,
            head: DropoutHead::new(config.hidden, config.dropout, rng, device)?,
            vocab_size: config.vocab_size,
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
        self.head.forward(&self.features(input)?, training, rng)
    }

    fn embed(&self, input: &ModelInput) -> Result<Tensor> {
        self.features(input)
    }

    fn vocabulary_axes(&self) -> Vec<(String, usize)> {
        vec![("text.hidden.weight".to_string(), 1)]
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.hidden.parameters(), self.head.parameters()].concat()
    }
}
