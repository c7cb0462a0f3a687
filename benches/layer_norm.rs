//! Layer norm over the last axis, CLIP's widths (ViT-B/32: 768; its text side: 512) at 8192 rows
//! (2048 on the CPU), in GB/s of nominal traffic: forward reads x and writes y; backward (through
//! Σ y ⊙ g) reads x, g and dy-sized intermediates, counted as 3 row-sized tensors.
//! scripts/bench/cpu-vs-torch.sh runs PyTorch's `layer_norm` on the same shapes beside the CPU figures.
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::util::Rng;
use memefuse::{DType, Tensor};

fn layer_norm(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let rows = if device.is_cuda() { 8192 } else { 2048 };
        for width in [512, 768] {
            for dtype in [DType::F32, DType::F16] {
                let mut rng = Rng::new(4);
                let x = Tensor::randn(&[rows, width], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
                let g = Tensor::randn(&[rows, width], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
                let weight = Tensor::randn(&[width], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
                let bias = Tensor::randn(&[width], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
                let bytes = (rows * width * dtype.size_in_bytes()) as u64;
                let mut group = c.benchmark_group(format!("{label}_layer_norm_{dtype}"));
                group.sample_size(20);
                group.throughput(Throughput::BytesDecimal(2 * bytes));
                group.bench_function(format!("forward_{rows}x{width}"), |b| b.iter(|| common::run_and_wait(device, || x.layer_norm(&weight, &bias, 1e-5))));
                group.throughput(Throughput::BytesDecimal(3 * bytes));
                group.bench_function(format!("backward_{rows}x{width}"), |b| {
                    let (leaf, weight, bias) = (x.with_grad(), weight.with_grad(), bias.with_grad());
                    b.iter(|| {
                        let y = leaf.layer_norm(&weight, &bias, 1e-5).unwrap();
                        let grads = y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
                        common::synchronize(device);
                        drop(grads)
                    })
                });
                group.finish();
            }
        }
    }
}

criterion_group!(benches, layer_norm);
criterion_main!(benches);
