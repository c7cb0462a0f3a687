//! Multi-head self-attention with HuggingFace's parameter names: `{name}.q_proj`, `k_proj`,
//! `v_proj` and `out_proj` (each a Linear with bias), heads split from the width as
//! [B, S, H·D] → [B, H, S, D], scores scaled by D^-0.5 inside `ops::attention`.
use crate::nn::Linear;
use crate::util::Rng;
use crate::{Device, Error, Result, Tensor};

pub struct MultiHeadAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
}

impl MultiHeadAttention {
    pub fn new(name: &str, width: usize, heads: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        if heads == 0 || !width.is_multiple_of(heads) {
            return Err(Error::shape("MultiHeadAttention", format!("{name}: width {width} is not a multiple of {heads} heads")));
        }
        let projection = |suffix: &str, rng: &mut Rng| Linear::new(&format!("{name}.{suffix}"), width, width, rng, device);
        Ok(Self { q_proj: projection("q_proj", rng)?, k_proj: projection("k_proj", rng)?, v_proj: projection("v_proj", rng)?, out_proj: projection("out_proj", rng)?, heads })
    }

    /// [B, S, W] → [B, H, S, W/H].
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, seq, width) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        x.reshape(&[batch, seq, self.heads, width / self.heads])?.permute(&[0, 2, 1, 3])
    }

    /// x: [B, S, W] → [B, S, W]. `key_padding_mask`: i32 [B, S], 1 for real tokens (see `ops::attention`).
    pub fn forward(&self, x: &Tensor, causal: bool, key_padding_mask: Option<&Tensor>) -> Result<Tensor> {
        if x.rank() != 3 {
            return Err(Error::shape("MultiHeadAttention", format!("input must be [batch, seq, width], got {:?}", x.shape())));
        }
        let (q, k, v) = (self.split_heads(&self.q_proj.forward(x)?)?, self.split_heads(&self.k_proj.forward(x)?)?, self.split_heads(&self.v_proj.forward(x)?)?);
        let attended = crate::ops::attention(&q, &k, &v, causal, key_padding_mask)?;
        let merged = attended.permute(&[0, 2, 1, 3])?.reshape(x.shape())?;
        self.out_proj.forward(&merged)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        [self.k_proj.parameters(), self.v_proj.parameters(), self.q_proj.parameters(), self.out_proj.parameters()].concat()
    }
}
