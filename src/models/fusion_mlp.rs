//! `fusion-mlp`: an image encoder (8×8 pool → Linear → ReLU) and a text encoder (bag of words →
//! Linear → ReLU), each projected to a shared width and summed (a sum of projections equals a
//! projection of the concatenation, without materialising it), then ReLU → dropout → Linear(2).
//! The ReLU after the sum is what lets the head express "image cue AND text cue".
use anyhow::Result;

use super::image_mlp::POOL_GRID;
use super::dropout_head::DropoutHead;
use super::{average_pool_nhwc, bag_of_words, Model, ModelConfig, ModelInput, Needs};
use crate::nn::Linear;
use crate::util::Rng;
use crate::{Device, Tensor};

pub struct FusionMlp {
    image_encoder: Linear,
    text_encoder: Linear,
    image_projection: Linear,
    text_projection: Linear,
    head: DropoutHead,
    vocab_size: usize,
}

impl FusionMlp {
    pub fn new(config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let hidden = config.hidden;
        Ok(Self {
            image_encoder: Linear::new("image.hidden", POOL_GRID * POOL_GRID * 3, hidden, rng, device)?,
            text_encoder: Linear::new("text.hidden", config.vocab_size, hidden, rng, device)?,
            image_projection: Linear::new("fusion.image", hidden, hidden, rng, device)?,
            text_projection: Linear::new("fusion.text", hidden, hidden, rng, device)?,
            head: DropoutHead::new(hidden, config.dropout, rng, device)?,
            vocab_size: config.vocab_size,
        })
    }

    fn features(&self, input: &ModelInput) -> Result<Tensor> {
        let pooled = average_pool_nhwc(input.images()?, POOL_GRID)?;
        let image = self.image_encoder.forward(&pooled)?.relu()?;
        let counts = bag_of_words(input.tokens()?, input.batch_size, self.vocab_size, input.dtype, input.device)?;
        let text = self.text_encoder.forward(&counts)?.relu()?;
        let fused = self.image_projection.forward(&image)?.add(&self.text_projection.forward(&text)?)?;
        Ok(fused.relu()?)
    }
}

impl Model for FusionMlp {
    fn name(&self) -> &str {
        "fusion-mlp"
    }

    fn needs(&self) -> Needs {
        Needs { image: true, text: true }
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
        [
            self.image_encoder.parameters(),
            self.text_encoder.parameters(),
            self.image_projection.parameters(),
            self.text_projection.parameters(),
            self.head.parameters(),
        ]
        .concat()
    }
}
