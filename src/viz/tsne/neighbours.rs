//! Exact k nearest neighbours under the Euclidean distance, by brute force.
//!
//! Squared distances come from ‖a‖² + ‖b‖² − 2·a·b with the dot products of a block of rows against
//! all rows as one GEMM (the project's CPU `gemm`), which is what makes 10,000 × 4,096 features
//! affordable; the k chosen are then re-measured directly in f64, so the distances returned carry
//! no cancellation error. Blocks run in parallel, each computed the same way on any thread, so the
//! result does not depend on the thread count.
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::backend::cpu::matmul::{gemm, Strided};

/// Rows per GEMM block: 256 × 10,000 distances are 10 MB of f32.
const BLOCK_ROWS: usize = 256;

/// The `k` nearest other rows of every row, nearest first: `neighbours[i * k + m]` is the index of
/// the m-th nearest neighbour of row i and `squared_distances[i * k + m]` its squared distance.
pub struct Neighbours {
    pub k: usize,
    pub indices: Vec<u32>,
    pub squared_distances: Vec<f64>,
}

impl Neighbours {
    pub fn of(&self, i: usize) -> (&[u32], &[f64]) {
        (&self.indices[i * self.k..(i + 1) * self.k], &self.squared_distances[i * self.k..(i + 1) * self.k])
    }
}

/// The `k` nearest neighbours (excluding the row itself) of every row of `data` (`n × dim`).
/// Ties in distance are broken by the lower index.
pub fn nearest_neighbours(data: &[f32], n: usize, dim: usize, k: usize) -> Neighbours {
    assert_eq!(data.len(), n * dim, "data must hold n × dim values");
    assert!(k < n, "{k} neighbours asked of {n} points");
    // Distances do not change under translation, but the GEMM form loses digits on data far from
    // the origin: centre it first.
    let centred = centred(data, n, dim);
    let squared_norms: Vec<f32> = centred.chunks_exact(dim.max(1)).take(n).map(|row| row.iter().map(|v| v * v).sum()).collect();
    let blocks: Vec<(Vec<u32>, Vec<f64>)> = (0..n.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| {
            let first = block * BLOCK_ROWS;
            let rows = BLOCK_ROWS.min(n - first);
            // dots[r][j] = row (first + r) · row j
            let mut dots = vec![0.0f32; rows * n];
            gemm(rows, dim, n, &centred, Strided::rows(first * dim, dim), &centred, Strided::transposed_rows(0, dim), 0.0, &mut dots, Strided::rows(0, n));
            let mut indices = Vec::with_capacity(rows * k);
            let mut distances = Vec::with_capacity(rows * k);
            // A margin of candidates beyond k, so that rounding in the GEMM form cannot push a
            // true neighbour out before the exact re-measurement below.
            let keep = (k + 8).min(n - 1);
            // A max-heap of the nearest so far, keyed by (distance, index) packed in a u64: the
            // bits of a non-negative f32 order as its value does.
            let mut nearest: BinaryHeap<u64> = BinaryHeap::with_capacity(keep + 1);
            for r in 0..rows {
                let i = first + r;
                nearest.clear();
                for j in (0..n).filter(|&j| j != i) {
                    let distance = (squared_norms[i] + squared_norms[j] - 2.0 * dots[r * n + j]).max(0.0);
                    let key = ((distance.to_bits() as u64) << 32) | j as u64;
                    if nearest.len() < keep {
                        nearest.push(key);
                    } else if key < *nearest.peek().expect("keep > 0") {
                        nearest.pop();
                        nearest.push(key);
                    }
                }
                let candidates = nearest.iter().map(|&key| (key & 0xffff_ffff) as u32);
                let mut exact: Vec<(f64, u32)> = candidates.map(|j| (squared_distance(data, dim, i, j as usize), j)).collect();
                exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for &(d, j) in &exact[..k] {
                    indices.push(j);
                    distances.push(d);
                }
            }
            (indices, distances)
        })
        .collect();
    let mut neighbours = Neighbours { k, indices: Vec::with_capacity(n * k), squared_distances: Vec::with_capacity(n * k) };
    for (indices, distances) in blocks {
        neighbours.indices.extend(indices);
        neighbours.squared_distances.extend(distances);
    }
    neighbours
}

/// `data` minus its column means (computed in f64).
fn centred(data: &[f32], n: usize, dim: usize) -> Vec<f32> {
    let mut means = vec![0.0f64; dim];
    for row in data.chunks_exact(dim.max(1)).take(n) {
        for (m, v) in means.iter_mut().zip(row) {
            *m += *v as f64;
        }
    }
    let means: Vec<f32> = means.iter().map(|m| (m / n as f64) as f32).collect();
    data.chunks_exact(dim.max(1)).take(n).flat_map(|row| row.iter().zip(&means).map(|(v, m)| v - m)).collect()
}

/// ‖row i − row j‖², summed in f64.
pub fn squared_distance(data: &[f32], dim: usize, i: usize, j: usize) -> f64 {
    let (a, b) = (&data[i * dim..(i + 1) * dim], &data[j * dim..(j + 1) * dim]);
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    #[test]
    fn matches_a_direct_search() {
        let (n, dim, k) = (300, 7, 5);
        let mut rng = Rng::new(4);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.normal() * 10.0 + 50.0).collect();
        let found = nearest_neighbours(&data, n, dim, k);
        for i in 0..n {
            let mut all: Vec<(f64, u32)> = (0..n).filter(|&j| j != i).map(|j| (squared_distance(&data, dim, i, j), j as u32)).collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let (indices, distances) = found.of(i);
            assert_eq!(indices, all[..k].iter().map(|p| p.1).collect::<Vec<_>>().as_slice(), "row {i}");
            assert_eq!(distances, all[..k].iter().map(|p| p.0).collect::<Vec<_>>().as_slice());
        }
    }
}
