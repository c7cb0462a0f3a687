//! Ops: each file holds one family's forward (shape checks + dispatch to a backend) and its backward
//! rule on the tape. The op codes below are shared with the CUDA kernels (kernels/common.cuh).
mod attention;
mod cast;
mod concat;
pub mod conv;
mod elementwise;
mod embedding;
mod inplace;
mod layer_norm;
mod linear;
mod lstm;
mod matmul;
pub mod pool;
mod reduce;
mod softmax;
mod view;

pub use attention::attention;
pub use crate::backend::cpu::attention::AttentionDims;
pub(crate) use elementwise::sum_to_shape;
pub use conv::{conv2d_input_gradient, conv2d_weight_gradient, Conv2dOptions, ConvGeometry};
pub use pool::adaptive_bin;
pub(crate) use embedding::check_ids;
pub use lstm::LstmDims;

/// Element-wise functions of one tensor. Codes match `enum UnaryOpCode` in kernels/common.cuh.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Relu,
    Sigmoid,
    Tanh,
    /// The exact (erf) GELU, PyTorch's default.
    Gelu,
    Sqrt,
    Abs,
    Sign,
    /// x^p for a scalar p.
    Powf(f32),
    /// mul·x + add.
    Affine { mul: f32, add: f32 },
    /// x·σ(1.702·x), the GELU approximation OpenAI's CLIP was trained with (`quick_gelu` in HF).
    QuickGelu,
}

impl UnaryOp {
    pub fn code(self) -> u32 {
        match self {
            UnaryOp::Neg => 0,
            UnaryOp::Exp => 1,
            UnaryOp::Log => 2,
            UnaryOp::Relu => 3,
            UnaryOp::Sigmoid => 4,
            UnaryOp::Tanh => 5,
            UnaryOp::Gelu => 6,
            UnaryOp::Sqrt => 7,
            UnaryOp::Abs => 8,
            UnaryOp::Sign => 9,
            UnaryOp::Powf(_) => 10,
            UnaryOp::Affine { .. } => 11,
            UnaryOp::QuickGelu => 12,
        }
    }

    /// The scalar parameters passed to the kernel (unused ones are zero).
    pub fn params(self) -> (f32, f32) {
        match self {
            UnaryOp::Powf(p) => (p, 0.0),
            UnaryOp::Affine { mul, add } => (mul, add),
            _ => (0.0, 0.0),
        }
    }
}

/// Element-wise functions of two tensors (broadcast). The `*Backward` ops fuse an activation's
/// derivative with the incoming gradient: `a` is the activation's input (or output), `b` the gradient.
/// Codes match `enum BinaryOpCode` in kernels/common.cuh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    /// 1 where a == b, else 0 (not differentiable).
    Equal = 4,
    /// b · [a > 0], a = relu's input.
    ReluBackward = 5,
    /// b · a(1 − a), a = sigmoid's output.
    SigmoidBackward = 6,
    /// b · (1 − a²), a = tanh's output.
    TanhBackward = 7,
    /// b · gelu'(a), a = gelu's input.
    GeluBackward = 8,
    /// b · quick_gelu'(a), a = quick_gelu's input.
    QuickGeluBackward = 9,
}

/// Reductions along one axis. Codes match `enum ReduceOpCode` in kernels/common.cuh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum = 0,
    Max = 1,
    /// The index of the first maximum, as i32.
    ArgMax = 2,
}
