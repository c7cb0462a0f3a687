//! Embeddings → 2-D points for the report's scatter plots. This is the report's only contact with a
//! t-SNE implementation: swap the call here to change it. The exact t-SNE (viz::tsne) costs O(n²)
//! per iteration, so at most [`MAX_POINTS`] records are mapped (an evenly spaced subset).
use crate::viz::tsne::tsne;

pub const MAX_POINTS: usize = 1500;
const PERPLEXITY: f32 = 30.0;
const ITERATIONS: usize = 500;

/// The indices of the records that get mapped: all of them, or every k-th.
pub fn selected_rows(n: usize) -> Vec<usize> {
    if n <= MAX_POINTS {
        (0..n).collect()
    } else {
        (0..MAX_POINTS).map(|i| i * n / MAX_POINTS).collect()
    }
}

/// `embeddings`: `[n, dim]` row-major. Returns one point per row of `rows`.
pub fn embedding_map(embeddings: &[f32], dim: usize, rows: &[usize], seed: u64) -> Vec<[f32; 2]> {
    let subset: Vec<f32> = rows.iter().flat_map(|&row| embeddings[row * dim..(row + 1) * dim].iter().copied()).collect();
    tsne(&subset, rows.len(), dim, PERPLEXITY, ITERATIONS, seed)
}
