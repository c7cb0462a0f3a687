//! The 2-layer text LSTM classifier (embedding → LSTM → LSTM → last step → linear), forward and one
//! training step (forward, BCE-with-logits, backward, Adam), in samples/s.
//! Shapes (embedding, hidden, sequence, batch): (100, 64, 64, 64) and (256, 512, 128, 256); the CPU
//! runs the small one only. PyTorch/cuDNN on the H100 trains at 15,466 and 16,027 samples/s
//! (scripts/gpu/torch_lstm_reference.py); goals: ≥ 2× at the small shape, ≥ 0.8× at the large one.
//! On the GPU each shape runs in f32 and in mixed precision (f16 projections, f32 recurrences).
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use memefuse::nn::loss::binary_cross_entropy_with_logits;
use memefuse::optim::{Adam, AdamConfig, Optimizer};
use memefuse::util::Rng;
use memefuse::{autograd, DType, Device, Tensor};

const VOCAB: usize = 20_000;

struct Shape {
    embedding: usize,
    hidden: usize,
    sequence: usize,
    batch: usize,
}

fn lstm(c: &mut Criterion) {
    let small = Shape { embedding: 100, hidden: 64, sequence: 64, batch: 64 };
    let large = Shape { embedding: 256, hidden: 512, sequence: 128, batch: 256 };
    for (label, device) in common::devices() {
        let shapes: Vec<&Shape> = if device.is_cuda() { vec![&small, &large] } else { vec![&small] };
        for shape in shapes {
            let config = TextLstmConfig { vocab_size: VOCAB, embedding_dim: shape.embedding, hidden: shape.hidden, layers: 2, readout: SequenceReadout::LastStep };
            let model = TextLstm::new(config, &mut Rng::new(1), device).unwrap();
            let mut rng = Rng::new(2);
            let ids: Vec<i32> = (0..shape.batch * shape.sequence).map(|_| rng.below(VOCAB) as i32).collect();
            let tokens = Tensor::from_i32(ids, &[shape.batch, shape.sequence], Device::Cpu).unwrap().to_device(device).unwrap();
            let labels: Vec<f32> = (0..shape.batch).map(|i| (i % 2) as f32).collect();
            let targets = Tensor::from_vec(labels, &[shape.batch], device).unwrap();
            let lengths = vec![shape.sequence; shape.batch];
            let name = format!("e{}_h{}_t{}_b{}", shape.embedding, shape.hidden, shape.sequence, shape.batch);
            // On the GPU also mixed precision (`--precision fp16`): f16 input projections and head on
            // tensor cores, f32 recurrences.
            let dtypes: &[DType] = if device.is_cuda() { &[DType::F32, DType::F16] } else { &[DType::F32] };
            for &dtype in dtypes {
                let mut group = c.benchmark_group(format!("{label}_lstm_classifier_{dtype}"));
                group.sample_size(10);
                group.throughput(Throughput::Elements(shape.batch as u64));
                group.bench_function(format!("forward_{name}"), |b| {
                    b.iter(|| {
                        let _no_grad = autograd::no_grad();
                        common::run_and_wait(device, || model.forward(&tokens, &lengths, false, dtype))
                    })
                });
                let mut adam = Adam::new(AdamConfig::default());
                group.bench_function(format!("train_step_{name}"), |b| {
                    b.iter(|| {
                        let logits = model.forward(&tokens, &lengths, true, dtype).unwrap().to_dtype(DType::F32).unwrap();
                        let grads = binary_cross_entropy_with_logits(&logits, &targets).unwrap().backward().unwrap();
                        adam.step(&model.parameters(), &grads).unwrap();
                        common::synchronize(device);
                    })
                });
                group.finish();
            }
        }
    }
}

criterion_group!(benches, lstm);
criterion_main!(benches);
