//! Barnes-Hut t-SNE against sklearn's TSNE on the same data (fixtures written by
//! scripts/reference/tsne_compare.py --fixture), and its determinism across thread counts.
use memefuse::util::Rng;
use memefuse::viz::tsne::quality::neighbour_preservation;
use memefuse::viz::tsne::{tsne, Initialisation, TsneOptions, EXACT_GRADIENT_BELOW};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    points: usize,
    dims: usize,
    perplexity: f64,
    data: Vec<f32>,
    sklearn_kl_divergence: f64,
    sklearn_knn_preservation_10: f64,
}

fn fixture(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/tsne/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The bounds: final KL within 10 % of sklearn's, 10-NN preservation within 0.05.
fn assert_matches_sklearn(name: &str) {
    let f = fixture(name);
    let options = TsneOptions { perplexity: f.perplexity, ..TsneOptions::default() };
    let result = tsne(&f.data, f.points, f.dims, &options).unwrap();
    let kept = neighbour_preservation(&f.data, f.points, f.dims, &result.points, 10);
    eprintln!("{name}: KL {:.4} (sklearn {:.4}), 10-NN kept {kept:.4} (sklearn {:.4}), {} iterations", result.kl_divergence, f.sklearn_kl_divergence, f.sklearn_knn_preservation_10, result.iterations);
    assert!(
        (result.kl_divergence / f.sklearn_kl_divergence - 1.0).abs() <= 0.10,
        "{name}: KL {} is not within 10 % of sklearn's {}",
        result.kl_divergence,
        f.sklearn_kl_divergence
    );
    assert!((kept - f.sklearn_knn_preservation_10).abs() <= 0.05, "{name}: 10-NN preservation {kept} vs sklearn's {}", f.sklearn_knn_preservation_10);
}

#[test]
fn barnes_hut_matches_sklearn_on_400_points_of_gaussian_clusters() {
    assert!(fixture("blobs_400.json").points >= EXACT_GRADIENT_BELOW, "this fixture exercises the quadtree");
    assert_matches_sklearn("blobs_400.json");
}

#[test]
fn exact_gradient_matches_sklearn_on_200_points_of_gaussian_clusters() {
    assert!(fixture("blobs_200.json").points < EXACT_GRADIENT_BELOW, "this fixture exercises the exact gradient");
    assert_matches_sklearn("blobs_200.json");
}

fn clustered_data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let centres: Vec<Vec<f32>> = (0..5).map(|_| (0..dim).map(|_| 8.0 * rng.normal()).collect()).collect();
    (0..n).flat_map(|i| centres[i % 5].clone()).map(|c| c + rng.normal()).collect()
}

#[test]
fn same_embedding_on_one_and_two_threads() {
    // Enough points for the Barnes-Hut path; fewer iterations keep the test short (the tree, the
    // neighbours and PCA are all exercised from the first iteration).
    let (n, dim) = (700, 12);
    let data = clustered_data(n, dim, 3);
    for initialisation in [Initialisation::Pca, Initialisation::Random] {
        let options = TsneOptions { iterations: 300, initialisation, seed: 4, ..TsneOptions::default() };
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| tsne(&data, n, dim, &options).unwrap())
        };
        let (one, two) = (on(1), on(2));
        assert!(one.points.iter().flatten().all(|v| v.is_finite()));
        assert_eq!(one.points, two.points, "{initialisation:?}: the embedding depends on the thread count");
        assert_eq!(one.kl_divergence.to_bits(), two.kl_divergence.to_bits());
    }
}

#[test]
fn the_seed_moves_a_random_start_but_not_a_pca_one() {
    let (n, dim) = (150, 6);
    let data = clustered_data(n, dim, 9);
    let run = |initialisation, seed| tsne(&data, n, dim, &TsneOptions { iterations: 260, initialisation, seed, ..TsneOptions::default() }).unwrap().points;
    assert_ne!(run(Initialisation::Random, 1), run(Initialisation::Random, 2));
    assert_eq!(run(Initialisation::Pca, 1), run(Initialisation::Pca, 2), "PCA initialisation takes no seed");
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let data = clustered_data(20, 3, 1);
    let message = |data: &[f32], n: usize, options: &TsneOptions| tsne(data, n, 3, options).unwrap_err().to_string();
    assert!(message(&data, 20, &TsneOptions::default()).contains("perplexity 30 must be positive and below the number of points (20)"));
    let mut with_nan = data.clone();
    with_nan[3 * 7 + 2] = f32::NAN;
    assert!(message(&with_nan, 20, &TsneOptions { perplexity: 5.0, ..TsneOptions::default() }).contains("not finite at point 7, dimension 2"));
    assert!(message(&data[..3], 1, &TsneOptions { perplexity: 0.5, ..TsneOptions::default() }).contains("at least 2 points"));
}
