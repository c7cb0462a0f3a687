//! Layer norm over the last axis (statistics in f32 whatever the storage dtype), alone or fused
//! with the residual add of a pre-LN transformer block: `s = x + r; y = norm(s)` in one pass.
use crate::backend::dispatch;
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

fn check(op: &'static str, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<()> {
    let width = *x.shape().last().ok_or_else(|| Error::shape(op, "input has no axes"))?;
    if weight.shape() != [width] || bias.shape() != [width] {
        return Err(Error::shape(op, format!("input {:?} needs weight and bias of shape [{width}], got {:?} and {:?}", x.shape(), weight.shape(), bias.shape())));
    }
    if !x.dtype().is_float() || weight.dtype() != x.dtype() || bias.dtype() != x.dtype() {
        return Err(Error::dtype(op, format!("input, weight and bias are {}, {}, {}; all must be one float type", x.dtype(), weight.dtype(), bias.dtype())));
    }
    Ok(())
}

impl Tensor {
    /// (x − mean) / √(var + eps) · weight + bias over the last axis (biased variance, as PyTorch).
    pub fn layer_norm(&self, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
        check("layer_norm", self, weight, bias)?;
        // The kernels index weight and bias directly (a no-op for parameters, which are contiguous).
        let (x, weight, bias) = (self.contiguous()?, &weight.contiguous()?, &bias.contiguous()?);
        let saved = dispatch::layer_norm_forward(&x, None, weight, bias, eps)?;
        Ok(layer_norm_output(x, saved.output, saved.mean, saved.rstd, weight, bias))
    }

    /// `(s, layer_norm(s))` with `s = self + residual` (same shape), computed in one pass. Both
    /// outputs are differentiable: s feeds the next residual add, the norm feeds the next sublayer.
    pub fn add_layer_norm(&self, residual: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<(Tensor, Tensor)> {
        check("add_layer_norm", self, weight, bias)?;
        if residual.shape() != self.shape() || residual.dtype() != self.dtype() {
            return Err(Error::shape("add_layer_norm", format!("residual {:?} {} must match the input {:?} {}", residual.shape(), residual.dtype(), self.shape(), self.dtype())));
        }
        let (x, r) = (self.contiguous()?, residual.contiguous()?);
        let (weight, bias) = (&weight.contiguous()?, &bias.contiguous()?);
        let saved = dispatch::layer_norm_forward(&x, Some(&r), weight, bias, eps)?;
        let sum_storage = saved.sum.expect("a residual was given");
        let sum = Tensor::from_op(sum_storage, Layout::contiguous(self.shape()), &[&x, &r], |g| Ok(vec![Some(g.clone()), Some(g.clone())]));
        let normed = layer_norm_output(sum.clone(), saved.output, saved.mean, saved.rstd, weight, bias);
        Ok((sum, normed))
    }
}

/// The norm's output tensor, with the backward rule that reads the saved statistics.
fn layer_norm_output(input: Tensor, output: crate::tensor::Storage, mean: Tensor, rstd: Tensor, weight: &Tensor, bias: &Tensor) -> Tensor {
    let (x, w) = (input.clone(), weight.clone());
    Tensor::from_op(output, Layout::contiguous(input.shape()), &[&input, weight, bias], move |g| {
        let g = g.contiguous()?;
        let (dx, dw, db) = dispatch::layer_norm_backward(&x, &w, &mean, &rstd, &g)?;
        let width = [w.shape()[0]];
        Ok(vec![
            Some(Tensor::from_storage(dx, Layout::contiguous(x.shape()), false)),
            Some(Tensor::from_storage(dw, Layout::contiguous(&width), false)),
            Some(Tensor::from_storage(db, Layout::contiguous(&width), false)),
        ])
    })
}
