//! The LSTM recurrence, the reference for kernels/lstm.cu. PyTorch's gate order (i, f, g, o) along
//! the 4H axis; zero initial states. The input projection (x·W_ihᵀ + b_ih + b_hh for every step) is
//! computed before, as one matmul, so the recurrence sees `x_proj` [B, T, 4H].
//!
//! Forward, per step t over the whole batch (σ = sigmoid):
//!   a = x_proj[t] + h[t−1]·W_hhᵀ;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
//!   c[t] = f⊙c[t−1] + i⊙g;  h[t] = o⊙tanh(c[t])
//! Backward, from t = T−1 down to 0, with dh_rec = da[t+1]·W_hh (zero at the last step):
//!   dh = d_out[t] + dh_rec;  dc = dc_next + dh⊙o⊙(1 − tanh²c[t])
//!   da_i = dc⊙g⊙i(1−i), da_f = dc⊙c[t−1]⊙f(1−f), da_g = dc⊙i⊙(1−g²), da_o = dh⊙tanh(c[t])⊙o(1−o)
//!   dc_next = dc⊙f
//!
//! Each step is one batched GEMM ([B, H]·[H, 4H] forward, [B, 4H]·[4H, H] backward) on strided
//! views of the [B, T, ·] buffers, then the pointwise cell update with batch rows in parallel.
use rayon::prelude::*;

use super::matmul::{gemm, Strided};

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// tanh through one `exp`: libm's tanhf (through expm1f) was a third of a CPU training step. The
/// absolute error stays below 2e-7 (cancellation near 0 costs relative, not absolute, accuracy), and
/// exp's overflow to ∞ or 0 at large |x| gives exactly ±1.
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / ((2.0 * x).exp() + 1.0)
}

/// Batch rows per rayon task in the pointwise updates: one row of a small LSTM is too little work
/// to be worth a task of its own.
fn rows_per_task(hidden: usize) -> usize {
    (4096 / hidden.max(1)).max(1)
}

/// What the forward keeps for BPTT, all [B, T, ·] row-major.
pub struct LstmForward {
    pub outputs: Vec<f32>,
    /// Gate activations (i, f, g, o after their nonlinearity), [B, T, 4H].
    pub gates: Vec<f32>,
    /// Cell states, [B, T, H].
    pub cells: Vec<f32>,
}

/// x_proj: [B, T, 4H]; w_hh: [4H, H].
pub fn forward(x_proj: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> LstmForward {
    let gate_width = 4 * hidden;
    let (gate_row, state_row) = ((steps * gate_width).max(1), (steps * hidden).max(1));
    let mut outputs = vec![0.0f32; batch * steps * hidden];
    // The pre-activations start as x_proj; each step adds h[t−1]·W_hhᵀ in place, then the pointwise
    // update replaces them with the activations.
    let mut gates = x_proj.to_vec();
    let mut cells = vec![0.0f32; batch * steps * hidden];
    for t in 0..steps {
        if t > 0 && hidden > 0 {
            // a[:, t] += h[:, t−1] (B×H, rows T·H apart) · W_hhᵀ (H×4H).
            gemm(batch, hidden, gate_width, &outputs, Strided::rows((t - 1) * hidden, steps * hidden), w_hh, Strided::transposed_rows(0, hidden), 1.0, &mut gates, Strided::rows(t * gate_width, steps * gate_width));
        }
        outputs
            .par_chunks_mut(state_row)
            .zip(cells.par_chunks_mut(state_row))
            .zip(gates.par_chunks_mut(gate_row))
            .with_min_len(rows_per_task(hidden))
            .for_each(|((row_out, row_cells), row_gates)| {
                let a = &mut row_gates[t * gate_width..(t + 1) * gate_width];
                for j in 0..hidden {
                    let (i, f, g, o) = (sigmoid(a[j]), sigmoid(a[hidden + j]), tanh(a[2 * hidden + j]), sigmoid(a[3 * hidden + j]));
                    a[j] = i;
                    a[hidden + j] = f;
                    a[2 * hidden + j] = g;
                    a[3 * hidden + j] = o;
                    let c_previous = if t > 0 { row_cells[(t - 1) * hidden + j] } else { 0.0 };
                    let c = f * c_previous + i * g;
                    row_cells[t * hidden + j] = c;
                    row_out[t * hidden + j] = o * tanh(c);
                }
            });
    }
    LstmForward { outputs, gates, cells }
}

/// The gradient with respect to the gate pre-activations, da [B, T, 4H], which is also the gradient
/// of x_proj; the caller turns it into dW_hh = Σ_t da[t]ᵀ·h[t−1] with one matmul.
pub fn backward(d_outputs: &[f32], gates: &[f32], cells: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> Vec<f32> {
    let gate_width = 4 * hidden;
    let (gate_row, state_row) = ((steps * gate_width).max(1), (steps * hidden).max(1));
    let mut d_gates = vec![0.0f32; batch * steps * gate_width];
    // dh_rec = da[t+1]·W_hh and dc_next, [B, H] each, carried from step t+1 down to step t.
    let mut dh_recurrent = vec![0.0f32; batch * hidden];
    let mut dc_next = vec![0.0f32; batch * hidden];
    for t in (0..steps).rev() {
        d_gates
            .par_chunks_mut(gate_row)
            .zip(dc_next.par_chunks_mut(hidden.max(1)))
            .zip(d_outputs.par_chunks(state_row).zip(gates.par_chunks(gate_row)).zip(cells.par_chunks(state_row).zip(dh_recurrent.par_chunks(hidden.max(1)))))
            .with_min_len(rows_per_task(hidden))
            .for_each(|((row_da, row_dc_next), ((row_dout, row_gates), (row_cells, row_dh_recurrent)))| {
                let gate = &row_gates[t * gate_width..(t + 1) * gate_width];
                let da = &mut row_da[t * gate_width..(t + 1) * gate_width];
                for j in 0..hidden {
                    let (i, f, g, o) = (gate[j], gate[hidden + j], gate[2 * hidden + j], gate[3 * hidden + j]);
                    let c = row_cells[t * hidden + j];
                    let c_previous = if t > 0 { row_cells[(t - 1) * hidden + j] } else { 0.0 };
                    let tanh_c = tanh(c);
                    let dh = row_dout[t * hidden + j] + row_dh_recurrent[j];
                    let dc = row_dc_next[j] + dh * o * (1.0 - tanh_c * tanh_c);
                    da[j] = dc * g * i * (1.0 - i);
                    da[hidden + j] = dc * c_previous * f * (1.0 - f);
                    da[2 * hidden + j] = dc * i * (1.0 - g * g);
                    da[3 * hidden + j] = dh * tanh_c * o * (1.0 - o);
                    row_dc_next[j] = dc * f;
                }
            });
        if t > 0 && hidden > 0 {
            // dh_rec (B×H) = da[:, t] (B×4H, rows T·4H apart) · W_hh (4H×H).
            gemm(batch, gate_width, hidden, &d_gates, Strided::rows(t * gate_width, steps * gate_width), w_hh, Strided::rows(0, hidden), 0.0, &mut dh_recurrent, Strided::rows(0, hidden));
        }
    }
    d_gates
}
