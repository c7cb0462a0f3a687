//! Softmax over the last axis of 16384×4096 (2048×4096 on the CPU), in GB/s (read + write).
//! Target on the H100: ≥ 1200 GB/s (PyTorch: 1184 GB/s in fp16).
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::util::Rng;
use memefuse::{DType, Tensor};

fn softmax(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let rows = if device.is_cuda() { 16384 } else { 2048 };
        for dtype in [DType::F32, DType::F16] {
            let x = Tensor::randn(&[rows, 4096], 1.0, &mut Rng::new(2), device).unwrap().to_dtype(dtype).unwrap();
            let g = Tensor::randn(&[rows, 4096], 1.0, &mut Rng::new(3), device).unwrap().to_dtype(dtype).unwrap();
            let bytes = (rows * 4096 * dtype.size_in_bytes()) as u64;
            let mut group = c.benchmark_group(format!("{label}_softmax_{dtype}"));
            group.sample_size(20);
            group.throughput(Throughput::BytesDecimal(2 * bytes));
            group.bench_function(format!("forward_{rows}x4096"), |b| b.iter(|| common::run_and_wait(device, || x.softmax_last())));
            group.bench_function(format!("log_forward_{rows}x4096"), |b| b.iter(|| common::run_and_wait(device, || x.log_softmax_last())));
            // Backward reads y and g and writes dx.
            group.throughput(Throughput::BytesDecimal(3 * bytes));
            group.bench_function(format!("backward_{rows}x4096"), |b| {
                let leaf = x.with_grad();
                b.iter(|| {
                    let y = leaf.softmax_last().unwrap();
                    let grads = y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
                    common::synchronize(device);
                    drop(grads)
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, softmax);
criterion_main!(benches);
