//! 2-D convolution on NHWC activations, with bias and ReLU fused into the forward.
//!
//! Layouts: activations are NHWC (`[N, H, W, C]`, what the data loader hands out); the module-level
//! weight is PyTorch's `[K, C, R, S]` (so torchvision checkpoints load as they are); the kernels read
//! weights as KRSC (`[K, R, S, C]`: a filter's taps contiguous along C, like the activations). `conv2d`
//! converts KCRS → KRSC with one small permute-copy per call (2.4 M elements for VGG16's largest layer,
//! well under 1% of that layer's activation traffic) and its gradient flows back through that copy.
//! `conv2d_krsc` is the primitive op the backends implement.
use crate::backend::dispatch;
use crate::ops::BinaryOp;
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

/// Stride, zero padding (each per axis: [height, width]) and whether ReLU follows the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub relu: bool,
}

impl Conv2dOptions {
    pub fn new(stride: usize, padding: usize) -> Self {
        Self { stride: [stride, stride], padding: [padding, padding], relu: false }
    }
    pub fn with_relu(self, relu: bool) -> Self {
        Self { relu, ..self }
    }
}

/// Every size a convolution kernel needs, in one place (shared by the CPU and CUDA backends).
/// Input x: [batch, in_h, in_w, in_c]; weight: [out_c, kernel_h, kernel_w, in_c]; output
/// [batch, out_h, out_w, out_c] with out = (in + 2·pad − kernel) / stride + 1 (floor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_c: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_h: usize,
    pub pad_w: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl ConvGeometry {
    /// With stride 1 and padding below the kernel size, this convolution's data gradient is a
    /// forward convolution of dy with the flipped, transposed weight (W'[c, r, s, k] =
    /// W[k, R−1−r, S−1−s, c]) and padding R−1−pad: that convolution's geometry (both backends use
    /// it so that dx needs no scatter), or None where the identity does not hold.
    pub fn data_gradient_as_forward(&self) -> Option<ConvGeometry> {
        let fits = self.stride_h == 1 && self.stride_w == 1 && self.pad_h < self.kernel_h && self.pad_w < self.kernel_w;
        fits.then(|| ConvGeometry {
            batch: self.batch,
            in_h: self.out_h,
            in_w: self.out_w,
            in_c: self.out_c,
            out_c: self.in_c,
            kernel_h: self.kernel_h,
            kernel_w: self.kernel_w,
            stride_h: 1,
            stride_w: 1,
            pad_h: self.kernel_h - 1 - self.pad_h,
            pad_w: self.kernel_w - 1 - self.pad_w,
            out_h: self.in_h,
            out_w: self.in_w,
        })
    }

    /// The geometry of `x` (NHWC) convolved with a KRSC weight of shape `weight_krsc`.
    pub fn new(x_shape: &[usize], weight_krsc: &[usize], options: &Conv2dOptions) -> Result<Self> {
        if x_shape.len() != 4 || weight_krsc.len() != 4 {
            return Err(Error::shape("conv2d", format!("needs a 4-D NHWC input and a 4-D weight, got {x_shape:?} and {weight_krsc:?}")));
        }
        let [batch, in_h, in_w, in_c] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
        let [out_c, kernel_h, kernel_w, weight_c] = [weight_krsc[0], weight_krsc[1], weight_krsc[2], weight_krsc[3]];
        if weight_c != in_c {
            return Err(Error::shape("conv2d", format!("input has {in_c} channels but the weight expects {weight_c} (input {x_shape:?}, KRSC weight {weight_krsc:?})")));
        }
        let [stride_h, stride_w] = options.stride;
        let [pad_h, pad_w] = options.padding;
        if stride_h == 0 || stride_w == 0 || kernel_h == 0 || kernel_w == 0 {
            return Err(Error::shape("conv2d", format!("stride {:?} and kernel {kernel_h}x{kernel_w} must be positive", options.stride)));
        }
        if in_h + 2 * pad_h < kernel_h || in_w + 2 * pad_w < kernel_w {
            return Err(Error::shape("conv2d", format!("a {kernel_h}x{kernel_w} kernel does not fit a {in_h}x{in_w} input padded by {:?}", options.padding)));
        }
        let out_h = (in_h + 2 * pad_h - kernel_h) / stride_h + 1;
        let out_w = (in_w + 2 * pad_w - kernel_w) / stride_w + 1;
        Ok(Self { batch, in_h, in_w, in_c, out_c, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w })
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_h, self.in_w, self.in_c]
    }
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.out_c]
    }
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_c, self.kernel_h, self.kernel_w, self.in_c]
    }
    /// Output pixels: the M of the implicit GEMM.
    pub fn output_pixels(&self) -> usize {
        self.batch * self.out_h * self.out_w
    }
    /// Taps per filter: the reduction length R·S·C of the forward implicit GEMM.
    pub fn filter_len(&self) -> usize {
        self.kernel_h * self.kernel_w * self.in_c
    }
    /// Multiply-adds ×2 of the forward (also of each of the two backward products).
    pub fn flops(&self) -> f64 {
        2.0 * self.output_pixels() as f64 * self.out_c as f64 * self.filter_len() as f64
    }
}

impl Tensor {
    /// Convolution of an NHWC input with a PyTorch-layout weight `[K, C, R, S]`, plus optional bias
    /// `[K]` and ReLU, giving `[N, P, Q, K]`.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, options: Conv2dOptions) -> Result<Tensor> {
        if weight.rank() != 4 {
            return Err(Error::shape("conv2d", format!("weight must be [out, in, kh, kw], got {:?}", weight.shape())));
        }
        let weight_krsc = weight.permute(&[0, 2, 3, 1])?.contiguous()?;
        self.conv2d_krsc(&weight_krsc, bias, options)
    }

    /// The primitive: NHWC input, KRSC weight `[K, R, S, C]`.
    pub fn conv2d_krsc(&self, weight_krsc: &Tensor, bias: Option<&Tensor>, options: Conv2dOptions) -> Result<Tensor> {
        let geometry = ConvGeometry::new(self.shape(), weight_krsc.shape(), &options)?;
        let dtype = self.dtype();
        if !dtype.is_float() || weight_krsc.dtype() != dtype || bias.is_some_and(|b| b.dtype() != dtype) {
            return Err(Error::dtype("conv2d", format!("input {dtype}, weight {} and bias must share one float type", weight_krsc.dtype())));
        }
        if let Some(b) = bias {
            if b.shape() != [geometry.out_c] {
                return Err(Error::shape("conv2d", format!("bias must be [{}], got {:?}", geometry.out_c, b.shape())));
            }
        }
        let (x, w) = (self.contiguous()?, weight_krsc.contiguous()?);
        let b = bias.map(|b| b.contiguous()).transpose()?;
        let storage = dispatch::conv2d_forward(&x, &w, b.as_ref(), &geometry, options.relu)?;
        let output = Tensor::from_storage(storage, Layout::contiguous(&geometry.output_shape()), false);
        let relu_output = options.relu.then(|| output.clone());
        let mut inputs = vec![self, weight_krsc];
        inputs.extend(bias);
        let bias_wants_grad = bias.is_some_and(|b| b.requires_grad());
        let (x_wants_grad, w_wants_grad) = (self.requires_grad(), weight_krsc.requires_grad());
        let has_bias = bias.is_some();
        Ok(Tensor::from_op_output(output, &inputs, move |g| {
            let g = g.contiguous()?;
            // ReLU's output is positive exactly where its input was: mask the gradient with it.
            let g = match &relu_output {
                Some(y) => y.binary_raw(BinaryOp::ReluBackward, &g)?,
                None => g,
            };
            let grad_x = if x_wants_grad { Some(conv2d_input_gradient(&g, &w, &geometry)?) } else { None };
            let grad_w = if w_wants_grad { Some(conv2d_weight_gradient(&x, &g, &geometry)?) } else { None };
            let mut grads = vec![grad_x, grad_w];
            if has_bias {
                grads.push(if bias_wants_grad { Some(g.reshape(&[geometry.output_pixels(), geometry.out_c])?.sum(0, false)?) } else { None });
            }
            Ok(grads)
        }))
    }
}

/// Backward-data on its own (no tape): dx [N, H, W, C] from dy [N, P, Q, K] and the KRSC weight.
/// Public for benches; the op's backward rule calls it.
pub fn conv2d_input_gradient(dy: &Tensor, weight_krsc: &Tensor, geometry: &ConvGeometry) -> Result<Tensor> {
    let (dy, w) = (dy.contiguous()?, weight_krsc.contiguous()?);
    Ok(Tensor::from_storage(dispatch::conv2d_backward_data(&dy, &w, geometry)?, Layout::contiguous(&geometry.input_shape()), false))
}

/// Backward-weight on its own (no tape): dw [K, R, S, C] from x [N, H, W, C] and dy [N, P, Q, K].
pub fn conv2d_weight_gradient(x: &Tensor, dy: &Tensor, geometry: &ConvGeometry) -> Result<Tensor> {
    let (x, dy) = (x.contiguous()?, dy.contiguous()?);
    Ok(Tensor::from_storage(dispatch::conv2d_backward_weight(&x, &dy, geometry)?, Layout::contiguous(&geometry.weight_shape()), false))
}
