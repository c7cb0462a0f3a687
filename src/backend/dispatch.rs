//! The one place where an op picks its backend: each function matches on the operands' storage and
//! calls the CPU or CUDA implementation. Ops have already checked shapes, dtypes and devices.
use super::{cpu, cuda};
use crate::ops::{BinaryOp, ConvGeometry, ReduceOp, UnaryOp};
use crate::tensor::{DType, Layout, Storage, Tensor};
use crate::{Error, Result};

/// Where one matrix operand's elements are: element (batch, i, j) sits at
/// `offset + batch·batch_stride + i·row_stride + j·col_stride` (batch_stride 0 = shared by all batches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixStrides {
    pub offset: usize,
    pub batch_stride: usize,
    pub row_stride: usize,
    pub col_stride: usize,
    pub rows: usize,
    pub cols: usize,
}

impl MatrixStrides {
    /// The strides of a packed row-major copy of this operand (as its layout's elements in order).
    pub fn packed(&self) -> Self {
        let batch_stride = if self.batch_stride == 0 { 0 } else { self.rows * self.cols };
        Self { offset: 0, batch_stride, row_stride: self.cols, col_stride: 1, rows: self.rows, cols: self.cols }
    }
}

/// out[batch] (m×n, row-major, contiguous) = a[batch] (m×k) · b[batch] (k×n).
#[derive(Clone, Debug)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: MatrixStrides,
    pub b: MatrixStrides,
}

fn device_mismatch(op: &'static str, a: &Tensor, b: &Tensor) -> Error {
    Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() }
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::elementwise::unary(op, s, x.layout())),
        Storage::Cuda(s) => Storage::Cuda(cuda::elementwise::unary(op, s, x.layout())?),
    })
}

/// `a_layout` and `b_layout` are the operands' layouts broadcast to the output shape.
pub fn binary(op: BinaryOp, a: &Tensor, a_layout: &Layout, b: &Tensor, b_layout: &Layout) -> Result<Storage> {
    Ok(match (&*a.storage(), &*b.storage()) {
        (Storage::Cpu(sa), Storage::Cpu(sb)) => Storage::Cpu(cpu::elementwise::binary(op, sa, a_layout, sb, b_layout)),
        (Storage::Cuda(sa), Storage::Cuda(sb)) => Storage::Cuda(cuda::elementwise::binary(op, sa, a_layout, sb, b_layout)?),
        _ => return Err(device_mismatch("binary op", a, b)),
    })
}

pub fn reduce(op: ReduceOp, x: &Tensor, axis: usize) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::reduce::reduce(op, s, x.layout(), axis)),
        Storage::Cuda(s) => Storage::Cuda(cuda::reduce::reduce(op, s, x.layout(), axis)?),
    })
}

pub fn softmax(x: &Tensor, log: bool) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::softmax::softmax(s, x.layout(), log)),
        Storage::Cuda(s) => Storage::Cuda(cuda::softmax::softmax(s, x.layout(), log)?),
    })
}

pub fn softmax_backward(y: &Tensor, g: &Tensor, log: bool) -> Result<Storage> {
    Ok(match (&*y.storage(), &*g.storage()) {
        (Storage::Cpu(sy), Storage::Cpu(sg)) => Storage::Cpu(cpu::softmax::softmax_backward(sy, y.layout(), sg, g.layout(), log)),
        (Storage::Cuda(sy), Storage::Cuda(sg)) => Storage::Cuda(cuda::softmax::softmax_backward(sy, y.layout(), sg, g.layout(), log)?),
        _ => return Err(device_mismatch("softmax backward", y, g)),
    })
}

pub fn matmul(a: &Tensor, b: &Tensor, dims: &MatmulDims) -> Result<Storage> {
    Ok(match (&*a.storage(), &*b.storage()) {
        (Storage::Cpu(sa), Storage::Cpu(sb)) => Storage::Cpu(cpu::matmul::matmul(sa, a.layout(), sb, b.layout(), dims)),
        (Storage::Cuda(sa), Storage::Cuda(sb)) => Storage::Cuda(cuda::matmul::matmul(sa, sb, dims)?),
        _ => return Err(device_mismatch("matmul", a, b)),
    })
}

pub fn cast(x: &Tensor, dtype: DType) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::copy::cast(s, x.layout(), dtype)),
        Storage::Cuda(s) => Storage::Cuda(cuda::copy::cast(s, x.layout(), dtype)?),
    })
}

pub fn contiguous(x: &Tensor) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::copy::contiguous(s, x.layout())),
        Storage::Cuda(s) => Storage::Cuda(cuda::copy::contiguous(s, x.layout())?),
    })
}

/// Writes `source`'s elements into `destination`'s storage at the positions of `destination_layout`.
pub fn copy_into(source: &Tensor, destination: &Tensor, destination_layout: &Layout) -> Result<()> {
    let source_storage = source.storage();
    let mut destination_storage = destination.storage_mut();
    match (&*source_storage, &mut *destination_storage) {
        (Storage::Cpu(s), Storage::Cpu(d)) => cpu::copy::copy_into(s, source.layout(), d, destination_layout),
        (Storage::Cuda(s), Storage::Cuda(d)) => cuda::copy::copy_into(s, source.layout(), d, destination_layout)?,
        _ => return Err(device_mismatch("copy_into", source, destination)),
    }
    Ok(())
}

pub fn fill(x: &Tensor, value: f32) -> Result<()> {
    match &mut *x.storage_mut() {
        Storage::Cpu(s) => cpu::copy::fill(s, value),
        Storage::Cuda(s) => cuda::fill(s, value)?,
    }
    Ok(())
}

/// y ← alpha·x + beta·y over whole storages (x None: y ← beta·y).
pub fn axpby(y: &Tensor, alpha: f32, x: Option<&Tensor>, beta: f32) -> Result<()> {
    let x_guard = x.map(|x| x.storage());
    let mut y_storage = y.storage_mut();
    match (&mut *y_storage, x_guard.as_deref()) {
        (Storage::Cpu(sy), None) => cpu::copy::axpby(sy, alpha, None, beta),
        (Storage::Cpu(sy), Some(Storage::Cpu(sx))) => cpu::copy::axpby(sy, alpha, Some(sx), beta),
        (Storage::Cuda(sy), None) => cuda::copy::axpby(sy, alpha, None, beta)?,
        (Storage::Cuda(sy), Some(Storage::Cuda(sx))) => cuda::copy::axpby(sy, alpha, Some(sx), beta)?,
        _ => return Err(device_mismatch("axpy", y, x.expect("mismatch needs x"))),
    }
    Ok(())
}

// ---- convolution and pooling (inputs already contiguous: ops/conv.rs, ops/pool.rs) ----------------

pub fn conv2d_forward(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, geometry: &ConvGeometry, relu: bool) -> Result<Storage> {
    if let Some(b) = bias.filter(|b| b.device() != x.device()) {
        return Err(device_mismatch("conv2d", x, b));
    }
    let bias_storage = bias.map(|b| b.storage());
    let bias_layout = bias.map(|b| b.layout());
    Ok(match (&*x.storage(), &*w.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sw)) => {
            let b = match bias_storage.as_deref() {
                Some(Storage::Cpu(sb)) => Some((sb, bias_layout.unwrap())),
                _ => None,
            };
            Storage::Cpu(cpu::conv::conv2d_forward(sx, x.layout(), sw, w.layout(), b, geometry, relu))
        }
        (Storage::Cuda(sx), Storage::Cuda(sw)) => {
            let b = match bias_storage.as_deref() {
                Some(Storage::Cuda(sb)) => Some((sb, bias_layout.unwrap())),
                _ => None,
            };
            Storage::Cuda(cuda::conv::conv2d_forward(sx, x.layout(), sw, w.layout(), b, geometry, relu)?)
        }
        _ => return Err(device_mismatch("conv2d", x, w)),
    })
}

pub fn conv2d_backward_data(dy: &Tensor, w: &Tensor, geometry: &ConvGeometry) -> Result<Storage> {
    Ok(match (&*dy.storage(), &*w.storage()) {
        (Storage::Cpu(sd), Storage::Cpu(sw)) => Storage::Cpu(cpu::conv::conv2d_backward_data(sd, dy.layout(), sw, w.layout(), geometry)),
        (Storage::Cuda(sd), Storage::Cuda(sw)) => Storage::Cuda(cuda::conv::conv2d_backward_data(sd, dy.layout(), sw, w.layout(), geometry)?),
        _ => return Err(device_mismatch("conv2d backward", dy, w)),
    })
}

pub fn conv2d_backward_weight(x: &Tensor, dy: &Tensor, geometry: &ConvGeometry) -> Result<Storage> {
    Ok(match (&*x.storage(), &*dy.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sd)) => Storage::Cpu(cpu::conv::conv2d_backward_weight(sx, x.layout(), sd, dy.layout(), geometry)),
        (Storage::Cuda(sx), Storage::Cuda(sd)) => Storage::Cuda(cuda::conv::conv2d_backward_weight(sx, x.layout(), sd, dy.layout(), geometry)?),
        _ => return Err(device_mismatch("conv2d backward", x, dy)),
    })
}

/// (values, i32 argmax as flat input indices).
pub fn max_pool2d_2x2(x: &Tensor) -> Result<(Storage, Storage)> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => {
            let (values, argmax) = cpu::pool::max_pool2d_2x2(s, x.layout());
            (Storage::Cpu(values), Storage::Cpu(argmax))
        }
        Storage::Cuda(s) => {
            let (values, argmax) = cuda::pool::max_pool2d_2x2(s, x.layout())?;
            (Storage::Cuda(values), Storage::Cuda(argmax))
        }
    })
}

pub fn max_pool2d_2x2_backward(dy: &Tensor, argmax: &Tensor, input_shape: &[usize]) -> Result<Storage> {
    Ok(match (&*dy.storage(), &*argmax.storage()) {
        (Storage::Cpu(sd), Storage::Cpu(sa)) => Storage::Cpu(cpu::pool::max_pool2d_2x2_backward(sd, dy.layout(), sa, input_shape)),
        (Storage::Cuda(sd), Storage::Cuda(sa)) => Storage::Cuda(cuda::pool::max_pool2d_2x2_backward(sd, dy.layout(), sa, input_shape)?),
        _ => return Err(device_mismatch("max_pool2d backward", dy, argmax)),
    })
}

pub fn adaptive_avg_pool2d(x: &Tensor, out_h: usize, out_w: usize) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::pool::adaptive_avg_pool2d(s, x.layout(), out_h, out_w)),
        Storage::Cuda(s) => Storage::Cuda(cuda::pool::adaptive_avg_pool2d(s, x.layout(), out_h, out_w)?),
    })
}

pub fn adaptive_avg_pool2d_backward(dy: &Tensor, input_shape: &[usize]) -> Result<Storage> {
    Ok(match &*dy.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::pool::adaptive_avg_pool2d_backward(s, dy.layout(), input_shape)),
        Storage::Cuda(s) => Storage::Cuda(cuda::pool::adaptive_avg_pool2d_backward(s, dy.layout(), input_shape)?),
    })
}
