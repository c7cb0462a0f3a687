//! `cnn`: the small convolutional image branch of `cnn-lstm`, and the image-only model built on it
//! (the single-modality baseline of the same settings).
//!
//! ```text
//! [conv3x3-ReLU, maxpool 2x2] × 3 (8, 16, 32 channels) → global average pool → [B, 32]
//! ```
//! Narrow on purpose: the study trains it on the CPU; the pooled channels are its features.
use anyhow::Result;

use super::dropout_head::DropoutHead;
use super::{Model, ModelConfig, ModelInput, Needs};
use crate::nn::{adaptive_avg_pool2d, max_pool2d, Conv2d};
use crate::util::Rng;
use crate::{Device, Tensor};

/// Output channels of the three convolutions; the last is the feature width.
const WIDTHS: [usize; 3] = [8, 16, 32];

pub struct SmallCnn {
    convs: Vec<Conv2d>,
}

impl SmallCnn {
    pub fn new(rng: &mut Rng, device: Device) -> Result<Self> {
        let mut convs = Vec::new();
        let mut channels = 3;
        for (index, &width) in WIDTHS.iter().enumerate() {
            convs.push(Conv2d::new(&format!("cnn.conv{index}"), channels, width, 3, 1, 1, rng, device)?);
            channels = width;
        }
        Ok(Self { convs })
    }

    pub fn feature_width(&self) -> usize {
        WIDTHS[WIDTHS.len() - 1]
    }

    /// images `[B, S, S, 3]` NHWC → `[B, 32]`.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        let mut x = images.clone();
        for conv in &self.convs {
            x = max_pool2d(&conv.forward_relu(&x)?)?;
        }
        Ok(adaptive_avg_pool2d(&x, 1, 1)?.flatten_from(1)?)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        self.convs.iter().flat_map(|conv| conv.parameters()).collect()
    }
}

/// `cnn`: [`SmallCnn`] → dropout → Linear(2).
pub struct CnnClassifier {
    cnn: SmallCnn,
    head: DropoutHead,
}

impl CnnClassifier {
    pub fn new(config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let cnn = SmallCnn::new(rng, device)?;
        let head = DropoutHead::new(cnn.feature_width(), config.dropout, rng, device)?;
        Ok(Self { cnn, head })
    }
}

impl Model for CnnClassifier {
    fn name(&self) -> &str {
        "cnn"
    }

    fn needs(&self) -> Needs {
        Needs { image: true, text: false }
    }

    fn forward(&self, input: &ModelInput, training: bool, rng: &mut Rng) -> Result<Tensor> {
        self.head.forward(&self.cnn.features(input.images()?)?, training, rng)
    }

    fn embed(&self, input: &ModelInput) -> Result<Tensor> {
        self.cnn.features(input.images()?)
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.cnn.parameters(), self.head.parameters()].concat()
    }
}
