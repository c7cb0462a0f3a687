//! The bench's inference forward in a loop, for profiling (perf/callgrind): min and median ms.
//!
//!   RAYON_NUM_THREADS=2 cargo run --release --example lstm_inference_loop [ITERS=200]
use std::time::Instant;

use memefuse::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use memefuse::util::Rng;
use memefuse::{autograd, DType, Device, Tensor};

fn main() {
    let iters: usize = std::env::args().nth(1).map_or(200, |a| a.parse().expect("ITERS"));
    let (vocab, batch, steps) = (20_000, 64, 64);
    let config = TextLstmConfig { vocab_size: vocab, embedding_dim: 100, hidden: 64, layers: 2, readout: SequenceReadout::LastStep };
    let model = TextLstm::new(config, &mut Rng::new(1), Device::Cpu).unwrap();
    let mut rng = Rng::new(2);
    let ids: Vec<i32> = (0..batch * steps).map(|_| rng.below(vocab) as i32).collect();
    let tokens = Tensor::from_i32(ids, &[batch, steps], Device::Cpu).unwrap();
    let lengths = vec![steps; batch];
    let _no_grad = autograd::no_grad();
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let start = Instant::now();
            drop(model.forward(&tokens, &lengths, false, DType::F32).unwrap());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("inference forward over {iters}: min {:.3} ms ({:.0} samples/s), median {:.3} ms", times[0], batch as f64 * 1e3 / times[0], times[iters / 2]);
}
