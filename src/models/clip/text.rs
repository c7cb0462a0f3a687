//! CLIP's text encoder (HF `CLIPTextTransformer`): token and position embeddings, the encoder
//! with a causal mask (and the padding mask when given), `final_layer_norm`, and the sentence
//! vector read at one position per caption (see [`TextPooling`]).
use super::config::{ClipTextConfig, TextPooling};
use super::encoder::{Encoder, EncoderSizes};
use crate::data::text::PAD_ID;
use crate::nn::{Embedding, LayerNorm};
use crate::util::Rng;
use crate::{DType, Device, Error, Result, Tensor};

const PREFIX: &str = "text_model";

pub struct TextTransformer {
    config: ClipTextConfig,
    token_embedding: Embedding,
    position_embedding: Embedding,
    encoder: Encoder,
    final_layer_norm: LayerNorm,
}

impl TextTransformer {
    /// Initialised as HF does: token embeddings N(0, 0.02²), positions N(0, 0.01²).
    pub fn new(config: &ClipTextConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let width = config.hidden_size;
        let sizes = EncoderSizes {
            width,
            intermediate: config.intermediate_size,
            layers: config.num_hidden_layers,
            heads: config.num_attention_heads,
            activation: config.hidden_act,
            layer_norm_eps: config.layer_norm_eps,
        };
        let token_embedding = Embedding::new(&format!("{PREFIX}.embeddings.token_embedding"), config.vocab_size, width, rng, device)?;
        let position_embedding = Embedding::new(&format!("{PREFIX}.embeddings.position_embedding"), config.max_position_embeddings, width, rng, device)?;
        {
            let _no_grad = crate::autograd::no_grad();
            token_embedding.weight().scale_(0.02)?;
            position_embedding.weight().scale_(0.01)?;
        }
        Ok(Self {
            token_embedding,
            position_embedding,
            encoder: Encoder::new(&format!("{PREFIX}.encoder"), sizes, rng, device)?,
            final_layer_norm: LayerNorm::new(&format!("{PREFIX}.final_layer_norm"), width, config.layer_norm_eps, device)?,
            config: config.clone(),
        })
    }

    /// The position each caption is read at, from its ids (`batch × len`, row-major).
    pub fn pooling_positions(&self, ids: &[i32], len: usize) -> Vec<usize> {
        ids.chunks(len.max(1))
            .map(|row| match self.config.pooling {
                // argmax of (ids == eos): the first match, or 0 when there is none (as torch.argmax).
                TextPooling::FirstEos(eos) => row.iter().position(|&id| id == eos).unwrap_or(0),
                // torch.argmax returns the first maximum.
                TextPooling::ArgmaxId => row.iter().enumerate().fold(0, |best, (i, &id)| if id > row[best] { i } else { best }),
                TextPooling::LastRealToken => row.iter().rposition(|&id| id != PAD_ID).unwrap_or(0),
            })
            .collect()
    }

    /// ids: `batch × len` token ids; mask: the same layout, 1 for real tokens (None: no padding
    /// mask, as HF without attention_mask) → the pooled sentence vectors [B, width] in `dtype`.
    pub fn forward(&self, ids: &[i32], len: usize, mask: Option<&[i32]>, dtype: DType, device: Device) -> Result<Tensor> {
        let batch = ids.len() / len.max(1);
        if len == 0 || batch * len != ids.len() || len > self.config.max_position_embeddings {
            return Err(Error::shape("CLIP text", format!("{} ids are not batches of {len} tokens, at most max_position_embeddings = {}", ids.len(), self.config.max_position_embeddings)));
        }
        let width = self.config.hidden_size;
        let id_tensor = Tensor::from_i32(ids.to_vec(), &[batch, len], device)?;
        let tokens = self.token_embedding.forward(&id_tensor)?.to_dtype(dtype)?;
        let positions = self.position_embedding.weight().narrow(0, 0, len)?.to_dtype(dtype)?.unsqueeze(0)?;
        let mask = mask.map(|m| Tensor::from_i32(m.to_vec(), &[batch, len], device)).transpose()?;
        let hidden = self.encoder.forward(&tokens.add(&positions)?, true, mask.as_ref(), Some(&self.final_layer_norm))?;
        // Gather one row per caption: an embedding lookup into the flattened states (its backward
        // scatters the gradient back to those rows).
        let rows: Vec<i32> = self.pooling_positions(ids, len).iter().enumerate().map(|(b, &p)| (b * len + p) as i32).collect();
        hidden.reshape(&[batch * len, width])?.embedding(&Tensor::from_i32(rows, &[batch], device)?)
    }

    pub fn config(&self) -> &ClipTextConfig {
        &self.config
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.token_embedding.parameters(), self.position_embedding.parameters(), self.encoder.parameters(), self.final_layer_norm.parameters()].concat()
    }
}
