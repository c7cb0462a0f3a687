//! The LSTM: the recurrence op against an independent step-by-step composition of elementary ops
//! (values and gradients), gradient checks through several time steps and two layers, parameter
//! names and initialisation, and GPU parity for the persistent and the per-step kernels.
mod common;

use common::{assert_close, check_gpu_parity, random};
use memefuse::autograd::{check_gradients, GradCheck};
use memefuse::nn::Lstm;
use memefuse::util::Rng;
use memefuse::{DType, Device, Result, Tensor};

/// The LSTM written with elementary ops, one step at a time: the last hidden state [B, H].
fn composed_last_hidden(x_proj: &Tensor, w_hh: &Tensor) -> Result<Tensor> {
    let (batch, steps, hidden) = (x_proj.shape()[0], x_proj.shape()[1], w_hh.shape()[1]);
    let mut h = Tensor::zeros(&[batch, hidden], DType::F32, x_proj.device())?;
    let mut c = h.clone();
    for t in 0..steps {
        let a = x_proj.narrow(1, t, 1)?.squeeze(1)?.add(&h.matmul(&w_hh.t()?)?)?;
        let gate = |k: usize| a.narrow(1, k * hidden, hidden);
        let (i, f, g, o) = (gate(0)?.sigmoid()?, gate(1)?.sigmoid()?, gate(2)?.tanh()?, gate(3)?.sigmoid()?);
        c = f.mul(&c)?.add(&i.mul(&g)?)?;
        h = o.mul(&c.tanh()?)?;
    }
    Ok(h)
}

fn last_step(outputs: &Tensor) -> Result<Tensor> {
    outputs.narrow(1, outputs.shape()[1] - 1, 1)?.squeeze(1)
}

#[test]
fn recurrence_matches_elementary_ops_in_values_and_gradients() {
    let (batch, steps, hidden) = (3, 6, 4);
    let x_proj = random(&[batch, steps, 4 * hidden], 1).with_grad();
    let w_hh = random(&[4 * hidden, hidden], 2).scale(0.5).unwrap().with_grad();
    let ours = last_step(&x_proj.lstm_recurrence(&w_hh).unwrap()).unwrap();
    let reference = composed_last_hidden(&x_proj, &w_hh).unwrap();
    assert_close(&ours, &reference, 1e-6, "last hidden state");

    let weights = random(&[batch, hidden], 3);
    let ours_grads = ours.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
    let x2 = x_proj.detach().with_grad();
    let w2 = w_hh.detach().with_grad();
    let reference = composed_last_hidden(&x2, &w2).unwrap();
    let reference_grads = reference.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
    assert_close(ours_grads.get(&x_proj).unwrap(), reference_grads.get(&x2).unwrap(), 1e-5, "d x_proj");
    assert_close(ours_grads.get(&w_hh).unwrap(), reference_grads.get(&w2).unwrap(), 1e-5, "d w_hh");
}

#[test]
fn recurrence_gradient_check() {
    let f = |x: &[Tensor]| x[0].lstm_recurrence(&x[1]);
    check_gradients(f, &[random(&[2, 4, 20], 4), random(&[20, 5], 5)], &GradCheck::default()).unwrap();
}

#[test]
fn two_layer_lstm_gradient_check_through_four_steps() {
    // batch 2, seq 4, in 3, hidden 5, 2 layers: every parameter and the input.
    let lstm = Lstm::new("lstm", 3, 5, 2, &mut Rng::new(6), Device::Cpu).unwrap();
    let mut inputs = vec![random(&[2, 4, 3], 7)];
    inputs.extend(lstm.parameters().into_iter().map(|(_, p)| p.detach()));
    let f = |x: &[Tensor]| -> Result<Tensor> {
        let (w_ih0, w_hh0, b_ih0, b_hh0) = (&x[1], &x[2], &x[3], &x[4]);
        let (w_ih1, w_hh1, b_ih1, b_hh1) = (&x[5], &x[6], &x[7], &x[8]);
        let layer = |input: &Tensor, w_ih: &Tensor, w_hh: &Tensor, b_ih: &Tensor, b_hh: &Tensor| {
            input.matmul(&w_ih.t()?)?.add(b_ih)?.add(b_hh)?.lstm_recurrence(w_hh)
        };
        let first = layer(&x[0], w_ih0, w_hh0, b_ih0, b_hh0)?;
        layer(&first, w_ih1, w_hh1, b_ih1, b_hh1)
    };
    check_gradients(f, &inputs, &GradCheck::default()).unwrap();
}

#[test]
fn forward_without_gradients_equals_the_taped_forward_bit_for_bit() {
    // Under no_grad (and with nothing requiring a gradient) the recurrence keeps no gates or cells
    // (the CPU's inference path); its hidden states must be the taped forward's exactly. Odd sizes:
    // 37 rows (two full tasks of 16 and a short one), 9 steps, input 11, hidden 13, 2 layers.
    let lstm = Lstm::new("lstm", 11, 13, 2, &mut Rng::new(8), Device::Cpu).unwrap();
    let x = random(&[37, 9, 11], 9);
    let (taped, taped_last) = lstm.forward(&x).unwrap();
    assert!(taped.requires_grad(), "the parameters require gradients, so this forward is on the tape");
    let bits = |t: &Tensor| t.to_vec_f32().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    let untaped = {
        let _no_grad = memefuse::autograd::no_grad();
        lstm.forward(&x).unwrap()
    };
    // Recording, but nothing needs a gradient: the bare recurrence on detached operands.
    let w_hh = &lstm.layers()[0].weight_hh;
    let x_proj = random(&[37, 9, 4 * 13], 10);
    let taped_recurrence = x_proj.clone().with_grad().lstm_recurrence(w_hh).unwrap();
    let bare_recurrence = x_proj.detach().lstm_recurrence(&w_hh.detach()).unwrap();
    assert!(!bare_recurrence.requires_grad());
    assert_eq!(bits(&untaped.0), bits(&taped), "last layer's hidden states");
    for (layer, (a, b)) in untaped.1.iter().zip(&taped_last).enumerate() {
        assert_eq!(bits(a), bits(b), "layer {layer}'s last hidden state");
    }
    assert_eq!(bits(&bare_recurrence), bits(&taped_recurrence), "recurrence without gradients");
}

#[test]
fn module_has_pytorch_names_shapes_and_initialisation() {
    let lstm = Lstm::new("lstm", 3, 5, 2, &mut Rng::new(8), Device::Cpu).unwrap();
    let names: Vec<(String, Vec<usize>)> = lstm.parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    let expected = [
        ("lstm.weight_ih_l0", vec![20, 3]),
        ("lstm.weight_hh_l0", vec![20, 5]),
        ("lstm.bias_ih_l0", vec![20]),
        ("lstm.bias_hh_l0", vec![20]),
        ("lstm.weight_ih_l1", vec![20, 5]),
        ("lstm.weight_hh_l1", vec![20, 5]),
        ("lstm.bias_ih_l1", vec![20]),
        ("lstm.bias_hh_l1", vec![20]),
    ];
    assert_eq!(names, expected.iter().map(|(n, s)| (n.to_string(), s.clone())).collect::<Vec<_>>());
    let bound = 1.0 / 5f32.sqrt();
    for (name, p) in lstm.parameters() {
        assert!(p.requires_grad(), "{name}");
        assert!(p.to_vec_f32().unwrap().iter().all(|v| v.abs() <= bound), "{name} within ±1/√H");
    }
    let (outputs, last) = lstm.forward(&random(&[2, 4, 3], 9)).unwrap();
    assert_eq!(outputs.shape(), &[2, 4, 5]);
    assert_eq!(last.len(), 2);
    assert_close(&last[1], &last_step(&outputs).unwrap(), 0.0, "last hidden of the top layer");
    assert!(Lstm::new("lstm", 3, 5, 0, &mut Rng::new(0), Device::Cpu).is_err());
    assert!(random(&[2, 4, 8], 1).lstm_recurrence(&random(&[8, 3], 1)).unwrap_err().to_string().contains("4·hidden"));
}

#[test]
fn gpu_parity_persistent_and_per_step_kernels() {
    let f = |x: &[Tensor]| x[0].lstm_recurrence(&x[1]);
    // (batch, steps, hidden): persistent with 1 row per block; the small bench shape; persistent with
    // several rows per block and a partial last block; per-step tiles with ragged edges (H = 130).
    for (batch, steps, hidden) in [(2, 4, 5), (64, 16, 64), (299, 3, 8), (37, 5, 130)] {
        let x_proj = random(&[batch, steps, 4 * hidden], 10);
        let w_hh = random(&[4 * hidden, hidden], 11).scale(1.0 / (hidden as f32).sqrt()).unwrap();
        check_gpu_parity(&format!("lstm_b{batch}_t{steps}_h{hidden}"), &f, &[x_proj, w_hh], &[DType::F32]);
    }
}
