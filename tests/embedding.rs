//! Embedding lookup: values, the deterministic scatter-add gradient with repeated ids, the gradient
//! check, bad ids, and GPU parity (skipped without a GPU).
mod common;

use common::{check_gpu_parity, random};
use memefuse::autograd::{check_gradients, GradCheck};
use memefuse::nn::Embedding;
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};

fn ids(values: &[i32], shape: &[usize]) -> Tensor {
    Tensor::from_i32(values.to_vec(), shape, Device::Cpu).unwrap()
}

#[test]
fn lookup_picks_rows_and_gradient_sums_repeated_ids() {
    let table = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[4, 3], Device::Cpu).unwrap().with_grad();
    let tokens = ids(&[2, 0, 2, 3], &[2, 2]);
    let out = table.embedding(&tokens).unwrap();
    assert_eq!(out.shape(), &[2, 2, 3]);
    assert_eq!(out.to_vec_f32().unwrap(), vec![6., 7., 8., 0., 1., 2., 6., 7., 8., 9., 10., 11.]);
    let weights = Tensor::from_vec((1..=12).map(|v| v as f32).collect(), &[2, 2, 3], Device::Cpu).unwrap();
    let grads = out.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
    // Row 2 is used at positions 0 and 2, row 1 never.
    let expected = vec![4., 5., 6., 0., 0., 0., 1. + 7., 2. + 8., 3. + 9., 10., 11., 12.];
    assert_eq!(grads.get(&table).unwrap().to_vec_f32().unwrap(), expected);
}

#[test]
fn gradient_check_and_gpu_parity() {
    // Repeated ids (5 appears three times), a row never used (1), 3-D ids.
    let tokens = ids(&[5, 0, 2, 5, 3, 5, 7, 0, 6, 2, 4, 3], &[2, 3, 2]);
    let f = |x: &[Tensor]| x[0].embedding(&tokens.to_device(x[0].device()).unwrap());
    check_gradients(f, &[random(&[8, 5], 1)], &GradCheck::default()).unwrap();
    check_gpu_parity("embedding", &f, &[random(&[8, 5], 1)], &[DType::F32, DType::F16, DType::BF16]);
    // Rows wider than one warp pass (256 columns) and a vocabulary of several blocks of rows.
    let many: Vec<i32> = (0..300i32).map(|i| i * 7 % 41).collect();
    let wide_tokens = ids(&many, &[300]);
    let g = |x: &[Tensor]| x[0].embedding(&wide_tokens.to_device(x[0].device()).unwrap());
    check_gpu_parity("embedding_wide", &g, &[random(&[41, 300], 2)], &[DType::F32]);
}

#[test]
fn bad_ids_are_errors_that_say_where() {
    let table = random(&[4, 2], 3);
    let error = table.embedding(&ids(&[1, 4], &[2])).unwrap_err().to_string();
    assert!(error.contains("token id 4 at position 1") && error.contains("[0, 4)"), "{error}");
    let error = table.embedding(&ids(&[-1], &[1])).unwrap_err().to_string();
    assert!(error.contains("token id -1"), "{error}");
    let error = table.embedding(&table).unwrap_err().to_string();
    assert!(error.contains("must be i32"), "{error}");
}

#[test]
fn module_names_its_weight_and_draws_standard_normal_values() {
    let embedding = Embedding::new("embedding", 200, 50, &mut Rng::new(0), Device::Cpu).unwrap();
    let parameters = embedding.parameters();
    assert_eq!(parameters[0].0, "embedding.weight");
    assert_eq!(parameters[0].1.shape(), &[200, 50]);
    let values = parameters[0].1.to_vec_f32().unwrap();
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32;
    assert!(mean.abs() < 0.05 && (variance - 1.0).abs() < 0.05, "N(0, 1): mean {mean}, variance {variance}");
    let out = embedding.forward(&ids(&[0, 199], &[1, 2])).unwrap();
    assert_eq!(out.shape(), &[1, 2, 50]);
}
