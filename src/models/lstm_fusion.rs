//! The study's fusion baselines: an image branch and the seed's text LSTM (models::text_lstm), fused.
//!
//! | name               | image branch                                   |
//! |--------------------|------------------------------------------------|
//! | `cnn-lstm`         | [`SmallCnn`]: three conv blocks, 32 features     |
//! | `vgg16-lstm`       | VGG16 up to classifier.3 (4096 features)         |
//! | `vgg16-small-lstm` | the same at widths ÷16 (256 features), for CPUs  |
//!
//! The text branch is embedding(100) → LSTM(64) → LSTM(64), read at each caption's last real token
//! (the seed read the last padded step, which lets padding wash the words out).
//!
//! [`FusionKind::Early`]: both feature vectors concatenated → dropout → Linear(hidden) → ReLU →
//! dropout → Linear(2); the embedding is the ReLU'd hidden vector.
//! [`FusionKind::Late`]: each branch classifies on its own (dropout → Linear(2)) and the logits are
//! summed with one learned weight per branch; the embedding is the concatenated branch features.
//!
//! With `freeze_image` the image branch runs in evaluation mode without gradients (its weights
//! stay as `--init` loaded them); its parameters are still saved in checkpoints.
//! Parameter names: VGG16's are torchvision's and the LSTM's are `text_lstm`'s, so `--init` can load
//! a torchvision file or a trained `vgg16`/`lstm` run's checkpoint into its branch.
use anyhow::Result;

use super::dropout_head::DropoutHead;
use super::lstm_classifier::token_tensor;
use super::small_cnn::SmallCnn;
use super::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use super::vgg16::{Vgg16, Vgg16Config};
use super::{Model, ModelConfig, ModelInput, Needs, NUM_CLASSES};
use crate::nn::{dropout, Linear};
use crate::util::Rng;
use crate::{Device, Tensor};

/// How the two branches are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionKind {
    /// Features concatenated, then an MLP.
    #[default]
    Early,
    /// Each branch classifies; the logits are combined with learned weights.
    Late,
}

impl std::str::FromStr for FusionKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "early" => Ok(Self::Early),
            "late" => Ok(Self::Late),
            other => Err(format!("unknown fusion {other:?}; use early or late")),
        }
    }
}

impl std::fmt::Display for FusionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Early => "early",
            Self::Late => "late",
        })
    }
}

enum ImageBranch {
    Cnn(SmallCnn),
    Vgg(Vgg16),
}

/// VGG16's own 2-class layer is not used: the fusion heads replace it.
const VGG_HEAD_PREFIX: &str = "classifier.6.";
/// Nor is the seed LSTM's 1-logit layer.
const LSTM_HEAD_PREFIX: &str = "fc.";

impl ImageBranch {
    fn width(&self) -> usize {
        match self {
            Self::Cnn(cnn) => cnn.feature_width(),
            Self::Vgg(vgg) => vgg.config().hidden,
        }
    }

    fn features(&self, images: &Tensor, training: bool, rng: &mut Rng) -> Result<Tensor> {
        Ok(match self {
            Self::Cnn(cnn) => cnn.features(images)?,
            Self::Vgg(vgg) => vgg.features(images, training, rng)?,
        })
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        match self {
            Self::Cnn(cnn) => cnn.parameters(),
            Self::Vgg(vgg) => vgg.parameters().into_iter().filter(|(name, _)| !name.starts_with(VGG_HEAD_PREFIX)).collect(),
        }
    }
}

enum FusionHead {
    Early { hidden: Linear, head: DropoutHead },
    Late { image_head: Linear, text_head: Linear, image_weight: Tensor, text_weight: Tensor },
}

pub struct LstmFusion {
    name: &'static str,
    image: ImageBranch,
    text: TextLstm,
    head: FusionHead,
    dropout: f32,
    freeze_image: bool,
    /// Learning-rate scale of the image branch's parameters (`ModelConfig::image_lr_scale`).
    image_lr_scale: f32,
    /// The image branch's parameter names, for `learning_rate_scale`.
    image_names: std::collections::HashSet<String>,
}

impl LstmFusion {
    pub fn new(name: &'static str, config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let image = match name {
            "cnn-lstm" => ImageBranch::Cnn(SmallCnn::new(rng, device)?),
            "vgg16-lstm" => ImageBranch::Vgg(Vgg16::new(Vgg16Config::full(), rng, device)?),
            "vgg16-small-lstm" => ImageBranch::Vgg(Vgg16::new(Vgg16Config::small(), rng, device)?),
            other => anyhow::bail!("no LSTM fusion model is called {other:?}"),
        };
        let text_config = TextLstmConfig { vocab_size: config.vocab_size, readout: SequenceReadout::LastRealToken, ..TextLstmConfig::default() };
        let text = TextLstm::new(text_config, rng, device)?;
        let text_width = text.config().hidden;
        let head = match config.fusion {
            FusionKind::Early => FusionHead::Early {
                hidden: Linear::new("fusion.hidden", image.width() + text_width, config.hidden, rng, device)?,
                head: DropoutHead::new(config.hidden, config.dropout, rng, device)?,
            },
            FusionKind::Late => FusionHead::Late {
                image_head: Linear::new("fusion.image_head", image.width(), NUM_CLASSES, rng, device)?,
                text_head: Linear::new("fusion.text_head", text_width, NUM_CLASSES, rng, device)?,
                image_weight: Tensor::full(&[1, 1], 1.0, crate::DType::F32, device)?.with_grad(),
                text_weight: Tensor::full(&[1, 1], 1.0, crate::DType::F32, device)?.with_grad(),
            },
        };
        let image_names = image.parameters().into_iter().map(|(name, _)| name).collect();
        Ok(Self { name, image, text, head, dropout: config.dropout, freeze_image: config.freeze_image, image_lr_scale: config.image_lr_scale, image_names })
    }

    /// Both branches' features, `[B, image width]` and `[B, 64]`.
    fn branch_features(&self, input: &ModelInput, training: bool, rng: &mut Rng) -> Result<(Tensor, Tensor)> {
        let images = input.images()?;
        let image = if self.freeze_image {
            let _frozen = crate::autograd::no_grad();
            self.image.features(images, false, rng)?
        } else {
            self.image.features(images, training, rng)?
        };
        let (ids, lengths) = token_tensor(input)?;
        let text = self.text.features(&ids, &lengths, input.dtype)?;
        Ok((image, text))
    }

    fn early_hidden(hidden: &Linear, image: &Tensor, text: &Tensor, p: f32, training: bool, rng: &mut Rng) -> Result<Tensor> {
        let joint = Tensor::cat(&[image, text], 1)?;
        Ok(hidden.forward(&dropout(&joint, p, training, rng)?)?.relu()?)
    }
}

impl Model for LstmFusion {
    fn name(&self) -> &str {
        self.name
    }

    fn needs(&self) -> Needs {
        Needs { image: true, text: true }
    }

    fn forward(&self, input: &ModelInput, training: bool, rng: &mut Rng) -> Result<Tensor> {
        let (image, text) = self.branch_features(input, training, rng)?;
        match &self.head {
            FusionHead::Early { hidden, head } => head.forward(&Self::early_hidden(hidden, &image, &text, self.dropout, training, rng)?, training, rng),
            FusionHead::Late { image_head, text_head, image_weight, text_weight } => {
                let image_logits = image_head.forward(&dropout(&image, self.dropout, training, rng)?)?;
                let text_logits = text_head.forward(&dropout(&text, self.dropout, training, rng)?)?;
                let dtype = image_logits.dtype();
                Ok(image_logits.mul(&image_weight.to_dtype(dtype)?)?.add(&text_logits.mul(&text_weight.to_dtype(dtype)?)?)?)
            }
        }
    }

    fn embed(&self, input: &ModelInput) -> Result<Tensor> {
        let mut unused = Rng::new(0);
        let (image, text) = self.branch_features(input, false, &mut unused)?;
        match &self.head {
            FusionHead::Early { hidden, .. } => Self::early_hidden(hidden, &image, &text, self.dropout, false, &mut unused),
            FusionHead::Late { .. } => Ok(Tensor::cat(&[&image, &text], 1)?),
        }
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut parameters = self.image.parameters();
        parameters.extend(self.text.parameters().into_iter().filter(|(name, _)| !name.starts_with(LSTM_HEAD_PREFIX)));
        match &self.head {
            FusionHead::Early { hidden, head } => {
                parameters.extend(hidden.parameters());
                parameters.extend(head.parameters());
            }
            FusionHead::Late { image_head, text_head, image_weight, text_weight } => {
                parameters.extend(image_head.parameters());
                parameters.extend(text_head.parameters());
                parameters.push(("fusion.image_weight".to_string(), image_weight.clone()));
                parameters.push(("fusion.text_weight".to_string(), text_weight.clone()));
            }
        }
        parameters
    }

    fn learning_rate_scale(&self, name: &str) -> f32 {
        if self.image_names.contains(name) { self.image_lr_scale } else { 1.0 }
    }

    /// A torchvision VGG16 file loads into the VGG image branch (the ImageNet head is not used).
    fn import_weights(&self, path: &std::path::Path) -> Result<crate::io::weights::ImportSummary> {
        match &self.image {
            ImageBranch::Vgg(vgg) => Ok(crate::io::weights::load_vgg16(path, vgg)?),
            ImageBranch::Cnn(_) => Ok(crate::io::weights::WeightFile::open(path)?.load_into(&self.parameters(), |_, _| false)?),
        }
    }
}
