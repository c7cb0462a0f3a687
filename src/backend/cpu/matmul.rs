//! Batched matrix multiply through matrixmultiply's sgemm, which takes arbitrary row and column
//! strides: transposed views cost no copy.
use std::borrow::Cow;

use crate::backend::dispatch::{MatmulDims, MatrixStrides};
use crate::tensor::{CpuStorage, Layout};

pub fn matmul(a: &CpuStorage, a_layout: &Layout, b: &CpuStorage, b_layout: &Layout, dims: &MatmulDims) -> CpuStorage {
    // f16/bf16 operands are widened into packed copies; f32 ones are used in place with their strides.
    let (a_values, a_dims) = widen(a, a_layout, &dims.a);
    let (b_values, b_dims) = widen(b, b_layout, &dims.b);
    let (m, n, k) = (dims.m, dims.n, dims.k);
    let mut out = vec![0.0f32; dims.batch * m * n];
    for batch in 0..dims.batch {
        let a_start = a_dims.offset + batch * a_dims.batch_stride;
        let b_start = b_dims.offset + batch * b_dims.batch_stride;
        // SAFETY: MatmulDims was derived from the layouts, so every index
        // start + i*row + j*col (i < m or k, j < k or n) lies inside the operand's storage;
        // `out` holds batch*m*n elements and is written with row stride n.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a_values.as_ptr().add(a_start),
                a_dims.row_stride as isize,
                a_dims.col_stride as isize,
                b_values.as_ptr().add(b_start),
                b_dims.row_stride as isize,
                b_dims.col_stride as isize,
                0.0,
                out.as_mut_ptr().add(batch * m * n),
                n as isize,
                1,
            );
        }
    }
    CpuStorage::from_f32(out, a.dtype())
}

fn widen<'a>(storage: &'a CpuStorage, layout: &Layout, strides: &MatrixStrides) -> (Cow<'a, [f32]>, MatrixStrides) {
    match storage {
        CpuStorage::F32(values) => (Cow::Borrowed(values.as_slice()), strides.clone()),
        // A packed copy of the operand's elements in its logical [batch, rows, cols] order.
        _ => (super::read_f32(storage, layout).into_owned().into(), strides.packed()),
    }
}

/// a·b + bias, the bias (n elements) added to every row of every batch.
pub fn linear(a: &CpuStorage, a_layout: &Layout, b: &CpuStorage, b_layout: &Layout, dims: &MatmulDims, bias: &CpuStorage, bias_layout: &Layout) -> CpuStorage {
    let product = matmul(a, a_layout, b, b_layout, dims);
    let bias = super::read_f32(bias, bias_layout);
    let mut out = super::read_f32(&product, &Layout::contiguous(&[product.len()])).into_owned();
    for row in out.chunks_mut(dims.n.max(1)) {
        for (o, b) in row.iter_mut().zip(bias.iter()) {
            *o += b;
        }
    }
    CpuStorage::from_f32(out, a.dtype())
}

/// Where the elements of one GEMM operand live in a slice: element (i, j) is at
/// `offset + i·row_stride + j·col_stride`. A transposed view swaps the two strides.
#[derive(Clone, Copy, Debug)]
pub struct Strided {
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Strided {
    /// Row-major rows `row_stride` apart, starting at `offset`.
    pub fn rows(offset: usize, row_stride: usize) -> Self {
        Strided { offset, row_stride, col_stride: 1 }
    }

    /// The transpose of a row-major matrix whose rows are `row_stride` apart.
    pub fn transposed_rows(offset: usize, row_stride: usize) -> Self {
        Strided { offset, row_stride: 1, col_stride: row_stride }
    }

    /// Panics unless every element of a `rows`×`cols` matrix lies inside a slice of `len`.
    fn check(&self, rows: usize, cols: usize, len: usize, operand: &str) {
        let last = self.offset + (rows - 1) * self.row_stride + (cols - 1) * self.col_stride;
        assert!(last < len, "gemm operand {operand} ({rows}×{cols}, {self:?}) reaches index {last} of a slice of {len}");
    }
}

/// c = a·b + beta·c for a m×k, b k×n and c m×n, each a strided view of a slice (beta = 0 ignores
/// what c held). Every index is bounds-checked once, so the unchecked kernel below is sound.
#[allow(clippy::too_many_arguments)]
pub fn gemm(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, beta: f32, c: &mut [f32], c_at: Strided) {
    if m == 0 || n == 0 {
        return;
    }
    c_at.check(m, n, c.len(), "c");
    if k == 0 {
        // a·b is empty: c = beta·c.
        for i in 0..m {
            for j in 0..n {
                let index = c_at.offset + i * c_at.row_stride + j * c_at.col_stride;
                c[index] = if beta == 0.0 { 0.0 } else { beta * c[index] };
            }
        }
        return;
    }
    a_at.check(m, k, a.len(), "a");
    b_at.check(k, n, b.len(), "b");
    // SAFETY: the checks above put every element (i, j) of a, b and c inside its slice, and c is a
    // unique borrow, so the kernel's writes alias nothing it reads.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr().add(a_at.offset),
            a_at.row_stride as isize,
            a_at.col_stride as isize,
            b.as_ptr().add(b_at.offset),
            b_at.row_stride as isize,
            b_at.col_stride as isize,
            beta,
            c.as_mut_ptr().add(c_at.offset),
            c_at.row_stride as isize,
            c_at.col_stride as isize,
        );
    }
}
