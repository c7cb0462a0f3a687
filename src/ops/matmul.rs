//! Matrix multiplication: [.., m, k] × [.., k, n] → [.., m, n], batch axes matching or one side 2-D.
//! On the GPU it runs the tensor-core GEMM of backend/cuda/gemm.rs (fp32: a SIMT kernel).
use crate::backend::dispatch;
use crate::backend::params::{MatmulDims, MatrixStrides};
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

/// Describes the last two axes of `x` as a matrix and all leading axes as one batch axis,
/// copying `x` first when its leading axes cannot be merged into one stride.
pub(super) fn as_batched_matrix(x: &Tensor) -> Result<(Tensor, usize, MatrixStrides)> {
    // The leading axes merge when, ignoring size-1 axes (whose strides are arbitrary and never used),
    // each one steps by the next one's stride times its size. (Skipping a size-1 axis must compare its
    // neighbours with each other: comparing only with the size-1 axis let [2, 1, 3] with strides
    // [35, 210, 70], a permuted view, pass as one batch axis of stride 70.)
    let mergeable = |t: &Tensor| {
        let (shape, strides) = (t.shape(), t.layout().strides());
        let leading: Vec<(usize, usize)> = (0..t.rank().saturating_sub(2)).filter(|&d| shape[d] != 1).map(|d| (shape[d], strides[d])).collect();
        leading.windows(2).all(|pair| pair[0].1 == pair[1].1 * pair[1].0)
    };
    let x = if mergeable(x) { x.clone() } else { x.contiguous()? };
    let rank = x.rank();
    let (shape, strides) = (x.shape(), x.layout().strides());
    let batch: usize = shape[..rank - 2].iter().product();
    // The merged batch axis steps like the innermost leading axis that is longer than 1.
    let batch_stride = match batch {
        0 | 1 => 0,
        _ => strides[..rank - 2].iter().zip(&shape[..rank - 2]).filter(|(_, &n)| n > 1).map(|(&s, _)| s).next_back().unwrap_or(0),
    };
    let matrix = MatrixStrides {
        offset: x.layout().offset(),
        batch_stride,
        row_stride: strides[rank - 2],
        col_stride: strides[rank - 1],
        rows: shape[rank - 2],
        cols: shape[rank - 1],
    };
    Ok((x, batch, matrix))
}

impl Tensor {
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        if self.rank() < 2 || rhs.rank() < 2 {
            return Err(Error::shape("matmul", format!("operands need at least 2 axes, got {:?} and {:?}", self.shape(), rhs.shape())));
        }
        if self.dtype() != rhs.dtype() || !self.dtype().is_float() {
            return Err(Error::dtype("matmul", format!("operands are {} and {}; both must be the same float type", self.dtype(), rhs.dtype())));
        }
        // [.., m, k] × [k, n]: fold the batch into m, a single larger matrix product.
        if rhs.rank() == 2 && self.rank() > 2 {
            let mut out_shape = self.shape()[..self.rank() - 1].to_vec();
            out_shape.push(rhs.shape()[1]);
            return self.flatten_to_matrix()?.matmul(rhs)?.reshape(&out_shape);
        }
        let (a, a_batch, a_matrix) = as_batched_matrix(self)?;
        let (b, b_batch, b_matrix) = as_batched_matrix(rhs)?;
        let (m, k, n) = (a_matrix.rows, a_matrix.cols, b_matrix.cols);
        let a_leading = &self.shape()[..self.rank() - 2];
        let b_leading = &rhs.shape()[..rhs.rank() - 2];
        let batch_shape = match (a_leading.is_empty(), b_leading.is_empty()) {
            (_, true) => a_leading.to_vec(),
            (true, false) => b_leading.to_vec(),
            (false, false) if a_leading == b_leading => a_leading.to_vec(),
            _ => return Err(Error::shape("matmul", format!("batch axes of {:?} and {:?} differ", self.shape(), rhs.shape()))),
        };
        if b_matrix.rows != k {
            return Err(Error::shape("matmul", format!("inner dimensions differ: {:?} × {:?}", self.shape(), rhs.shape())));
        }
        let dims = MatmulDims { batch: a_batch.max(b_batch), m, n, k, a: a_matrix, b: b_matrix };
        let storage = dispatch::matmul(&a, &b, &dims)?;
        let mut out_shape = batch_shape;
        out_shape.extend([m, n]);
        let (a_saved, b_saved) = (self.clone(), rhs.clone());
        Ok(Tensor::from_op(storage, Layout::contiguous(&out_shape), &[self, rhs], move |g| {
            // dA = dC · Bᵀ, dB = Aᵀ · dC; transposes are free views, sums undo batch broadcasting.
            let grad_a = if a_saved.requires_grad() { Some(super::sum_to_shape(&g.matmul(&b_saved.t()?)?, a_saved.shape())?) } else { None };
            let grad_b = if b_saved.requires_grad() { Some(super::sum_to_shape(&a_saved.t()?.matmul(g)?, b_saved.shape())?) } else { None };
            Ok(vec![grad_a, grad_b])
        }))
    }

    /// [.., k] → [Π.., k].
    fn flatten_to_matrix(&self) -> Result<Tensor> {
        let k = self.shape()[self.rank() - 1];
        self.reshape(&[self.elem_count() / k.max(1), k])
    }
}
