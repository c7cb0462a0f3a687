//! The fused linear layer (x·Wᵀ + b, one GEMM with the bias in its epilogue) at the shapes our
//! models run, in GFLOP/s (2·m·n·k), forward and forward + backward (dx, dW, db: 3× the FLOPs):
//! - VGG16's first classifier layer at 64 px, batch 16: [16, 25088] · [4096, 25088]ᵀ (weight-bound);
//! - a fusion head: [64, 1024] · [512, 1024]ᵀ;
//! - CLIP ViT-B/32's MLP fc1 over one batch of 8 images: [400, 768] · [3072, 768]ᵀ.
//! scripts/bench/cpu-vs-torch.sh runs PyTorch's `F.linear` on the same shapes beside the CPU figures.
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::util::Rng;
use memefuse::Tensor;

const SHAPES: [(&str, usize, usize, usize); 3] = [("vgg16_fc1_b16", 16, 25088, 4096), ("fusion_head_b64", 64, 1024, 512), ("clip_fc1_400", 400, 768, 3072)];

fn linear(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let mut group = c.benchmark_group(format!("{label}_linear_f32"));
        group.sample_size(10);
        for (name, rows, inputs, outputs) in SHAPES {
            let mut rng = Rng::new(5);
            let x = Tensor::randn(&[rows, inputs], 1.0, &mut rng, device).unwrap();
            let weight = Tensor::randn(&[outputs, inputs], 0.01, &mut rng, device).unwrap();
            let bias = Tensor::randn(&[outputs], 0.01, &mut rng, device).unwrap();
            let flops = 2 * rows * inputs * outputs;
            group.throughput(Throughput::Elements(flops as u64));
            group.bench_function(format!("forward_{name}"), |b| b.iter(|| common::run_and_wait(device, || x.linear(&weight, &bias))));
            group.throughput(Throughput::Elements(3 * flops as u64));
            group.bench_function(format!("train_{name}"), |b| {
                let (x, weight, bias) = (x.with_grad(), weight.with_grad(), bias.with_grad());
                b.iter(|| {
                    let grads = x.linear(&weight, &bias).unwrap().sum_all().unwrap().backward().unwrap();
                    common::synchronize(device);
                    drop(grads)
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, linear);
criterion_main!(benches);
