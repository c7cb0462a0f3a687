//! Our GEMM next to cuBLAS in the same run, fp16 and bf16 (fp32 accumulation on both sides), row-major
//! C[m×n] = A[m×k]·B[k×n]. Criterion reports each as elements = FLOPs (2·m·n·k) per second; a summary
//! after each shape prints TFLOP/s and our ratio to cuBLAS (median of timed repeats with a device sync).
//! Targets on the H100: ≥ 60 % of cuBLAS at 4096³ (657 TFLOP/s fp16) and 8192³ (741). GPU only: without
//! one the bench prints a line and exits.
mod common;

use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaSlice, CudaStream, DeviceRepr, ValidAsZeroBits};
use memefuse::backend::cuda;
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};

/// (m, n, k, what)
const SHAPES: [(usize, usize, usize, &str); 5] = [
    (4096, 4096, 4096, "square"),
    (8192, 8192, 8192, "square"),
    (64, 4096, 25088, "VGG16 classifier fc6"),
    (2048, 768, 3072, "transformer MLP"),
    (3200, 768, 768, "transformer projection"),
];

/// cuBLAS on row-major data: C = A·B row-major is Cᵀ = Bᵀ·Aᵀ column-major, i.e. cuBLAS (m=n, n=m)
/// with the operands swapped and no transposes.
fn cublas_gemm<T: DeviceRepr>(blas: &CudaBlas, a: &CudaSlice<T>, b: &CudaSlice<T>, c: &mut CudaSlice<T>, (m, n, k): (usize, usize, usize), one: T, zero: T)
where
    CudaBlas: Gemm<T>,
{
    let config = GemmConfig { transa: cublasOperation_t::CUBLAS_OP_N, transb: cublasOperation_t::CUBLAS_OP_N, m: n as i32, n: m as i32, k: k as i32, alpha: one, lda: n as i32, ldb: k as i32, beta: zero, ldc: n as i32 };
    // SAFETY: b is k×n (ld n), a is m×k (ld k), c holds m·n: the sizes allocated below.
    unsafe { blas.gemm(config, b, a, c) }.unwrap();
}

fn zeros<T: DeviceRepr + ValidAsZeroBits>(stream: &Arc<CudaStream>, len: usize) -> CudaSlice<T> {
    stream.alloc_zeros::<T>(len).unwrap()
}

/// Median seconds of `repeats` runs of `f`, each followed by a device sync, after two warm-ups.
fn median_seconds(device: Device, repeats: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..2 {
        f();
    }
    common::synchronize(device);
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            common::synchronize(device);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[repeats / 2]
}

fn gemm(c: &mut Criterion) {
    if let Err(reason) = cuda::probe() {
        eprintln!("gemm bench skipped: {reason}");
        return;
    }
    let device = Device::Cuda(0);
    let stream = Arc::clone(cuda::device(0).unwrap().stream());
    let blas = CudaBlas::new(Arc::clone(&stream)).unwrap();
    for (m, n, k, what) in SHAPES {
        let flops = 2.0 * (m * n * k) as f64;
        for dtype in [DType::F16, DType::BF16] {
            let a = Tensor::randn(&[m, k], 1.0, &mut Rng::new(1), device).unwrap().to_dtype(dtype).unwrap();
            let b = Tensor::randn(&[k, n], 1.0, &mut Rng::new(2), device).unwrap().to_dtype(dtype).unwrap();
            // cuBLAS gets its own buffers (zeros: the timing does not depend on the values).
            let mut run_cublas: Box<dyn FnMut()> = match dtype {
                DType::F16 => {
                    let (ca, cb, mut cc) = (zeros::<half::f16>(&stream, m * k), zeros::<half::f16>(&stream, k * n), zeros::<half::f16>(&stream, m * n));
                    let blas = &blas;
                    Box::new(move || cublas_gemm(blas, &ca, &cb, &mut cc, (m, n, k), half::f16::ONE, half::f16::ZERO))
                }
                _ => {
                    let (ca, cb, mut cc) = (zeros::<half::bf16>(&stream, m * k), zeros::<half::bf16>(&stream, k * n), zeros::<half::bf16>(&stream, m * n));
                    let blas = &blas;
                    Box::new(move || cublas_gemm(blas, &ca, &cb, &mut cc, (m, n, k), half::bf16::ONE, half::bf16::ZERO))
                }
            };
            let mut group = c.benchmark_group(format!("cuda_gemm_{dtype}_{m}x{n}x{k}"));
            group.sample_size(10);
            group.throughput(Throughput::Elements(flops as u64));
            group.bench_function("memefuse", |bench| bench.iter(|| common::run_and_wait(device, || a.matmul(&b))));
            group.bench_function("cublas", |bench| {
                bench.iter(|| {
                    run_cublas();
                    common::synchronize(device)
                })
            });
            group.finish();

            let ours = median_seconds(device, 20, || drop(a.matmul(&b).unwrap()));
            let theirs = median_seconds(device, 20, &mut run_cublas);
            let tflops = |seconds: f64| flops / seconds / 1e12;
            eprintln!(
                "gemm {dtype} {m}×{n}×{k} ({what}): memefuse {:.1} TFLOP/s, cuBLAS {:.1} TFLOP/s, ratio {:.0} %",
                tflops(ours),
                tflops(theirs),
                100.0 * theirs / ours
            );
        }
    }
}

criterion_group!(benches, gemm);
criterion_main!(benches);
