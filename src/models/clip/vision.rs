//! CLIP's image encoder (HF `CLIPVisionTransformer`): a patch-embedding convolution without bias
//! (kernel = stride = patch), a learned class token in front, learned position embeddings,
//! `pre_layrnorm` (sic, HF's name), the encoder, and `post_layernorm` of the class token.
use super::config::ClipVisionConfig;
use super::encoder::{Encoder, EncoderSizes};
use crate::nn::LayerNorm;
use crate::ops::Conv2dOptions;
use crate::util::Rng;
use crate::{Device, Error, Result, Tensor};

const PREFIX: &str = "vision_model";

pub struct VisionTransformer {
    config: ClipVisionConfig,
    class_embedding: Tensor,
    /// [width, 3, patch, patch], PyTorch's conv layout.
    patch_embedding: Tensor,
    /// [tokens, width].
    position_embedding: Tensor,
    pre_layrnorm: LayerNorm,
    encoder: Encoder,
    post_layernorm: LayerNorm,
}

impl VisionTransformer {
    /// Initialised as HF's `CLIPPreTrainedModel._init_weights` does (factor 1): class token
    /// N(0, width^-1), patch weights N(0, 0.02²), positions N(0, 0.02²); the encoder's Linear
    /// layers keep PyTorch's default initialisation.
    pub fn new(config: &ClipVisionConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let width = config.hidden_size;
        let sizes = EncoderSizes {
            width,
            intermediate: config.intermediate_size,
            layers: config.num_hidden_layers,
            heads: config.num_attention_heads,
            activation: config.hidden_act,
            layer_norm_eps: config.layer_norm_eps,
        };
        Ok(Self {
            class_embedding: Tensor::randn(&[width], (width as f32).powf(-0.5), rng, device)?.with_grad(),
            patch_embedding: Tensor::randn(&[width, 3, config.patch_size, config.patch_size], 0.02, rng, device)?.with_grad(),
            position_embedding: Tensor::randn(&[config.tokens(), width], 0.02, rng, device)?.with_grad(),
            pre_layrnorm: LayerNorm::new(&format!("{PREFIX}.pre_layrnorm"), width, config.layer_norm_eps, device)?,
            encoder: Encoder::new(&format!("{PREFIX}.encoder"), sizes, rng, device)?,
            post_layernorm: LayerNorm::new(&format!("{PREFIX}.post_layernorm"), width, config.layer_norm_eps, device)?,
            config: config.clone(),
        })
    }

    /// images: NHWC [B, S, S, 3] (S = image_size), already normalised → the pooled class token
    /// [B, width] after post_layernorm, in the images' dtype.
    pub fn forward(&self, images: &Tensor) -> Result<Tensor> {
        let size = self.config.image_size;
        if images.rank() != 4 || images.shape()[1..] != [size, size, 3] {
            return Err(Error::shape("CLIP vision", format!("images must be NHWC [batch, {size}, {size}, 3], got {:?}", images.shape())));
        }
        let (batch, width, dtype) = (images.shape()[0], self.config.hidden_size, images.dtype());
        let patch = self.config.patch_size;
        let patches = images.conv2d(&self.patch_embedding.to_dtype(dtype)?, None, Conv2dOptions::new(patch, 0))?;
        // [B, g, g, W] row-major over (row, column): HF's flatten(2).transpose(1, 2) order.
        let patches = patches.reshape(&[batch, self.config.grid() * self.config.grid(), width])?;
        let class_token = self.class_embedding.to_dtype(dtype)?.reshape(&[1, 1, width])?.broadcast_as(&[batch, 1, width])?;
        let tokens = Tensor::cat(&[&class_token, &patches], 1)?;
        let embedded = tokens.add(&self.position_embedding.to_dtype(dtype)?.unsqueeze(0)?)?;
        let hidden = self.encoder.forward(&self.pre_layrnorm.forward(&embedded)?, false, None, None)?;
        self.post_layernorm.forward(&hidden.narrow(1, 0, 1)?.squeeze(1)?)
    }

    pub fn config(&self) -> &ClipVisionConfig {
        &self.config
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let embeddings = vec![
            (format!("{PREFIX}.embeddings.class_embedding"), self.class_embedding.clone()),
            (format!("{PREFIX}.embeddings.patch_embedding.weight"), self.patch_embedding.clone()),
            (format!("{PREFIX}.embeddings.position_embedding.weight"), self.position_embedding.clone()),
        ];
        [embeddings, self.pre_layrnorm.parameters(), self.encoder.parameters(), self.post_layernorm.parameters()].concat()
    }
}
