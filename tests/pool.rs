//! Max pooling 2×2/2 and adaptive average pooling: exact values, gradient checks, GPU parity.
mod common;

use common::*;
use memefuse::{DType, Device, Tensor};

#[test]
fn max_pool_keeps_the_first_maximum_and_drops_odd_edges() {
    // One image 3×5, one channel: the last row and column are dropped.
    let x = Tensor::from_vec(vec![1., 5., 2., 2., 9., 3., 0., 2., 7., 9., 8., 8., 8., 8., 8.], &[1, 3, 5, 1], Device::Cpu).unwrap();
    let y = x.max_pool2d_2x2().unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 1]);
    assert_eq!(y.to_vec_f32().unwrap(), vec![5., 7.]);
    assert_eq!(x.max_pool2d_2x2_argmax().unwrap().to_vec_i32().unwrap(), vec![1, 8]);
    let ties = Tensor::from_vec(vec![4.0; 4], &[1, 2, 2, 1], Device::Cpu).unwrap();
    assert_eq!(ties.max_pool2d_2x2_argmax().unwrap().to_vec_i32().unwrap(), vec![0]);
}

#[test]
fn max_pool_gradients() {
    for (i, shape) in [[2, 5, 7, 3], [1, 2, 2, 1], [3, 4, 6, 5]].into_iter().enumerate() {
        let x = random_distinct(&shape, i as u64);
        check_op(&format!("max_pool2d {shape:?}"), |t| t[0].max_pool2d_2x2(), &[x]);
    }
}

#[test]
fn adaptive_bins_follow_pytorch() {
    use memefuse::ops::adaptive_bin;
    // torch: 2 → 7 repeats rows; bin 3 straddles both.
    let bins: Vec<_> = (0..7).map(|i| adaptive_bin(i, 7, 2)).collect();
    assert_eq!(bins, vec![(0, 1), (0, 1), (0, 1), (0, 2), (1, 2), (1, 2), (1, 2)]);
    // 10 → 7: overlapping bins.
    let bins: Vec<_> = (0..7).map(|i| adaptive_bin(i, 7, 10)).collect();
    assert_eq!(bins, vec![(0, 2), (1, 3), (2, 5), (4, 6), (5, 8), (7, 9), (8, 10)]);
    // 14 → 7: plain 2×2 average.
    assert!((0..7).all(|i| adaptive_bin(i, 7, 14) == (2 * i, 2 * i + 2)));
}

#[test]
fn adaptive_average_of_a_2x2_map_spreads_over_7x7() {
    let x = Tensor::from_vec(vec![1., 2., 3., 4.], &[1, 2, 2, 1], Device::Cpu).unwrap();
    let y = x.adaptive_avg_pool2d(7, 7).unwrap().to_vec_f32().unwrap();
    assert_eq!(y[0], 1.0);
    assert_eq!(y[3], 1.5); // row bin 0, column bin 3 = mean(1, 2)
    assert_eq!(y[3 * 7 + 3], 2.5); // the middle = mean of all four
    assert_eq!(y[48], 4.0);
}

#[test]
fn adaptive_average_gradients() {
    for (i, (shape, out)) in [([1, 2, 2, 3], (7, 7)), ([2, 10, 9, 2], (7, 7)), ([1, 5, 3, 2], (2, 4)), ([1, 14, 14, 1], (7, 7))].into_iter().enumerate() {
        let x = random(&shape, 10 + i as u64);
        check_op(&format!("adaptive_avg_pool2d {shape:?} → {out:?}"), move |t| t[0].adaptive_avg_pool2d(out.0, out.1), &[x]);
    }
}

#[test]
fn gpu_parity_at_vgg16_shapes() {
    // Distinct values keep the argmax identical on both sides after rounding to f16/bf16.
    let x = random_distinct(&[2, 28, 28, 64], 5);
    check_gpu_parity("max_pool2d VGG16 block 4", &|t| t[0].max_pool2d_2x2(), &[x], &[DType::F32]);
    let small = random_distinct(&[2, 14, 14, 8], 6);
    check_gpu_parity("max_pool2d small", &|t| t[0].max_pool2d_2x2(), &[small], &[DType::F32, DType::F16, DType::BF16]);
    for size in [2, 7, 14] {
        let x = random(&[4, size, size, 512], size as u64);
        check_gpu_parity(&format!("adaptive_avg_pool2d {size}→7"), &|t| t[0].adaptive_avg_pool2d(7, 7), &[x], &[DType::F32, DType::F16, DType::BF16]);
    }
}
