//! Batched matrix multiply through the `gemm` crate's single-threaded kernels (AVX-512 where the CPU
//! has it, AVX2/FMA otherwise; chosen over matrixmultiply by measurement, docs/gemm.md), which take
//! arbitrary row and column strides: transposed views cost no copy. Parallelism is rayon's alone
//! (`Parallelism::None`): a large product is cut into blocks of output rows (or columns, for wide
//! outputs), one task each, and the convolutions, which call `gemm` from inside their own rayon
//! tasks, do not oversubscribe the cores with a second pool.
//!
//! The crate's summation order depends on the block's shape (its k-blocking and small-matrix paths
//! differ for m·n ≤ 256, m, n ≤ 64, k ≤ 2), so the blocks are a function of the product's shape
//! only, never of the thread count: results are bit-identical on any number of threads.
use std::borrow::Cow;

use rayon::prelude::*;

use super::small_batch_product;
use crate::backend::params::{MatmulDims, MatrixStrides};
use crate::tensor::{CpuStorage, Layout};

/// Multiply-adds below which a product stays on one thread.
const PARALLEL_WORK: usize = 1 << 18;

/// Blocks a large product is cut into (over all its batches): enough for 8 threads, and fixed so
/// that the split, and with it every bit of the result, does not depend on the thread count.
const PARALLEL_BLOCKS: usize = 8;

pub fn matmul(a: &CpuStorage, a_layout: &Layout, b: &CpuStorage, b_layout: &Layout, dims: &MatmulDims) -> CpuStorage {
    // f16/bf16 operands are widened into packed copies; f32 ones are used in place with their strides.
    let (a_values, a_dims) = widen(a, a_layout, &dims.a);
    let (b_values, b_dims) = widen(b, b_layout, &dims.b);
    let (m, n, k) = (dims.m, dims.n, dims.k);
    let mut out = super::buffer_pool::for_overwrite(dims.batch * m * n);
    if out.is_empty() || (dims.batch == 1 && small_batch(m, k, n, &a_values, &a_dims, &b_values, &b_dims, &mut out)) {
        return CpuStorage::from_f32(out, a.dtype());
    }
    // The crate packs a small b into a buffer it allocates on every call (no workspace can be passed
    // in) when b is a transposed view (x·Wᵀ) or the output's width is not a multiple of its register
    // width. Then b is copied row-major into a pooled buffer, its width padded with zero columns to
    // the next multiple of CRATE_LANES, and the product runs at that width into a pooled buffer,
    // whose first n columns are the result: no allocation in a steady training step. A large b
    // (VGG16's fc1, 100 M values) is packed by the crate block by block in its per-thread slab
    // instead, and a copy of it would only cost a pass over its memory.
    let padded_n = n.next_multiple_of(CRATE_LANES);
    let small_b = k * padded_n <= MAX_COPIED_B;
    if n > 1 && small_b && (b_dims.col_stride != 1 || padded_n != n) {
        let (b_copy, b_copy_dims) = row_major_copy(&b_values, &b_dims, dims.batch, padded_n);
        if padded_n == n {
            // Only the transposed view needed the copy: the product lands in `out` directly (the
            // padded detour was a second pass over the whole output, 4 MB per LSTM projection).
            multiply_into(&mut out, &a_values, &a_dims, &b_copy, &b_copy_dims, dims.batch, m, n, k);
        } else {
            let mut padded_out = super::buffer_pool::for_overwrite(dims.batch * m * padded_n);
            multiply_into(&mut padded_out, &a_values, &a_dims, &b_copy, &b_copy_dims, dims.batch, m, padded_n, k);
            for (row, padded_row) in out.chunks_mut(n).zip(padded_out.chunks(padded_n)) {
                row.copy_from_slice(&padded_row[..n]);
            }
            super::buffer_pool::give(padded_out);
        }
        super::buffer_pool::give(b_copy);
    } else {
        multiply_into(&mut out, &a_values, &a_dims, &b_values, &b_dims, dims.batch, m, n, k);
    }
    CpuStorage::from_f32(out, a.dtype())
}

/// f32 lanes of the crate's widest register (AVX-512; AVX2's 8 divide it).
const CRATE_LANES: usize = 16;

/// The largest b (in values, per batch) copied row-major and padded: 4 MB.
const MAX_COPIED_B: usize = 1 << 20;

/// out [batches, m, n] = a·b for each batch.
#[allow(clippy::too_many_arguments)]
fn multiply_into(out: &mut [f32], a_values: &[f32], a_dims: &MatrixStrides, b_values: &[f32], b_dims: &MatrixStrides, batches: usize, m: usize, n: usize, k: usize) {
    // Products big enough are cut into blocks of whole rows of C, or of whole columns when C is much
    // wider than tall (64×4096 at batch 64: row blocks would each repack all of B), enough blocks to
    // keep every thread busy. Each output element is still one sgemm's sum over k in the same order,
    // and the split depends on the shape alone, so the result does not depend on the thread count.
    let blocks_wanted = if m * n * k < PARALLEL_WORK { 1 } else { PARALLEL_BLOCKS.div_ceil(batches) };
    out.par_chunks_mut(m * n).enumerate().for_each(|(batch, batch_out)| {
        let a_at = Strided { offset: a_dims.offset + batch * a_dims.batch_stride, row_stride: a_dims.row_stride, col_stride: a_dims.col_stride };
        let b_at = Strided { offset: b_dims.offset + batch * b_dims.batch_stride, row_stride: b_dims.row_stride, col_stride: b_dims.col_stride };
        if n >= 4 * m && blocks_wanted > 1 {
            // Column blocks: each task writes its m×cols block to a buffer of its own, copied in after.
            let cols_per_block = n.div_ceil(blocks_wanted);
            let blocks: Vec<(usize, Vec<f32>)> = (0..n.div_ceil(cols_per_block))
                .into_par_iter()
                .map(|block| {
                    let first_col = block * cols_per_block;
                    let cols = cols_per_block.min(n - first_col);
                    let mut values = super::buffer_pool::for_overwrite(m * cols);
                    let b_block = Strided { offset: b_at.offset + first_col * b_at.col_stride, ..b_at };
                    gemm(m, k, cols, &a_values, a_at, &b_values, b_block, 0.0, &mut values, Strided::rows(0, cols));
                    (first_col, values)
                })
                .collect();
            for (first_col, values) in blocks {
                let cols = values.len() / m;
                for (row, block_row) in values.chunks(cols).enumerate() {
                    batch_out[row * n + first_col..][..cols].copy_from_slice(block_row);
                }
                super::buffer_pool::give(values);
            }
        } else {
            let rows_per_block = m.div_ceil(blocks_wanted);
            batch_out.par_chunks_mut(rows_per_block * n).enumerate().for_each(|(block, rows_out)| {
                let a_block = Strided { offset: a_at.offset + block * rows_per_block * a_at.row_stride, ..a_at };
                gemm(rows_out.len() / n, k, n, &a_values, a_block, &b_values, b_at, 0.0, rows_out, Strided::rows(0, n));
            });
        }
    });
}

/// The transpose of a row-major [rows, cols] matrix as a row-major [cols, padded_rows] pooled
/// buffer, each row zero-padded from `rows` to `padded_rows`: written in order, read with a stride
/// (the scatter the other way round touches a new line of the cold destination with every value).
pub(super) fn transposed_copy(values: &[f32], rows: usize, cols: usize, padded_rows: usize) -> Vec<f32> {
    let transposed = MatrixStrides { offset: 0, batch_stride: 0, row_stride: 1, col_stride: cols, rows: cols, cols: rows };
    row_major_copy(values, &transposed, 1, padded_rows).0
}

/// b's elements in row-major [batch, rows, cols] order in a pooled buffer, each row padded with zeros
/// to `padded_cols`.
fn row_major_copy(values: &[f32], strides: &MatrixStrides, batches: usize, padded_cols: usize) -> (Vec<f32>, MatrixStrides) {
    let batches = if strides.batch_stride == 0 { 1 } else { batches };
    let (rows, cols) = (strides.rows, strides.cols);
    let mut copy = super::buffer_pool::for_overwrite(batches * rows * padded_cols);
    for (batch, matrix) in copy.chunks_mut((rows * padded_cols).max(1)).enumerate() {
        for (i, row) in matrix.chunks_mut(padded_cols).enumerate() {
            let start = strides.offset + batch * strides.batch_stride + i * strides.row_stride;
            let (values_part, padding) = row.split_at_mut(cols);
            values_part.iter_mut().enumerate().for_each(|(j, value)| *value = values[start + j * strides.col_stride]);
            padding.fill(0.0);
        }
    }
    let batch_stride = if strides.batch_stride == 0 { 0 } else { rows * padded_cols };
    (copy, MatrixStrides { offset: 0, batch_stride, row_stride: padded_cols, col_stride: 1, rows, cols: padded_cols })
}

/// The linear layer's products at small batches (x·Wᵀ, g·W, gᵀ·x with few rows or a short batch
/// axis) without packing, when their operands' strides allow (small_batch_product.rs).
#[allow(clippy::too_many_arguments)]
fn small_batch(m: usize, k: usize, n: usize, a: &[f32], a_dims: &MatrixStrides, b: &[f32], b_dims: &MatrixStrides, out: &mut [f32]) -> bool {
    let a_at = Strided { offset: a_dims.offset, row_stride: a_dims.row_stride, col_stride: a_dims.col_stride };
    let b_at = Strided { offset: b_dims.offset, row_stride: b_dims.row_stride, col_stride: b_dims.col_stride };
    if m == 0 || k == 0 {
        return false;
    }
    if small_batch_product::takes_dot_form(m, k, &a_at, &b_at) {
        small_batch_product::dot_form(m, k, n, a, a_at, b, b_at, out);
    } else if small_batch_product::takes_axpy_form(m, k, n, &b_at) {
        small_batch_product::axpy_form(m, k, n, a, a_at, b, b_at, out);
    } else {
        return false;
    }
    true
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
    let bias = super::read_f32(bias, bias_layout);
    // An f32 product is added to in place; a half-precision one (rounded to its dtype by `matmul`)
    // is widened again first, as before.
    let mut out = match matmul(a, a_layout, b, b_layout, dims) {
        CpuStorage::F32(values) => values,
        product => super::read_f32(&product, &Layout::contiguous(&[product.len()])).into_owned(),
    };
    // On every core (one element, one addition: any split gives the same bits); on one thread this
    // pass over the output was ≈ 3 % of the LSTM classifier's inference forward.
    let n = dims.n.max(1);
    out.par_chunks_mut(n * BIAS_ROWS_PER_TASK).for_each(|rows| {
        for row in rows.chunks_mut(n) {
            for (o, b) in row.iter_mut().zip(bias.iter()) {
                *o += b;
            }
        }
    });
    CpuStorage::from_f32(out, a.dtype())
}

/// Rows of the output per task of `linear`'s bias pass.
const BIAS_ROWS_PER_TASK: usize = 256;

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
        // The crate computes dst = alpha·dst + beta·lhs·rhs, and reads dst only when told to (so
        // beta = 0 here ignores NaN in c); its strides come column first.
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr().add(c_at.offset),
            c_at.col_stride as isize,
            c_at.row_stride as isize,
            beta != 0.0,
            a.as_ptr().add(a_at.offset),
            a_at.col_stride as isize,
            a_at.row_stride as isize,
            b.as_ptr().add(b_at.offset),
            b_at.col_stride as isize,
            b_at.row_stride as isize,
            beta,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{gemm, Strided};

    /// c[i][j] = Σ_p a(i, p)·b(p, j) + beta·c[i][j], written out by hand.
    fn naive(m: usize, k: usize, n: usize, a: impl Fn(usize, usize) -> f32, b: impl Fn(usize, usize) -> f32, beta: f32, c: &[f32]) -> Vec<f32> {
        (0..m * n).map(|index| (0..k).map(|p| a(index / n, p) * b(p, index % n)).sum::<f32>() + beta * c[index]).collect()
    }

    #[test]
    fn strided_views_transposes_offsets_and_beta() {
        let (m, k, n) = (3, 5, 4);
        // a is the 3×5 block at column 2 of a 4×9 row-major buffer; b is the transpose of a 4×5 one.
        let a_buffer: Vec<f32> = (0..36).map(|v| v as f32 * 0.25 - 3.0).collect();
        let b_buffer: Vec<f32> = (0..20).map(|v| (v as f32).sin()).collect();
        let a_at = Strided::rows(2, 9);
        let b_at = Strided::transposed_rows(0, 5);
        let mut c = vec![1.5f32; m * n];
        let expected = naive(m, k, n, |i, p| a_buffer[2 + i * 9 + p], |p, j| b_buffer[j * 5 + p], 0.5, &c);
        gemm(m, k, n, &a_buffer, a_at, &b_buffer, b_at, 0.5, &mut c, Strided::rows(0, n));
        for (got, want) in c.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
        // beta = 0 must ignore what c held, NaN included.
        let mut c = vec![f32::NAN; m * n];
        gemm(m, k, n, &a_buffer, a_at, &b_buffer, b_at, 0.0, &mut c, Strided::rows(0, n));
        let expected = naive(m, k, n, |i, p| a_buffer[2 + i * 9 + p], |p, j| b_buffer[j * 5 + p], 0.0, &[0.0; 12]);
        assert!(c.iter().zip(&expected).all(|(got, want)| (got - want).abs() < 1e-5));
    }

    #[test]
    fn split_products_do_not_depend_on_the_thread_count() {
        use crate::util::Rng;
        use crate::{Device, Tensor};
        // Row blocks, then column blocks (C at least 4× wider than tall), at a k short enough for one
        // k-block and at one long enough for several (the gemm crate's k-blocking differs between
        // small and large blocks): the thread count never changes a bit of the result.
        for (m, k, n) in [(200, 300, 40), (16, 300, 500), (200, 1100, 40), (16, 1100, 500)] {
            let a = Tensor::randn(&[m, k], 1.0, &mut Rng::new(1), Device::Cpu).unwrap();
            let b = Tensor::randn(&[k, n], 1.0, &mut Rng::new(2), Device::Cpu).unwrap();
            let product_on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| a.matmul(&b).unwrap().to_vec_f32().unwrap())
            };
            let one_thread = product_on(1);
            assert_eq!(one_thread, product_on(3), "{m}×{k}×{n}");
            assert_eq!(one_thread, product_on(8), "{m}×{k}×{n}");
            let (a, b) = (a.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
            let expected = naive(m, k, n, |i, p| a[i * k + p], |p, j| b[p * n + j], 0.0, &vec![0.0; m * n]);
            assert!(one_thread.iter().zip(&expected).all(|(got, want)| (got - want).abs() < 1e-3), "{m}×{k}×{n}");
        }
    }

    #[test]
    fn empty_inner_dimension_scales_c() {
        let mut c = vec![2.0f32, f32::NAN];
        gemm(1, 0, 2, &[], Strided::rows(0, 0), &[], Strided::rows(0, 2), 0.0, &mut c, Strided::rows(0, 2));
        assert_eq!(c, vec![0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "gemm operand a")]
    fn a_view_past_its_slice_is_refused() {
        let mut c = vec![0.0f32; 4];
        // 2×3 rows 4 apart from offset 2 would reach index 2 + 4 + 2 = 8 of a 8-element slice.
        gemm(2, 3, 2, &[0.0; 8], Strided::rows(2, 4), &[0.0; 6], Strided::rows(0, 2), 0.0, &mut c, Strided::rows(0, 2));
    }
}
