//! The parameter types the backends share: matrix operand strides and GEMM dimensions, and the
//! optimisers' per-step hyper-parameters. They sit below both `dispatch` and the backends, so the
//! backends need not import from the file that imports them.

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

/// Adam's hyper-parameters for one step (`struct AdamHyper` of kernels/optim.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AdamHyper {
    pub learning_rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    pub bias_correction1: f32,
    pub bias_correction2: f32,
    pub grad_scale: f32,
    pub decoupled_weight_decay: i32,
}

/// SGD's hyper-parameters for one step (`struct SgdHyper` of kernels/optim.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SgdHyper {
    pub learning_rate: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub grad_scale: f32,
}
