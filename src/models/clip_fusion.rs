//! `clip-fusion`: CLIP's two encoders, their projected embeddings L2-normalised and fused early
//! (concatenated, multiplied element-wise as Hate-CLIPper's "align" fusion does, or both), then an
//! MLP head: Linear → ReLU → dropout → Linear(2).
//!
//! The encoders come from `--init DIR` (a HuggingFace CLIP folder: its config.json fixes their
//! sizes, its weights are imported) or start from scratch at a small size ([`scratch_config`]) that
//! reads the run's own vocabulary and pools at each caption's last real token. They can be frozen
//! (only the head trains; the encoders run without a tape) or fine-tuned with a learning rate
//! scaled by `encoder_lr_scale`.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::clip::{l2_normalize, ClipConfig, ClipModel, ClipTextConfig, ClipVisionConfig, TextPooling};
use super::dropout_head::DropoutHead;
use super::{Model, ModelConfig, ModelInput, Needs};
use crate::nn::{Activation, Linear};
use crate::util::Rng;
use crate::{Device, Tensor};

/// ln(100): open_clip's upper bound on the contrastive logit scale.
const MAX_LOGIT_SCALE: f32 = 4.605_170_2;

/// How the two normalised embeddings are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FusionMode {
    /// [image, text].
    Concat,
    /// image ⊙ text (Hate-CLIPper's align fusion).
    Product,
    /// [image, text, image ⊙ text].
    #[default]
    Both,
}

/// clip-fusion's part of a run's model config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipFusionOptions {
    pub fusion: FusionMode,
    /// Train the head alone; the encoders keep their initial weights.
    pub freeze_encoders: bool,
    /// The encoders' learning rate relative to the run's (when not frozen).
    pub encoder_lr_scale: f32,
    /// The encoders' sizes when they come from a HuggingFace folder (`--init DIR`); None: the
    /// from-scratch size of [`scratch_config`].
    pub encoders: Option<ClipConfig>,
}

impl Default for ClipFusionOptions {
    fn default() -> Self {
        Self { fusion: FusionMode::Both, freeze_encoders: false, encoder_lr_scale: 1.0, encoders: None }
    }
}

/// The from-scratch encoders: width 64, 2 layers of 4 heads each, an 8×8 patch grid (65 image
/// tokens), positions for captions of up to 128 tokens, 64-wide projections.
pub fn scratch_config(image_size: usize, vocab_size: usize) -> ClipConfig {
    let (width, layers, heads) = (64, 2, 4);
    ClipConfig {
        text: ClipTextConfig {
            vocab_size,
            hidden_size: width,
            intermediate_size: 4 * width,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            max_position_embeddings: 128,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            pooling: TextPooling::LastRealToken,
            bos_token_id: None,
            pad_token_id: Some(crate::data::text::PAD_ID as i64),
        },
        vision: ClipVisionConfig {
            hidden_size: width,
            intermediate_size: 4 * width,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            image_size,
            patch_size: (image_size / 8).max(1),
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        },
        projection_dim: width,
    }
}

pub struct ClipFusion {
    clip: ClipModel,
    options: ClipFusionOptions,
    fusion_hidden: Linear,
    head: DropoutHead,
}

impl ClipFusion {
    pub fn new(config: &ModelConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let options = config.clip_fusion.clone();
        let encoders = options.encoders.clone().unwrap_or_else(|| scratch_config(config.image_size, config.vocab_size));
        if encoders.vision.image_size != config.image_size {
            bail!("the CLIP image encoder takes {0}×{0} images but the run prepares {1}×{1} (give --image-size {0})", encoders.vision.image_size, config.image_size);
        }
        if config.vocab_size > encoders.text.vocab_size {
            bail!("the run's vocabulary has {} ids but the CLIP text encoder only {}", config.vocab_size, encoders.text.vocab_size);
        }
        if !(options.encoder_lr_scale > 0.0 && options.encoder_lr_scale.is_finite()) {
            bail!("--encoder-lr-scale must be a positive number, got {}", options.encoder_lr_scale);
        }
        let clip = ClipModel::new(&encoders, rng, device)?;
        let p = encoders.projection_dim;
        let fused_width = match options.fusion {
            FusionMode::Concat => 2 * p,
            FusionMode::Product => p,
            FusionMode::Both => 3 * p,
        };
        Ok(Self {
            clip,
            fusion_hidden: Linear::new("fusion.hidden", fused_width, config.hidden, rng, device)?,
            head: DropoutHead::new(config.hidden, config.dropout, rng, device)?,
            options,
        })
    }

    pub fn clip(&self) -> &ClipModel {
        &self.clip
    }

    /// The normalised image and text embeddings [B, projection_dim] in the input's dtype; without
    /// a tape when the encoders are frozen.
    pub fn embeddings(&self, input: &ModelInput) -> Result<(Tensor, Tensor)> {
        let _frozen = self.options.freeze_encoders.then(crate::autograd::no_grad);
        let tokens = input.tokens()?;
        // Captions are post-padded, so with the causal mask no pooled position ever sees padding:
        // no padding mask is needed.
        let image = self.clip.image_features(input.images()?)?;
        let text = self.clip.text_features(&tokens.ids, tokens.max_len, None, input.dtype, input.device)?;
        Ok((l2_normalize(&image)?, l2_normalize(&text)?))
    }

    fn features(&self, input: &ModelInput) -> Result<Tensor> {
        let (image, text) = self.embeddings(input)?;
        let fused = match self.options.fusion {
            FusionMode::Concat => Tensor::cat(&[&image, &text], 1)?,
            FusionMode::Product => image.mul(&text)?,
            FusionMode::Both => Tensor::cat(&[&image, &text, &image.mul(&text)?], 1)?,
        };
        Ok(self.fusion_hidden.forward(&fused)?.relu()?)
    }

    fn is_encoder_parameter(name: &str) -> bool {
        !(name.starts_with("fusion.") || name.starts_with("head."))
    }
}

impl Model for ClipFusion {
    fn name(&self) -> &str {
        "clip-fusion"
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

    /// Encoders under their HuggingFace names, then `fusion.hidden.*` and `head.*`. Frozen
    /// encoders are listed too (checkpoints keep them), but never get a gradient.
    fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.clip.parameters(), self.fusion_hidden.parameters(), self.head.parameters()].concat()
    }

    fn projected_embeddings(&self, input: &ModelInput) -> Result<Option<(Tensor, Tensor)>> {
        let tokens = input.tokens()?;
        let image = self.clip.image_features(input.images()?)?;
        let text = self.clip.text_features(&tokens.ids, tokens.max_len, None, input.dtype, input.device)?;
        Ok(Some((image, text)))
    }

    fn learning_rate_scale(&self, name: &str) -> f32 {
        if Self::is_encoder_parameter(name) { self.options.encoder_lr_scale } else { 1.0 }
    }

    /// CLIP's InfoNCE on the normalised embeddings, with the model's `logit_scale` as the learnable
    /// temperature. As open_clip, the scale is kept at most ln(100): clamped here, before the
    /// step's forward, to what the previous step left.
    fn contrastive_loss(&self, input: &ModelInput) -> Result<Option<Tensor>> {
        let logit_scale = self.clip.logit_scale();
        if logit_scale.to_scalar()? > MAX_LOGIT_SCALE {
            logit_scale.fill_(MAX_LOGIT_SCALE)?;
        }
        let (image, text) = self.embeddings(input)?;
        Ok(Some(crate::nn::loss::info_nce(&image, &text, logit_scale)?))
    }

    /// `--init DIR` (a HuggingFace CLIP folder) loads the encoders and keeps the fresh head; a
    /// safetensors file is read by name as for every model.
    fn import_weights(&self, path: &std::path::Path) -> Result<crate::io::weights::ImportSummary> {
        if !path.is_dir() {
            return Ok(crate::io::weights::WeightFile::open(path)?.load_into(&self.parameters(), |_, _| false)?);
        }
        let weights = crate::io::clip_weights::weights_path(path)?;
        let mut summary = crate::io::clip_weights::load_clip_weights(&weights, &self.clip.parameters())?;
        summary.kept_fresh = [self.fusion_hidden.parameters(), self.head.parameters()].concat().into_iter().map(|(name, _)| name).collect();
        Ok(summary)
    }
}
