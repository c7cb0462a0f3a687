//! The GEMM of kernels/gemm.cu against the CPU: odd sizes (edges of every tile), all four transpose
//! cases, batched and broadcast operands, aligned shapes (cp.async path) and misaligned ones (element
//! loads), f32/f16/bf16, and the fused epilogue (alpha, bias, ReLU, GELU, fp32 output) against the same
//! ops composed on the CPU, also when a long k is split (split-K). Without a GPU each test prints that
//! its GPU part was skipped.
mod common;

use common::*;
use memefuse::backend::cuda::gemm::{gemm, Activation, Bias, Epilogue, MatmulDims, MatrixStrides};
use memefuse::backend::cuda::CudaStorage;
use memefuse::tensor::Storage;
use memefuse::{DType, Device, Result, Tensor};

const ALL: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

fn matmul(t: &[Tensor]) -> Result<Tensor> {
    t[0].matmul(&t[1])
}

#[test]
fn odd_sizes_hit_every_tile_edge() {
    // (m, k, n)
    for (m, k, n) in [(1, 1, 1), (17, 33, 65), (129, 63, 257), (1000, 3, 4096), (5, 4096, 3)] {
        let (a, b) = (random(&[m, k], m as u64), random(&[k, n], n as u64 + 1));
        check_gpu_parity(&format!("gemm {m}x{k}x{n}"), &matmul, &[a, b], &ALL);
    }
}

#[test]
fn aligned_sizes_take_the_cp_async_path() {
    // Leading dimensions that are multiples of 8: every operand qualifies for 16-byte loads; sizes
    // around the 128×128×32 tile, and K that is not a multiple of the 32-deep k-tile.
    for (m, k, n) in [(128, 128, 128), (256, 64, 384), (136, 40, 264), (8, 8, 8), (200, 1000, 72)] {
        let (a, b) = (random(&[m, k], 7 + m as u64), random(&[k, n], 8 + n as u64));
        check_gpu_parity(&format!("aligned gemm {m}x{k}x{n}"), &matmul, &[a, b], &ALL);
    }
}

#[test]
fn every_transpose_case() {
    // Stored shapes such that the views are m×k and k×n; aligned (cp.async) and odd (element loads).
    // The last two have few output tiles and a long k: the GEMM is split along k (split-K).
    for (m, k, n) in [(96, 80, 144), (33, 17, 21), (40, 2056, 24), (33, 1501, 21)] {
        let a_rows = random(&[m, k], 11);
        let a_cols = random(&[k, m], 12);
        let b_rows = random(&[k, n], 13);
        let b_cols = random(&[n, k], 14);
        check_gpu_parity(&format!("a·b {m}x{k}x{n}"), &|t| t[0].matmul(&t[1]), &[a_rows.clone(), b_rows.clone()], &ALL);
        check_gpu_parity(&format!("a·bᵀ {m}x{k}x{n}"), &|t| t[0].matmul(&t[1].t()?), &[a_rows.clone(), b_cols.clone()], &ALL);
        check_gpu_parity(&format!("aᵀ·b {m}x{k}x{n}"), &|t| t[0].t()?.matmul(&t[1]), &[a_cols.clone(), b_rows.clone()], &ALL);
        check_gpu_parity(&format!("aᵀ·bᵀ {m}x{k}x{n}"), &|t| t[0].t()?.matmul(&t[1].t()?), &[a_cols, b_cols], &ALL);
    }
}

#[test]
fn batched_and_broadcast() {
    check_gpu_parity("batched", &matmul, &[random(&[3, 40, 24], 21), random(&[3, 24, 56], 22)], &ALL);
    check_gpu_parity("batched odd", &matmul, &[random(&[4, 17, 9], 23), random(&[4, 9, 30], 24)], &ALL);
    // Shared matrix on the left: A's batch stride is 0.
    check_gpu_parity("shared × batched", &matmul, &[random(&[48, 32], 25), random(&[5, 32, 40], 26)], &ALL);
    check_gpu_parity("batched × shared", &matmul, &[random(&[2, 3, 40, 32], 27), random(&[32, 24], 28)], &ALL);
    check_gpu_parity("batched aᵀ·bᵀ", &|t| t[0].t()?.matmul(&t[1].t()?), &[random(&[3, 24, 40], 29), random(&[3, 56, 24], 30)], &ALL);
}

#[test]
fn offset_views_fall_back_to_element_loads() {
    // Narrowed views start at an element offset that breaks 16-byte alignment.
    let a = random(&[70, 64], 31);
    let b = random(&[64, 72], 32);
    check_gpu_parity("offset views", &|t| t[0].narrow(0, 3, 60)?.matmul(&t[1].narrow(1, 1, 64)?), &[a, b], &ALL);
}

// ---- The epilogue, through the backend entry point ----

fn cuda_storage(t: &Tensor) -> CudaStorage {
    // Tests hold the tensor alive; copy through the host to get an owned CudaStorage of the same data.
    let cpu = t.contiguous().unwrap().to_cpu_storage().unwrap();
    match &*t.storage() {
        Storage::Cuda(s) => CudaStorage::from_cpu(&cpu, s.ordinal()).unwrap(),
        Storage::Cpu(_) => panic!("expected a GPU tensor"),
    }
}

/// act(alpha·a·b + bias) on the GPU through `gemm`, a: [batch?, m, k] and b: [k, n] or [batch, k, n]
/// contiguous (transposes are covered by the matmul tests above), returned as an f32 CPU tensor.
fn gpu_gemm(a: &Tensor, b: &Tensor, bias: Option<&Tensor>, alpha: f32, activation: Activation, out_dtype: DType) -> Tensor {
    let matrix = |t: &Tensor| {
        let r = t.rank();
        let batch_stride = if r == 3 { t.shape()[1] * t.shape()[2] } else { 0 };
        MatrixStrides { offset: 0, batch_stride, row_stride: t.shape()[r - 1], col_stride: 1, rows: t.shape()[r - 2], cols: t.shape()[r - 1] }
    };
    let batch = if a.rank() == 3 { a.shape()[0] } else if b.rank() == 3 { b.shape()[0] } else { 1 };
    let (sa, sb) = (matrix(a), matrix(b));
    let dims = MatmulDims { batch, m: sa.rows, n: sb.cols, k: sa.cols, a: sa, b: sb };
    let (a_storage, b_storage) = (cuda_storage(a), cuda_storage(b));
    let bias_storage = bias.map(cuda_storage);
    let epilogue = Epilogue { alpha, bias: bias_storage.as_ref().map(|storage| Bias { storage, offset: 0 }), activation };
    let out = gemm(&a_storage, &b_storage, &dims, &epilogue, out_dtype).unwrap();
    let shape = if batch > 1 || a.rank() == 3 || b.rank() == 3 { vec![batch, dims.m, dims.n] } else { vec![dims.m, dims.n] };
    Tensor::from_cpu_storage(out.to_cpu(0, out.len()).unwrap(), &shape, Device::Cpu).unwrap().to_dtype(DType::F32).unwrap()
}

#[test]
fn fused_epilogue_matches_composed_ops() {
    let Some(device) = gpu("fused epilogue") else { return };
    // The last three are split along k: with element loads, then with a remainder slice, then with
    // 16-byte aligned operands (the cp.async path).
    let cases: [(&[usize], &[usize]); 7] =
        [(&[17, 33], &[33, 65]), (&[128, 96], &[96, 136]), (&[3, 20, 24], &[24, 40]), (&[1, 1], &[1, 1]), (&[37, 3000], &[3000, 45]), (&[64, 1100], &[1100, 136]), (&[64, 2048], &[2048, 136])];
    for (a_shape, b_shape) in cases {
        let n = b_shape[b_shape.len() - 1];
        let (a, b, bias) = (random(a_shape, 41), random(b_shape, 42), random(&[n], 43));
        for dtype in ALL {
            let round = |t: &Tensor| t.to_dtype(dtype).unwrap().to_dtype(DType::F32).unwrap();
            let (ra, rb, rbias) = (round(&a), round(&b), round(&bias));
            let on_gpu = |t: &Tensor| t.to_dtype(dtype).unwrap().to_device(device).unwrap();
            let (ga, gb, gbias) = (on_gpu(&a), on_gpu(&b), on_gpu(&bias));
            for (activation, alpha, with_bias) in [(Activation::None, 1.0, true), (Activation::Relu, 0.5, true), (Activation::Gelu, -1.25, true), (Activation::Gelu, 2.0, false), (Activation::None, 0.125, false)] {
                let mut expected = ra.matmul(&rb).unwrap().scale(alpha).unwrap();
                if with_bias {
                    expected = expected.add(&rbias).unwrap();
                }
                expected = match activation {
                    Activation::None => expected,
                    Activation::Relu => expected.relu().unwrap(),
                    Activation::Gelu => expected.gelu().unwrap(),
                };
                let what = format!("epilogue {a_shape:?}·{b_shape:?} {dtype} {activation:?} alpha {alpha} bias {with_bias}");
                for out_dtype in [dtype, DType::F32] {
                    let actual = gpu_gemm(&ga, &gb, with_bias.then_some(&gbias), alpha, activation, out_dtype);
                    // fp32 output skips the final rounding to 16 bits: the inputs' tolerance still holds.
                    assert_close(&actual, &expected, tolerance(dtype), &format!("{what} → {out_dtype}"));
                }
            }
        }
    }
}

#[test]
fn backend_rejects_bad_epilogues() {
    let Some(device) = gpu("gemm argument checks") else { return };
    let a = cuda_storage(&random(&[4, 8], 51).to_device(device).unwrap());
    let b = cuda_storage(&random(&[8, 6], 52).to_device(device).unwrap());
    let matrix = |rows, cols| MatrixStrides { offset: 0, batch_stride: 0, row_stride: cols, col_stride: 1, rows, cols };
    let dims = MatmulDims { batch: 1, m: 4, n: 6, k: 8, a: matrix(4, 8), b: matrix(8, 6) };
    let short_bias = cuda_storage(&random(&[5], 53).to_device(device).unwrap());
    let epilogue = Epilogue { bias: Some(Bias { storage: &short_bias, offset: 0 }), ..Epilogue::default() };
    assert!(gemm(&a, &b, &dims, &epilogue, DType::F32).is_err(), "a bias of 5 for n = 6");
    assert!(gemm(&a, &b, &dims, &Epilogue::default(), DType::F16).is_err(), "f32 inputs, f16 output");
}
