//! How well an embedding keeps each point's neighbourhood: the fraction of its k nearest
//! neighbours in the input that are also among its k nearest in the embedding, averaged over
//! points (scripts/reference/tsne_compare.py measures sklearn's result the same way).
use super::neighbours::nearest_neighbours;

pub fn neighbour_preservation(data: &[f32], n: usize, dim: usize, embedding: &[[f32; 2]], k: usize) -> f64 {
    assert_eq!(embedding.len(), n, "one embedded point per input row");
    let input = nearest_neighbours(data, n, dim, k);
    let flat: Vec<f32> = embedding.iter().flatten().copied().collect();
    let output = nearest_neighbours(&flat, n, 2, k);
    let kept: usize = (0..n)
        .map(|i| {
            let embedded = output.of(i).0;
            input.of(i).0.iter().filter(|j| embedded.contains(j)).count()
        })
        .sum();
    kept as f64 / (n * k) as f64
}
