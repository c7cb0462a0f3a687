//! Exact t-SNE to two dimensions (van der Maaten & Hinton, 2008), following van der Maaten's
//! reference implementation `tsne.py`:
//!
//! 1. For each point, a binary search on the Gaussian precision β finds the conditional
//!    distribution p(j|i) whose perplexity is the one asked for (tolerance 1e-5 in entropy, at most
//!    50 steps).
//! 2. P = (p(j|i) + p(i|j)) / Σ, floored at 1e-12, multiplied by 4 ("early exaggeration") for the
//!    first 101 iterations.
//! 3. Y starts from N(0, 1) and follows gradient descent with momentum (0.5 for 20 iterations, then
//!    0.8), learning rate 500 and per-coordinate adaptive gains (min 0.01); Y is re-centred after
//!    each step. As in `tsne.py`, the gradient omits the constant factor 4, which the learning rate
//!    absorbs.
//!
//! Cost is O(n²·dim) once and O(n²) per iteration, in time, and O(n²) f32 in memory for P, so it is
//! meant for up to a few thousand points. Rows are processed in parallel with rayon; every sum is
//! taken in a fixed order, so a seed gives the same result on any number of threads.
//! Unlike `tsne.py` there is no PCA step: reduce very wide inputs beforehand if speed matters.
use rayon::prelude::*;

use crate::util::Rng;

const ENTROPY_TOLERANCE: f64 = 1e-5;
const MAX_BINARY_SEARCH_STEPS: usize = 50;
const EARLY_EXAGGERATION: f64 = 4.0;
const EXAGGERATION_LAST_ITERATION: usize = 100;
const INITIAL_MOMENTUM: f64 = 0.5;
const FINAL_MOMENTUM: f64 = 0.8;
const MOMENTUM_SWITCH_ITERATION: usize = 20;
const LEARNING_RATE: f64 = 500.0;
const MIN_GAIN: f64 = 0.01;
const PROBABILITY_FLOOR: f64 = 1e-12;

/// Embeds the `n` rows of `data` (row-major, `n × dim`) in two dimensions.
///
/// `perplexity` is the effective number of neighbours (5–50 is usual; it should stay below n − 1).
pub fn tsne(data: &[f32], n: usize, dim: usize, perplexity: f32, iterations: usize, seed: u64) -> Vec<[f32; 2]> {
    assert_eq!(data.len(), n * dim, "t-SNE input must hold n × dim values");
    assert!(perplexity > 0.0, "perplexity must be positive");
    assert!(data.iter().all(|v| v.is_finite()), "t-SNE input must be finite");
    if n < 2 {
        return vec![[0.0, 0.0]; n];
    }

    let joint_probabilities = joint_probabilities(data, n, dim, perplexity as f64);
    let mut rng = Rng::new(seed);
    let mut y: Vec<[f64; 2]> = (0..n).map(|_| [rng.normal() as f64, rng.normal() as f64]).collect();
    let mut velocity = vec![[0.0f64; 2]; n];
    let mut gains = vec![[1.0f64; 2]; n];

    for iteration in 0..iterations {
        let exaggeration = if iteration <= EXAGGERATION_LAST_ITERATION { EARLY_EXAGGERATION } else { 1.0 };
        let momentum = if iteration < MOMENTUM_SWITCH_ITERATION { INITIAL_MOMENTUM } else { FINAL_MOMENTUM };
        let gradient = gradient(&joint_probabilities, &y, exaggeration);
        for i in 0..n {
            for d in 0..2 {
                // Grow the gain where the gradient changed sign against the last step, shrink it otherwise.
                let same_direction = (gradient[i][d] > 0.0) == (velocity[i][d] > 0.0);
                gains[i][d] = if same_direction { gains[i][d] * 0.8 } else { gains[i][d] + 0.2 };
                gains[i][d] = gains[i][d].max(MIN_GAIN);
                velocity[i][d] = momentum * velocity[i][d] - LEARNING_RATE * gains[i][d] * gradient[i][d];
                y[i][d] += velocity[i][d];
            }
        }
        let mean = [0, 1].map(|d| y.iter().map(|p| p[d]).sum::<f64>() / n as f64);
        for point in &mut y {
            point[0] -= mean[0];
            point[1] -= mean[1];
        }
    }
    y.into_iter().map(|[a, b]| [a as f32, b as f32]).collect()
}

/// The symmetric joint probabilities P, row-major `n × n`, floored at `PROBABILITY_FLOOR`.
fn joint_probabilities(data: &[f32], n: usize, dim: usize, perplexity: f64) -> Vec<f32> {
    let conditional: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let row = &data[i * dim..(i + 1) * dim];
            let distances: Vec<f64> = (0..n)
                .map(|j| {
                    let other = &data[j * dim..(j + 1) * dim];
                    row.iter().zip(other).map(|(a, b)| ((a - b) as f64).powi(2)).sum()
                })
                .collect();
            conditional_probabilities(&distances, i, perplexity)
        })
        .collect();

    let mut joint = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            joint[i * n + j] = conditional[i][j] + conditional[j][i];
        }
    }
    let total: f64 = joint.iter().sum();
    joint.iter().map(|&p| (p / total).max(PROBABILITY_FLOOR) as f32).collect()
}

/// p(j|i) for one point `i` given its squared distances to all points, with the Gaussian precision
/// chosen by binary search so that the distribution's perplexity matches.
fn conditional_probabilities(squared_distances: &[f64], i: usize, perplexity: f64) -> Vec<f64> {
    let target_entropy = perplexity.ln();
    // Distances are measured from the nearest neighbour: it leaves p(j|i) unchanged and keeps
    // exp() from underflowing to zero for every neighbour of a far-flung point.
    let nearest = squared_distances.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &d)| d).fold(f64::INFINITY, f64::min);
    let shifted: Vec<f64> = squared_distances.iter().map(|d| d - nearest).collect();

    let (mut beta, mut beta_low, mut beta_high) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    let mut probabilities = vec![0.0; shifted.len()];
    for _ in 0..=MAX_BINARY_SEARCH_STEPS {
        let entropy = gaussian_row(&shifted, i, beta, &mut probabilities);
        let excess = entropy - target_entropy;
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

/// Fills `probabilities` with exp(−β·d) normalised over j ≠ i and returns its entropy (nats).
fn gaussian_row(shifted_distances: &[f64], i: usize, beta: f64, probabilities: &mut [f64]) -> f64 {
    for (j, (p, &d)) in probabilities.iter_mut().zip(shifted_distances).enumerate() {
        *p = if j == i { 0.0 } else { (-beta * d).exp() };
    }
    let sum: f64 = probabilities.iter().sum();
    let weighted_distance: f64 = probabilities.iter().zip(shifted_distances).map(|(p, d)| p * d).sum();
    for p in probabilities.iter_mut() {
        *p /= sum;
    }
    sum.ln() + beta * weighted_distance / sum
}

/// ∂C/∂y_i / 4 = Σ_j (p_ij − q_ij) (1 + |y_i − y_j|²)⁻¹ (y_i − y_j), for every i.
fn gradient(joint_probabilities: &[f32], y: &[[f64; 2]], exaggeration: f64) -> Vec<[f64; 2]> {
    let n = y.len();
    let kernel = |a: &[f64; 2], b: &[f64; 2]| 1.0 / (1.0 + (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2));
    // Normalisation of the Student-t kernel over all pairs; per-row sums added in a fixed order.
    let row_sums: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| (0..n).filter(|&j| j != i).map(|j| kernel(&y[i], &y[j])).sum())
        .collect();
    let normaliser: f64 = row_sums.iter().sum();

    (0..n)
        .into_par_iter()
        .map(|i| {
            let p_row = &joint_probabilities[i * n..(i + 1) * n];
            let mut g = [0.0f64; 2];
            for j in (0..n).filter(|&j| j != i) {
                let affinity = kernel(&y[i], &y[j]);
                let q = (affinity / normaliser).max(PROBABILITY_FLOOR);
                let weight = (exaggeration * p_row[j] as f64 - q) * affinity;
                g[0] += weight * (y[i][0] - y[j][0]);
                g[1] += weight * (y[i][1] - y[j][1]);
            }
            g
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_search_reaches_the_requested_perplexity() {
        let mut rng = Rng::new(3);
        let distances: Vec<f64> = (0..50).map(|j| if j == 7 { 0.0 } else { 100.0 * rng.uniform() as f64 }).collect();
        for perplexity in [2.0, 10.0, 30.0] {
            let p = conditional_probabilities(&distances, 7, perplexity);
            assert_eq!(p[7], 0.0, "a point is not its own neighbour");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let entropy: f64 = -p.iter().filter(|&&x| x > 0.0).map(|x| x * x.ln()).sum::<f64>();
            assert!((entropy.exp() - perplexity).abs() < 1e-3 * perplexity, "perplexity {} for target {perplexity}", entropy.exp());
        }
    }

    #[test]
    fn survives_distances_that_would_underflow() {
        // Squared distances of ~1e6: exp(−d) is 0 for all of them without the shift.
        let distances: Vec<f64> = (0..20).map(|j| if j == 0 { 0.0 } else { 1e6 + j as f64 }).collect();
        let p = conditional_probabilities(&distances, 0, 5.0);
        assert!(p.iter().all(|x| x.is_finite()) && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn same_seed_same_embedding() {
        let mut rng = Rng::new(1);
        let data: Vec<f32> = (0..30 * 4).map(|_| rng.normal()).collect();
        let a = tsne(&data, 30, 4, 5.0, 50, 9);
        assert_eq!(a, tsne(&data, 30, 4, 5.0, 50, 9));
        assert_ne!(a, tsne(&data, 30, 4, 5.0, 50, 10));
    }
}
