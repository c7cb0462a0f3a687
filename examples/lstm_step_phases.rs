//! Wall-clock breakdown of benches/lstm.rs's CPU training step by phase (forward, backward, Adam)
//! and of its biggest pieces run alone, for docs/lstm.md (issue 15). Medians of ITERS runs, in ms.
//!
//!   RAYON_NUM_THREADS=2 cargo run --release --example lstm_step_phases [ITERS=20]
//!
//! Under `valgrind --tool=callgrind` use a few iterations (ITERS=2) for instruction counts.
use std::time::Instant;

use memefuse::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use memefuse::nn::loss::binary_cross_entropy_with_logits;
use memefuse::optim::{Adam, AdamConfig, Optimizer};
use memefuse::util::Rng;
use memefuse::{autograd, DType, Device, Tensor};

const VOCAB: usize = 20_000;
const EMBEDDING: usize = 100;
const HIDDEN: usize = 64;
const STEPS: usize = 64;
const BATCH: usize = 64;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn time_ms(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let iters: usize = std::env::args().nth(1).map_or(20, |a| a.parse().expect("ITERS"));
    let config = TextLstmConfig { vocab_size: VOCAB, embedding_dim: EMBEDDING, hidden: HIDDEN, layers: 2, readout: SequenceReadout::LastStep };
    let model = TextLstm::new(config, &mut Rng::new(1), Device::Cpu).unwrap();
    let mut rng = Rng::new(2);
    let ids: Vec<i32> = (0..BATCH * STEPS).map(|_| rng.below(VOCAB) as i32).collect();
    let tokens = Tensor::from_i32(ids, &[BATCH, STEPS], Device::Cpu).unwrap();
    let targets = Tensor::from_vec((0..BATCH).map(|i| (i % 2) as f32).collect(), &[BATCH], Device::Cpu).unwrap();
    let lengths = vec![STEPS; BATCH];
    let mut adam = Adam::new(AdamConfig::default());

    let (mut forward, mut backward, mut update, mut inference) = (vec![], vec![], vec![], vec![]);
    for _ in 0..iters + 1 {
        let mut logits = None;
        forward.push(time_ms(|| logits = Some(model.forward(&tokens, &lengths, true, DType::F32).unwrap())));
        let mut grads = None;
        backward.push(time_ms(|| grads = Some(binary_cross_entropy_with_logits(logits.as_ref().unwrap(), &targets).unwrap().backward().unwrap())));
        update.push(time_ms(|| adam.step(&model.parameters(), grads.as_ref().unwrap()).unwrap()));
        inference.push(time_ms(|| {
            let _no_grad = autograd::no_grad();
            drop(model.forward(&tokens, &lengths, false, DType::F32).unwrap());
        }));
    }
    // The first iteration (Adam's moments, first touches) is left out.
    let [forward, backward, update, inference] = [forward, backward, update, inference].map(|mut t| median(t.split_off(1)));
    println!("train step, by phase (median of {iters}, ms): forward {forward:.2}, backward {backward:.2}, Adam {update:.2}, total {:.2} ({:.0} samples/s)", forward + backward + update, BATCH as f64 * 1e3 / (forward + backward + update));
    println!("inference forward: {inference:.2} ms ({:.0} samples/s)", BATCH as f64 * 1e3 / inference);

    // Pieces alone, at the bench's shapes.
    let _no_grad = autograd::no_grad();
    let mut rng = Rng::new(3);
    let x_proj = Tensor::randn(&[BATCH, STEPS, 4 * HIDDEN], 1.0, &mut rng, Device::Cpu).unwrap();
    let w_hh = Tensor::randn(&[4 * HIDDEN, HIDDEN], 0.1, &mut rng, Device::Cpu).unwrap();
    let table = Tensor::randn(&[VOCAB, EMBEDDING], 1.0, &mut rng, Device::Cpu).unwrap();
    let x = Tensor::randn(&[BATCH * STEPS, EMBEDDING], 1.0, &mut rng, Device::Cpu).unwrap();
    let w_ih = Tensor::randn(&[4 * HIDDEN, EMBEDDING], 0.1, &mut rng, Device::Cpu).unwrap();
    let piece = |f: &dyn Fn()| median((0..iters).map(|_| time_ms(f)).collect());
    let recurrence = piece(&|| drop(x_proj.lstm_recurrence(&w_hh).unwrap()));
    let projection = piece(&|| drop(x.matmul(&w_ih.t().unwrap()).unwrap()));
    drop(_no_grad);
    let recurrence_backward = piece(&|| {
        let x_proj = x_proj.clone().with_grad();
        let w_hh = w_hh.clone().with_grad();
        let h = x_proj.lstm_recurrence(&w_hh).unwrap();
        drop(h.sum_all().unwrap().backward().unwrap());
    }) - recurrence;
    let embedding_backward = piece(&|| {
        let table = table.clone().with_grad();
        let e = table.embedding(&tokens).unwrap();
        drop(e.sum_all().unwrap().backward().unwrap());
    });
    println!("one layer's recurrence (B {BATCH}, T {STEPS}, H {HIDDEN}): forward {recurrence:.2} ms, backward (BPTT + dW_hh, sum's gradient included) {recurrence_backward:.2} ms");
    println!("layer-0 input projection [{}, {EMBEDDING}]·[{EMBEDDING}, {}]: {projection:.2} ms", BATCH * STEPS, 4 * HIDDEN);
    println!("embedding forward + backward ([{VOCAB}, {EMBEDDING}] dense gradient): {embedding_backward:.2} ms");
}
