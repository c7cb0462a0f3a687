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
