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
//! Batch rows are cut into fixed blocks, one rayon task each, that run the whole sequence on their
//! own: per step one GEMM over the block's rows ([rows, H]·[H, 4H] forward, [rows, 4H]·[4H, H]
//! backward) on strided views of the [B, T, ·] buffers, then the pointwise cell update.
use rayon::prelude::*;

use super::matmul::{gemm, Strided};

/// e^x from arithmetic and bit operations only (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a
/// degree-7 polynomial, 2^n put into the exponent bits), so the loops that call it vectorise:
/// libm's expf is a scalar call, and the gate nonlinearities were most of the pointwise work.
/// Within 2 ulp of expf over the clamped range; the clamp keeps 2^n a normal float, which is why
/// large |x| still give sigmoid → 0 or 1 and tanh → ±1 exactly as before.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    // Round x·log2(e) to the nearest integer by the 1.5·2^23 trick (`round` is a libm call on SSE2).
    const SHIFTER: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFTER) - SHIFTER;
    let r = (x - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let z = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 0.5) * z + r + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh through one `exp` (libm's tanhf, through expm1f, was a third of a CPU training step). The
/// absolute error stays below 3e-7 (cancellation near 0 costs relative, not absolute, accuracy).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// Batch rows per rayon task. Batch rows are independent in the recurrence, so each task runs its
/// rows through every time step on its own (one small GEMM and one pointwise pass per step, no
/// synchronisation between steps). The count is fixed, not derived from the thread count, so the
/// same GEMM calls run whatever the pool size: results are bit-identical on any number of threads.
const ROWS_PER_TASK: usize = 16;

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
    outputs
        .par_chunks_mut(ROWS_PER_TASK * state_row)
        .zip(cells.par_chunks_mut(ROWS_PER_TASK * state_row))
        .zip(gates.par_chunks_mut(ROWS_PER_TASK * gate_row))
        .for_each(|((task_out, task_cells), task_gates)| {
            let rows = task_out.len() / state_row;
            for t in 0..steps {
                if t > 0 && hidden > 0 {
                    // a[:, t] += h[:, t−1] (rows×H, rows T·H apart) · W_hhᵀ (H×4H).
                    gemm(rows, hidden, gate_width, task_out, Strided::rows((t - 1) * hidden, steps * hidden), w_hh, Strided::transposed_rows(0, hidden), 1.0, task_gates, Strided::rows(t * gate_width, steps * gate_width));
                }
                for row in 0..rows {
                    let a = &mut task_gates[row * gate_row + t * gate_width..][..gate_width];
                    // Activations in place, each gate a contiguous run of H (loops the compiler
                    // vectorises: `exp` above is plain arithmetic).
                    let (ifg, o) = a.split_at_mut(3 * hidden);
                    let (if_, g) = ifg.split_at_mut(2 * hidden);
                    if_.iter_mut().for_each(|v| *v = sigmoid(*v));
                    o.iter_mut().for_each(|v| *v = sigmoid(*v));
                    g.iter_mut().for_each(|v| *v = tanh(*v));
                    let (i, f) = if_.split_at(hidden);
                    let row_cells = &mut task_cells[row * state_row..][..state_row];
                    let (before, now) = row_cells.split_at_mut(t * hidden);
                    let c_now = &mut now[..hidden];
                    if t > 0 {
                        let c_previous = &before[(t - 1) * hidden..];
                        for j in 0..hidden {
                            c_now[j] = f[j] * c_previous[j] + i[j] * g[j];
                        }
                    } else {
                        for j in 0..hidden {
                            c_now[j] = f[j] * 0.0 + i[j] * g[j];
                        }
                    }
                    let h_now = &mut task_out[row * state_row + t * hidden..][..hidden];
                    for j in 0..hidden {
                        h_now[j] = o[j] * tanh(c_now[j]);
                    }
                }
            }
        });
    LstmForward { outputs, gates, cells }
}

/// The gradient with respect to the gate pre-activations, da [B, T, 4H], which is also the gradient
/// of x_proj; the caller turns it into dW_hh = Σ_t da[t]ᵀ·h[t−1] with one matmul.
pub fn backward(d_outputs: &[f32], gates: &[f32], cells: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> Vec<f32> {
    let gate_width = 4 * hidden;
    let (gate_row, state_row) = ((steps * gate_width).max(1), (steps * hidden).max(1));
    let mut d_gates = vec![0.0f32; batch * steps * gate_width];
    d_gates
        .par_chunks_mut(ROWS_PER_TASK * gate_row)
        .zip(d_outputs.par_chunks(ROWS_PER_TASK * state_row))
        .zip(gates.par_chunks(ROWS_PER_TASK * gate_row).zip(cells.par_chunks(ROWS_PER_TASK * state_row)))
        .for_each(|((task_da, task_dout), (task_gates, task_cells))| {
            let rows = task_da.len() / gate_row;
            // dh_rec = da[t+1]·W_hh and dc_next, [rows, H] each, carried from step t+1 down to step t.
            let mut dh_recurrent = vec![0.0f32; rows * hidden];
            let mut dc_next = vec![0.0f32; rows * hidden];
            let zero_cells = vec![0.0f32; hidden];
            for t in (0..steps).rev() {
                for row in 0..rows {
                    let gate = &task_gates[row * gate_row + t * gate_width..][..gate_width];
                    let (i, f, g, o) = (&gate[..hidden], &gate[hidden..2 * hidden], &gate[2 * hidden..3 * hidden], &gate[3 * hidden..]);
                    let (da_i, rest) = task_da[row * gate_row + t * gate_width..][..gate_width].split_at_mut(hidden);
                    let (da_f, rest) = rest.split_at_mut(hidden);
                    let (da_g, da_o) = rest.split_at_mut(hidden);
                    let row_cells = &task_cells[row * state_row..][..state_row];
                    let c_now = &row_cells[t * hidden..][..hidden];
                    let c_before = if t > 0 { &row_cells[(t - 1) * hidden..][..hidden] } else { &zero_cells[..] };
                    let dout = &task_dout[row * state_row + t * hidden..][..hidden];
                    let dh_rec = &dh_recurrent[row * hidden..][..hidden];
                    let dc_carry = &mut dc_next[row * hidden..][..hidden];
                    // Plain slices of length H and no calls: the compiler vectorises this loop.
                    for j in 0..hidden {
                        let c_previous = c_before[j];
                        let tanh_c = tanh(c_now[j]);
                        let dh = dout[j] + dh_rec[j];
                        let dc = dc_carry[j] + dh * o[j] * (1.0 - tanh_c * tanh_c);
                        da_i[j] = dc * g[j] * i[j] * (1.0 - i[j]);
                        da_f[j] = dc * c_previous * f[j] * (1.0 - f[j]);
                        da_g[j] = dc * i[j] * (1.0 - g[j] * g[j]);
                        da_o[j] = dh * tanh_c * o[j] * (1.0 - o[j]);
                        dc_carry[j] = dc * f[j];
                    }
                }
                if t > 0 && hidden > 0 {
                    // dh_rec (rows×H) = da[:, t] (rows×4H, rows T·4H apart) · W_hh (4H×H).
                    gemm(rows, gate_width, hidden, task_da, Strided::rows(t * gate_width, steps * gate_width), w_hh, Strided::rows(0, hidden), 0.0, &mut dh_recurrent, Strided::rows(0, hidden));
                }
            }
        });
    d_gates
}
