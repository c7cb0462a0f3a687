//! The LSTM recurrence, the reference for kernels/lstm.cu. PyTorch's gate order (i, f, g, o) along
//! the 4H axis; zero initial states. The input projection (x·W_ihᵀ + b_ih + b_hh for every step) is
//! computed before, as one matmul, so the recurrence sees `x_proj` [B, T, 4H].
//!
//! Forward, per batch row and step t (σ = sigmoid):
//!   a = x_proj[t] + W_hh·h[t−1];  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
//!   c[t] = f⊙c[t−1] + i⊙g;  h[t] = o⊙tanh(c[t])
//! Backward, from t = T−1 down to 0, with dh_rec = W_hhᵀ·da[t+1] (zero at the last step):
//!   dh = d_out[t] + dh_rec;  dc = dc_next + dh⊙o⊙(1 − tanh²c[t])
//!   da_i = dc⊙g⊙i(1−i), da_f = dc⊙c[t−1]⊙f(1−f), da_g = dc⊙i⊙(1−g²), da_o = dh⊙tanh(c[t])⊙o(1−o)
//!   dc_next = dc⊙f
use rayon::prelude::*;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// What the forward keeps for BPTT, all [B, T, ·] row-major.
pub struct LstmForward {
    pub outputs: Vec<f32>,
    /// Gate activations (i, f, g, o after their nonlinearity), [B, T, 4H].
    pub gates: Vec<f32>,
    /// Cell states, [B, T, H].
    pub cells: Vec<f32>,
}

/// x_proj: [B, T, 4H]; w_hh: [4H, H]. Batch rows are independent, so they run in parallel.
pub fn forward(x_proj: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> LstmForward {
    let gate_width = 4 * hidden;
    let mut outputs = vec![0.0f32; batch * steps * hidden];
    let mut gates = vec![0.0f32; batch * steps * gate_width];
    let mut cells = vec![0.0f32; batch * steps * hidden];
    // One batch row: its outputs, gates and cells to fill, and its x_proj to read.
    type RowBuffers<'a> = ((&'a mut [f32], &'a mut [f32]), (&'a mut [f32], &'a [f32]));
    let per_row = |((row_out, row_gates), (row_cells, row_x)): RowBuffers| {
        let mut h = vec![0.0f32; hidden];
        let mut c = vec![0.0f32; hidden];
        for t in 0..steps {
            let a = &mut row_gates[t * gate_width..(t + 1) * gate_width];
            for (r, a_r) in a.iter_mut().enumerate() {
                let w_row = &w_hh[r * hidden..(r + 1) * hidden];
                *a_r = row_x[t * gate_width + r] + w_row.iter().zip(&h).map(|(w, h)| w * h).sum::<f32>();
            }
            for j in 0..hidden {
                let (i, f, g, o) = (sigmoid(a[j]), sigmoid(a[hidden + j]), a[2 * hidden + j].tanh(), sigmoid(a[3 * hidden + j]));
                a[j] = i;
                a[hidden + j] = f;
                a[2 * hidden + j] = g;
                a[3 * hidden + j] = o;
                c[j] = f * c[j] + i * g;
                h[j] = o * c[j].tanh();
            }
            row_out[t * hidden..(t + 1) * hidden].copy_from_slice(&h);
            row_cells[t * hidden..(t + 1) * hidden].copy_from_slice(&c);
        }
    };
    let row = steps * hidden;
    outputs
        .par_chunks_mut(row.max(1))
        .zip(gates.par_chunks_mut((steps * gate_width).max(1)))
        .zip(cells.par_chunks_mut(row.max(1)).zip(x_proj.par_chunks((steps * gate_width).max(1))))
        .for_each(per_row);
    LstmForward { outputs, gates, cells }
}

/// The gradient with respect to the gate pre-activations, da [B, T, 4H], which is also the gradient
/// of x_proj; the caller turns it into dW_hh = Σ_t da[t]ᵀ·h[t−1] with one matmul.
pub fn backward(d_outputs: &[f32], gates: &[f32], cells: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> Vec<f32> {
    let gate_width = 4 * hidden;
    let mut d_gates = vec![0.0f32; batch * steps * gate_width];
    let row = steps * hidden;
    d_gates
        .par_chunks_mut((steps * gate_width).max(1))
        .zip(d_outputs.par_chunks(row.max(1)).zip(gates.par_chunks((steps * gate_width).max(1)).zip(cells.par_chunks(row.max(1)))))
        .for_each(|(row_da, (row_dout, (row_gates, row_cells)))| {
            let mut dh_recurrent = vec![0.0f32; hidden];
            let mut dc_next = vec![0.0f32; hidden];
            for t in (0..steps).rev() {
                let gate = &row_gates[t * gate_width..(t + 1) * gate_width];
                let da = &mut row_da[t * gate_width..(t + 1) * gate_width];
                for j in 0..hidden {
                    let (i, f, g, o) = (gate[j], gate[hidden + j], gate[2 * hidden + j], gate[3 * hidden + j]);
                    let c = row_cells[t * hidden + j];
                    let c_previous = if t > 0 { row_cells[(t - 1) * hidden + j] } else { 0.0 };
                    let tanh_c = c.tanh();
                    let dh = row_dout[t * hidden + j] + dh_recurrent[j];
                    let dc = dc_next[j] + dh * o * (1.0 - tanh_c * tanh_c);
                    da[j] = dc * g * i * (1.0 - i);
                    da[hidden + j] = dc * c_previous * f * (1.0 - f);
                    da[2 * hidden + j] = dc * i * (1.0 - g * g);
                    da[3 * hidden + j] = dh * tanh_c * o * (1.0 - o);
                    dc_next[j] = dc * f;
                }
                // dh_rec[k] = Σ_r da[r]·W_hh[r, k]
                dh_recurrent.iter_mut().for_each(|v| *v = 0.0);
                for (r, &da_r) in da.iter().enumerate() {
                    let w_row = &w_hh[r * hidden..(r + 1) * hidden];
                    dh_recurrent.iter_mut().zip(w_row).for_each(|(d, &w)| *d += da_r * w);
                }
            }
        });
    d_gates
}
