//! t-SNE keeps well-separated clusters apart.
use memefuse::util::Rng;
use memefuse::viz::tsne::{tsne, TsneOptions};

#[test]
fn two_gaussian_clusters_stay_separated_in_2d() {
    let (per_cluster, dim) = (40, 10);
    let mut rng = Rng::new(5);
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for cluster in 0..2 {
        let centre = if cluster == 0 { -5.0 } else { 5.0 };
        for _ in 0..per_cluster {
            data.extend((0..dim).map(|_| centre + rng.normal()));
            labels.push(cluster);
        }
    }
    let n = labels.len();
    let options = TsneOptions { perplexity: 10.0, iterations: 300, seed: 11, ..TsneOptions::default() };
    let embedding = tsne(&data, n, dim, &options).unwrap().points;
    assert_eq!(embedding.len(), n);
    assert!(embedding.iter().flatten().all(|v| v.is_finite()));

    let centroid = |c: usize| {
        let members: Vec<&[f32; 2]> = embedding.iter().zip(&labels).filter(|(_, &l)| l == c).map(|(p, _)| p).collect();
        [0, 1].map(|d| members.iter().map(|p| p[d]).sum::<f32>() / members.len() as f32)
    };
    let centroids = [centroid(0), centroid(1)];
    let distance = |a: &[f32; 2], b: &[f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let between = distance(&centroids[0], &centroids[1]);
    // Every point is nearer its own cluster's centroid, by a wide margin.
    for (point, &label) in embedding.iter().zip(&labels) {
        let own = distance(point, &centroids[label]);
        let other = distance(point, &centroids[1 - label]);
        assert!(other > 2.0 * own, "point {point:?} of cluster {label}: own {own}, other {other}");
    }
    let spread = embedding.iter().zip(&labels).map(|(p, &l)| distance(p, &centroids[l])).fold(0.0f32, f32::max);
    assert!(between > 2.0 * spread, "clusters overlap: centroid distance {between}, max spread {spread}");
}
