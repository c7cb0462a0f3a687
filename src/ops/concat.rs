//! Concatenation along an axis: each input is copied into its slice of the output (the strided copy
//! kernel on a GPU); the backward rule hands each input the matching slice of the gradient.
use crate::backend::dispatch;
use crate::tensor::Tensor;
use crate::{Error, Result};

impl Tensor {
    /// The tensors joined along `axis`; all other axes, the dtype and the device must agree.
    pub fn cat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = *tensors.first().ok_or_else(|| Error::shape("cat", "needs at least one tensor"))?;
        let axis = first.normalize_axis(axis)?;
        let mut shape = first.shape().to_vec();
        shape[axis] = 0;
        for (i, t) in tensors.iter().enumerate() {
            let same_other_axes = t.rank() == first.rank() && (0..t.rank()).all(|d| d == axis || t.shape()[d] == first.shape()[d]);
            if !same_other_axes || t.dtype() != first.dtype() || t.device() != first.device() {
                return Err(Error::shape("cat", format!("tensor {i} is {:?} {} on {}, tensor 0 is {:?} {} on {}: they must agree except along axis {axis}", t.shape(), t.dtype(), t.device(), first.shape(), first.dtype(), first.device())));
            }
            shape[axis] += t.shape()[axis];
        }
        let joined = Tensor::zeros(&shape, first.dtype(), first.device())?;
        let mut start = 0;
        let mut extents = Vec::with_capacity(tensors.len());
        for t in tensors {
            let len = t.shape()[axis];
            dispatch::copy_into(t, &joined, &joined.layout().narrow(axis, start, len)?)?;
            extents.push((start, len));
            start += len;
        }
        Ok(Tensor::from_op_output(joined, tensors, move |g| extents.iter().map(|&(start, len)| g.narrow(axis as isize, start, len).map(Some)).collect()))
    }
}
