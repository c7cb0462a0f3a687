//! Element-wise kernels over 16M elements (4M on the CPU), in GB/s of memory traffic
//! (bytes read + written). Target on the H100: ≥ 2500 GB/s (PyTorch's copy: 2858 GB/s).
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::util::Rng;
use memefuse::{DType, Tensor};

fn elementwise(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let n = if device.is_cuda() { 16 << 20 } else { 4 << 20 };
        for dtype in [DType::F32, DType::F16] {
            let mut rng = Rng::new(0);
            let a = Tensor::randn(&[n], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
            let b = Tensor::randn(&[n], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
            let bytes = dtype.size_in_bytes() as u64 * n as u64;
            let mut group = c.benchmark_group(format!("{label}_elementwise_{dtype}"));
            group.sample_size(20);
            group.throughput(Throughput::BytesDecimal(3 * bytes));
            group.bench_function(format!("add_{n}"), |bench| bench.iter(|| common::run_and_wait(device, || a.add(&b))));
            group.throughput(Throughput::BytesDecimal(2 * bytes));
            group.bench_function(format!("gelu_{n}"), |bench| bench.iter(|| common::run_and_wait(device, || a.gelu())));
            group.bench_function(format!("copy_transposed_{n}"), |bench| {
                let square = a.reshape(&[4096, n / 4096]).unwrap();
                bench.iter(|| common::run_and_wait(device, || square.t()?.contiguous()))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, elementwise);
criterion_main!(benches);
