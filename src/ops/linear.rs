//! The linear layer's op: x·Wᵀ + b with W stored [out, in] (PyTorch's layout). On the GPU it is one
//! GEMM launch with the bias added in the epilogue; Wᵀ is a strided view, never a copy.
use super::matmul::as_batched_matrix;
use crate::backend::dispatch;
use crate::backend::params::MatmulDims;
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

impl Tensor {
    /// x: [.., in], weight: [out, in], bias: [out] → [.., out].
    pub fn linear(&self, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let in_features = *self.shape().last().ok_or_else(|| Error::shape("linear", "input has no axes"))?;
        if weight.rank() != 2 || weight.shape()[1] != in_features || bias.shape() != [weight.shape()[0]] {
            return Err(Error::shape("linear", format!("input {:?}, weight {:?} and bias {:?} do not fit x·Wᵀ + b", self.shape(), weight.shape(), bias.shape())));
        }
        if self.dtype() != weight.dtype() || self.dtype() != bias.dtype() || !self.dtype().is_float() {
            return Err(Error::dtype("linear", format!("input, weight and bias are {}, {}, {}; all must be one float type", self.dtype(), weight.dtype(), bias.dtype())));
        }
        let out_features = weight.shape()[0];
        let mut out_shape = self.shape().to_vec();
        *out_shape.last_mut().unwrap() = out_features;
        let rows = self.elem_count() / in_features.max(1);
        let x = self.reshape(&[rows, in_features])?;
        let product = x.linear_2d(weight, bias)?;
        product.reshape(&out_shape)
    }

    fn linear_2d(&self, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let transposed = weight.t()?;
        let (a, _, a_matrix) = as_batched_matrix(self)?;
        let (b, _, b_matrix) = as_batched_matrix(&transposed)?;
        let bias_vector = bias.contiguous()?;
        let (m, k, n) = (a_matrix.rows, a_matrix.cols, b_matrix.cols);
        let dims = MatmulDims { batch: 1, m, n, k, a: a_matrix, b: b_matrix };
        let storage = dispatch::linear(&a, &b, &bias_vector, &dims)?;
        let (x, w, b_needs) = (self.clone(), weight.clone(), bias.requires_grad());
        Ok(Tensor::from_op(storage, Layout::contiguous(&[m, n]), &[self, weight, bias], move |g| {
            // dx = g·W, dW = gᵀ·x, db = Σ_rows g.
            let grad_x = if x.requires_grad() { Some(g.matmul(&w)?) } else { None };
            let grad_w = if w.requires_grad() { Some(g.t()?.matmul(&x)?) } else { None };
            let grad_b = if b_needs { Some(g.sum(0, false)?) } else { None };
            Ok(vec![grad_x, grad_w, grad_b])
        }))
    }
}
