//! Reductions, in GB/s of input read: all 16M elements to one value, rows of a 4096×4096 matrix,
//! columns of it, and the columns of a tall 64-wide matrix (a conv bias gradient).
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::util::Rng;
use memefuse::Tensor;

fn reduce(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let n = if device.is_cuda() { 16 << 20 } else { 4 << 20 };
        let x = Tensor::randn(&[n], 1.0, &mut Rng::new(1), device).unwrap();
        let matrix = x.reshape(&[4096, n / 4096]).unwrap();
        let mut group = c.benchmark_group(format!("{label}_reduce_f32"));
        group.sample_size(20);
        group.throughput(Throughput::BytesDecimal(4 * n as u64));
        group.bench_function(format!("sum_all_{n}"), |b| b.iter(|| common::run_and_wait(device, || x.sum_all())));
        group.bench_function(format!("max_rows_4096x{}", n / 4096), |b| b.iter(|| common::run_and_wait(device, || matrix.max(1, false))));
        group.bench_function(format!("sum_columns_4096x{}", n / 4096), |b| b.iter(|| common::run_and_wait(device, || matrix.sum(0, false))));
        group.bench_function(format!("argmax_rows_4096x{}", n / 4096), |b| b.iter(|| common::run_and_wait(device, || matrix.argmax(1, false))));
        // A conv bias gradient: [N·H·W, C] summed over its rows, a long axis over few outputs.
        let bias_gradient = x.reshape(&[n / 64, 64]).unwrap();
        group.bench_function(format!("sum_columns_{}x64", n / 64), |b| b.iter(|| common::run_and_wait(device, || bias_gradient.sum(0, false))));
        group.finish();
    }
}

criterion_group!(benches, reduce);
criterion_main!(benches);
