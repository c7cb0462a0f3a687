//! Layer norm over the last axis with a learned scale and shift: `{name}.weight`, `{name}.bias`
//! (PyTorch's `nn.LayerNorm`, initialised to ones and zeros).
use crate::{DType, Device, Result, Tensor};

pub struct LayerNorm {
    name: String,
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    pub fn new(name: &str, width: usize, eps: f32, device: Device) -> Result<Self> {
        let weight = Tensor::ones(&[width], DType::F32, device)?.with_grad();
        let bias = Tensor::zeros(&[width], DType::F32, device)?.with_grad();
        Ok(Self { name: name.to_string(), weight, bias, eps })
    }

    /// The norm in x's dtype (the parameters are cast; the statistics are f32 regardless).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.layer_norm(&self.weight.to_dtype(x.dtype())?, &self.bias.to_dtype(x.dtype())?, self.eps)
    }

    /// `(x + residual, norm(x + residual))` in one pass (a pre-LN block's residual stream).
    pub fn forward_after_residual(&self, x: &Tensor, residual: &Tensor) -> Result<(Tensor, Tensor)> {
        x.add_layer_norm(residual, &self.weight.to_dtype(x.dtype())?, &self.bias.to_dtype(x.dtype())?, self.eps)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        vec![(format!("{}.weight", self.name), self.weight.clone()), (format!("{}.bias", self.name), self.bias.clone())]
    }
}
