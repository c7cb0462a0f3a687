//! The gradient of t-SNE's cost KL(P‖Q) and the cost itself, as sklearn's `_kl_divergence_bh`
//! computes them (with degrees of freedom 1, the 2-D case):
//!
//! ∂C/∂y_i = 4 · (Σ_j p_ij t_ij (y_i − y_j) − Σ_j t_ij² (y_i − y_j) / Z),  t_ij = 1 / (1 + ‖y_i − y_j‖²),
//! Z = Σ_{i≠j} t_ij, q_ij = t_ij / Z.
//!
//! The attractive sum runs over P's sparse entries; the repulsive sum and Z come from the quadtree
//! (Barnes-Hut) or, with θ = 0, from every pair. The cost is Σ p_ij ln(p_ij / q_ij) over P's
//! entries, with both terms floored at f32's smallest normal number as sklearn does. Per-point
//! terms are computed in parallel and summed in point order, so nothing depends on the scheduling.
use rayon::prelude::*;

use super::affinities::JointProbabilities;
use super::quadtree::{QuadTree, Repulsion};

/// sklearn floors p and q at `np.finfo(np.float32).tiny` inside the logarithm.
const LOG_FLOOR: f64 = f32::MIN_POSITIVE as f64;

pub struct CostAndGradient {
    /// `None` when not asked for.
    pub kl_divergence: Option<f64>,
    pub gradient: Vec<[f64; 2]>,
}

/// The gradient at `y` of KL(exaggeration·P ‖ Q), and the cost when `with_cost`.
pub fn cost_and_gradient(p: &JointProbabilities, y: &[[f64; 2]], exaggeration: f64, theta: f64, with_cost: bool) -> CostAndGradient {
    let tree = QuadTree::build(y);
    // Queried in the tree's order for cache locality, then put back in point order.
    let order = tree.spatial_order();
    let in_tree_order: Vec<Repulsion> = order.par_iter().map(|&i| tree.repulsion(i as usize, theta)).collect();
    let mut repulsions = vec![Repulsion::default(); y.len()];
    for (&i, repulsion) in order.iter().zip(in_tree_order) {
        repulsions[i as usize] = repulsion;
    }
    let normaliser = repulsions.iter().map(|r| r.kernel_sum).sum::<f64>().max(f64::EPSILON);

    let attractions: Vec<([f64; 2], f64)> = (0..y.len())
        .into_par_iter()
        .map(|i| {
            let (columns, values) = p.row(i);
            let (mut force, mut cost) = ([0.0f64; 2], 0.0f64);
            for (&j, &p_ij) in columns.iter().zip(values) {
                let p_ij = exaggeration * p_ij;
                let difference = [y[i][0] - y[j as usize][0], y[i][1] - y[j as usize][1]];
                let kernel = 1.0 / (1.0 + difference[0] * difference[0] + difference[1] * difference[1]);
                force[0] += p_ij * kernel * difference[0];
                force[1] += p_ij * kernel * difference[1];
                if with_cost {
                    let q_ij = kernel / normaliser;
                    cost += p_ij * (p_ij.max(LOG_FLOOR) / q_ij.max(LOG_FLOOR)).ln();
                }
            }
            (force, cost)
        })
        .collect();

    let gradient = attractions.iter().zip(&repulsions).map(|((attraction, _), repulsion)| [0, 1].map(|d| 4.0 * (attraction[d] - repulsion.force[d] / normaliser))).collect();
    let kl_divergence = with_cost.then(|| attractions.iter().map(|(_, cost)| cost).sum());
    CostAndGradient { kl_divergence, gradient }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;
    use crate::viz::tsne::affinities::joint_probabilities;

    /// KL(P‖Q) with every pair's q computed directly.
    fn exact_cost(p: &JointProbabilities, y: &[[f64; 2]]) -> f64 {
        let kernel = |a: [f64; 2], b: [f64; 2]| 1.0 / (1.0 + (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2));
        let z: f64 = (0..y.len()).flat_map(|i| (0..y.len()).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| kernel(y[i], y[j])).sum();
        (0..y.len())
            .map(|i| {
                let (columns, values) = p.row(i);
                columns.iter().zip(values).map(|(&j, &pij)| pij * (pij / (kernel(y[i], y[j as usize]) / z)).ln()).sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn exact_gradient_matches_finite_differences_of_the_cost() {
        let (n, dim) = (40, 3);
        let mut rng = Rng::new(12);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.normal()).collect();
        let p = joint_probabilities(&data, n, dim, 5.0);
        let y: Vec<[f64; 2]> = (0..n).map(|_| [rng.normal() as f64, rng.normal() as f64]).collect();
        let result = cost_and_gradient(&p, &y, 1.0, 0.0, true);
        assert!((result.kl_divergence.unwrap() - exact_cost(&p, &y)).abs() < 1e-10);
        let step = 1e-6;
        for i in [0, 7, 39] {
            for d in 0..2 {
                let mut plus = y.clone();
                plus[i][d] += step;
                let mut minus = y.clone();
                minus[i][d] -= step;
                let numeric = (exact_cost(&p, &plus) - exact_cost(&p, &minus)) / (2.0 * step);
                let analytic = result.gradient[i][d];
                assert!((numeric - analytic).abs() < 1e-5 * (1.0 + analytic.abs()), "∂C/∂y[{i}][{d}]: {analytic} vs {numeric}");
            }
        }
    }
}
