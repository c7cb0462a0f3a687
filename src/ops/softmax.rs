//! Softmax and log-softmax over the last axis.
use crate::backend::dispatch;
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

impl Tensor {
    fn softmax_impl(&self, log: bool) -> Result<Tensor> {
        if !self.dtype().is_float() || self.rank() == 0 {
            return Err(Error::shape("softmax", format!("needs a float tensor with at least one axis, got {:?} {}", self.shape(), self.dtype())));
        }
        let source = self.contiguous()?;
        let output = Tensor::from_storage(dispatch::softmax(&source, log)?, Layout::contiguous(self.shape()), false);
        let y = output.clone();
        Ok(Tensor::from_op_output(output, &[self], move |g| {
            let g = g.contiguous()?;
            let storage = dispatch::softmax_backward(&y, &g, log)?;
            Ok(vec![Some(Tensor::from_storage(storage, Layout::contiguous(y.shape()), false))])
        }))
    }

    /// exp(x − max) / Σ exp(x − max) along the last axis.
    pub fn softmax_last(&self) -> Result<Tensor> {
        self.softmax_impl(false)
    }

    /// x − max − log Σ exp(x − max) along the last axis.
    pub fn log_softmax_last(&self) -> Result<Tensor> {
        self.softmax_impl(true)
    }
}
