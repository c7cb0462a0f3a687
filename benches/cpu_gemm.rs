//! The CPU GEMM choice (docs/gemm.md, CPU section): matrixmultiply's sgemm, what the CPU backend
//! used before, beside the gemm crate's kernels, both single-threaded as backend/cpu/matmul.rs calls
//! them (rayon splits the work above them), at the products our models make:
//! - the convolutions as GEMMs, one block of backend/cpu/conv.rs each: forward im2col·Wᵀ,
//!   backward-data dy·W, backward-weight dyᵀ·im2col, at the CPU bench shapes (benches/conv.rs) and at
//!   VGG16's 64 px layers;
//! - the LSTM's per-step products (benches/lstm.rs: batch 64, embedding 100, hidden 64, 4 gates);
//! - linear layers: VGG16's first classifier layer at batch 16 (one of 8 column blocks) and the
//!   LSTM's 64→1 head.
//!
//! Throughput is in FLOPs (2·m·k·n), so criterion's "Gelem/s" reads as GFLOP/s.
//!
//!     cargo bench --bench cpu_gemm
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// (name, m, k, n, a transposed, b transposed): a is m×k, b k×n, c m×n row-major; a transposed
/// operand is read through the transpose of a row-major buffer, as the model code passes it.
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("conv_fwd_c64_56", 256, 576, 64, false, true),
    ("conv_fwd_c128_28", 392, 1152, 128, false, true),
    ("conv_fwd_c256_14", 98, 2304, 256, false, true),
    ("conv_bwd_weight_c64_56", 64, 512, 192, true, false),
    ("conv_bwd_weight_c256_14", 256, 196, 768, true, false),
    ("vgg64_conv1_1_c3", 256, 27, 64, false, true),
    ("vgg64_conv3_c256_16", 256, 2304, 256, false, true),
    ("vgg64_conv5_c512_4", 256, 4608, 512, false, true),
    ("lstm_input_64x100x256", 64, 100, 256, false, false),
    ("lstm_recurrent_64x64x256", 64, 64, 256, false, false),
    ("lstm_weight_grad_100x64x256", 100, 64, 256, true, false),
    ("linear_vgg_fc1_16x25088x512", 16, 25088, 512, false, true),
    ("linear_head_64x64x1", 64, 64, 1, false, true),
];

/// (row stride, column stride) of a rows×cols operand.
fn strides(rows: usize, cols: usize, transposed: bool) -> (isize, isize) {
    if transposed {
        (1, rows as isize)
    } else {
        (cols as isize, 1)
    }
}

fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * seed) % 1000) as f32 / 500.0 - 1.0).collect()
}

fn cpu_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu_gemm_f32");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    for &(name, m, k, n, a_t, b_t) in SHAPES {
        let (a, b) = (values(m * k, 7919), values(k * n, 104_729));
        let ((a_rs, a_cs), (b_rs, b_cs)) = (strides(m, k, a_t), strides(k, n, b_t));
        let mut out = vec![0.0f32; m * n];
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_function(BenchmarkId::new("matrixmultiply", name), |bench| {
            bench.iter(|| unsafe {
                matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), a_rs, a_cs, b.as_ptr(), b_rs, b_cs, 0.0, out.as_mut_ptr(), n as isize, 1)
            })
        });
        group.bench_function(BenchmarkId::new("gemm", name), |bench| {
            bench.iter(|| unsafe {
                gemm::gemm(m, n, k, out.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), a_cs, a_rs, b.as_ptr(), b_cs, b_rs, 0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cpu_gemm);
criterion_main!(benches);
