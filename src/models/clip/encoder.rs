//! The pre-LN transformer encoder both CLIP towers share, with HF's names
//! (`{prefix}.layers.{i}.self_attn`, `.layer_norm1`, `.mlp`, `.layer_norm2`):
//!
//!   h = x + out_proj(attention(layer_norm1(x)))
//!   x = h + fc2(act(fc1(layer_norm2(h))))
//!
//! Each residual add is fused with the norm that reads its result (the next block's
//! layer_norm1, or a final norm the caller passes), so the residual stream is read once per add.
use crate::nn::{Activation, LayerNorm, Mlp, MultiHeadAttention};
use crate::util::Rng;
use crate::{Device, Result, Tensor};

/// The sizes of one tower's encoder.
#[derive(Clone, Copy, Debug)]
pub struct EncoderSizes {
    pub width: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub activation: Activation,
    pub layer_norm_eps: f32,
}

struct EncoderLayer {
    self_attn: MultiHeadAttention,
    layer_norm1: LayerNorm,
    mlp: Mlp,
    layer_norm2: LayerNorm,
}

pub struct Encoder {
    layers: Vec<EncoderLayer>,
}

impl Encoder {
    /// `prefix` is the encoder's name, e.g. `vision_model.encoder`.
    pub fn new(prefix: &str, sizes: EncoderSizes, rng: &mut Rng, device: Device) -> Result<Self> {
        let layers = (0..sizes.layers)
            .map(|i| {
                let name = format!("{prefix}.layers.{i}");
                Ok(EncoderLayer {
                    self_attn: MultiHeadAttention::new(&format!("{name}.self_attn"), sizes.width, sizes.heads, rng, device)?,
                    layer_norm1: LayerNorm::new(&format!("{name}.layer_norm1"), sizes.width, sizes.layer_norm_eps, device)?,
                    mlp: Mlp::new(&format!("{name}.mlp"), sizes.width, sizes.intermediate, sizes.activation, rng, device)?,
                    layer_norm2: LayerNorm::new(&format!("{name}.layer_norm2"), sizes.width, sizes.layer_norm_eps, device)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// x: [B, S, W] → [B, S, W], then `final_norm` when given (the text tower's final_layer_norm).
    pub fn forward(&self, x: &Tensor, causal: bool, key_padding_mask: Option<&Tensor>, final_norm: Option<&LayerNorm>) -> Result<Tensor> {
        let Some(first) = self.layers.first() else {
            return match final_norm {
                Some(norm) => norm.forward(x),
                None => Ok(x.clone()),
            };
        };
        let mut stream = x.clone();
        let mut normed = first.layer_norm1.forward(x)?;
        for (i, layer) in self.layers.iter().enumerate() {
            let attended = layer.self_attn.forward(&normed, causal, key_padding_mask)?;
            let (h, h_normed) = layer.layer_norm2.forward_after_residual(&stream, &attended)?;
            let mlp_out = layer.mlp.forward(&h_normed)?;
            match self.layers.get(i + 1).map(|next| &next.layer_norm1).or(final_norm) {
                Some(next_norm) => (stream, normed) = next_norm.forward_after_residual(&h, &mlp_out)?,
                None => return h.add(&mlp_out),
            }
        }
        // Only reached with a final norm: `normed` is final_norm(last residual sum).
        Ok(normed)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        self.layers.iter().flat_map(|l| [l.self_attn.parameters(), l.layer_norm1.parameters(), l.mlp.parameters(), l.layer_norm2.parameters()].concat()).collect()
    }
}
