//! memefuse's real kernels (kernels/*.cu through nvcc, as build.rs compiles them) on tiny, odd
//! sizes, against plain Rust results: softmax, the SIMT f32 GEMM, and the tensor-core GEMM
//! (cp.async pipeline, ldmatrix, mma.sync) in f16 and bf16.

mod common_engine;
mod common_ptx;
use common_engine::*;
use cuda_cpu::ptx::Module;
use half::{bf16, f16};

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn softmax_f32_rows_match_rust() {
    let m = Module::load(common_ptx::kernel_ptx("softmax").as_bytes()).unwrap();
    let gpu = Gpu::new();
    let (rows, cols) = (5usize, 77usize);
    let x: Vec<f32> = random(rows * cols, 3).iter().map(|v| v * 4.0).collect();
    let (dx, dy) = (gpu.upload(&x), gpu.alloc(4 * (rows * cols) as u64));
    let cols64 = cols as u64;
    let log = 0u32;
    gpu.run(&m, "softmax_f32", [rows as u32, 1, 1], [64, 1, 1], 0, &[p64(&cols64), p64(&dx), p64(&dy), p32(&log)]).unwrap();
    let y: Vec<f32> = gpu.download(dy, rows * cols);
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = row.iter().map(|v| ((v - max) as f64).exp()).sum();
        for c in 0..cols {
            let expect = ((row[c] - max) as f64).exp() / sum;
            assert!((y[r * cols + c] as f64 - expect).abs() < 1e-6, "row {r} col {c}: {} vs {expect}", y[r * cols + c]);
        }
    }
}

/// GemmParams of kernels/gemm.cu: two operands (pointer, batch/row/col strides), c, bias, m n k,
/// alpha, activation, out_is_f32.
#[allow(clippy::too_many_arguments)]
fn gemm_params(a: u64, a_strides: [u64; 3], b: u64, b_strides: [u64; 3], c: u64, m: u32, n: u32, k: u32, out_is_f32: u32) -> Vec<u8> {
    let mut p = Vec::new();
    for v in [a, a_strides[0], a_strides[1], a_strides[2], b, b_strides[0], b_strides[1], b_strides[2], c, 0] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    for v in [m, n, k] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&1.0f32.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&out_is_f32.to_le_bytes());
    assert_eq!(p.len(), 104);
    p
}

fn reference(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    // a row-major m×k, b row-major k×n
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum();
        }
    }
    c
}

#[test]
fn simt_gemm_f32_matches_rust() {
    let module = Module::load(common_ptx::kernel_ptx("gemm").as_bytes()).unwrap();
    let gpu = Gpu::new();
    let (m, n, k) = (37usize, 45usize, 19usize);
    let (a, b) = (random(m * k, 1), random(k * n, 2));
    let (da, db, dc) = (gpu.upload(&a), gpu.upload(&b), gpu.alloc(4 * (m * n) as u64));
    let params = gemm_params(da, [0, k as u64, 1], db, [0, n as u64, 1], dc, m as u32, n as u32, k as u32, 1);
    gpu.run(&module, "gemm_f32", [1, 1, 1], [256, 1, 1], 0, &[&params]).unwrap();
    let c: Vec<f32> = gpu.download(dc, m * n);
    let expect = reference(&a, &b, m, n, k);
    for i in 0..m * n {
        assert!((c[i] as f64 - expect[i]).abs() < 1e-5, "element {i}: {} vs {}", c[i], expect[i]);
    }
}

fn tensor_core_gemm(dtype: &str) {
    let module = Module::load(common_ptx::kernel_ptx("gemm").as_bytes()).unwrap();
    let gpu = Gpu::new();
    // B column-major (k contiguous), A row-major: the async path needs 16-byte aligned rows.
    let (m, n, k) = (37usize, 45usize, 72usize);
    let round = |v: f32| if dtype == "f16" { f16::from_f32(v).to_f32() } else { bf16::from_f32(v).to_f32() };
    let a: Vec<f32> = random(m * k, 5).into_iter().map(round).collect();
    let b: Vec<f32> = random(k * n, 6).into_iter().map(round).collect();
    let bits = |v: &[f32]| -> Vec<u16> { v.iter().map(|&x| if dtype == "f16" { f16::from_f32(x).to_bits() } else { bf16::from_f32(x).to_bits() }).collect() };
    // b column-major: element (p, j) at j*k + p
    let mut b_col = vec![0f32; k * n];
    for p in 0..k {
        for j in 0..n {
            b_col[j * k + p] = b[p * n + j];
        }
    }
    let (da, db, dc) = (gpu.upload(&bits(&a)), gpu.upload(&bits(&b_col)), gpu.alloc(4 * (m * n) as u64));
    let params = gemm_params(da, [0, k as u64, 1], db, [0, 1, k as u64], dc, m as u32, n as u32, k as u32, 1);
    gpu.run(&module, &format!("gemm_{dtype}_arow_bcol_async"), [1, 1, 1], [256, 1, 1], 0, &[&params]).unwrap();
    let c: Vec<f32> = gpu.download(dc, m * n);
    let expect = reference(&a, &b, m, n, k);
    for i in 0..m * n {
        assert!((c[i] as f64 - expect[i]).abs() < 1e-4, "{dtype} element {i}: {} vs {}", c[i], expect[i]);
    }
}

#[test]
fn tensor_core_gemm_f16_matches_rust() {
    tensor_core_gemm("f16");
}

#[test]
fn tensor_core_gemm_bf16_matches_rust() {
    tensor_core_gemm("bf16");
}
