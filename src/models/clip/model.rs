//! The two towers with their projections, as HF's `CLIPModel`: `visual_projection` and
//! `text_projection` (no bias) map the pooled vectors to the shared space; `logit_scale` is a
//! parameter read from the weights (HF's init is ln(1/0.07) = 2.6592, never assumed).
use super::config::ClipConfig;
use super::text::TextTransformer;
use super::vision::VisionTransformer;
use crate::nn::Linear;
use crate::util::Rng;
use crate::{DType, Device, Result, Tensor};

/// ln(1/0.07), CLIP's initial temperature.
pub const LOGIT_SCALE_INIT: f32 = 2.6592;

pub struct ClipModel {
    config: ClipConfig,
    vision: VisionTransformer,
    text: TextTransformer,
    visual_projection: Linear,
    text_projection: Linear,
    /// A scalar; logits are scaled by its exponential.
    logit_scale: Tensor,
}

/// x / ‖x‖ along the last axis, computed in f32 and returned in x's dtype.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let wide = x.to_dtype(DType::F32)?;
    let norm = wide.mul(&wide)?.sum(-1, true)?.sqrt()?;
    wide.div(&norm)?.to_dtype(x.dtype())
}

impl ClipModel {
    pub fn new(config: &ClipConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        Ok(Self {
            vision: VisionTransformer::new(&config.vision, rng, device)?,
            text: TextTransformer::new(&config.text, rng, device)?,
            visual_projection: Linear::without_bias("visual_projection", config.vision.hidden_size, config.projection_dim, rng, device)?,
            text_projection: Linear::without_bias("text_projection", config.text.hidden_size, config.projection_dim, rng, device)?,
            logit_scale: Tensor::scalar(LOGIT_SCALE_INIT, device)?.with_grad(),
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// NHWC images [B, S, S, 3] → projected image embeddings [B, projection_dim] (not normalised).
    pub fn image_features(&self, images: &Tensor) -> Result<Tensor> {
        self.visual_projection.forward(&self.vision.forward(images)?)
    }

    /// Token ids (`batch × len`) and optional padding mask → projected text embeddings [B, projection_dim].
    pub fn text_features(&self, ids: &[i32], len: usize, mask: Option<&[i32]>, dtype: DType, device: Device) -> Result<Tensor> {
        self.text_projection.forward(&self.text.forward(ids, len, mask, dtype, device)?)
    }

    /// HF's `logits_per_image`: exp(logit_scale) · normalised image · normalised textᵀ, [B_img, B_text], f32.
    pub fn logits_per_image(&self, image_embeds: &Tensor, text_embeds: &Tensor) -> Result<Tensor> {
        let (image, text) = (l2_normalize(&image_embeds.to_dtype(DType::F32)?)?, l2_normalize(&text_embeds.to_dtype(DType::F32)?)?);
        image.matmul(&text.t()?)?.mul(&self.logit_scale.exp()?)
    }

    pub fn logit_scale(&self) -> &Tensor {
        &self.logit_scale
    }

    /// The vision tower's parameters and its projection (what "the image encoder" means when freezing).
    pub fn image_parameters(&self) -> Vec<(String, Tensor)> {
        [self.vision.parameters(), self.visual_projection.parameters()].concat()
    }

    pub fn text_parameters(&self) -> Vec<(String, Tensor)> {
        [self.text.parameters(), self.text_projection.parameters()].concat()
    }

    /// Every parameter under its HuggingFace name.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.image_parameters(), self.text_parameters(), vec![("logit_scale".to_string(), self.logit_scale.clone())]].concat()
    }
}
