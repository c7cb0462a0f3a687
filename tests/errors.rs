//! Every error path of the foundation ops says which op failed and what was wrong.
mod common;

use common::random;
use memefuse::nn::loss;
use memefuse::optim::{Adam, AdamConfig, Optimizer};
use memefuse::{DType, Device, Tensor};

fn message<T: std::fmt::Debug>(result: memefuse::Result<T>) -> String {
    result.expect_err("the call should fail").to_string()
}

#[test]
fn shape_dtype_and_value_errors_name_the_op() {
    let x = random(&[2, 3], 1);
    assert!(message(x.narrow(1, 2, 2)).contains("narrow: axis 1 range 2..4 out of bounds for [2, 3]"));
    assert!(message(x.dim(2)).contains("axis 2 out of range for shape [2, 3]"));
    assert!(message(x.squeeze(0)).contains("squeeze: axis 0 of [2, 3] has size 2, not 1"));
    assert!(message(x.broadcast_as(&[4, 3, 2])).contains("cannot broadcast [2, 3] to [4, 3, 2]"));
    assert!(message(x.add(&x.to_dtype(DType::F16).unwrap())).contains("different dtypes (f32 and f16)"));
    assert!(message(x.to_scalar()).contains("to_scalar: tensor of shape [2, 3] is not a scalar"));
    assert!(message(x.to_vec_i32()).contains("tensor holds f32, not i32"));
    let ids = Tensor::from_i32(vec![1, 2], &[2], Device::Cpu).unwrap();
    assert!(message(ids.softmax_last()).contains("softmax: needs a float tensor"));
    assert!(message(ids.exp()).contains("unary op is not supported for i32"));
    assert!(message(Tensor::from_vec(vec![1.0; 5], &[2, 3], Device::Cpu)).contains("5 values cannot fill shape [2, 3]"));
    let y = Tensor::zeros(&[2, 3], DType::F32, Device::Cpu).unwrap();
    assert!(message(y.axpy_(1.0, &random(&[3, 2], 2))).contains("axpby_: x is [3, 2] f32, self is [2, 3] f32"));
    let targets = Tensor::zeros(&[3], DType::F32, Device::Cpu).unwrap();
    assert!(message(loss::binary_cross_entropy_with_logits(&random(&[2], 3), &targets)).contains("logits [2] and targets [3] differ in shape"));
    assert!(message(loss::cross_entropy(&x, &[0])).contains("need shape [batch, classes] with batch = 1 targets"));
    assert!(message(Tensor::cat(&[], 0)).contains("cat: needs at least one tensor"));
}

#[test]
fn optimiser_state_that_does_not_fit_is_refused_by_name() {
    let p = random(&[3], 4).with_grad();
    let params = vec![("w".to_string(), p.clone())];
    let mut adam = Adam::new(AdamConfig::default());
    adam.step(&params, &p.sum_all().unwrap().backward().unwrap()).unwrap();
    let mut state = adam.state();
    state.retain(|(name, _)| name != "adam.v.w");
    let error = message(Adam::new(AdamConfig::default()).load_state(&state));
    assert!(error.contains("optimiser: the saved state has no tensor named adam.v.w"), "{error}");
}
