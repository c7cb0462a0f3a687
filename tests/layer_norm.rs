//! Layer norm over the last axis, alone and fused with the residual add: finite-difference
//! gradient checks on odd widths, the definition against PyTorch's numbers, f32 statistics under
//! f16/bf16 storage; GPU parity of kernels/norm.cu (f32, f16, bf16) on odd widths and row counts.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use memefuse::autograd::{check_gradients, GradCheck};
use memefuse::{DType, Device, Tensor};

fn grad_check(name: &str, f: impl Fn(&[Tensor]) -> memefuse::Result<Tensor>, inputs: &[Tensor]) {
    check_gradients(&f, inputs, &GradCheck::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn layer_norm_gradients_at_odd_widths() {
    for (i, shape) in [[3usize, 5, 7], [2, 3, 33], [1, 4, 80]].iter().enumerate() {
        let width = shape[2];
        let x = random(shape, 10 + i as u64).affine(2.0, 0.5).unwrap();
        let weight = random_in(&[width], 0.5, 1.5, 20 + i as u64);
        let bias = random(&[width], 30 + i as u64);
        grad_check(&format!("layer_norm {shape:?}"), |t| t[0].layer_norm(&t[1], &t[2], 1e-5), &[x, weight, bias]);
    }
}

#[test]
fn add_layer_norm_gradients_through_both_outputs() {
    let (x, r) = (random(&[2, 7, 19], 1), random(&[2, 7, 19], 2));
    let (weight, bias) = (random_in(&[19], 0.5, 1.5, 3), random(&[19], 4));
    // Both outputs are used, as in a block: the sum goes on, the norm feeds the sublayer.
    let f = |t: &[Tensor]| {
        let (sum, normed) = t[0].add_layer_norm(&t[1], &t[2], &t[3], 1e-5)?;
        sum.mul(&normed)
    };
    grad_check("add_layer_norm", f, &[x, r, weight, bias]);
}

#[test]
fn add_layer_norm_equals_add_then_layer_norm() {
    let (x, r) = (random(&[4, 31], 5), random(&[4, 31], 6));
    let (weight, bias) = (random(&[31], 7), random(&[31], 8));
    let (sum, normed) = x.add_layer_norm(&r, &weight, &bias, 1e-6).unwrap();
    let expected_sum = x.add(&r).unwrap();
    assert_close(&sum, &expected_sum, 0.0, "sum");
    assert_close(&normed, &expected_sum.layer_norm(&weight, &bias, 1e-6).unwrap(), 1e-7, "norm");
}

#[test]
fn layer_norm_follows_its_definition() {
    // torch.nn.functional.layer_norm(torch.tensor([[1., 2., 4.], [-3., 0., 3.]]), (3,),
    //     torch.tensor([1., .5, 2.]), torch.tensor([0., 1., -1.]), 1e-5)
    let x = Tensor::from_vec(vec![1.0, 2.0, 4.0, -3.0, 0.0, 3.0], &[2, 3], Device::Cpu).unwrap();
    let weight = Tensor::from_vec(vec![1.0, 0.5, 2.0], &[3], Device::Cpu).unwrap();
    let bias = Tensor::from_vec(vec![0.0, 1.0, -1.0], &[3], Device::Cpu).unwrap();
    let y = x.layer_norm(&weight, &bias, 1e-5).unwrap().to_vec_f32().unwrap();
    let expected = [-1.069_041_4, 0.866_369_8, 1.672_603_6, -1.224_743_8, 1.0, 1.449_487_7];
    for (a, e) in y.iter().zip(expected) {
        assert!((a - e).abs() < 1e-5, "{y:?} vs {expected:?}");
    }
}

#[test]
fn half_precision_storage_keeps_f32_statistics() {
    // Rows with a large common offset: an f16 variance (x² sums) would lose the signal entirely.
    let x = random(&[6, 64], 9).affine(1.0, 300.0).unwrap();
    let (weight, bias) = (random(&[64], 10), random(&[64], 11));
    for dtype in [DType::F16, DType::BF16] {
        let rounded = x.to_dtype(dtype).unwrap();
        let reference = rounded.to_dtype(DType::F32).unwrap().layer_norm(&weight.to_dtype(dtype).unwrap().to_dtype(DType::F32).unwrap(), &bias.to_dtype(dtype).unwrap().to_dtype(DType::F32).unwrap(), 1e-5).unwrap();
        let y = rounded.layer_norm(&weight.to_dtype(dtype).unwrap(), &bias.to_dtype(dtype).unwrap(), 1e-5).unwrap();
        assert_eq!(y.dtype(), dtype);
        assert_close(&y, &reference, tolerance(dtype), &format!("layer_norm in {dtype}"));
    }
}

#[test]
fn mismatched_parameters_are_refused() {
    let x = random(&[2, 5], 1);
    let error = x.layer_norm(&random(&[4], 2), &random(&[5], 3), 1e-5).unwrap_err().to_string();
    assert!(error.contains("[5]") && error.contains("[4]"), "{error}");
}

const ALL_DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

#[test]
fn gpu_parity_at_odd_sizes() {
    // Widths below, at and above a warp; 300 rows span three parts of the weight-gradient reduction.
    for (i, shape) in [vec![3usize, 5, 7], vec![2, 3, 33], vec![1, 4, 80], vec![300, 19], vec![5, 1027]].iter().enumerate() {
        let width = shape[shape.len() - 1];
        let x = random(shape, 40 + i as u64).affine(2.0, 0.5).unwrap();
        let weight = random_in(&[width], 0.5, 1.5, 50 + i as u64);
        let bias = random(&[width], 60 + i as u64);
        check_gpu_parity(&format!("layer_norm {shape:?}"), &|t: &[Tensor]| t[0].layer_norm(&t[1], &t[2], 1e-5), &[x, weight, bias], &ALL_DTYPES);
    }
    // Far from zero: the kernel's statistics must not cancel (f32, two passes).
    let x = random(&[6, 64], 9).affine(1.0, 300.0).unwrap();
    check_gpu_parity("layer_norm offset 300", &|t: &[Tensor]| t[0].layer_norm(&t[1], &t[2], 1e-5), &[x, random(&[64], 10), random(&[64], 11)], &ALL_DTYPES);
}

#[test]
fn gpu_parity_of_the_fused_residual_add() {
    for (i, shape) in [[2usize, 7, 19], [3, 50, 64], [1, 131, 45]].iter().enumerate() {
        let width = shape[2];
        let seed = 70 + 10 * i as u64;
        let inputs = [random(shape, seed), random(shape, seed + 1), random_in(&[width], 0.5, 1.5, seed + 2), random(&[width], seed + 3)];
        // Both outputs feed the result, so both backward paths are compared.
        let f = |t: &[Tensor]| {
            let (sum, normed) = t[0].add_layer_norm(&t[1], &t[2], &t[3], 1e-5)?;
            sum.mul(&normed)
        };
        check_gpu_parity(&format!("add_layer_norm {shape:?}"), &f, &inputs, &ALL_DTYPES);
    }
}

#[test]
fn gpu_weight_gradients_are_deterministic() {
    let Some(device) = gpu("gpu_weight_gradients_are_deterministic") else { return };
    let x = random(&[517, 37], 3).to_device(device).unwrap();
    let (weight, bias) = (random(&[37], 4).to_device(device).unwrap().with_grad(), random(&[37], 5).to_device(device).unwrap().with_grad());
    let gradients = || {
        let grads = x.layer_norm(&weight, &bias, 1e-5).unwrap().sum_all().unwrap().backward().unwrap();
        (grads.get(&weight).unwrap().to_vec_f32().unwrap(), grads.get(&bias).unwrap().to_vec_f32().unwrap())
    };
    let first = gradients();
    for _ in 0..3 {
        assert_eq!(gradients(), first, "weight and bias gradients must be bit-identical from run to run");
    }
}
