//! In-place updates of whole tensors: fill, scale, axpy. They bypass the tape, so they are for
//! parameters, gradients and optimiser state, never for tensors a pending backward pass still reads.
use crate::backend::dispatch;
use crate::tensor::Tensor;
use crate::{Error, Result};

impl Tensor {
    fn check_whole_buffer(&self, op: &'static str) -> Result<()> {
        // The kernels update the storage from its start to its end, so a view of part of it (even a
        // contiguous one from offset 0, like narrow(0, 0, k)) is refused.
        if !self.is_contiguous() || self.layout().offset() != 0 || self.elem_count() != self.storage().len() {
            return Err(Error::shape(op, "in-place updates need a tensor that owns its whole contiguous storage"));
        }
        Ok(())
    }

    /// Sets every element to `value`.
    pub fn fill_(&self, value: f32) -> Result<()> {
        self.check_whole_buffer("fill_")?;
        dispatch::fill(self, value)
    }

    /// self ← factor · self.
    pub fn scale_(&self, factor: f32) -> Result<()> {
        self.check_whole_buffer("scale_")?;
        dispatch::axpby(self, 0.0, None, factor)
    }

    /// self ← self + alpha · x (same shape, dtype and device).
    pub fn axpy_(&self, alpha: f32, x: &Tensor) -> Result<()> {
        self.axpby_(alpha, x, 1.0)
    }

    /// self ← alpha · x + beta · self.
    pub fn axpby_(&self, alpha: f32, x: &Tensor, beta: f32) -> Result<()> {
        self.check_whole_buffer("axpby_")?;
        x.check_whole_buffer("axpby_")?;
        if x.shape() != self.shape() || x.dtype() != self.dtype() {
            return Err(Error::shape("axpby_", format!("x is {:?} {}, self is {:?} {}", x.shape(), x.dtype(), self.shape(), self.dtype())));
        }
        if x.shares_storage_with(self) {
            // y ← alpha·y + beta·y: a scale, and no second lock on the same storage.
            return dispatch::axpby(self, 0.0, None, alpha + beta);
        }
        dispatch::axpby(self, alpha, Some(x), beta)
    }
}
