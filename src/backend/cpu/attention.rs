//! Scaled dot-product attention over [batch, heads, seq, head_dim], the reference for the flash
//! kernel: per query row an online softmax over the keys (running maximum and sum, f32), the
//! log-sum-exp of the scaled scores saved for the backward, which recomputes the probabilities from
//! it instead of keeping an S×S matrix. Masked keys (causal: key j > query i; padding: mask 0) get
//! no weight; a query that sees no key outputs zeros and has log-sum-exp −∞.
use rayon::prelude::*;

/// Sizes and options of one attention call. q is [batch, heads, query_len, head_dim], k and v are
/// [batch, heads, key_len, head_dim], all contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionDims {
    pub batch: usize,
    pub heads: usize,
    pub query_len: usize,
    pub key_len: usize,
    pub head_dim: usize,
    /// Query i sees keys 0..=i only (top-left aligned, as PyTorch's `is_causal`).
    pub causal: bool,
}

impl AttentionDims {
    /// head_dim^-0.5, the scale of the scores.
    pub fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    /// Whether query `i` of batch element `b` may attend to key `j`. `mask` is [batch, key_len],
    /// nonzero for a real key.
    fn allowed(&self, mask: Option<&[i32]>, b: usize, i: usize, j: usize) -> bool {
        !(self.causal && j > i) && mask.is_none_or(|m| m[b * self.key_len + j] != 0)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The output [batch, heads, query_len, head_dim] and the log-sum-exp [batch, heads, query_len].
pub fn forward(q: &[f32], k: &[f32], v: &[f32], mask: Option<&[i32]>, dims: AttentionDims) -> (Vec<f32>, Vec<f32>) {
    let AttentionDims { query_len: sq, key_len: sk, head_dim: d, .. } = dims;
    let scale = dims.scale();
    let mut out = vec![0.0f32; dims.batch * dims.heads * sq * d];
    let mut lse = vec![f32::NEG_INFINITY; dims.batch * dims.heads * sq];
    out.par_chunks_mut((sq * d).max(1)).zip(lse.par_chunks_mut(sq.max(1))).enumerate().for_each(|(bh, (out, lse))| {
        let b = bh / dims.heads;
        let (q, k, v) = (&q[bh * sq * d..][..sq * d], &k[bh * sk * d..][..sk * d], &v[bh * sk * d..][..sk * d]);
        for i in 0..sq {
            let (qi, oi) = (&q[i * d..][..d], &mut out[i * d..][..d]);
            // Online softmax: when a larger score arrives, what was accumulated is rescaled.
            let (mut running_max, mut running_sum) = (f32::NEG_INFINITY, 0.0f32);
            for j in (0..sk).filter(|&j| dims.allowed(mask, b, i, j)) {
                let score = dot(qi, &k[j * d..][..d]) * scale;
                if score > running_max {
                    let rescale = (running_max - score).exp();
                    running_sum *= rescale;
                    oi.iter_mut().for_each(|o| *o *= rescale);
                    running_max = score;
                }
                let p = (score - running_max).exp();
                running_sum += p;
                oi.iter_mut().zip(&v[j * d..][..d]).for_each(|(o, &vj)| *o += p * vj);
            }
            if running_sum > 0.0 {
                oi.iter_mut().for_each(|o| *o /= running_sum);
                lse[i] = running_max + running_sum.ln();
            }
        }
    });
    (out, lse)
}

/// dq, dk, dv from the output's gradient `d_out`, the forward's `out` and `lse`:
/// p_ij = exp(s_ij − lse_i), dv_j = Σ_i p_ij·do_i, ds_ij = p_ij·(do_i·v_j − do_i·o_i),
/// dq_i = scale·Σ_j ds_ij·k_j, dk_j = scale·Σ_i ds_ij·q_i.
#[allow(clippy::too_many_arguments)]
pub fn backward(q: &[f32], k: &[f32], v: &[f32], out: &[f32], d_out: &[f32], lse: &[f32], mask: Option<&[i32]>, dims: AttentionDims) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let AttentionDims { query_len: sq, key_len: sk, head_dim: d, .. } = dims;
    let scale = dims.scale();
    let bh_count = dims.batch * dims.heads;
    let mut dq = vec![0.0f32; bh_count * sq * d];
    let mut dk = vec![0.0f32; bh_count * sk * d];
    let mut dv = vec![0.0f32; bh_count * sk * d];
    dq.par_chunks_mut((sq * d).max(1)).zip(dk.par_chunks_mut((sk * d).max(1)).zip(dv.par_chunks_mut((sk * d).max(1)))).enumerate().for_each(|(bh, (dq, (dk, dv)))| {
        let b = bh / dims.heads;
        let (q, o, d_o, lse) = (&q[bh * sq * d..][..sq * d], &out[bh * sq * d..][..sq * d], &d_out[bh * sq * d..][..sq * d], &lse[bh * sq..][..sq]);
        let (k, v) = (&k[bh * sk * d..][..sk * d], &v[bh * sk * d..][..sk * d]);
        for i in 0..sq {
            if lse[i] == f32::NEG_INFINITY {
                continue; // a query that saw no key: its output was constant zero
            }
            let (qi, doi) = (&q[i * d..][..d], &d_o[i * d..][..d]);
            let row_delta = dot(doi, &o[i * d..][..d]);
            for j in (0..sk).filter(|&j| dims.allowed(mask, b, i, j)) {
                let (kj, vj) = (&k[j * d..][..d], &v[j * d..][..d]);
                let p = (dot(qi, kj) * scale - lse[i]).exp();
                dv[j * d..][..d].iter_mut().zip(doi).for_each(|(g, &x)| *g += p * x);
                let ds = p * (dot(doi, vj) - row_delta) * scale;
                dq[i * d..][..d].iter_mut().zip(kj).for_each(|(g, &x)| *g += ds * x);
                dk[j * d..][..d].iter_mut().zip(qi).for_each(|(g, &x)| *g += ds * x);
            }
        }
    });
    (dq, dk, dv)
}
