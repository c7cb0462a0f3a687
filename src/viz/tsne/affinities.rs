//! The input-space affinities P of t-SNE, as sklearn's `TSNE(method="barnes_hut")` computes them:
//!
//! 1. each point's k = min(n − 1, ⌊3·perplexity⌋ + 1) nearest neighbours;
//! 2. for each point, a binary search on the Gaussian precision β over those neighbours' squared
//!    distances, until the entropy of p(j|i) is ln(perplexity) within 1e-5 (at most 100 steps);
//! 3. P = (C + Cᵀ) / Σ(C + Cᵀ), a sparse symmetric matrix stored by rows.
use rayon::prelude::*;

use super::neighbours::nearest_neighbours;

const ENTROPY_TOLERANCE: f64 = 1e-5;
const MAX_BINARY_SEARCH_STEPS: usize = 100;

/// A sparse symmetric joint distribution over pairs, row by row (CSR): the entries of row i are
/// `columns[row_starts[i]..row_starts[i + 1]]` (ascending) with `values` alongside. Sums to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct JointProbabilities {
    pub row_starts: Vec<usize>,
    pub columns: Vec<u32>,
    pub values: Vec<f64>,
}

impl JointProbabilities {
    pub fn points(&self) -> usize {
        self.row_starts.len() - 1
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let range = self.row_starts[i]..self.row_starts[i + 1];
        (&self.columns[range.clone()], &self.values[range])
    }
}

/// The number of neighbours sklearn calibrates P over.
pub fn neighbour_count(n: usize, perplexity: f64) -> usize {
    (n - 1).min((3.0 * perplexity + 1.0) as usize)
}

/// P for the `n` rows of `data` (`n × dim`).
pub fn joint_probabilities(data: &[f32], n: usize, dim: usize, perplexity: f64) -> JointProbabilities {
    let k = neighbour_count(n, perplexity);
    let neighbours = nearest_neighbours(data, n, dim, k);
    let conditional: Vec<Vec<f64>> = (0..n).into_par_iter().map(|i| conditional_probabilities(neighbours.of(i).1, perplexity)).collect();
    symmetrise(n, |i| neighbours.of(i).0, &conditional)
}

/// p(j|i) over one point's neighbours, given their squared distances, with β chosen by binary
/// search so that the distribution's perplexity is the one asked for.
pub fn conditional_probabilities(squared_distances: &[f64], perplexity: f64) -> Vec<f64> {
    let target_entropy = perplexity.ln();
    // Distances measured from the nearest neighbour leave p(j|i) unchanged and keep exp() from
    // underflowing to zero for every neighbour of a far-flung point (sklearn does not shift, and
    // then halves β until it recovers).
    let nearest = squared_distances.iter().copied().fold(f64::INFINITY, f64::min);
    let shifted: Vec<f64> = squared_distances.iter().map(|d| d - nearest).collect();

    let (mut beta, mut beta_low, mut beta_high) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    let mut probabilities = vec![0.0; shifted.len()];
    for _ in 0..MAX_BINARY_SEARCH_STEPS {
        let excess = gaussian_row(&shifted, beta, &mut probabilities) - target_entropy;
        if excess.abs() <= ENTROPY_TOLERANCE {
            break;
        }
        // Too much entropy: the Gaussian is too wide, so raise the precision; and vice versa.
        if excess > 0.0 {
            beta_low = beta;
            beta = if beta_high.is_infinite() { beta * 2.0 } else { (beta + beta_high) / 2.0 };
        } else {
            beta_high = beta;
            beta = if beta_low.is_infinite() { beta / 2.0 } else { (beta + beta_low) / 2.0 };
        }
    }
    probabilities
}

/// Fills `probabilities` with exp(−β·d) normalised to sum 1 and returns its entropy (nats).
fn gaussian_row(shifted_distances: &[f64], beta: f64, probabilities: &mut [f64]) -> f64 {
    for (p, &d) in probabilities.iter_mut().zip(shifted_distances) {
        *p = (-beta * d).exp();
    }
    let sum: f64 = probabilities.iter().sum();
    let weighted_distance: f64 = probabilities.iter().zip(shifted_distances).map(|(p, d)| p * d).sum();
    for p in probabilities.iter_mut() {
        *p /= sum;
    }
    sum.ln() + beta * weighted_distance / sum
}

/// (C + Cᵀ) / Σ, where row i of C holds `conditional[i]` at the columns `neighbours_of(i)`.
fn symmetrise<'a>(n: usize, neighbours_of: impl Fn(usize) -> &'a [u32], conditional: &[Vec<f64>]) -> JointProbabilities {
    // Every entry of C lands in its own row and, transposed, in its column's row; an entry present
    // both ways is the sum of exactly two terms, whatever the order of arrival.
    let mut rows: Vec<Vec<(u32, f64)>> = (0..n).map(|i| neighbours_of(i).iter().copied().zip(conditional[i].iter().copied()).collect()).collect();
    for (i, row) in conditional.iter().enumerate() {
        for (&j, &p) in neighbours_of(i).iter().zip(row) {
            rows[j as usize].push((i as u32, p));
        }
    }
    let mut joint = JointProbabilities { row_starts: vec![0], columns: Vec::new(), values: Vec::new() };
    for row in &mut rows {
        row.sort_by_key(|&(j, _)| j);
        for &(j, p) in row.iter() {
            if joint.columns.len() > *joint.row_starts.last().unwrap() && *joint.columns.last().unwrap() == j {
                *joint.values.last_mut().unwrap() += p;
            } else {
                joint.columns.push(j);
                joint.values.push(p);
            }
        }
        joint.row_starts.push(joint.columns.len());
    }
    let total: f64 = joint.values.iter().sum::<f64>().max(f64::EPSILON);
    for p in &mut joint.values {
        *p /= total;
    }
    joint
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    #[test]
    fn binary_search_reaches_the_requested_perplexity() {
        let mut rng = Rng::new(3);
        let distances: Vec<f64> = (0..90).map(|_| 100.0 * rng.uniform() as f64).collect();
        for perplexity in [2.0, 10.0, 30.0] {
            let p = conditional_probabilities(&distances, perplexity);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let entropy: f64 = -p.iter().filter(|&&x| x > 0.0).map(|x| x * x.ln()).sum::<f64>();
            assert!((entropy.exp() - perplexity).abs() < 1e-3 * perplexity, "perplexity {} for target {perplexity}", entropy.exp());
        }
    }

    #[test]
    fn survives_distances_that_would_underflow() {
        // Squared distances of ~1e6: exp(−d) is 0 for all of them without the shift.
        let distances: Vec<f64> = (0..20).map(|j| 1e6 + j as f64).collect();
        let p = conditional_probabilities(&distances, 5.0);
        assert!(p.iter().all(|x| x.is_finite()) && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn joint_probabilities_are_symmetric_and_sum_to_one() {
        let (n, dim) = (120, 5);
        let mut rng = Rng::new(8);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.normal()).collect();
        let p = joint_probabilities(&data, n, dim, 10.0);
        assert!((p.values.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let lookup = |i: usize, j: u32| {
            let (columns, values) = p.row(i);
            columns.binary_search(&j).map(|at| values[at]).ok()
        };
        for i in 0..n {
            let (columns, values) = p.row(i);
            assert!(columns.windows(2).all(|w| w[0] < w[1]), "row {i} is sorted without repeats");
            assert!(!columns.contains(&(i as u32)), "no self-affinity");
            for (&j, &value) in columns.iter().zip(values) {
                assert_eq!(lookup(j as usize, i as u32), Some(value), "p[{i}][{j}] = p[{j}][{i}]");
            }
        }
    }
}
