//! Embedding lookup: rows of a table [V, D] picked by i32 token ids [..] → [.., D].
//! The backward rule scatters the output gradient back into a [V, D] table gradient, summing the
//! rows of repeated ids in position order (deterministic on every backend: no float atomics).
use crate::backend::dispatch;
use crate::tensor::{DType, Layout, Tensor};
use crate::{Error, Result};

impl Tensor {
    /// `self` is the table [V, D]; `ids` (i32, any shape) index its rows. Ids outside [0, V) are an
    /// error when `ids` is on the CPU; on a GPU (where checking would cost a copy back) they read
    /// and receive zeros — callers that take ids from users check them on the host first.
    pub fn embedding(&self, ids: &Tensor) -> Result<Tensor> {
        if self.rank() != 2 || !self.dtype().is_float() {
            return Err(Error::shape("embedding", format!("the table must be a float [vocab, dim] tensor, got {:?} {}", self.shape(), self.dtype())));
        }
        if ids.dtype() != DType::I32 {
            return Err(Error::dtype("embedding", format!("token ids must be i32, got {}", ids.dtype())));
        }
        if ids.device() != self.device() {
            return Err(Error::DeviceMismatch { op: "embedding", lhs: self.device(), rhs: ids.device() });
        }
        let (vocab, dim) = (self.shape()[0], self.shape()[1]);
        if !ids.device().is_cuda() {
            check_ids(&ids.to_vec_i32()?, vocab)?;
        }
        let (table, ids) = (self.contiguous()?, ids.contiguous()?);
        let storage = dispatch::embedding_forward(&table, &ids)?;
        let mut shape = ids.shape().to_vec();
        shape.push(dim);
        let saved_ids = ids.clone();
        Ok(Tensor::from_op(storage, Layout::contiguous(&shape), &[self], move |g| {
            let g = g.contiguous()?;
            let storage = dispatch::embedding_backward(&g, &saved_ids, vocab)?;
            Ok(vec![Some(Tensor::from_storage(storage, Layout::contiguous(&[vocab, dim]), false))])
        }))
    }
}

/// The first id outside [0, vocab), as an error naming its position.
pub(crate) fn check_ids(ids: &[i32], vocab: usize) -> Result<()> {
    match ids.iter().position(|&id| id < 0 || id as usize >= vocab) {
        Some(position) => Err(Error::shape("embedding", format!("token id {} at position {position} is outside the vocabulary [0, {vocab})", ids[position]))),
        None => Ok(()),
    }
}
