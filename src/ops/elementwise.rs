//! Element-wise ops with numpy broadcasting, and their backward rules.
use super::{BinaryOp, UnaryOp};
use crate::backend::dispatch;
use crate::tensor::{layout::broadcast_shapes, Layout, Tensor};
use crate::{Error, Result};

fn check_float(op: &'static str, x: &Tensor) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::UnsupportedDType { op, dtype: x.dtype() });
    }
    Ok(())
}

impl Tensor {
    /// Applies a unary op, recording its derivative.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        check_float("unary op", self)?;
        let storage = dispatch::unary(op, self)?;
        let x = self.clone();
        let layout = Layout::contiguous(self.shape());
        let y_storage_for_grad = matches!(op, UnaryOp::Exp | UnaryOp::Sigmoid | UnaryOp::Tanh | UnaryOp::Sqrt);
        // Rules that use the output need it on the tape; build the output first, then its rule.
        let output = Tensor::from_storage(storage, layout, false);
        let y = if y_storage_for_grad { Some(output.clone()) } else { None };
        Ok(Tensor::from_op_output(output, &[self], move |g| {
            let grad = match op {
                UnaryOp::Neg => g.neg()?,
                UnaryOp::Exp => g.mul(y.as_ref().unwrap())?,
                UnaryOp::Log => g.div(&x)?,
                UnaryOp::Relu => x.binary_raw(BinaryOp::ReluBackward, g)?,
                UnaryOp::Sigmoid => y.as_ref().unwrap().binary_raw(BinaryOp::SigmoidBackward, g)?,
                UnaryOp::Tanh => y.as_ref().unwrap().binary_raw(BinaryOp::TanhBackward, g)?,
                UnaryOp::Gelu => x.binary_raw(BinaryOp::GeluBackward, g)?,
                UnaryOp::Sqrt => g.div(&y.as_ref().unwrap().affine(2.0, 0.0)?)?,
                UnaryOp::Abs => g.mul(&x.unary(UnaryOp::Sign)?)?,
                UnaryOp::Sign => g.affine(0.0, 0.0)?,
                UnaryOp::Powf(p) => g.mul(&x.powf(p - 1.0)?.affine(p, 0.0)?)?,
                UnaryOp::Affine { mul, .. } => g.affine(mul, 0.0)?,
                UnaryOp::QuickGelu => x.binary_raw(BinaryOp::QuickGeluBackward, g)?,
            };
            Ok(vec![Some(grad)])
        }))
    }

    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu)
    }
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sigmoid)
    }
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Tanh)
    }
    pub fn gelu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Gelu)
    }
    /// x·σ(1.702·x) (CLIP's `quick_gelu`).
    pub fn quick_gelu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::QuickGelu)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }
    pub fn powf(&self, exponent: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Powf(exponent))
    }
    /// mul·x + add.
    pub fn affine(&self, mul: f32, add: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Affine { mul, add })
    }
    pub fn scale(&self, factor: f32) -> Result<Tensor> {
        self.affine(factor, 0.0)
    }

    /// The two operands' layouts broadcast to their common shape.
    fn broadcast_layouts(&self, rhs: &Tensor) -> Result<(Layout, Layout)> {
        let shape = broadcast_shapes(self.shape(), rhs.shape())?;
        Ok((self.layout().broadcast_to(&shape)?, rhs.layout().broadcast_to(&shape)?))
    }

    /// A binary op without a backward rule (used inside backward rules and for masks).
    pub(crate) fn binary_raw(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        check_float("binary op", self)?;
        if self.dtype() != rhs.dtype() {
            return Err(Error::dtype("binary op", format!("operands have different dtypes ({} and {}); cast one with to_dtype", self.dtype(), rhs.dtype())));
        }
        let (a_layout, b_layout) = self.broadcast_layouts(rhs)?;
        let storage = dispatch::binary(op, self, &a_layout, rhs, &b_layout)?;
        Ok(Tensor::from_storage(storage, Layout::contiguous(a_layout.shape()), false))
    }

    fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        let output = self.binary_raw(op, rhs)?;
        let (a, b) = (self.clone(), rhs.clone());
        let y = if op == BinaryOp::Div { Some(output.clone()) } else { None };
        Ok(Tensor::from_op_output(output, &[self, rhs], move |g| {
            if !matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div) {
                return Err(Error::Autograd(format!("{op:?} is not differentiable")));
            }
            // Only the gradients an operand needs are computed (a full-size product each).
            let grad_a = if a.requires_grad() {
                let grad = match op {
                    BinaryOp::Mul => g.mul(&b)?,
                    BinaryOp::Div => g.div(&b)?,
                    _ => g.clone(),
                };
                Some(sum_to_shape(&grad, a.shape())?)
            } else {
                None
            };
            let grad_b = if b.requires_grad() {
                let grad = match op {
                    BinaryOp::Add => g.clone(),
                    BinaryOp::Sub => g.neg()?,
                    BinaryOp::Mul => g.mul(&a)?,
                    _ => g.mul(y.as_ref().unwrap())?.div(&b)?.neg()?,
                };
                Some(sum_to_shape(&grad, b.shape())?)
            } else {
                None
            };
            Ok(vec![grad_a, grad_b])
        }))
    }

    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, rhs)
    }
    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, rhs)
    }
    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, rhs)
    }
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, rhs)
    }
    /// 1.0 where the elements are equal, else 0.0 (no gradient).
    pub fn eq_mask(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary_raw(BinaryOp::Equal, rhs)
    }
}

/// Sums a broadcast gradient back to the shape of the operand it came from.
pub(crate) fn sum_to_shape(grad: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if grad.shape() == shape {
        return Ok(grad.clone());
    }
    let extra = grad.rank() - shape.len();
    let mut reduced = grad.clone();
    for axis in 0..grad.rank() {
        let wanted = if axis < extra { 1 } else { shape[axis - extra] };
        if grad.shape()[axis] != wanted {
            reduced = reduced.sum(axis as isize, true)?;
        }
    }
    reduced.reshape(shape)
}
