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
//! own: per step one product over the block's rows ([rows, H]·[H, 4H] forward, [rows, 4H]·[4H, H]
//! backward, lstm_step_product.rs) on strided views of the [B, T, ·] buffers, then the pointwise
//! cell update (vectorised at the CPU's widest width). When nothing needs a gradient the forward
//! keeps neither gates nor cells (lstm_inference.rs, the same arithmetic on per-task scratch).
use rayon::prelude::*;

use super::buffer_pool;
use super::lstm_step_product::{product, Output, Rows};

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
    let shifted = x * std::f32::consts::LOG2_E + SHIFTER;
    let n = shifted - SHIFTER;
    let r = (x - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let z = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 0.5) * z + r + 1.0;
    // n as an integer, read from the low mantissa bits of `shifted` (1.5·2^23 + n): the same value
    // as `n as i32`, but integer arithmetic that vectorises (the saturating cast was scalar code).
    let n_integer = shifted.to_bits() as i32 - SHIFTER.to_bits() as i32;
    p * f32::from_bits(((n_integer + 127) as u32) << 23)
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
/// rows through every time step on its own (one small product and one pointwise pass per step, no
/// synchronisation between steps). The count is fixed, not derived from the thread count, so the
/// same products run whatever the pool size: results are bit-identical on any number of threads.
pub(super) const ROWS_PER_TASK: usize = 16;

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
    // Every element of the three is written below (each row, each step), so none is zero-filled.
    let mut outputs = buffer_pool::for_overwrite(batch * steps * hidden);
    let mut gates = buffer_pool::for_overwrite(batch * steps * gate_width);
    let mut cells = buffer_pool::for_overwrite(batch * steps * hidden);
    let (w_hh_t, w_hh_t_rows) = transposed_recurrent_weights(w_hh, hidden);
    outputs
        .par_chunks_mut(ROWS_PER_TASK * state_row)
        .zip(cells.par_chunks_mut(ROWS_PER_TASK * state_row))
        .zip(gates.par_chunks_mut(ROWS_PER_TASK * gate_row).zip(x_proj.par_chunks(ROWS_PER_TASK * gate_row)))
        .for_each(|((task_out, task_cells), (task_gates, task_x_proj))| {
            let rows = task_out.len() / state_row;
            for t in 0..steps {
                // The pre-activations start as x_proj[:, t], copied just before the step's product
                // adds h[t−1]·W_hhᵀ to them in place (while they are in L1; a copy of all of x_proj
                // up front went out to memory and came back), then the pointwise update replaces
                // them with the activations.
                for row in 0..rows {
                    let at = row * gate_row + t * gate_width;
                    task_gates[at..at + gate_width].copy_from_slice(&task_x_proj[at..at + gate_width]);
                }
                if t + 1 < steps {
                    prefetch_rows(task_x_proj, rows, gate_row, (t + 1) * gate_width, gate_width);
                }
                if t > 0 && hidden > 0 {
                    // a[:, t] += h[:, t−1] (rows×H, rows T·H apart) · W_hhᵀ (H×4H).
                    product(rows, hidden, gate_width, task_out, Rows { offset: (t - 1) * hidden, stride: steps * hidden }, &w_hh_t, w_hh_t_rows, task_gates, Rows { offset: t * gate_width, stride: steps * gate_width }, Output::Accumulate);
                }
                for row in 0..rows {
                    let a = &mut task_gates[row * gate_row + t * gate_width..][..gate_width];
                    let row_cells = &mut task_cells[row * state_row..][..state_row];
                    let (before, now) = row_cells.split_at_mut(t * hidden);
                    let c_previous = if t > 0 { Some(&before[(t - 1) * hidden..]) } else { None };
                    let h_now = &mut task_out[row * state_row + t * hidden..][..hidden];
                    cell_forward(a, c_previous, &mut now[..hidden], h_now);
                }
            }
        });
    buffer_pool::give(w_hh_t);
    LstmForward { outputs, gates, cells }
}

/// Asks the CPU to bring `len` values at `offset` of each of a task's `rows` rows (`row_stride`
/// apart) into L1: the next step's x_proj rows, fetched while this step computes. They are 1 KB runs
/// 64 KB apart (at T = 64, 4H = 256), which the hardware prefetchers do not predict, and the copy
/// that reads them otherwise waits on memory (9 % of the inference forward). A hint only: it changes
/// no value.
pub(super) fn prefetch_rows(values: &[f32], rows: usize, row_stride: usize, offset: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for row in 0..rows {
        let start = row * row_stride + offset;
        let Some(run) = values.get(start..start + len) else { return };
        // One request per 64-byte line (16 f32).
        for line in run.chunks(16) {
            // SAFETY: SSE is part of x86_64's baseline, and a prefetch never faults.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (values, rows, row_stride, offset, len);
}

/// W_hhᵀ [H, 4H] in a pooled buffer (hand it back with `buffer_pool::give`), its rows `.stride`
/// apart, made once per forward so each step's product reads its rows in place.
pub(super) fn transposed_recurrent_weights(w_hh: &[f32], hidden: usize) -> (Vec<f32>, Rows) {
    let gate_width = 4 * hidden;
    // Rows one cache line longer than 4H: at 4H = 256 they would be 1 KB apart, so a product's
    // column strip (H rows × 64 columns, 16 KB) would fall in 16 of L1's 64 sets, 16 lines each,
    // more than its 12 ways, and miss on every pass; shifted by a line, the rows spread over all sets.
    let stride = gate_width + 16;
    (super::matmul::transposed_copy(w_hh, gate_width, hidden, stride), Rows { offset: 0, stride })
}

/// The gradient with respect to the gate pre-activations, da [B, T, 4H], which is also the gradient
/// of x_proj; the caller turns it into dW_hh = Σ_t da[t]ᵀ·h[t−1] with one matmul.
pub fn backward(d_outputs: &[f32], gates: &[f32], cells: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> Vec<f32> {
    let gate_width = 4 * hidden;
    let (gate_row, state_row) = ((steps * gate_width).max(1), (steps * hidden).max(1));
    let mut d_gates = buffer_pool::zeros(batch * steps * gate_width);
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
                    let (da_i, rest) = task_da[row * gate_row + t * gate_width..][..gate_width].split_at_mut(hidden);
                    let (da_f, rest) = rest.split_at_mut(hidden);
                    let (da_g, da_o) = rest.split_at_mut(hidden);
                    let row_cells = &task_cells[row * state_row..][..state_row];
                    let c_now = &row_cells[t * hidden..][..hidden];
                    let c_before = if t > 0 { &row_cells[(t - 1) * hidden..][..hidden] } else { &zero_cells[..] };
                    let dout = &task_dout[row * state_row + t * hidden..][..hidden];
                    let dh_rec = &dh_recurrent[row * hidden..][..hidden];
                    let dc_carry = &mut dc_next[row * hidden..][..hidden];
                    cell_backward(CellBackward { gate, c_now, c_before, d_out: dout, dh_recurrent: dh_rec, dc_carry, d_gates: (da_i, da_f, da_g, da_o) });
                }
                if t > 0 && hidden > 0 {
                    // dh_rec (rows×H) = da[:, t] (rows×4H, rows T·4H apart) · W_hh (4H×H).
                    product(rows, gate_width, hidden, task_da, Rows { offset: t * gate_width, stride: steps * gate_width }, w_hh, Rows { offset: 0, stride: hidden }, &mut dh_recurrent, Rows { offset: 0, stride: hidden }, Output::Replace);
                }
            }
        });
    d_gates
}

/// One row's cell update at one step: `a` holds the pre-activations (i, f, g, o) and becomes the
/// activations; c_now = f⊙c_previous + i⊙g (c_previous = 0 at the first step); h_now = o⊙tanh(c_now).
/// Runs the same arithmetic whichever vector width is picked (no FMA contraction), so the result
/// does not depend on the CPU.
pub(super) fn cell_forward(a: &mut [f32], c_previous: Option<&[f32]>, c_now: &mut [f32], h_now: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { cell_forward_avx512(a, c_previous, c_now, h_now) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { cell_forward_avx2(a, c_previous, c_now, h_now) };
        }
    }
    cell_forward_body(a, c_previous, c_now, h_now)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn cell_forward_avx512(a: &mut [f32], c_previous: Option<&[f32]>, c_now: &mut [f32], h_now: &mut [f32]) {
    cell_forward_body(a, c_previous, c_now, h_now)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn cell_forward_avx2(a: &mut [f32], c_previous: Option<&[f32]>, c_now: &mut [f32], h_now: &mut [f32]) {
    cell_forward_body(a, c_previous, c_now, h_now)
}

/// Each gate a contiguous run of H and plain loops with no calls (`exp` is plain arithmetic), so the
/// compiler vectorises them at whatever width the caller was compiled for.
#[inline(always)]
fn cell_forward_body(a: &mut [f32], c_previous: Option<&[f32]>, c_now: &mut [f32], h_now: &mut [f32]) {
    let hidden = c_now.len();
    let (ifg, o) = a.split_at_mut(3 * hidden);
    let (if_, g) = ifg.split_at_mut(2 * hidden);
    if_.iter_mut().for_each(|v| *v = sigmoid(*v));
    o.iter_mut().for_each(|v| *v = sigmoid(*v));
    g.iter_mut().for_each(|v| *v = tanh(*v));
    let (i, f) = if_.split_at(hidden);
    // Zipped iterators, not indices: no bounds checks, so these loops vectorise too.
    match c_previous {
        Some(c_previous) => {
            for (((c, &f), &c_previous), (&i, &g)) in c_now.iter_mut().zip(f).zip(c_previous).zip(i.iter().zip(g.iter())) {
                *c = f * c_previous + i * g;
            }
        }
        None => {
            for ((c, &f), (&i, &g)) in c_now.iter_mut().zip(f).zip(i.iter().zip(g.iter())) {
                *c = f * 0.0 + i * g;
            }
        }
    }
    for ((h, &o), &c) in h_now.iter_mut().zip(o.iter()).zip(c_now.iter()) {
        *h = o * tanh(c);
    }
}

/// One row's BPTT rule at one step (the equations in the header), each slice H long except `gate`
/// (the activations i, f, g, o, 4H).
struct CellBackward<'a> {
    gate: &'a [f32],
    c_now: &'a [f32],
    c_before: &'a [f32],
    d_out: &'a [f32],
    dh_recurrent: &'a [f32],
    dc_carry: &'a mut [f32],
    d_gates: (&'a mut [f32], &'a mut [f32], &'a mut [f32], &'a mut [f32]),
}

fn cell_backward(cell: CellBackward) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { cell_backward_avx512(cell) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { cell_backward_avx2(cell) };
        }
    }
    cell_backward_body(cell)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn cell_backward_avx512(cell: CellBackward) {
    cell_backward_body(cell)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn cell_backward_avx2(cell: CellBackward) {
    cell_backward_body(cell)
}

#[inline(always)]
fn cell_backward_body(cell: CellBackward) {
    let CellBackward { gate, c_now, c_before, d_out, dh_recurrent, dc_carry, d_gates: (da_i, da_f, da_g, da_o) } = cell;
    let hidden = c_now.len();
    let (i, f, g, o) = (&gate[..hidden], &gate[hidden..2 * hidden], &gate[2 * hidden..3 * hidden], &gate[3 * hidden..4 * hidden]);
    let (c_before, d_out, dh_recurrent, dc_carry) = (&c_before[..hidden], &d_out[..hidden], &dh_recurrent[..hidden], &mut dc_carry[..hidden]);
    let (da_i, da_f, da_g, da_o) = (&mut da_i[..hidden], &mut da_f[..hidden], &mut da_g[..hidden], &mut da_o[..hidden]);
    for j in 0..hidden {
        let c_previous = c_before[j];
        let tanh_c = tanh(c_now[j]);
        let dh = d_out[j] + dh_recurrent[j];
        let dc = dc_carry[j] + dh * o[j] * (1.0 - tanh_c * tanh_c);
        da_i[j] = dc * g[j] * i[j] * (1.0 - i[j]);
        da_f[j] = dc * c_previous * f[j] * (1.0 - f[j]);
        da_g[j] = dc * i[j] * (1.0 - g[j] * g[j]);
        da_o[j] = dh * tanh_c * o[j] * (1.0 - o[j]);
        dc_carry[j] = dc * f[j];
    }
}
