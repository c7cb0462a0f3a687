//! y = x·Wᵀ + b, with W stored [out, in] as in PyTorch, so imported weights need no transpose.
//! The op (`Tensor::linear`) is one fused GEMM launch on the GPU. A layer without bias (CLIP's
//! projections) is a plain matmul with the transposed weight view.
use crate::util::Rng;
use crate::{Device, Result, Tensor};

pub struct Linear {
    name: String,
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// PyTorch's default initialisation: weight and bias uniform in ±1/√in_features.
    pub fn new(name: &str, in_features: usize, out_features: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        let weight = Tensor::uniform(&[out_features, in_features], -bound, bound, rng, device)?.with_grad();
        let bias = Tensor::uniform(&[out_features], -bound, bound, rng, device)?.with_grad();
        Ok(Self { name: name.to_string(), weight, bias: Some(bias) })
    }

    /// y = x·Wᵀ (`nn.Linear(.., bias=False)`), weight initialised as in [`Linear::new`].
    pub fn without_bias(name: &str, in_features: usize, out_features: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        let weight = Tensor::uniform(&[out_features, in_features], -bound, bound, rng, device)?.with_grad();
        Ok(Self { name: name.to_string(), weight, bias: None })
    }

    /// x: [.., in_features] → [.., out_features], computed in x's dtype: under mixed precision the
    /// f32 parameters are cast (and their gradients cast back), as `Conv2d` does.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let weight = self.weight.to_dtype(x.dtype())?;
        match &self.bias {
            Some(bias) => x.linear(&weight, &bias.to_dtype(x.dtype())?),
            None => x.matmul(&weight.t()?),
        }
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut parameters = vec![(format!("{}.weight", self.name), self.weight.clone())];
        if let Some(bias) = &self.bias {
            parameters.push((format!("{}.bias", self.name), bias.clone()));
        }
        parameters
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
    /// None for a layer built [`Linear::without_bias`].
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}
