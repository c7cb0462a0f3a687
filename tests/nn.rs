//! Layers, losses and optimisers: gradient checks, closed-form values, PyTorch's update rules.
mod common;

use common::*;
use memefuse::nn::{dropout, loss, Linear};
use memefuse::optim::{clip_grad_norm, Adam, AdamConfig, LossScaler, Optimizer, Sgd, SgdConfig};
use memefuse::util::Rng;
use memefuse::{Device, Tensor};

#[test]
fn linear_is_x_wt_plus_b_with_gradients() {
    let layer = Linear::new("fc", 5, 3, &mut Rng::new(1), Device::Cpu).unwrap();
    let x = random(&[4, 5], 2);
    let expected = x.matmul(&layer.weight().t().unwrap()).unwrap().add(layer.bias().unwrap()).unwrap();
    assert_close(&layer.forward(&x).unwrap(), &expected, 1e-6, "linear forward");
    let names: Vec<String> = layer.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["fc.weight", "fc.bias"]);
    assert_eq!(layer.weight().shape(), &[3, 5], "weights are stored [out, in] as in PyTorch");
    check_op("linear", |t| t[0].linear(&t[1], &t[2]), &[random(&[2, 7, 5], 3), random(&[3, 5], 4), random(&[3], 5)]);
    check_op("linear of a transposed input", |t| t[0].t()?.linear(&t[1], &t[2]), &[random(&[5, 7], 6), random(&[3, 5], 7), random(&[3], 8)]);
    let large = [random(&[37, 130], 9), random(&[67, 130], 10), random(&[67], 11)];
    check_gpu_parity("linear 37x130→67", &|t: &[Tensor]| t[0].linear(&t[1], &t[2]), &large, &[memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16]);
    assert!(x.linear(&random(&[3, 4], 1), layer.bias().unwrap()).unwrap_err().to_string().contains("do not fit"));
}

#[test]
fn cross_entropy_value_and_gradient() {
    let logits = Tensor::from_vec(vec![2.0, 0.5, -1.0, 0.0, 0.0, 0.0], &[2, 3], Device::Cpu).unwrap();
    let value = loss::cross_entropy(&logits, &[0, 2]).unwrap().to_scalar().unwrap();
    let row0 = -(2.0f32.exp() / (2.0f32.exp() + 0.5f32.exp() + (-1.0f32).exp())).ln();
    let row1 = 3.0f32.ln();
    assert!((value - (row0 + row1) / 2.0).abs() < 1e-6, "{value}");
    let targets = [1u32, 0, 2, 2, 1];
    // The loss is f32 whatever the logits' dtype; cast it back so GPU parity compares like with like.
    check_op("cross_entropy", move |t| loss::cross_entropy(&t[0], &targets)?.to_dtype(t[0].dtype()), &[random(&[5, 3], 6).scale(2.0).unwrap()]);
    let many_classes: Vec<u32> = (0..37).map(|i| (i * 7 % 300) as u32).collect();
    let wide = random(&[37, 300], 7).scale(3.0).unwrap();
    check_gpu_parity("cross_entropy 37x300", &|t: &[Tensor]| loss::cross_entropy(&t[0], &many_classes)?.to_dtype(t[0].dtype()), &[wide], &[memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16]);
    let err = loss::cross_entropy(&logits, &[0, 3]).unwrap_err().to_string();
    assert!(err.contains("target 3 at row 1"), "{err}");
}

#[test]
fn binary_cross_entropy_with_logits_is_stable_and_exact_at_zero() {
    let targets = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[4], Device::Cpu).unwrap();
    let logits = Tensor::from_vec(vec![0.0, 0.0, 100.0, -100.0], &[4], Device::Cpu).unwrap().with_grad();
    let value = loss::binary_cross_entropy_with_logits(&logits, &targets).unwrap();
    assert!((value.to_scalar().unwrap() - 2.0 * 2.0f32.ln() / 4.0).abs() < 1e-6);
    let g = value.backward().unwrap().get(&logits).unwrap().to_vec_f32().unwrap();
    // (σ(x) − t)/N: at 0 that is ∓0.125, at ±100 it vanishes.
    assert!((g[0] + 0.125).abs() < 1e-7 && (g[1] - 0.125).abs() < 1e-7 && g[2].abs() < 1e-7 && g[3].abs() < 1e-7, "{g:?}");
    let t = random_in(&[7], 0.0, 1.0, 7);
    check_op("bce_with_logits", move |x| loss::binary_cross_entropy_with_logits(&x[0], &t)?.to_dtype(x[0].dtype()), &[random(&[7], 8).scale(3.0).unwrap()]);
}

#[test]
fn dropout_is_seeded_scaled_and_off_in_evaluation() {
    let x = Tensor::ones(&[10_000], memefuse::DType::F32, Device::Cpu).unwrap();
    let eval = dropout(&x, 0.5, false, &mut Rng::new(1)).unwrap();
    assert!(eval.shares_storage_with(&x));
    let a = dropout(&x, 0.3, true, &mut Rng::new(2)).unwrap().to_vec_f32().unwrap();
    let b = dropout(&x, 0.3, true, &mut Rng::new(2)).unwrap().to_vec_f32().unwrap();
    assert_eq!(a, b, "same seed, same mask");
    let zeros = a.iter().filter(|&&v| v == 0.0).count() as f32 / a.len() as f32;
    assert!((zeros - 0.3).abs() < 0.02, "dropped fraction {zeros}");
    assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    assert!(dropout(&x, 1.0, true, &mut Rng::new(1)).is_err());
}

fn quadratic_gradients(param: &Tensor, target: f32) -> memefuse::autograd::Gradients {
    // loss = Σ (p − target)²
    param.affine(1.0, -target).unwrap().powf(2.0).unwrap().sum_all().unwrap().backward().unwrap()
}

#[test]
fn adam_first_step_moves_each_parameter_by_the_learning_rate() {
    let p = Tensor::from_vec(vec![1.0, -2.0, 0.5], &[3], Device::Cpu).unwrap().with_grad();
    let params = vec![("p".to_string(), p.clone())];
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.1, ..Default::default() });
    adam.step(&params, &quadratic_gradients(&p, 3.0)).unwrap();
    // m̂ = g, v̂ = g², so the update is lr·g/|g| = lr·sign(g) (up to ε).
    let v = p.to_vec_f32().unwrap();
    assert!((v[0] - 1.1).abs() < 1e-6 && (v[1] + 1.9).abs() < 1e-6 && (v[2] - 0.6).abs() < 1e-6, "{v:?}");
    for _ in 0..500 {
        adam.step(&params, &quadratic_gradients(&p, 3.0)).unwrap();
    }
    assert!(p.to_vec_f32().unwrap().iter().all(|v| (v - 3.0).abs() < 1e-2));
}

#[test]
fn adamw_decays_weights_apart_from_the_gradient() {
    let run = |decoupled: bool| {
        let p = Tensor::from_vec(vec![2.0], &[1], Device::Cpu).unwrap().with_grad();
        let params = vec![("p".to_string(), p.clone())];
        let mut adam = Adam::new(AdamConfig { learning_rate: 0.1, weight_decay: 0.5, decoupled_weight_decay: decoupled, ..Default::default() });
        adam.step(&params, &quadratic_gradients(&p, 2.0)).unwrap(); // zero gradient at p = target
        p.to_scalar().unwrap()
    };
    // AdamW: p·(1 − lr·wd) = 2·0.95; Adam(L2): the decay enters g, so the step is lr·sign(g) = 0.1.
    assert!((run(true) - 1.9).abs() < 1e-6);
    assert!((run(false) - 1.9).abs() < 1e-6);
    let p = Tensor::from_vec(vec![2.0], &[1], Device::Cpu).unwrap().with_grad();
    let params = vec![("p".to_string(), p.clone())];
    let mut adamw = Adam::new(AdamConfig { learning_rate: 0.1, weight_decay: 0.5, decoupled_weight_decay: true, ..Default::default() });
    adamw.step(&params, &quadratic_gradients(&p, 0.0)).unwrap();
    // AdamW with gradient: 2·0.95 − 0.1 = 1.8; Adam with L2 would give 2 − 0.1 = 1.9.
    assert!((p.to_scalar().unwrap() - 1.8).abs() < 1e-6);
}

#[test]
fn sgd_momentum_follows_pytorch() {
    let p = Tensor::from_vec(vec![0.0], &[1], Device::Cpu).unwrap().with_grad();
    let params = vec![("p".to_string(), p.clone())];
    let mut sgd = Sgd::new(SgdConfig { learning_rate: 0.1, momentum: 0.9, weight_decay: 0.0 });
    // loss = 2·p → g = 2 each step: buf₁ = 2, p₁ = −0.2; buf₂ = 0.9·2 + 2 = 3.8, p₂ = −0.2 − 0.38 = −0.58
    for _ in 0..2 {
        let grads = p.scale(2.0).unwrap().sum_all().unwrap().backward().unwrap();
        sgd.step(&params, &grads).unwrap();
    }
    assert!((p.to_scalar().unwrap() + 0.58).abs() < 1e-6, "{}", p.to_scalar().unwrap());
}

#[test]
fn optimiser_state_round_trips() {
    let p = random(&[4], 9).with_grad();
    let params = vec![("w".to_string(), p.clone())];
    let mut adam = Adam::new(AdamConfig::default());
    adam.step(&params, &quadratic_gradients(&p, 1.0)).unwrap();
    let mut restored = Adam::new(AdamConfig::default());
    restored.load_state(&adam.state()).unwrap();
    assert_eq!(restored.steps_taken(), 1);
    let q = p.detach().affine(1.0, 0.0).unwrap().with_grad();
    let q_params = vec![("w".to_string(), q.clone())];
    adam.step(&params, &quadratic_gradients(&p, 1.0)).unwrap();
    restored.step(&q_params, &quadratic_gradients(&q, 1.0)).unwrap();
    assert_eq!(p.to_vec_f32().unwrap(), q.to_vec_f32().unwrap());
}

#[test]
fn clipping_scales_to_the_global_norm() {
    let a = Tensor::from_vec(vec![3.0], &[1], Device::Cpu).unwrap().with_grad();
    let b = Tensor::from_vec(vec![4.0], &[1], Device::Cpu).unwrap().with_grad();
    let params = vec![("a".to_string(), a.clone()), ("b".to_string(), b.clone())];
    // loss = a²/2 + b²/2 → gradients (3, 4), global norm 5.
    let mut grads = a.mul(&a).unwrap().add(&b.mul(&b).unwrap()).unwrap().scale(0.5).unwrap().sum_all().unwrap().backward().unwrap();
    let norm = clip_grad_norm(&params, &mut grads, 1.0).unwrap();
    assert!((norm - 5.0).abs() < 1e-5);
    assert!((grads.get(&a).unwrap().to_scalar().unwrap() - 0.6).abs() < 1e-5);
    assert!((grads.get(&b).unwrap().to_scalar().unwrap() - 0.8).abs() < 1e-5);
}

#[test]
fn loss_scaler_skips_a_poisoned_step_and_regrows() {
    let p = Tensor::from_vec(vec![1.0, 1.0], &[2], Device::Cpu).unwrap().with_grad();
    let params = vec![("p".to_string(), p.clone())];
    let mut scaler = LossScaler::new(1024.0);
    scaler.growth_interval = 3;
    let mut adam = Adam::new(AdamConfig::default());
    // A gradient with an infinity (as fp16 overflow produces): the step must be skipped.
    let poison = Tensor::from_vec(vec![f32::INFINITY, 1.0], &[2], Device::Cpu).unwrap();
    let mut grads = p.mul(&poison).unwrap().sum_all().unwrap().scale(scaler.scale()).unwrap().backward().unwrap();
    let finite = scaler.unscale_and_check(&params, &mut grads).unwrap();
    assert!(!finite);
    if finite {
        adam.step(&params, &grads).unwrap();
    }
    scaler.update(finite);
    assert_eq!(p.to_vec_f32().unwrap(), vec![1.0, 1.0], "parameters untouched");
    assert_eq!(scaler.scale(), 512.0);
    assert_eq!(scaler.skipped_steps, 1);
    for _ in 0..3 {
        let mut grads = p.sum_all().unwrap().scale(scaler.scale()).unwrap().backward().unwrap();
        let finite = scaler.unscale_and_check(&params, &mut grads).unwrap();
        assert!(finite);
        assert_eq!(grads.get(&p).unwrap().to_vec_f32().unwrap(), vec![1.0, 1.0], "unscaled gradient");
        scaler.update(finite);
    }
    assert_eq!(scaler.scale(), 1024.0, "doubled after growth_interval good steps");
}

#[test]
fn a_small_mlp_learns_xor() {
    // End to end through the tape: two Linear layers, ReLU, cross-entropy, Adam.
    let mut rng = Rng::new(3);
    let first = Linear::new("hidden", 2, 16, &mut rng, Device::Cpu).unwrap();
    let second = Linear::new("out", 16, 2, &mut rng, Device::Cpu).unwrap();
    let params: Vec<(String, Tensor)> = first.parameters().into_iter().chain(second.parameters()).collect();
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2], Device::Cpu).unwrap();
    let targets = [0u32, 1, 1, 0];
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.05, ..Default::default() });
    let mut last = f32::MAX;
    for _ in 0..300 {
        let logits = second.forward(&first.forward(&x).unwrap().relu().unwrap()).unwrap();
        let value = loss::cross_entropy(&logits, &targets).unwrap();
        last = value.to_scalar().unwrap();
        adam.step(&params, &value.backward().unwrap()).unwrap();
    }
    assert!(last < 0.05, "final loss {last}");
}

/// Three steps of an optimiser on parameters of awkward sizes (one element, just over a chunk,
/// several chunks) with fixed gradients; returns the parameters afterwards.
fn run_optimiser(optimiser: &mut dyn Optimizer, device: Device) -> Vec<Vec<f32>> {
    let shapes: [&[usize]; 4] = [&[1], &[4097], &[3, 1000], &[8193]];
    let params: Vec<(String, Tensor)> = shapes.iter().enumerate().map(|(i, s)| (format!("p{i}"), random(s, 40 + i as u64).to_device(device).unwrap().with_grad())).collect();
    for step in 0..3 {
        // loss = Σ p ⊙ c with a different random c per step: the gradient is c.
        let mut loss = Tensor::zeros(&[], memefuse::DType::F32, device).unwrap();
        for (i, (_, p)) in params.iter().enumerate() {
            let c = random(p.shape(), 100 * step + i as u64).to_device(device).unwrap();
            loss = loss.add(&p.mul(&c).unwrap().sum_all().unwrap()).unwrap();
        }
        optimiser.step(&params, &loss.backward().unwrap()).unwrap();
    }
    params.iter().map(|(_, p)| p.to_vec_f32().unwrap()).collect()
}

#[test]
fn fused_optimisers_match_the_cpu_reference_on_gpu() {
    let Some(device) = gpu("fused_optimisers_match_the_cpu_reference_on_gpu") else { return };
    type MakeOptimizer = fn() -> Box<dyn Optimizer>;
    let configs: [(&str, MakeOptimizer); 4] = [
        ("adam", || Box::new(Adam::new(AdamConfig { learning_rate: 0.01, weight_decay: 0.1, ..Default::default() }))),
        ("adamw", || Box::new(Adam::new(AdamConfig { learning_rate: 0.01, weight_decay: 0.1, decoupled_weight_decay: true, ..Default::default() }))),
        ("sgd", || Box::new(Sgd::new(SgdConfig { learning_rate: 0.1, momentum: 0.9, weight_decay: 0.01 }))),
        ("sgd without momentum", || Box::new(Sgd::new(SgdConfig { learning_rate: 0.1, momentum: 0.0, weight_decay: 0.0 }))),
    ];
    for (name, make) in configs {
        let cpu = run_optimiser(make().as_mut(), Device::Cpu);
        let on_gpu = run_optimiser(make().as_mut(), device);
        for (c, g) in cpu.iter().zip(&on_gpu) {
            assert!(relative_error(g, c) < 1e-6, "{name}: {}", relative_error(g, c));
        }
    }
}

#[test]
fn the_non_finite_check_finds_one_bad_element_among_many_tensors() {
    let mut devices = vec![Device::Cpu];
    devices.extend(gpu("the_non_finite_check_finds_one_bad_element_among_many_tensors"));
    for device in devices {
        let params: Vec<(String, Tensor)> = [5000usize, 9000].iter().enumerate().map(|(i, &n)| (format!("t{i}"), random(&[n], i as u64).to_device(device).unwrap().with_grad())).collect();
        let gradients = |last: f32| {
            let mut grads = params[0].1.sum_all().unwrap().add(&params[1].1.sum_all().unwrap()).unwrap().backward().unwrap();
            let mut values = vec![1.0f32; 9000];
            values[8999] = last; // the very last element of the last tensor
            grads.insert(&params[1].1, Tensor::from_vec(values, &[9000], device).unwrap());
            grads
        };
        assert!(LossScaler::new(4.0).unscale_and_check(&params, &mut gradients(1.0)).unwrap(), "{device}: finite gradients flagged");
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert!(!LossScaler::new(4.0).unscale_and_check(&params, &mut gradients(bad)).unwrap(), "{device}: {bad} not found");
        }
    }
}
