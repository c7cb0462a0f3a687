//! The LSTM recurrence as ONE op on the tape: the whole sequence forward (saving gate activations and
//! cell states), and one backward rule that runs backpropagation through time in reverse.
//!
//! The input projection x·W_ihᵀ + b_ih + b_hh of all time steps is not part of this op: it is one
//! matmul over [B·T, in] done before (see `nn::Lstm`), so only the truly sequential part is here.
//! Gate order and weight layout are PyTorch's: W_hh is [4H, H] with rows (i, f, g, o). Initial
//! hidden and cell states are zero. f32 only (the recurrence accumulates over time steps).
use crate::autograd;
use crate::backend::dispatch;
use crate::tensor::{DType, Layout, Tensor};
use crate::{Error, Result};

/// Batch, time steps and hidden size of one recurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmDims {
    pub batch: usize,
    pub steps: usize,
    pub hidden: usize,
}

impl Tensor {
    /// `self` is x_proj [B, T, 4H] (the input projection plus both biases); `w_hh` is [4H, H].
    /// Returns the hidden states of every step, [B, T, H]; the last step is the final hidden state.
    pub fn lstm_recurrence(&self, w_hh: &Tensor) -> Result<Tensor> {
        if self.rank() != 3 || w_hh.rank() != 2 {
            return Err(Error::shape("lstm", format!("needs x_proj [batch, steps, 4·hidden] and w_hh [4·hidden, hidden], got {:?} and {:?}", self.shape(), w_hh.shape())));
        }
        let (batch, steps, gate_width) = (self.shape()[0], self.shape()[1], self.shape()[2]);
        let hidden = w_hh.shape()[1];
        if w_hh.shape()[0] != 4 * hidden || gate_width != 4 * hidden {
            return Err(Error::shape("lstm", format!("w_hh {:?} must be [4·hidden, hidden] and x_proj's last axis 4·hidden, x_proj is {:?}", w_hh.shape(), self.shape())));
        }
        if self.dtype() != DType::F32 || w_hh.dtype() != DType::F32 {
            return Err(Error::dtype("lstm", format!("the recurrence runs in f32, got x_proj {} and w_hh {}", self.dtype(), w_hh.dtype())));
        }
        if self.device() != w_hh.device() {
            return Err(Error::DeviceMismatch { op: "lstm", lhs: self.device(), rhs: w_hh.device() });
        }
        let dims = LstmDims { batch, steps, hidden };
        let (x_proj, weights) = (self.contiguous()?.detach(), w_hh.contiguous()?.detach());
        if !(autograd::is_recording() && (self.requires_grad() || w_hh.requires_grad())) {
            // No backward will run (the condition under which `from_op_output` records nothing),
            // so the gates and cells BPTT needs are not kept.
            let outputs = dispatch::lstm_inference(&x_proj, &weights, dims)?;
            return Ok(Tensor::from_storage(outputs, Layout::contiguous(&[batch, steps, hidden]), false));
        }
        let saved = dispatch::lstm_forward(&x_proj, &weights, dims)?;
        let outputs = Tensor::from_storage(saved.outputs, Layout::contiguous(&[batch, steps, hidden]), false);
        let gates = Tensor::from_storage(saved.gates, Layout::contiguous(&[batch, steps, 4 * hidden]), false);
        let cells = Tensor::from_storage(saved.cells, Layout::contiguous(&[batch, steps, hidden]), false);
        let (saved_outputs, weights_need_grad) = (outputs.clone(), w_hh.requires_grad());
        Ok(Tensor::from_op_output(outputs, &[self, w_hh], move |g| {
            let g = g.contiguous()?;
            let d_gates_storage = dispatch::lstm_backward(&g, &gates, &cells, &weights, dims)?;
            let d_gates = Tensor::from_storage(d_gates_storage, Layout::contiguous(&[batch, steps, 4 * hidden]), false);
            let d_w_hh = if weights_need_grad { Some(recurrent_weight_gradient(&d_gates, &saved_outputs, dims)?) } else { None };
            Ok(vec![Some(d_gates), d_w_hh])
        }))
    }
}

/// dW_hh = Σ_t da[t]ᵀ·h[t−1] = da[:, 1..]ᵀ · h[:, ..T−1] over all batch rows, as one matmul
/// (h[−1] = 0 drops the first step).
fn recurrent_weight_gradient(d_gates: &Tensor, outputs: &Tensor, dims: LstmDims) -> Result<Tensor> {
    let LstmDims { batch, steps, hidden } = dims;
    if steps < 2 {
        return Tensor::zeros(&[4 * hidden, hidden], DType::F32, d_gates.device());
    }
    let rows = batch * (steps - 1);
    let later_gates = d_gates.narrow(1, 1, steps - 1)?.reshape(&[rows, 4 * hidden])?;
    let earlier_hidden = outputs.narrow(1, 0, steps - 1)?.reshape(&[rows, hidden])?;
    later_gates.t()?.matmul(&earlier_hidden)
}
