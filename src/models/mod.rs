//! Models: every classifier implements [`Model`], so `train`, `eval`, `predict` and `demo` work with
//! any of them, and [`build`] makes one from its registry name.
//!
//! | name         | reads        | architecture                                                         |
//! |--------------|--------------|----------------------------------------------------------------------|
//! | `image-mlp`  | image        | 8×8×3 average pool → Linear → ReLU → dropout → Linear(2)             |
//! | `text-bow`   | text         | bag-of-words counts → Linear → ReLU → dropout → Linear(2)            |
//! | `fusion-mlp` | image + text | both encoders' hidden vectors, each projected, summed → ReLU → head   |
//! | `lstm`       | text         | the seed's embedding(100) → LSTM(64) → LSTM(64) → last step → linear |
//! | `lstm-last-token` | text    | the same, reading each caption's last real token instead            |
//! | `vgg16`      | image        | torchvision's VGG16 (configuration D), 2-class head (docs/vgg16.md)  |
//! | `vgg16-small`| image        | the same structure, channel widths ÷16, 256-wide classifier          |
//! | `cnn`        | image        | three small conv blocks, global average pool → Linear(2)             |
//! | `cnn-lstm`, `vgg16-lstm`, `vgg16-small-lstm` | image + text | an image branch and the seed's LSTM, early or late fusion (lstm_fusion.rs) |
//! | `clip-fusion`| image + text | CLIP's two encoders (HF `--init DIR` or from scratch), normalised embeddings fused early, MLP head (docs/clip.md) |
//!
//! Every model returns logits `[B, 2]` (class 1 = hateful) for a 2-class softmax cross-entropy, and
//! `embed` returns the features the head sees, for t-SNE plots. A model computes in the dtype of its
//! input tensors (see [`ModelInput::dtype`]): its f32 weights are cast to that dtype inside the
//! forward pass, which is how mixed precision keeps f32 master weights.
mod bag_of_words;
pub mod clip_fusion;
mod dropout_head;
mod fusion_mlp;
mod image_mlp;
pub mod input_size;
mod lstm_classifier;
pub mod lstm_fusion;
mod pooling;
mod small_cnn;
mod text_bow;
pub mod clip;
pub mod text_lstm;
pub mod vgg16;

pub use bag_of_words::bag_of_words;
pub use clip_fusion::{ClipFusion, ClipFusionOptions, FusionMode};
pub use fusion_mlp::FusionMlp;
pub use image_mlp::ImageMlp;
pub use lstm_classifier::LstmClassifier;
pub use lstm_fusion::{FusionKind, LstmFusion};
pub use pooling::average_pool_nhwc;
pub use text_bow::TextBow;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::io::foreign_weights::ForeignWeights;
use crate::util::Rng;
use crate::{DType, Device, Tensor};

/// Number of output classes (not hateful, hateful).
pub const NUM_CLASSES: usize = 2;

/// Which modalities a model reads; the trainer only builds the inputs a model needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    pub image: bool,
    pub text: bool,
}

/// Token ids of one batch, kept on the host: the bag-of-words features are built on the CPU.
#[derive(Clone, Debug)]
pub struct TokenIds {
    /// `batch_size × max_len`, post-padded with `data::text::PAD_ID`.
    pub ids: Vec<i32>,
    pub max_len: usize,
}

/// One batch as a model sees it. Absent modalities are `None`.
#[derive(Clone, Debug)]
pub struct ModelInput {
    pub batch_size: usize,
    /// `[B, S, S, 3]`, normalised, NHWC, on the model's device in the compute dtype.
    pub images: Option<Tensor>,
    pub tokens: Option<TokenIds>,
    /// The compute dtype: F32, or F16/BF16 under mixed precision.
    pub dtype: DType,
    pub device: Device,
}

impl ModelInput {
    pub fn images(&self) -> Result<&Tensor> {
        match &self.images {
            Some(images) => Ok(images),
            None => bail!("this model reads images but the batch carries none"),
        }
    }

    pub fn tokens(&self) -> Result<&TokenIds> {
        match &self.tokens {
            Some(tokens) => Ok(tokens),
            None => bail!("this model reads text but the batch carries no tokens"),
        }
    }
}

/// Sizes a model is built with. Saved in the run's config, so a run can always rebuild its model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Side of the square input images (any side the model reads: see `input_size`).
    pub image_size: usize,
    /// Number of token ids (the vocabulary's size, `<pad>` and `<unk>` included).
    pub vocab_size: usize,
    /// Width of every hidden layer.
    pub hidden: usize,
    /// Dropout probability after the hidden layer, in training.
    pub dropout: f32,
    /// clip-fusion's options (other models ignore them; runs saved before they existed get the defaults).
    #[serde(default)]
    pub clip_fusion: ClipFusionOptions,
    /// How the fusion baselines (`cnn-lstm`, `vgg16-lstm`) combine their branches.
    #[serde(default)]
    pub fusion: FusionKind,
    /// Fusion baselines: keep the image branch as `--init` loaded it (no gradients, eval mode).
    #[serde(default)]
    pub freeze_image: bool,
    /// The learning rate of the image body (VGG16 without its head, a fusion baseline's image
    /// branch) as a fraction of the run's: a from-scratch VGG16 without batch norm diverges under
    /// Adam at 1e-3 (docs/study.md). Runs saved before it existed trained at 1.
    #[serde(default = "unit_scale")]
    pub image_lr_scale: f32,
}

fn unit_scale() -> f32 {
    1.0
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { image_size: 64, vocab_size: 2, hidden: 256, dropout: 0.3, clip_fusion: ClipFusionOptions::default(), fusion: FusionKind::Early, freeze_image: false, image_lr_scale: 1.0 }
    }
}

/// A classifier for the Hateful Memes task.
pub trait Model {
    /// The registry name it was built under.
    fn name(&self) -> &str;

    fn needs(&self) -> Needs;

    /// Logits `[B, 2]`. `rng` draws the dropout masks when `training`.
    fn forward(&self, input: &ModelInput, training: bool, rng: &mut Rng) -> Result<Tensor>;

    /// The features the classification head sees, `[B, D]`, in evaluation mode (for t-SNE).
    fn embed(&self, input: &ModelInput) -> Result<Tensor>;

    /// Every trainable parameter (f32 leaves that require gradients) with a stable name.
    fn parameters(&self) -> Vec<(String, Tensor)>;

    /// The parameters indexed by token id, with the axis that runs over the vocabulary (e.g.
    /// `embedding.weight` axis 0, a bag-of-words layer's `text.hidden.weight` axis 1), so that
    /// `train --init --init-remap-vocab` can move their rows to another vocabulary's order.
    fn vocabulary_axes(&self) -> Vec<(String, usize)> {
        Vec::new()
    }

    /// The learning rate of parameter `name` relative to the run's (1 for all, unless a model
    /// fine-tunes some parts slower).
    fn learning_rate_scale(&self, _name: &str) -> f32 {
        1.0
    }

    /// CLIP-style models: the projected image and text embeddings `[B, D]` each, before any
    /// normalisation (HF's `get_image_features` / `get_text_features`), for `embed` to .jsonl.
    fn projected_embeddings(&self, _input: &ModelInput) -> Result<Option<(Tensor, Tensor)>> {
        Ok(None)
    }

    /// Loads weights saved from PyTorch (a safetensors state_dict with the same parameter names):
    /// every parameter must be in the file with its shape. Models whose pretrained files carry a
    /// different head (VGG16's ImageNet classifier) override this to keep their fresh head.
    fn import_weights(&self, path: &std::path::Path) -> Result<crate::io::weights::ImportSummary> {
        Ok(crate::io::weights::WeightFile::open(path)?.load_into(&self.parameters(), |_, _| false)?)
    }

    /// CLIP-style models: the contrastive (InfoNCE) loss of the batch's image–text pairs, for the
    /// pre-training phase of `--contrastive-epochs` (train::contrastive). None: the model has none.
    fn contrastive_loss(&self, _input: &ModelInput) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

/// One registry entry.
#[derive(Clone, Copy, Debug)]
pub struct ModelEntry {
    pub name: &'static str,
    pub needs: Needs,
    pub description: &'static str,
    /// Whether `demo` trains it when no models are named (the full VGG16 is too heavy for a CPU demo).
    pub in_demo: bool,
    /// Weights from another framework that `predict`/`embed --weights` import (io::foreign_weights).
    pub foreign_weights: Option<ForeignWeights>,
}

/// Every model [`build`] knows, in the order the demo trains them.
pub const REGISTRY: &[ModelEntry] = &[
    ModelEntry {
        name: "image-mlp",
        needs: Needs { image: true, text: false },
        description: "image only: 8x8 average pool, one hidden layer",
        in_demo: true,
        foreign_weights: None,
    },
    ModelEntry {
        name: "text-bow",
        needs: Needs { image: false, text: true },
        description: "text only: bag-of-words counts, one hidden layer",
        in_demo: true,
        foreign_weights: None,
    },
    ModelEntry {
        name: "fusion-mlp",
        needs: Needs { image: true, text: true },
        description: "image + text: both encoders projected and summed, then a hidden layer",
        in_demo: true,
        foreign_weights: None,
    },
    ModelEntry {
        name: "lstm",
        needs: Needs { image: false, text: true },
        description: "text only: the seed's embedding + 2-layer LSTM(64), reading the last (padded) step",
        in_demo: true,
        foreign_weights: Some(ForeignWeights::PytorchTextLstm),
    },
    ModelEntry {
        name: "lstm-last-token",
        needs: Needs { image: false, text: true },
        description: "text only: the same LSTM, reading each caption's last real token",
        in_demo: true,
        foreign_weights: Some(ForeignWeights::PytorchTextLstm),
    },
    ModelEntry {
        name: "vgg16",
        needs: Needs { image: true, text: false },
        description: "image only: torchvision's VGG16 (13 conv layers), 2-class head",
        in_demo: false,
        foreign_weights: Some(ForeignWeights::TorchvisionVgg16),
    },
    ModelEntry {
        name: "vgg16-small",
        needs: Needs { image: true, text: false },
        description: "image only: VGG16's structure with channel widths / 16 and a 256-wide classifier",
        in_demo: true,
        foreign_weights: Some(ForeignWeights::TorchvisionVgg16),
    },
    ModelEntry {
        name: "cnn",
        needs: Needs { image: true, text: false },
        description: "image only: three small conv blocks (8, 16, 32 channels), global average pool",
        in_demo: true,
        foreign_weights: None,
    },
    ModelEntry {
        name: "cnn-lstm",
        needs: Needs { image: true, text: true },
        description: "image + text: the small CNN and the seed's LSTM, early or late fusion (--fusion)",
        in_demo: true,
        foreign_weights: None,
    },
    ModelEntry {
        name: "vgg16-lstm",
        needs: Needs { image: true, text: true },
        description: "image + text: VGG16's features (--init torchvision weights, --freeze-image) and the LSTM, fused",
        in_demo: false,
        foreign_weights: None,
    },
    ModelEntry {
        name: "vgg16-small-lstm",
        needs: Needs { image: true, text: true },
        description: "image + text: vgg16-small's features and the LSTM, fused",
        in_demo: true,
        foreign_weights: None,
    },
    ModelEntry {
        name: "clip-fusion",
        needs: Needs { image: true, text: true },
        description: "image + text: CLIP's ViT and text transformer (--init HF folder or from scratch), normalised embeddings fused early, MLP head",
        in_demo: true,
        foreign_weights: Some(ForeignWeights::HuggingFaceClip),
    },
];

/// The registry names, for help texts and errors.
pub fn available() -> Vec<&'static str> {
    REGISTRY.iter().map(|entry| entry.name).collect()
}

/// The models `demo` trains by default.
pub fn demo_models() -> Vec<&'static str> {
    REGISTRY.iter().filter(|entry| entry.in_demo).map(|entry| entry.name).collect()
}

/// The registry entry of `name`, or an error listing the available names.
pub fn entry(name: &str) -> Result<&'static ModelEntry> {
    match REGISTRY.iter().find(|entry| entry.name == name) {
        Some(entry) => Ok(entry),
        None => bail!("unknown model {name:?}; available models: {}", available().join(", ")),
    }
}

/// Builds the model registered as `name`, initialised from `rng`.
pub fn build(name: &str, config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Box<dyn Model>> {
    entry(name)?;
    if !(0.0..1.0).contains(&config.dropout) {
        bail!("dropout must be in [0, 1), got {}", config.dropout);
    }
    if !(config.image_lr_scale > 0.0 && config.image_lr_scale.is_finite()) {
        bail!("--image-lr-scale must be a positive number, got {}", config.image_lr_scale);
    }
    Ok(match name {
        "image-mlp" => Box::new(ImageMlp::new(config, rng, device)?),
        "text-bow" => Box::new(TextBow::new(config, rng, device)?),
        "fusion-mlp" => Box::new(FusionMlp::new(config, rng, device)?),
        "lstm" => Box::new(LstmClassifier::new("lstm", config, text_lstm::SequenceReadout::LastStep, rng, device)?),
        "lstm-last-token" => Box::new(LstmClassifier::new("lstm-last-token", config, text_lstm::SequenceReadout::LastRealToken, rng, device)?),
        "vgg16" | "vgg16-small" => Box::new(vgg16::Vgg16::new(vgg16::Vgg16Config::from_name(name)?, rng, device)?.with_body_lr_scale(config.image_lr_scale)),
        "cnn" => Box::new(small_cnn::CnnClassifier::new(config, rng, device)?),
        "cnn-lstm" => Box::new(LstmFusion::new("cnn-lstm", config, rng, device)?),
        "vgg16-lstm" => Box::new(LstmFusion::new("vgg16-lstm", config, rng, device)?),
        "vgg16-small-lstm" => Box::new(LstmFusion::new("vgg16-small-lstm", config, rng, device)?),
        "clip-fusion" => Box::new(ClipFusion::new(config, rng, device)?),
        _ => unreachable!("every registry entry is built above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_available_ones() {
        let error = build("vgg17", &ModelConfig::default(), &mut Rng::new(0), Device::Cpu).err().unwrap().to_string();
        assert!(error.contains("unknown model \"vgg17\"") && error.contains("image-mlp, text-bow, fusion-mlp, lstm, lstm-last-token, vgg16, vgg16-small, cnn, cnn-lstm, vgg16-lstm, vgg16-small-lstm, clip-fusion"), "{error}");
    }

    #[test]
    fn every_registered_model_builds_and_reports_its_needs() {
        let config = ModelConfig { image_size: 16, vocab_size: 10, hidden: 4, dropout: 0.1, ..ModelConfig::default() };
        // The full VGG16 (138 M parameters) is left to tests/vgg16.rs, which checks its names and shapes.
        for entry in REGISTRY.iter().filter(|entry| !["vgg16", "vgg16-lstm"].contains(&entry.name)) {
            let model = build(entry.name, &config, &mut Rng::new(0), Device::Cpu).unwrap();
            assert_eq!(model.name(), entry.name);
            assert_eq!(model.needs(), entry.needs);
            assert!(model.parameters().iter().all(|(_, p)| p.requires_grad() && p.dtype() == DType::F32));
        }
    }
}
