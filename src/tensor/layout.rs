//! A layout maps an n-dimensional index to a position in storage: `offset + Σ index[d] * strides[d]`.
//! Views (reshape of contiguous data, permute, narrow, broadcast) only change the layout.
use crate::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

/// Row-major strides of a contiguous tensor of this shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Self {
        Self { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: 0 }
    }

    pub fn new(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        assert_eq!(shape.len(), strides.len(), "shape and strides must have the same rank");
        Self { shape, strides, offset }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    pub fn offset(&self) -> usize {
        self.offset
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn elem_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are stored row-major without gaps (the offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for d in (0..self.rank()).rev() {
            if self.shape[d] != 1 && self.strides[d] != expected {
                return false;
            }
            expected *= self.shape[d];
        }
        true
    }

    /// The storage positions of all elements in row-major order of the view.
    pub fn storage_indices(&self) -> StorageIndices<'_> {
        StorageIndices { layout: self, index: vec![0; self.rank()], position: self.offset, remaining: self.elem_count() }
    }

    pub fn permute(&self, dims: &[usize]) -> Result<Self> {
        let mut seen = vec![false; self.rank()];
        if dims.len() != self.rank() || dims.iter().any(|&d| d >= self.rank() || std::mem::replace(&mut seen[d], true)) {
            return Err(Error::shape("permute", format!("{dims:?} is not a permutation of the {} axes of {:?}", self.rank(), self.shape)));
        }
        Ok(Self {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        })
    }

    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Self> {
        if axis >= self.rank() || start + len > self.shape[axis] {
            return Err(Error::shape("narrow", format!("axis {axis} range {start}..{} out of bounds for {:?}", start + len, self.shape)));
        }
        let mut shape = self.shape.clone();
        shape[axis] = len;
        Ok(Self { shape, strides: self.strides.clone(), offset: self.offset + start * self.strides[axis] })
    }

    /// A view of this layout expanded to `target` (numpy broadcasting: new leading axes, size-1 axes stretched).
    pub fn broadcast_to(&self, target: &[usize]) -> Result<Self> {
        if target.len() < self.rank() {
            return Err(Error::shape("broadcast", format!("cannot broadcast {:?} to {target:?}", self.shape)));
        }
        let extra = target.len() - self.rank();
        let mut strides = vec![0; target.len()];
        for d in 0..self.rank() {
            let (have, want) = (self.shape[d], target[extra + d]);
            strides[extra + d] = if have == want {
                self.strides[d]
            } else if have == 1 {
                0
            } else {
                return Err(Error::shape("broadcast", format!("cannot broadcast {:?} to {target:?}", self.shape)));
            };
        }
        Ok(Self { shape: target.to_vec(), strides, offset: self.offset })
    }
}

/// The shape two operands broadcast to, numpy style.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], d: usize| if d + s.len() >= rank { s[d + s.len() - rank] } else { 1 };
    (0..rank)
        .map(|d| match (dim(a, d), dim(b, d)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(Error::shape("broadcast", format!("shapes {a:?} and {b:?} do not broadcast"))),
        })
        .collect()
}

/// Iterator over storage positions in row-major order (an odometer over the index).
pub struct StorageIndices<'a> {
    layout: &'a Layout,
    index: Vec<usize>,
    position: usize,
    remaining: usize,
}

impl Iterator for StorageIndices<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let current = self.position;
        for d in (0..self.index.len()).rev() {
            self.index[d] += 1;
            self.position += self.layout.strides[d];
            if self.index[d] < self.layout.shape[d] {
                break;
            }
            self.position -= self.index[d] * self.layout.strides[d];
            self.index[d] = 0;
        }
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_index_storage_correctly() {
        let l = Layout::contiguous(&[2, 3]);
        assert!(l.is_contiguous());
        let t = l.permute(&[1, 0]).unwrap();
        assert!(!t.is_contiguous());
        assert_eq!(t.storage_indices().collect::<Vec<_>>(), vec![0, 3, 1, 4, 2, 5]);
        let n = l.narrow(1, 1, 2).unwrap();
        assert_eq!(n.storage_indices().collect::<Vec<_>>(), vec![1, 2, 4, 5]);
        let b = Layout::contiguous(&[3]).broadcast_to(&[2, 3]).unwrap();
        assert_eq!(b.storage_indices().collect::<Vec<_>>(), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_shapes(&[4, 1, 3], &[5, 1]).unwrap(), vec![4, 5, 3]);
        assert!(broadcast_shapes(&[2, 3], &[4]).is_err());
        assert!(l.permute(&[0, 0]).is_err());
    }
}
