//! Scaled dot-product attention as one op: softmax(q·kᵀ · head_dim^-0.5 + masks) · v over
//! [batch, heads, seq, head_dim], with the log-sum-exp of each query row saved for the backward
//! (flash attention's contract: no S×S matrix is kept between forward and backward).
use crate::backend::cpu::attention::AttentionDims;
use crate::backend::dispatch;
use crate::tensor::{DType, Layout, Tensor};
use crate::{Error, Result};

/// Attention of queries `q` [B, H, Sq, D] over keys `k` and values `v` [B, H, Sk, D] (one float
/// dtype, f32 accumulation). `causal`: query i sees keys 0..=i. `key_padding_mask`: i32 [B, Sk],
/// 1 where the key is a real token, 0 where it is padding (HuggingFace's `attention_mask`
/// convention). A query that sees no key at all gets a zero output.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, causal: bool, key_padding_mask: Option<&Tensor>) -> Result<Tensor> {
    let dims = check(q, k, v, causal, key_padding_mask)?;
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    let mask = key_padding_mask.map(|m| m.contiguous()).transpose()?;
    let (output, lse) = dispatch::attention_forward(&q, &k, &v, mask.as_ref(), dims)?;
    let output = Tensor::from_storage(output, Layout::contiguous(q.shape()), false);
    let lse = Tensor::from_storage(lse, Layout::contiguous(&[dims.batch, dims.heads, dims.query_len]), false);
    let (q_saved, k_saved, v_saved, out_saved) = (q.clone(), k.clone(), v.clone(), output.clone());
    Ok(Tensor::from_op_output(output, &[&q, &k, &v], move |g| {
        let g = g.contiguous()?;
        let (dq, dk, dv) = dispatch::attention_backward(&q_saved, &k_saved, &v_saved, &out_saved, &g, &lse, mask.as_ref(), dims)?;
        Ok(vec![
            Some(Tensor::from_storage(dq, Layout::contiguous(q_saved.shape()), false)),
            Some(Tensor::from_storage(dk, Layout::contiguous(k_saved.shape()), false)),
            Some(Tensor::from_storage(dv, Layout::contiguous(v_saved.shape()), false)),
        ])
    }))
}

fn check(q: &Tensor, k: &Tensor, v: &Tensor, causal: bool, mask: Option<&Tensor>) -> Result<AttentionDims> {
    let (&[batch, heads, query_len, head_dim], &[kb, kh, key_len, kd]) = (q.shape(), k.shape()) else {
        return Err(Error::shape("attention", format!("q {:?} and k {:?} must be [batch, heads, seq, head_dim]", q.shape(), k.shape())));
    };
    if [kb, kh, kd] != [batch, heads, head_dim] || v.shape() != k.shape() {
        return Err(Error::shape("attention", format!("q {:?}, k {:?} and v {:?} must agree in batch, heads and head_dim, and k and v in shape", q.shape(), k.shape(), v.shape())));
    }
    if !q.dtype().is_float() || k.dtype() != q.dtype() || v.dtype() != q.dtype() {
        return Err(Error::dtype("attention", format!("q, k and v are {}, {}, {}; all must be one float type", q.dtype(), k.dtype(), v.dtype())));
    }
    if let Some(mask) = mask {
        if mask.shape() != [batch, key_len] || mask.dtype() != DType::I32 {
            return Err(Error::shape("attention", format!("key_padding_mask must be i32 [batch, key_len] = [{batch}, {key_len}], got {:?} {}", mask.shape(), mask.dtype())));
        }
    }
    Ok(AttentionDims { batch, heads, query_len, key_len, head_dim, causal })
}
