//! The tape's contract: what gets a gradient, accumulation, no-grad mode, errors.
#![allow(clippy::cloned_ref_to_slice_refs)] // `&[x.clone()]` reads better than `slice::from_ref(&x)`; a tensor clone copies a handle

mod common;

use common::random;
use memefuse::autograd::{self, no_grad};
use memefuse::{Device, Tensor};

#[test]
fn backward_fills_leaves_that_require_grad_and_only_those() {
    let w = random(&[3, 2], 1).with_grad();
    let x = random(&[4, 3], 2); // data: no gradient wanted
    let loss = x.matmul(&w).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    assert!(grads.get(&w).is_some());
    assert!(grads.get(&x).is_none());
    // d/dw Σ x·w = xᵀ·1: each row of the gradient is the column sums of x.
    let column_sums = x.sum(0, false).unwrap().to_vec_f32().unwrap();
    let g = grads.get(&w).unwrap().to_vec_f32().unwrap();
    for i in 0..3 {
        assert!((g[i * 2] - column_sums[i]).abs() < 1e-5 && (g[i * 2 + 1] - column_sums[i]).abs() < 1e-5);
    }
    assert_eq!(autograd::tape_len(), 0, "backward consumes the tape");
}

#[test]
fn gradients_accumulate_over_uses() {
    let x = Tensor::from_vec(vec![3.0], &[1], Device::Cpu).unwrap().with_grad();
    // y = x + x + x·x → dy/dx = 2 + 2x = 8
    let y = x.add(&x).unwrap().add(&x.mul(&x).unwrap()).unwrap().sum_all().unwrap();
    assert_eq!(y.backward().unwrap().get(&x).unwrap().to_vec_f32().unwrap(), vec![8.0]);
}

#[test]
fn no_grad_records_nothing() {
    autograd::clear_tape();
    let w = random(&[3], 3).with_grad();
    {
        let _guard = no_grad();
        let y = w.exp().unwrap().sum_all().unwrap();
        assert!(!y.requires_grad());
        assert_eq!(autograd::tape_len(), 0);
    }
    let y = w.exp().unwrap();
    assert!(y.requires_grad());
    assert_eq!(autograd::tape_len(), 1);
    autograd::clear_tape();
}

#[test]
fn detach_stops_gradients() {
    let w = random(&[3], 4).with_grad();
    let loss = w.detach().mul(&w).unwrap().sum_all().unwrap();
    // d/dw Σ stop(w)·w = w
    let g = loss.backward().unwrap().get(&w).unwrap().to_vec_f32().unwrap();
    assert_eq!(g, w.to_vec_f32().unwrap());
}

#[test]
fn backward_rejects_non_scalar_losses_and_mismatched_ops_say_why() {
    let w = random(&[3], 5).with_grad();
    let err = w.exp().unwrap().backward().err().unwrap().to_string();
    assert!(err.contains("scalar"), "{err}");
    autograd::clear_tape();
    let err = random(&[2, 3], 1).matmul(&random(&[4, 5], 2)).err().unwrap().to_string();
    assert!(err.contains("inner dimensions") && err.contains("[2, 3]"), "{err}");
    let err = random(&[2, 3], 1).add(&random(&[4], 2)).err().unwrap().to_string();
    assert!(err.contains("do not broadcast"), "{err}");
    let err = random(&[2, 3], 1).reshape(&[7]).err().unwrap().to_string();
    assert!(err.contains("cannot reshape"), "{err}");
}

#[test]
fn gradient_checker_catches_a_wrong_rule() {
    use memefuse::autograd::{check_gradients, GradCheck};
    let x = random(&[5], 6);
    // Forward computes 2x, but the gradient flows through only one of the two terms.
    let wrong = |t: &[Tensor]| -> memefuse::Result<Tensor> { t[0].detach().add(&t[0]) };
    // The analytic gradient is 1 but the numeric one is 2: the checker must fail.
    assert!(check_gradients(wrong, &[x.clone()], &GradCheck::default()).is_err());
    assert!(check_gradients(|t: &[Tensor]| t[0].add(&t[0]), &[x], &GradCheck::default()).is_ok());
}
