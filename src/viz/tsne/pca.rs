//! The first two principal components of the data, for t-SNE's default initialisation.
//!
//! sklearn initialises with `PCA(n_components=2).fit_transform(X)`, each component's sign chosen so
//! that its largest-magnitude loading is positive (`svd_flip(u_based_decision=False)`). Here the
//! top of the covariance spectrum is found by subspace iteration on Xcᵀ·Xc, never forming the
//! dim × dim covariance, so 4,096-wide features cost O(n·dim) per step. Products are summed over
//! fixed chunks of rows in a fixed order: the same result on any thread count.
use rayon::prelude::*;

use crate::util::Rng;

/// Rows per partial product (the unit of parallel work and of the fixed summation order).
const CHUNK_ROWS: usize = 512;
/// Directions iterated together: a few beyond the two wanted speed convergence when the 2nd and
/// 3rd eigenvalues are close.
const SUBSPACE: usize = 8;
const MAX_STEPS: usize = 500;
/// Ritz vectors are converged when they turn by less than this (1 − |cos|) in one step.
const CONVERGED: f64 = 1e-12;

/// The centred data projected on its first two principal components, `[n]` of (pc1, pc2).
/// Data of one column gets 0 as its second coordinate.
pub fn principal_components_2d(data: &[f32], n: usize, dim: usize) -> Vec<[f64; 2]> {
    let mut means = vec![0.0f64; dim];
    for row in data.chunks_exact(dim) {
        for (m, v) in means.iter_mut().zip(row) {
            *m += *v as f64;
        }
    }
    means.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f64> = data.chunks_exact(dim).flat_map(|row| row.iter().zip(&means).map(|(v, m)| *v as f64 - m)).collect();

    let components = top_eigenvectors(&centred, n, dim, 2.min(dim));
    centred
        .chunks_exact(dim)
        .map(|row| {
            let project = |c: &Vec<f64>| row.iter().zip(c).map(|(x, v)| x * v).sum::<f64>();
            [project(&components[0]), components.get(1).map_or(0.0, project)]
        })
        .collect()
}

/// The `count` leading eigenvectors of Xcᵀ·Xc (`centred` is `n × dim`), largest first, signs as sklearn's.
fn top_eigenvectors(centred: &[f64], n: usize, dim: usize, count: usize) -> Vec<Vec<f64>> {
    let width = SUBSPACE.min(dim);
    // A fixed pseudo-random start: PCA takes no seed (sklearn's covariance solver is deterministic too).
    let mut rng = Rng::new(0x9ca);
    let mut basis: Vec<Vec<f64>> = (0..width).map(|_| (0..dim).map(|_| rng.normal() as f64).collect()).collect();
    orthonormalise(&mut basis);
    let mut previous: Option<Vec<Vec<f64>>> = None;
    let mut ritz = Vec::new();
    for _ in 0..MAX_STEPS {
        let image = covariance_times(centred, n, dim, &basis);
        // Rayleigh–Ritz: the best approximations to eigenvectors inside the current subspace.
        let projected: Vec<Vec<f64>> = basis.iter().map(|b| image.iter().map(|w| dot(b, w)).collect()).collect();
        let (values, vectors) = symmetric_eigen(projected);
        let mut order: Vec<usize> = (0..width).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        ritz = order[..count]
            .iter()
            .map(|&e| (0..dim).map(|d| (0..width).map(|c| vectors[c][e] * basis[c][d]).sum::<f64>()).collect::<Vec<f64>>())
            .collect();
        let converged = previous.as_ref().is_some_and(|old: &Vec<Vec<f64>>| ritz.iter().zip(old).all(|(a, b)| 1.0 - dot(a, b).abs() < CONVERGED));
        if converged {
            break;
        }
        previous = Some(ritz.clone());
        basis = image;
        orthonormalise(&mut basis);
    }
    for component in &mut ritz {
        let largest = component.iter().copied().fold(0.0f64, |best, v| if v.abs() > best.abs() { v } else { best });
        if largest < 0.0 {
            component.iter_mut().for_each(|v| *v = -*v);
        }
    }
    ritz
}

/// Xcᵀ·(Xc·b) for every vector b of `basis`.
fn covariance_times(centred: &[f64], n: usize, dim: usize, basis: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let partials: Vec<Vec<Vec<f64>>> = (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|chunk| {
            let rows = &centred[chunk * CHUNK_ROWS * dim..((chunk + 1) * CHUNK_ROWS).min(n) * dim];
            let mut out = vec![vec![0.0f64; dim]; basis.len()];
            for row in rows.chunks_exact(dim) {
                for (b, o) in basis.iter().zip(&mut out) {
                    let along = dot(row, b);
                    o.iter_mut().zip(row).for_each(|(o, x)| *o += along * x);
                }
            }
            out
        })
        .collect();
    let mut total = vec![vec![0.0f64; dim]; basis.len()];
    for partial in partials {
        for (t, p) in total.iter_mut().zip(partial) {
            t.iter_mut().zip(p).for_each(|(t, p)| *t += p);
        }
    }
    total
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Modified Gram–Schmidt; a vector that collapses (rank-deficient data) is replaced by zeros.
fn orthonormalise(vectors: &mut [Vec<f64>]) {
    for i in 0..vectors.len() {
        for j in 0..i {
            let along = dot(&vectors[i], &vectors[j]);
            let (done, rest) = vectors.split_at_mut(i);
            rest[0].iter_mut().zip(&done[j]).for_each(|(v, u)| *v -= along * u);
        }
        let norm = dot(&vectors[i], &vectors[i]).sqrt();
        let scale = if norm > 1e-300 { 1.0 / norm } else { 0.0 };
        vectors[i].iter_mut().for_each(|v| *v *= scale);
    }
}

/// Eigenvalues and eigenvectors (columns: `vectors[row][e]`) of a small symmetric matrix, by
/// cyclic Jacobi rotations.
fn symmetric_eigen(mut a: Vec<Vec<f64>>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let size = a.len();
    let mut v: Vec<Vec<f64>> = (0..size).map(|i| (0..size).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    for _sweep in 0..100 {
        let off: f64 = (0..size).flat_map(|i| (0..size).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i][j] * a[i][j]).sum();
        let scale: f64 = (0..size).map(|i| a[i][i] * a[i][i]).sum::<f64>().max(1e-300);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..size {
            for q in p + 1..size {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                let (upper, lower) = a.split_at_mut(q);
                for (apk, aqk) in upper[p].iter_mut().zip(lower[0].iter_mut()) {
                    let (x, y) = (*apk, *aqk);
                    *apk = c * x - s * y;
                    *aqk = s * x + c * y;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    ((0..size).map(|i| a[i][i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_axes_of_a_stretched_cloud() {
        // Variance 25 along (1, 1, 0, 0, 0)/√2, 4 along (0, 0, 1, 0, 0), 0.25 elsewhere.
        let (n, dim) = (2000, 5);
        let mut rng = Rng::new(2);
        let mut data = Vec::new();
        for _ in 0..n {
            let (a, b) = (5.0 * rng.normal(), 2.0 * rng.normal());
            let noise: Vec<f32> = (0..dim).map(|_| 0.5 * rng.normal()).collect();
            let s = std::f32::consts::FRAC_1_SQRT_2;
            data.extend([a * s + noise[0] + 3.0, a * s + noise[1], b + noise[2], noise[3], noise[4] - 7.0]);
        }
        let components = top_eigenvectors(
            &data.chunks_exact(dim).flat_map(|r| r.iter().map(|&v| v as f64)).collect::<Vec<_>>().iter().enumerate().map(|(i, v)| v - column_mean(&data, dim, i % dim)).collect::<Vec<_>>(),
            n,
            dim,
            2,
        );
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert!((dot(&components[0], &[s, s, 0.0, 0.0, 0.0]) - 1.0).abs() < 1e-2, "{:?}", components[0]);
        assert!((dot(&components[1], &[0.0, 0.0, 1.0, 0.0, 0.0]) - 1.0).abs() < 1e-2, "{:?}", components[1]);
        let projected = principal_components_2d(&data, n, dim);
        let variance = |c: usize| projected.iter().map(|p| p[c] * p[c]).sum::<f64>() / n as f64;
        assert!((variance(0) / 25.25 - 1.0).abs() < 0.1 && (variance(1) / 4.25 - 1.0).abs() < 0.1, "{} {}", variance(0), variance(1));
    }

    fn column_mean(data: &[f32], dim: usize, column: usize) -> f64 {
        let values: Vec<f64> = data.chunks_exact(dim).map(|r| r[column] as f64).collect();
        values.iter().sum::<f64>() / values.len() as f64
    }
}
