//! t-SNE's two costs at the size, 10,000 points of 64 dimensions: the affinities (exact
//! kNN + perplexity calibration, once per run) and one Barnes-Hut gradient (1,000 per run), plus
//! PCA. The whole-run figure against sklearn comes from scripts/reference/tsne_compare.py.
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use memefuse::util::Rng;
use memefuse::viz::tsne::affinities::joint_probabilities;
use memefuse::viz::tsne::gradient::cost_and_gradient;
use memefuse::viz::tsne::pca::principal_components_2d;

const POINTS: usize = 10_000;
const DIMS: usize = 64;

/// Ten Gaussian clusters, in `dim` dimensions, of spread `spread` around centres of spread 10.
fn clusters(dim: usize, spread: f32, rng: &mut Rng) -> Vec<f32> {
    let centres: Vec<Vec<f32>> = (0..10).map(|_| (0..dim).map(|_| 10.0 * rng.normal()).collect()).collect();
    (0..POINTS).flat_map(|i| centres[i % 10].clone()).map(|c| c + spread * rng.normal()).collect()
}

fn tsne_10k(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    let data = clusters(DIMS, 2.0, &mut rng);
    // A 2-D layout of about the spread t-SNE reaches after its exaggeration phase.
    let y: Vec<[f64; 2]> = clusters(2, 4.0, &mut rng).chunks_exact(2).map(|p| [3.0 * p[0] as f64, 3.0 * p[1] as f64]).collect();
    let p = joint_probabilities(&data, POINTS, DIMS, 30.0);

    let mut group = c.benchmark_group("cpu_tsne_10k_64d");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    group.bench_function("affinities", |b| b.iter(|| black_box(joint_probabilities(&data, POINTS, DIMS, 30.0))));
    group.bench_function("pca", |b| b.iter(|| black_box(principal_components_2d(&data, POINTS, DIMS))));
    group.bench_function("gradient_theta_0.5", |b| b.iter(|| black_box(cost_and_gradient(&p, &y, 1.0, 0.5, false))));
    group.bench_function("gradient_theta_0.5_with_cost", |b| b.iter(|| black_box(cost_and_gradient(&p, &y, 1.0, 0.5, true))));
    group.finish();
}

criterion_group!(benches, tsne_10k);
criterion_main!(benches);
