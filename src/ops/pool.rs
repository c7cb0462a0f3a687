//! Pooling on NHWC activations: 2×2 stride-2 max pooling (keeping the argmax for backward) and
//! adaptive average pooling with PyTorch's bin rule.
use crate::backend::dispatch;
use crate::tensor::{DType, Layout, Tensor};
use crate::{Error, Result};

/// Bin `i` of `bins` over an axis of `size`: rows floor(i·size/bins) .. ceil((i+1)·size/bins),
/// exactly PyTorch's adaptive pooling rule (bins overlap when size is not a multiple of bins, and
/// repeat rows when size < bins).
pub fn adaptive_bin(i: usize, bins: usize, size: usize) -> (usize, usize) {
    (i * size / bins, ((i + 1) * size).div_ceil(bins))
}

fn check_nhwc(op: &'static str, x: &Tensor) -> Result<[usize; 4]> {
    if x.rank() != 4 || !x.dtype().is_float() {
        return Err(Error::shape(op, format!("needs a 4-D NHWC float tensor, got {:?} {}", x.shape(), x.dtype())));
    }
    Ok([x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]])
}

impl Tensor {
    /// 2×2 max pooling with stride 2 (odd trailing rows/columns are dropped, as in PyTorch):
    /// [N, H, W, C] → [N, H/2, W/2, C]. Ties go to the first element in row-major window order.
    pub fn max_pool2d_2x2(&self) -> Result<Tensor> {
        let [n, h, w, c] = check_nhwc("max_pool2d", self)?;
        if h < 2 || w < 2 {
            return Err(Error::shape("max_pool2d", format!("a 2x2 window does not fit a {h}x{w} input")));
        }
        let x = self.contiguous()?;
        let (values, argmax) = dispatch::max_pool2d_2x2(&x)?;
        let out_shape = [n, h / 2, w / 2, c];
        // argmax holds, per output element, the flat index of the chosen input element.
        let argmax = Tensor::from_storage(argmax, Layout::contiguous(&out_shape), false);
        let input_shape = self.shape().to_vec();
        Ok(Tensor::from_op(values, Layout::contiguous(&out_shape), &[self], move |g| {
            let g = g.contiguous()?;
            let storage = dispatch::max_pool2d_2x2_backward(&g, &argmax, &input_shape)?;
            Ok(vec![Some(Tensor::from_storage(storage, Layout::contiguous(&input_shape), false))])
        }))
    }

    /// The flat input index each 2×2 max came from (for tests and inspection), as i32 [N, H/2, W/2, C].
    pub fn max_pool2d_2x2_argmax(&self) -> Result<Tensor> {
        let [n, h, w, c] = check_nhwc("max_pool2d", self)?;
        let (_, argmax) = dispatch::max_pool2d_2x2(&self.contiguous()?)?;
        let argmax = Tensor::from_storage(argmax, Layout::contiguous(&[n, h / 2, w / 2, c]), false);
        debug_assert_eq!(argmax.dtype(), DType::I32);
        Ok(argmax)
    }

    /// Adaptive average pooling to [N, out_h, out_w, C] with PyTorch's bins (see [`adaptive_bin`]).
    pub fn adaptive_avg_pool2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        let [n, h, w, c] = check_nhwc("adaptive_avg_pool2d", self)?;
        if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
            return Err(Error::shape("adaptive_avg_pool2d", format!("cannot pool {h}x{w} to {out_h}x{out_w}")));
        }
        let x = self.contiguous()?;
        let storage = dispatch::adaptive_avg_pool2d(&x, out_h, out_w)?;
        let input_shape = self.shape().to_vec();
        Ok(Tensor::from_op(storage, Layout::contiguous(&[n, out_h, out_w, c]), &[self], move |g| {
            let g = g.contiguous()?;
            let storage = dispatch::adaptive_avg_pool2d_backward(&g, &input_shape)?;
            Ok(vec![Some(Tensor::from_storage(storage, Layout::contiguous(&input_shape), false))])
        }))
    }
}
