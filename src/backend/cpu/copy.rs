//! Copies: strided to strided (contiguous(), and writing a gradient into a view), casts, fills.
use half::{bf16, f16};

use super::read_f32;
use crate::tensor::{CpuStorage, DType, Layout};

/// `len` elements starting at `start`, as a new storage of the same dtype.
pub fn slice(storage: &CpuStorage, start: usize, len: usize) -> CpuStorage {
    match storage {
        CpuStorage::F32(v) => CpuStorage::F32(v[start..start + len].to_vec()),
        CpuStorage::F16(v) => CpuStorage::F16(v[start..start + len].to_vec()),
        CpuStorage::BF16(v) => CpuStorage::BF16(v[start..start + len].to_vec()),
        CpuStorage::I32(v) => CpuStorage::I32(v[start..start + len].to_vec()),
    }
}

/// Shortest innermost run worth copying as a slice rather than element by element.
const MIN_RUN: usize = 8;

/// A layout whose innermost axis is contiguous in storage, as (run length, the layout of the other
/// axes): each position of the outer layout starts one run. None when runs would be too short.
fn inner_runs(layout: &Layout) -> Option<(usize, Layout)> {
    let rank = layout.rank();
    if rank == 0 || layout.strides()[rank - 1] != 1 || layout.shape()[rank - 1] < MIN_RUN {
        return None;
    }
    let outer = Layout::new(layout.shape()[..rank - 1].to_vec(), layout.strides()[..rank - 1].to_vec(), layout.offset());
    Some((layout.shape()[rank - 1], outer))
}

/// A layout whose last two axes, once adjacent axes that run on in storage are merged, are a
/// transpose: the second-to-last has stride 1 and the last a larger one (conv2d's KCRS → KRSC
/// weight view is [K, R·S, C] with strides [C·R·S, 1, R·S], and its gradient's way back
/// [K, C, R·S] with strides [C·R·S, 1, C]). Returns (rows, columns, column stride, the layout of
/// the axes before them): each position of the outer layout starts one rows × columns block.
fn transposed_tail(layout: &Layout) -> Option<(usize, usize, usize, Layout)> {
    let mut shape: Vec<usize> = Vec::with_capacity(layout.rank());
    let mut strides: Vec<usize> = Vec::with_capacity(layout.rank());
    for (&len, &stride) in layout.shape().iter().zip(layout.strides()) {
        match (shape.last_mut(), strides.last_mut()) {
            _ if len == 1 => {}
            (Some(last_len), Some(last_stride)) if *last_stride == len * stride => {
                *last_len *= len;
                *last_stride = stride;
            }
            _ => {
                shape.push(len);
                strides.push(stride);
            }
        }
    }
    let rank = shape.len();
    if rank < 2 || strides[rank - 2] != 1 || strides[rank - 1] <= 1 || shape[rank - 2] < 2 {
        return None;
    }
    let outer = Layout::new(shape[..rank - 2].to_vec(), strides[..rank - 2].to_vec(), layout.offset());
    Some((shape[rank - 2], shape[rank - 1], strides[rank - 1], outer))
}

pub(crate) fn gather<T: Copy>(values: &[T], layout: &Layout) -> Vec<T> {
    gather_into(values, layout, Vec::with_capacity(layout.elem_count()))
}

/// `gather` into a pooled buffer (see `buffer_pool`).
pub(crate) fn gather_f32(values: &[f32], layout: &Layout) -> Vec<f32> {
    let mut out = super::buffer_pool::for_overwrite(layout.elem_count());
    out.clear();
    gather_into(values, layout, out)
}

/// Appends the elements of `layout` to `out` (empty, with room for them).
fn gather_into<T: Copy>(values: &[T], layout: &Layout, mut out: Vec<T>) -> Vec<T> {
    if layout.elem_count() == 0 {
        // Nothing to read (and `values` may be empty: no offset into it is valid).
    } else if layout.is_contiguous() {
        out.extend_from_slice(&values[layout.offset()..layout.offset() + layout.elem_count()]);
    } else if layout.strides().iter().all(|&stride| stride == 0) {
        // One value broadcast (a sum's gradient, say): a fill, not a walk over the indices.
        out.resize(layout.elem_count(), values[layout.offset()]);
    } else if let Some((run, outer)) = inner_runs(layout) {
        // A narrowed or sliced view: whole rows at a time (the per-element index walk cost as much
        // as a small GEMM in the LSTM's backward).
        for start in outer.storage_indices() {
            out.extend_from_slice(&values[start..start + run]);
        }
    } else if let Some((rows, cols, col_stride, outer)) = transposed_tail(layout) {
        // Each block is read along its unit-stride axis in 8-row bands: one pass down the
        // columns touches 8 consecutive values (a cache line or two) per column, not one.
        const BAND: usize = 8;
        for start in outer.storage_indices() {
            let block = out.len();
            out.resize(block + rows * cols, values[start]);
            let block = &mut out[block..];
            for band in (0..rows).step_by(BAND) {
                for col in 0..cols {
                    let source = &values[start + col * col_stride + band..][..BAND.min(rows - band)];
                    for (row, &value) in source.iter().enumerate() {
                        block[(band + row) * cols + col] = value;
                    }
                }
            }
        }
    } else {
        out.extend(layout.storage_indices().map(|i| values[i]));
    }
    out
}

/// The elements of `layout`, in row-major order, as a contiguous storage of the same dtype.
pub fn contiguous(storage: &CpuStorage, layout: &Layout) -> CpuStorage {
    match storage {
        CpuStorage::F32(v) => CpuStorage::F32(gather_f32(v, layout)),
        CpuStorage::F16(v) => CpuStorage::F16(gather(v, layout)),
        CpuStorage::BF16(v) => CpuStorage::BF16(gather(v, layout)),
        CpuStorage::I32(v) => CpuStorage::I32(gather(v, layout)),
    }
}

fn scatter<T: Copy>(source: &[T], destination: &mut [T], layout: &Layout) {
    if let Some((run, outer)) = inner_runs(layout) {
        for (values, start) in source.chunks(run).zip(outer.storage_indices()) {
            destination[start..start + run].copy_from_slice(values);
        }
        return;
    }
    for (value, position) in source.iter().zip(layout.storage_indices()) {
        destination[position] = *value;
    }
}

/// Writes the elements of (`source`, `source_layout`) into `destination` at the positions of
/// `destination_layout` (same shape, same dtype).
pub fn copy_into(source: &CpuStorage, source_layout: &Layout, destination: &mut CpuStorage, destination_layout: &Layout) {
    let packed = contiguous(source, source_layout);
    match (&packed, destination) {
        (CpuStorage::F32(s), CpuStorage::F32(d)) => scatter(s, d, destination_layout),
        (CpuStorage::F16(s), CpuStorage::F16(d)) => scatter(s, d, destination_layout),
        (CpuStorage::BF16(s), CpuStorage::BF16(d)) => scatter(s, d, destination_layout),
        (CpuStorage::I32(s), CpuStorage::I32(d)) => scatter(s, d, destination_layout),
        _ => unreachable!("copy_into: the op checks that dtypes match"),
    }
}

/// Converts the elements of `layout` to `dtype` (float → i32 truncates toward zero).
pub fn cast(storage: &CpuStorage, layout: &Layout, dtype: DType) -> CpuStorage {
    match (storage, dtype) {
        (CpuStorage::I32(v), DType::I32) => CpuStorage::I32(gather(v, layout)),
        _ => CpuStorage::from_f32(read_f32(storage, layout).into_owned(), dtype),
    }
}

pub fn fill(storage: &mut CpuStorage, value: f32) {
    match storage {
        CpuStorage::F32(v) => v.fill(value),
        CpuStorage::F16(v) => v.fill(f16::from_f32(value)),
        CpuStorage::BF16(v) => v.fill(bf16::from_f32(value)),
        CpuStorage::I32(v) => v.fill(value as i32),
    }
}

/// y ← alpha·x + beta·y over whole contiguous buffers (scale_ is beta with alpha = 0 and no x).
/// As in BLAS, beta = 0 does not read y, so assigning over a NaN (or uninitialised) y works.
pub fn axpby(y: &mut CpuStorage, alpha: f32, x: Option<&CpuStorage>, beta: f32) {
    if beta == 0.0 {
        let out: Vec<f32> = (0..y.len()).map(|i| x.map_or(0.0, |x| alpha * x.get_f32(i))).collect();
        *y = CpuStorage::from_f32(out, y.dtype());
        return;
    }
    match (y, x) {
        // The common case (f32 master weights and optimiser state) runs in place.
        (CpuStorage::F32(y), None) => y.iter_mut().for_each(|v| *v *= beta),
        (CpuStorage::F32(y), Some(CpuStorage::F32(x))) => y.iter_mut().zip(x).for_each(|(v, &x)| *v = alpha * x + beta * *v),
        (y, x) => {
            let out: Vec<f32> = (0..y.len()).map(|i| beta * y.get_f32(i) + x.map_or(0.0, |x| alpha * x.get_f32(i))).collect();
            *y = CpuStorage::from_f32(out, y.dtype());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The element-by-element walk every fast path of `gather` must agree with.
    fn walked(values: &[f32], layout: &Layout) -> Vec<f32> {
        layout.storage_indices().map(|i| values[i]).collect()
    }

    #[test]
    fn transposing_gather_equals_the_element_walk_at_odd_shapes() {
        let values: Vec<f32> = (0..5000).map(|i| i as f32).collect();
        let cases: [(&[usize], &[usize], usize); 6] = [
            (&[5, 3, 3, 7], &[0, 2, 3, 1], 0),  // conv2d's KCRS → KRSC weight copy
            (&[5, 3, 3, 7], &[0, 3, 1, 2], 3),  // its gradient's way back, at an offset
            (&[2, 9, 1, 13], &[0, 2, 3, 1], 1), // a 1-long axis among them
            (&[17, 33], &[1, 0], 0),            // a plain transpose, rows not a multiple of the band
            (&[3, 1, 40], &[2, 1, 0], 7),       // rows longer than one band
            (&[4, 6, 2], &[1, 0, 2], 0),        // no transposed tail: the element walk
        ];
        for (shape, dims, offset) in cases {
            let layout = Layout::new(shape.to_vec(), crate::tensor::layout::contiguous_strides(shape), offset).permute(dims).unwrap();
            assert_eq!(gather(&values, &layout), walked(&values, &layout), "{shape:?} permuted by {dims:?} at offset {offset}");
            assert_eq!(gather_f32(&values, &layout), walked(&values, &layout), "pooled: {shape:?} by {dims:?}");
        }
    }

    #[test]
    fn an_empty_view_gathers_to_nothing_whatever_its_strides() {
        // A transposed [0, 5] tensor is [5, 0] with strides [1, 5]: a "transposed tail" of 0 columns
        // over an empty storage (the transposing copy once read values[offset] of it).
        for (shape, dims) in [(&[0usize, 5][..], &[1usize, 0][..]), (&[3, 0, 4], &[2, 1, 0]), (&[0], &[0])] {
            let layout = Layout::new(shape.to_vec(), crate::tensor::layout::contiguous_strides(shape), 0).permute(dims).unwrap();
            assert!(gather::<f32>(&[], &layout).is_empty(), "{shape:?} permuted by {dims:?}");
            assert!(gather_f32(&[], &layout).is_empty(), "pooled: {shape:?} permuted by {dims:?}");
        }
    }
}
