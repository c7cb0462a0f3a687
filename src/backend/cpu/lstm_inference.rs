//! The LSTM recurrence's forward when nothing needs a gradient (no tape recording, or neither x_proj
//! nor W_hh requires one): only the hidden states [B, T, H] are made. The taped forward (lstm.rs)
//! keeps the gate activations [B, T, 4H] and the cell states [B, T, H] for BPTT: 5 MB written and
//! read back per layer at the text classifier's bench shape, where here each task's gates of one
//! step (rows × 4H, 16 KB) and its current and previous cell states live in scratch that stays in
//! L1 from step to step.
//!
//! Same tasks (ROWS_PER_TASK rows each), same per-step product, same cell update, in the same order
//! as the taped forward: the hidden states are bit-identical to its outputs
//! (`inference_forward_equals_the_taped_forward` below).
use rayon::prelude::*;

use super::buffer_pool;
use super::lstm::{cell_forward, prefetch_rows, transposed_recurrent_weights, ROWS_PER_TASK};
use super::lstm_step_product::{product, Output, Rows};

/// x_proj: [B, T, 4H]; w_hh: [4H, H] → the hidden states [B, T, H].
pub fn forward(x_proj: &[f32], w_hh: &[f32], batch: usize, steps: usize, hidden: usize) -> Vec<f32> {
    let gate_width = 4 * hidden;
    let (gate_row, state_row) = ((steps * gate_width).max(1), (steps * hidden).max(1));
    // Every element is written below (each row, each step).
    let mut outputs = buffer_pool::for_overwrite(batch * steps * hidden);
    let (w_hh_t, w_hh_t_rows) = transposed_recurrent_weights(w_hh, hidden);
    outputs.par_chunks_mut(ROWS_PER_TASK * state_row).zip(x_proj.par_chunks(ROWS_PER_TASK * gate_row)).for_each(|(task_out, task_x_proj)| {
        let rows = task_out.len() / state_row;
        // One step's pre-activations (then activations) of the task's rows, and c[t−1], c[t].
        let mut gates = buffer_pool::for_overwrite(rows * gate_width);
        let mut c_previous = buffer_pool::for_overwrite(rows * hidden);
        let mut c_now = buffer_pool::for_overwrite(rows * hidden);
        for t in 0..steps {
            for (row, row_gates) in gates.chunks_mut(gate_width.max(1)).enumerate() {
                row_gates.copy_from_slice(&task_x_proj[row * gate_row + t * gate_width..][..gate_width]);
            }
            if t + 1 < steps {
                prefetch_rows(task_x_proj, rows, gate_row, (t + 1) * gate_width, gate_width);
            }
            if t > 0 && hidden > 0 {
                // a += h[:, t−1] (rows×H, rows T·H apart) · W_hhᵀ (H×4H).
                product(rows, hidden, gate_width, task_out, Rows { offset: (t - 1) * hidden, stride: steps * hidden }, &w_hh_t, w_hh_t_rows, &mut gates, Rows { offset: 0, stride: gate_width }, Output::Accumulate);
            }
            for row in 0..rows {
                let a = &mut gates[row * gate_width..][..gate_width];
                let previous = if t > 0 { Some(&c_previous[row * hidden..][..hidden]) } else { None };
                let h_now = &mut task_out[row * state_row + t * hidden..][..hidden];
                cell_forward(a, previous, &mut c_now[row * hidden..][..hidden], h_now);
            }
            std::mem::swap(&mut c_previous, &mut c_now);
        }
        buffer_pool::give(gates);
        buffer_pool::give(c_previous);
        buffer_pool::give(c_now);
    });
    buffer_pool::give(w_hh_t);
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_forward_equals_the_taped_forward() {
        let mut rng = crate::util::Rng::new(11);
        // Odd sizes: a short last task (37 = 2·16 + 5 rows), one step, a single row, H not a
        // multiple of any vector width (the product's edge columns), and the bench's H = 64.
        for (batch, steps, hidden) in [(37, 9, 13), (5, 1, 7), (1, 4, 3), (17, 6, 64), (3, 0, 5)] {
            let x_proj: Vec<f32> = (0..batch * steps * 4 * hidden).map(|_| rng.uniform_in(-2.0, 2.0)).collect();
            let w_hh: Vec<f32> = (0..4 * hidden * hidden).map(|_| rng.uniform_in(-0.5, 0.5)).collect();
            let taped = super::super::lstm::forward(&x_proj, &w_hh, batch, steps, hidden);
            let inference = forward(&x_proj, &w_hh, batch, steps, hidden);
            assert_eq!(inference.len(), taped.outputs.len(), "B {batch} T {steps} H {hidden}");
            for (index, (a, b)) in inference.iter().zip(&taped.outputs).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "B {batch} T {steps} H {hidden}: index {index}: {a} vs {b}");
            }
        }
    }
}
