//! Barnes-Hut t-SNE to two dimensions (van der Maaten, 2014), done the way sklearn's `TSNE` does it
//! so that the two can be compared figure for figure (docs/tsne.md):
//!
//! - [`affinities`]: P, perplexity-calibrated over each point's ⌊3·perplexity⌋ + 1 nearest
//!   neighbours ([`neighbours`]: exact, by GEMM), symmetrised and normalised;
//! - [`pca`]: the default start, the first two principal components scaled so that the first has
//!   standard deviation 1e-4 (random N(0, 1e-4²) as an option);
//! - [`quadtree`]: the Barnes-Hut summaries of far points (θ = 0.5), every pair exactly below
//!   [`EXACT_GRADIENT_BELOW`] points or at θ = 0;
//! - [`gradient`]: the cost KL(P‖Q) and its gradient;
//! - [`optimise`]: sklearn's gradient descent: 250 iterations with P exaggerated 12× and momentum
//!   0.5, then the rest at momentum 0.8, learning rate max(n / 12 / 4, 50) by default;
//! - [`quality`]: k-nearest-neighbour preservation, to compare embeddings.
//!
//! Parallel over points with rayon, every sum in a fixed order: a seed gives the same embedding on
//! any number of threads.
pub mod affinities;
pub mod gradient;
pub mod neighbours;
pub mod optimise;
pub mod pca;
pub mod quadtree;
pub mod quality;

use std::str::FromStr;

use anyhow::{bail, Result};

use crate::util::Rng;
use affinities::joint_probabilities;
use gradient::cost_and_gradient;
use optimise::{descend, DescentSettings, Phase};

/// Below this many points the repulsion is summed over every pair: the tree saves nothing there.
pub const EXACT_GRADIENT_BELOW: usize = 300;
/// sklearn's scale of the initial embedding: the standard deviation of its first coordinate.
const INITIAL_SCALE: f64 = 1e-4;

/// Where the optimisation starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Initialisation {
    /// The first two principal components (sklearn's default).
    #[default]
    Pca,
    /// Independent N(0, 1e-4²) coordinates drawn from the seed.
    Random,
}

/// The gradient-descent step size.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum LearningRate {
    /// sklearn's "auto": max(n / early_exaggeration / 4, 50).
    #[default]
    Auto,
    Fixed(f64),
}

impl LearningRate {
    pub fn for_points(self, n: usize, early_exaggeration: f64) -> f64 {
        match self {
            LearningRate::Auto => (n as f64 / early_exaggeration / 4.0).max(50.0),
            LearningRate::Fixed(rate) => rate,
        }
    }
}

impl FromStr for LearningRate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "auto" {
            return Ok(LearningRate::Auto);
        }
        match text.parse::<f64>() {
            Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(LearningRate::Fixed(rate)),
            _ => Err(format!("{text:?} is not a learning rate: give \"auto\" or a positive number")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct TsneOptions {
    /// Effective number of neighbours (sklearn's default 30); must stay below the number of points.
    pub perplexity: f64,
    /// Iterations in all, the exaggerated ones included.
    pub iterations: usize,
    /// Barnes-Hut opening angle; 0 sums every pair exactly.
    pub theta: f64,
    pub initialisation: Initialisation,
    pub learning_rate: LearningRate,
    pub early_exaggeration: f64,
    pub exaggeration_iterations: usize,
    /// Seeds the random initialisation (PCA takes none).
    pub seed: u64,
}

impl Default for TsneOptions {
    fn default() -> Self {
        TsneOptions {
            perplexity: 30.0,
            iterations: 1000,
            theta: 0.5,
            initialisation: Initialisation::Pca,
            learning_rate: LearningRate::Auto,
            early_exaggeration: 12.0,
            exaggeration_iterations: 250,
            seed: 0,
        }
    }
}

/// sklearn's stopping rules, at its defaults.
const CHECK_EVERY: usize = 50;
const PATIENCE_EXAGGERATED: usize = 250;
const PATIENCE: usize = 300;
const MIN_GRADIENT_NORM: f64 = 1e-7;
const MIN_GAIN: f64 = 0.01;

#[derive(Clone, Debug)]
pub struct TsneEmbedding {
    pub points: Vec<[f32; 2]>,
    /// KL(P‖Q) at the last iteration, as sklearn's `kl_divergence_`.
    pub kl_divergence: f64,
    /// Iterations run (fewer than asked when the cost stopped improving).
    pub iterations: usize,
    pub learning_rate: f64,
}

/// Embeds the `n` rows of `data` (row-major, `n × dim`) in two dimensions.
pub fn tsne(data: &[f32], n: usize, dim: usize, options: &TsneOptions) -> Result<TsneEmbedding> {
    validate(data, n, dim, options)?;
    let p = joint_probabilities(data, n, dim, options.perplexity);
    let mut y = initial_embedding(data, n, dim, options);
    let theta = if n < EXACT_GRADIENT_BELOW { 0.0 } else { options.theta };
    let learning_rate = options.learning_rate.for_points(n, options.early_exaggeration);
    let settings = DescentSettings { learning_rate, min_gain: MIN_GAIN, min_gradient_norm: MIN_GRADIENT_NORM, check_every: CHECK_EVERY };
    let objective = |y: &[[f64; 2]], exaggeration: f64, with_cost: bool| {
        let result = cost_and_gradient(&p, y, exaggeration, theta, with_cost);
        (result.kl_divergence, result.gradient)
    };

    let exaggerated_end = options.exaggeration_iterations.min(options.iterations);
    let exaggerated = Phase { first: 0, end: exaggerated_end, momentum: 0.5, exaggeration: options.early_exaggeration, patience: PATIENCE_EXAGGERATED };
    let mut end = descend(&mut y, exaggerated, &settings, objective);
    if options.iterations > exaggerated_end {
        let rest = Phase { first: end.last_iteration + 1, end: options.iterations, momentum: 0.8, exaggeration: 1.0, patience: PATIENCE };
        end = descend(&mut y, rest, &settings, objective);
    }
    Ok(TsneEmbedding {
        points: y.iter().map(|p| [p[0] as f32, p[1] as f32]).collect(),
        kl_divergence: end.kl_divergence,
        iterations: end.last_iteration + 1,
        learning_rate,
    })
}

fn validate(data: &[f32], n: usize, dim: usize, options: &TsneOptions) -> Result<()> {
    if data.len() != n * dim {
        bail!("t-SNE input holds {} values, not {n} points × {dim} dimensions", data.len());
    }
    if n < 2 || dim == 0 {
        bail!("t-SNE needs at least 2 points of at least 1 dimension (got {n} × {dim})");
    }
    if let Some(at) = data.iter().position(|v| !v.is_finite()) {
        bail!("t-SNE input is not finite at point {}, dimension {} ({})", at / dim, at % dim, data[at]);
    }
    if !(options.perplexity > 0.0 && options.perplexity < n as f64) {
        bail!("perplexity {} must be positive and below the number of points ({n})", options.perplexity);
    }
    if !(options.theta >= 0.0 && options.theta.is_finite()) {
        bail!("theta {} must be 0 (exact) or positive", options.theta);
    }
    if !(options.early_exaggeration.is_finite() && options.early_exaggeration > 0.0) {
        bail!("early exaggeration {} must be positive", options.early_exaggeration);
    }
    if options.iterations == 0 {
        bail!("t-SNE needs at least one iteration");
    }
    Ok(())
}

/// sklearn's start: PCA (or N(0, 1)) scaled so the first coordinate has standard deviation 1e-4.
/// Data with no spread along any direction has no principal components: it starts at random.
fn initial_embedding(data: &[f32], n: usize, dim: usize, options: &TsneOptions) -> Vec<[f64; 2]> {
    if options.initialisation == Initialisation::Pca {
        // sklearn rounds the projection to f32 before scaling it.
        let projected: Vec<[f64; 2]> = pca::principal_components_2d(data, n, dim).iter().map(|p| p.map(|v| v as f32 as f64)).collect();
        let mean = projected.iter().map(|p| p[0]).sum::<f64>() / n as f64;
        let spread = (projected.iter().map(|p| (p[0] - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        if spread > 0.0 {
            return projected.iter().map(|p| p.map(|v| v / spread * INITIAL_SCALE)).collect();
        }
    }
    let mut rng = Rng::new(options.seed);
    (0..n).map(|_| [INITIAL_SCALE * rng.normal() as f64, INITIAL_SCALE * rng.normal() as f64]).collect()
}
