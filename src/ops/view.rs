//! Views: reshape, permute, transpose, narrow, broadcast, (un)squeeze share storage when they can;
//! `contiguous` copies when it must. Each records how to bring the gradient back to its input.
use crate::backend::dispatch;
use crate::tensor::{Layout, Tensor};
use crate::{Error, Result};

impl Tensor {
    fn view(&self, layout: Layout, backward: impl FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>> + 'static) -> Tensor {
        Tensor::from_op_output(self.view_with_layout(layout, false), &[self], backward)
    }

    /// A row-major copy, or this tensor itself when it already is one.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        let storage = dispatch::contiguous(self)?;
        Ok(Tensor::from_op(storage, Layout::contiguous(self.shape()), &[self], |g| Ok(vec![Some(g.clone())])))
    }

    /// This tensor when it is contiguous and owns its whole storage, else a fresh copy that does:
    /// what kernels that address a buffer from its start (optimisers) need.
    pub fn compact(&self) -> Result<Tensor> {
        let owns_storage = self.is_contiguous() && self.layout().offset() == 0 && self.storage().len() == self.elem_count();
        if owns_storage {
            return Ok(self.clone());
        }
        let storage = dispatch::contiguous(self)?;
        Ok(Tensor::from_op(storage, Layout::contiguous(self.shape()), &[self], |g| Ok(vec![Some(g.clone())])))
    }

    /// The same elements in another shape. A view when the data is contiguous, else a copy first.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.elem_count() {
            return Err(Error::shape("reshape", format!("cannot reshape {:?} ({} elements) to {shape:?}", self.shape(), self.elem_count())));
        }
        let source = self.contiguous()?;
        let layout = Layout::new(shape.to_vec(), crate::tensor::layout::contiguous_strides(shape), source.layout().offset());
        let input_shape = self.shape().to_vec();
        Ok(source.view(layout, move |g| Ok(vec![Some(g.reshape(&input_shape)?)])))
    }

    /// Flattens all axes from `start` on into one.
    pub fn flatten_from(&self, start: usize) -> Result<Tensor> {
        let mut shape = self.shape()[..start].to_vec();
        shape.push(self.shape()[start..].iter().product());
        self.reshape(&shape)
    }

    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        let layout = self.layout().permute(dims)?;
        let mut inverse = vec![0; dims.len()];
        for (i, &d) in dims.iter().enumerate() {
            inverse[d] = i;
        }
        Ok(self.view(layout, move |g| Ok(vec![Some(g.permute(&inverse)?)])))
    }

    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let (a, b) = (self.normalize_axis(a)?, self.normalize_axis(b)?);
        let mut dims: Vec<usize> = (0..self.rank()).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// The transpose of the last two axes.
    pub fn t(&self) -> Result<Tensor> {
        self.transpose(-2, -1)
    }

    /// Elements `start..start+len` along `axis`.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let axis = self.normalize_axis(axis)?;
        let layout = self.layout().narrow(axis, start, len)?;
        let (input_shape, dtype, device) = (self.shape().to_vec(), self.dtype(), self.device());
        Ok(self.view(layout, move |g| {
            // The gradient of a slice is zero outside it: write g into a slice of a zero tensor.
            let full = Tensor::zeros(&input_shape, dtype, device)?;
            let target = full.layout().narrow(axis, start, len)?;
            dispatch::copy_into(g, &full, &target)?;
            Ok(vec![Some(full)])
        }))
    }

    /// This tensor expanded to `shape` without copying (stride 0 along stretched axes).
    pub fn broadcast_as(&self, shape: &[usize]) -> Result<Tensor> {
        let layout = self.layout().broadcast_to(shape)?;
        let input_shape = self.shape().to_vec();
        Ok(self.view(layout, move |g| Ok(vec![Some(super::sum_to_shape(g, &input_shape)?)])))
    }

    pub fn unsqueeze(&self, axis: usize) -> Result<Tensor> {
        if axis > self.rank() {
            return Err(Error::shape("unsqueeze", format!("axis {axis} out of range for shape {:?}", self.shape())));
        }
        let mut shape = self.shape().to_vec();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    pub fn squeeze(&self, axis: isize) -> Result<Tensor> {
        let axis = self.normalize_axis(axis)?;
        if self.shape()[axis] != 1 {
            return Err(Error::shape("squeeze", format!("axis {axis} of {:?} has size {}, not 1", self.shape(), self.shape()[axis])));
        }
        let mut shape = self.shape().to_vec();
        shape.remove(axis);
        self.reshape(&shape)
    }
}
