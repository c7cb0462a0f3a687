//! Embeddings → 2-D points for the report's scatter plots. This is the report's only contact with a
//! t-SNE implementation (viz::tsne, Barnes-Hut as sklearn's). At most [`MAX_POINTS`] records are
//! mapped (an evenly spaced subset), which keeps a report of many runs quick.
use crate::viz::tsne::{tsne, TsneOptions};

pub const MAX_POINTS: usize = 1500;

/// The indices of the records that get mapped: all of them, or every k-th.
pub fn selected_rows(n: usize) -> Vec<usize> {
    if n <= MAX_POINTS {
        (0..n).collect()
    } else {
        (0..MAX_POINTS).map(|i| i * n / MAX_POINTS).collect()
    }
}

/// `embeddings`: `[n, dim]` row-major. Returns one point per row of `rows`, from sklearn's default
/// settings, the perplexity lowered below a third of the points for small splits.
pub fn embedding_map(embeddings: &[f32], dim: usize, rows: &[usize], seed: u64) -> anyhow::Result<Vec<[f32; 2]>> {
    let subset: Vec<f32> = rows.iter().flat_map(|&row| embeddings[row * dim..(row + 1) * dim].iter().copied()).collect();
    let defaults = TsneOptions::default();
    let perplexity = defaults.perplexity.min((rows.len().saturating_sub(1) as f64 / 3.0).max(1.0));
    let options = TsneOptions { perplexity, seed, ..defaults };
    Ok(tsne(&subset, rows.len(), dim, &options)?.points)
}
