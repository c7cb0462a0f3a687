//! Reductions over one axis or over everything: sum, mean, max, argmax.
use super::ReduceOp;
use crate::backend::dispatch;
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

impl Tensor {
    /// Reduces `axis` to size 1 (then drops it unless `keepdim`), without a backward rule.
    fn reduce_raw(&self, op: ReduceOp, axis: usize, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(Error::UnsupportedDType { op: "reduce", dtype: self.dtype() });
        }
        let source = self.contiguous()?;
        let storage = dispatch::reduce(op, &source, axis)?;
        let mut shape = self.shape().to_vec();
        shape[axis] = 1;
        let reduced = Tensor::from_storage(storage, Layout::contiguous(&shape), false);
        if keepdim {
            Ok(reduced)
        } else {
            shape.remove(axis);
            reduced.reshape(&shape)
        }
    }

    /// Σ along `axis`.
    pub fn sum(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let axis = self.normalize_axis(axis)?;
        let output = self.reduce_raw(ReduceOp::Sum, axis, true)?;
        let input_shape = self.shape().to_vec();
        let summed = Tensor::from_op_output(output, &[self], move |g| Ok(vec![Some(g.broadcast_as(&input_shape)?)]));
        if keepdim { Ok(summed) } else { summed.squeeze(axis as isize) }
    }

    pub fn mean(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let count = self.dim(axis)?;
        self.sum(axis, keepdim)?.scale(1.0 / count as f32)
    }

    /// The maximum along `axis`. Its gradient goes to the elements equal to the maximum.
    pub fn max(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let axis = self.normalize_axis(axis)?;
        let output = self.reduce_raw(ReduceOp::Max, axis, true)?;
        let (x, max) = (self.clone(), output.clone());
        let maxed = Tensor::from_op_output(output, &[self], move |g| {
            let mask = x.eq_mask(&max.broadcast_as(x.shape())?)?;
            Ok(vec![Some(mask.mul(&g.broadcast_as(x.shape())?)?)])
        });
        if keepdim { Ok(maxed) } else { maxed.squeeze(axis as isize) }
    }

    /// The index (i32) of the first maximum along `axis`.
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let axis = self.normalize_axis(axis)?;
        self.reduce_raw(ReduceOp::ArgMax, axis, keepdim)
    }

    fn flattened(&self) -> Result<Tensor> {
        self.reshape(&[self.elem_count()])
    }

    /// Σ of all elements, as a scalar tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.flattened()?.sum(0, false)
    }

    pub fn mean_all(&self) -> Result<Tensor> {
        self.sum_all()?.scale(1.0 / self.elem_count().max(1) as f32)
    }

    pub fn max_all(&self) -> Result<Tensor> {
        self.flattened()?.max(0, false)
    }
}
