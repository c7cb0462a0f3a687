//! 2-D convolution layer over NHWC activations, with PyTorch's weight layout `[out, in, kh, kw]`
//! (so `{name}.weight` imports from a PyTorch state_dict unchanged) and PyTorch's default init.
use crate::ops::Conv2dOptions;
use crate::util::Rng;
use crate::{Device, Error, Result, Tensor};

pub struct Conv2d {
    name: String,
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    /// A square `kernel × kernel` convolution. PyTorch's default initialisation
    /// (kaiming_uniform with a = √5): weight and bias uniform in ±1/√(in·kernel²).
    #[allow(clippy::too_many_arguments)]
    pub fn new(name: &str, in_channels: usize, out_channels: usize, kernel: usize, stride: usize, padding: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        let bound = 1.0 / ((in_channels * kernel * kernel).max(1) as f32).sqrt();
        let weight = Tensor::uniform(&[out_channels, in_channels, kernel, kernel], -bound, bound, rng, device)?;
        let bias = Tensor::uniform(&[out_channels], -bound, bound, rng, device)?;
        Self::from_parts(name, weight, bias, stride, padding)
    }

    /// A layer around given tensors (weight `[out, in, kh, kw]`, bias `[out]`), which become parameters.
    pub fn from_parts(name: &str, weight: Tensor, bias: Tensor, stride: usize, padding: usize) -> Result<Self> {
        if weight.rank() != 4 || bias.shape() != [weight.shape()[0]] {
            return Err(Error::shape("Conv2d", format!("{name}: weight {:?} must be [out, in, kh, kw] and bias {:?} [out]", weight.shape(), bias.shape())));
        }
        Ok(Self { name: name.to_string(), weight: weight.detach().with_grad(), bias: bias.detach().with_grad(), stride, padding })
    }

    fn options(&self, relu: bool) -> Conv2dOptions {
        Conv2dOptions::new(self.stride, self.padding).with_relu(relu)
    }

    /// x: [N, H, W, in] → [N, P, Q, out]. The parameters are cast to x's dtype (fp16 compute with
    /// fp32 master weights; the cast's backward rule brings the gradient back to f32).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_impl(x, false)
    }

    /// relu(conv(x) + bias) in one fused kernel.
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_impl(x, true)
    }

    fn forward_impl(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let (weight, bias) = (self.weight.to_dtype(x.dtype())?, self.bias.to_dtype(x.dtype())?);
        x.conv2d(&weight, Some(&bias), self.options(relu))
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

/// VGG's max-pool layer (2×2, stride 2, NHWC) as a value, for code that lists layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaxPool2d;

impl MaxPool2d {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.max_pool2d_2x2()
    }
}

/// 2×2 max pooling with stride 2 on NHWC (VGG's only pooling configuration).
pub fn max_pool2d(x: &Tensor) -> Result<Tensor> {
    x.max_pool2d_2x2()
}

/// Adaptive average pooling of NHWC to `[N, out_h, out_w, C]` with PyTorch's bins.
pub fn adaptive_avg_pool2d(x: &Tensor, out_h: usize, out_w: usize) -> Result<Tensor> {
    x.adaptive_avg_pool2d(out_h, out_w)
}
