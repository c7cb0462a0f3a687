//! Casts between f32, f16, bf16 (and to/from i32, without gradient).
use crate::backend::dispatch;
use crate::tensor::{DType, Layout, Tensor};
use crate::Result;

impl Tensor {
    /// A copy in `dtype` (this tensor itself when it already has it). The gradient is cast back.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let storage = dispatch::cast(self, dtype)?;
        let source_dtype = self.dtype();
        Ok(Tensor::from_op(storage, Layout::contiguous(self.shape()), &[self], move |g| Ok(vec![Some(g.to_dtype(source_dtype)?)])))
    }
}
