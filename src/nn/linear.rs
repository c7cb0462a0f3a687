//! y = x·Wᵀ + b, with W stored [out, in] as in PyTorch, so imported weights need no transpose.
//! The op (`Tensor::linear`) is one fused GEMM launch on the GPU.
use crate::util::Rng;
use crate::{Device, Result, Tensor};

pub struct Linear {
    name: String,
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    /// PyTorch's default initialisation: weight and bias uniform in ±1/√in_features.
    pub fn new(name: &str, in_features: usize, out_features: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        let weight = Tensor::uniform(&[out_features, in_features], -bound, bound, rng, device)?.with_grad();
        let bias = Tensor::uniform(&[out_features], -bound, bound, rng, device)?.with_grad();
        Ok(Self { name: name.to_string(), weight, bias })
    }

    /// x: [.., in_features] → [.., out_features], computed in x's dtype: under mixed precision the
    /// f32 parameters are cast (and their gradients cast back), as `Conv2d` does.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.linear(&self.weight.to_dtype(x.dtype())?, &self.bias.to_dtype(x.dtype())?)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        vec![(format!("{}.weight", self.name), self.weight.clone()), (format!("{}.bias", self.name), self.bias.clone())]
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }
}
