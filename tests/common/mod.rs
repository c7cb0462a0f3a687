//! Helpers shared by the integration tests: random inputs, closeness checks, and the one-line
//! op checks (gradient check on the CPU, GPU-vs-CPU parity for forward and backward).
#![allow(dead_code)]
use memefuse::autograd::{check_gradients, GradCheck};
use memefuse::backend::cuda;
use memefuse::util::Rng;
use memefuse::{DType, Device, Result, Tensor};

pub fn random(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, 1.0, &mut Rng::new(seed), Device::Cpu).unwrap()
}

/// Values in [low, high): for ops with a restricted domain (log, sqrt) or a kink to avoid.
pub fn random_in(shape: &[usize], low: f32, high: f32, seed: u64) -> Tensor {
    Tensor::uniform(shape, low, high, &mut Rng::new(seed), Device::Cpu).unwrap()
}

/// Random values whose magnitude stays at least `margin` away from zero (for relu, abs, sign).
pub fn random_away_from_zero(shape: &[usize], margin: f32, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let values = (0..shape.iter().product()).map(|_| {
        let magnitude = rng.uniform_in(margin, 2.0);
        if rng.uniform() < 0.5 { -magnitude } else { magnitude }
    });
    Tensor::from_vec(values.collect(), shape, Device::Cpu).unwrap()
}

/// Distinct values 0.01 apart in random order: no two elements can swap rank under a gradient
/// check's perturbation (for max and argmax).
pub fn random_distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut values: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.01).collect();
    Rng::new(seed).shuffle(&mut values);
    Tensor::from_vec(values, shape, Device::Cpu).unwrap()
}

/// ‖actual − expected‖ / ‖expected‖ (absolute norm when the reference is all zeros).
pub fn relative_error(actual: &[f32], expected: &[f32]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    let diff: f64 = actual.iter().zip(expected).map(|(&a, &e)| ((a - e) as f64).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = expected.iter().map(|&e| (e as f64).powi(2)).sum::<f64>().sqrt();
    if norm == 0.0 { diff } else { diff / norm }
}

pub fn assert_close(actual: &Tensor, expected: &Tensor, tolerance: f64, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    let (a, e) = (actual.to_vec_f32().unwrap(), expected.to_vec_f32().unwrap());
    assert!(a.iter().all(|v| !v.is_nan()) || e.iter().any(|v| v.is_nan()), "{what}: NaN in result (unwritten or poisoned element?)");
    let error = relative_error(&a, &e);
    assert!(error <= tolerance, "{what}: relative error {error:.3e} > {tolerance:.1e}");
}

/// The GPU to test on, or None after saying why the GPU half of a test is skipped. The first skip
/// of a test binary is written straight to stderr, past libtest's capture, so a plain `cargo test`
/// shows it; each test's own skip line stays in its captured output.
pub fn gpu(test: &str) -> Option<Device> {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    match cuda::probe() {
        Ok(_) => Some(Device::Cuda(0)),
        Err(reason) => {
            ANNOUNCED.call_once(|| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "GPU parity skipped in this test binary (no GPU: {reason})");
            });
            eprintln!("{test}: GPU parity skipped: {reason}");
            None
        }
    }
}

/// Whether the GPU under test is the CPU driver (cuda-cpu, which says so in its device name): it
/// runs kernels on the CPU, thousands of times slower than a GPU, so the largest test sizes are
/// scaled down there (the same kernels and code paths, smaller grids). Never true on a real GPU.
pub fn on_cpu_driver() -> bool {
    static CPU_DRIVER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CPU_DRIVER.get_or_init(|| cuda::probe().is_ok() && cuda::device(0).is_ok_and(|d| d.is_cpu_driver()))
}

/// `on_gpu` on a real GPU, `on_the_cpu_driver` on the CPU driver (a test's size where it is too big
/// for the interpreter).
pub fn gpu_size<T>(on_gpu: T, on_the_cpu_driver: T) -> T {
    if on_cpu_driver() { on_the_cpu_driver } else { on_gpu }
}

/// Tolerances of DESIGN.md: fp32 ≲ 1e-5, fp16 ≲ 2e-3, bf16 ≲ 1e-2 (relative to the f32 CPU reference
/// computed on the same rounded inputs, so only the kernel's own rounding counts).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => 1e-5,
        DType::F16 => 2e-3,
        DType::BF16 => 1e-2,
        DType::I32 => 0.0,
    }
}

/// Leaves the caching allocator's free blocks full of NaN, so an output element a kernel forgets to
/// write shows up as NaN instead of as a plausible stale value.
pub fn poison_gpu_cache(device: Device, elements: usize) {
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        for size in [elements, elements.next_power_of_two()] {
            drop(Tensor::full(&[size.max(1)], f32::NAN, dtype, device).unwrap());
        }
    }
}

/// Runs `f` on CPU f32 copies (rounded through `dtype` first) and on the GPU in `dtype`, comparing
/// outputs and the gradients of Σ f(x)⊙w with respect to every input.
pub fn check_gpu_parity(name: &str, f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor], dtypes: &[DType]) {
    let Some(device) = gpu(name) else { return };
    for &dtype in dtypes {
        // Round the inputs through dtype so both sides see identical values.
        let rounded: Vec<Tensor> = inputs.iter().map(|x| x.to_dtype(dtype).unwrap().to_dtype(DType::F32).unwrap()).collect();
        let cpu_leaves: Vec<Tensor> = rounded.iter().map(|x| x.with_grad()).collect();
        let cpu_out = f(&cpu_leaves).unwrap();
        let weights = random(cpu_out.shape(), 99);
        let cpu_grads = cpu_out.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();

        poison_gpu_cache(device, cpu_out.elem_count());
        let gpu_leaves: Vec<Tensor> = rounded.iter().map(|x| x.to_dtype(dtype).unwrap().to_device(device).unwrap().with_grad()).collect();
        let gpu_out = f(&gpu_leaves).unwrap();
        assert_eq!(gpu_out.dtype(), dtype, "{name}: output dtype");
        assert_close(&gpu_out, &cpu_out, tolerance(dtype), &format!("{name} forward ({dtype})"));
        let gpu_weights = weights.to_dtype(dtype).unwrap().to_device(device).unwrap();
        let gpu_grads = gpu_out.mul(&gpu_weights).unwrap().sum_all().unwrap().backward().unwrap();
        for (i, (cpu_leaf, gpu_leaf)) in cpu_leaves.iter().zip(&gpu_leaves).enumerate() {
            match (cpu_grads.get(cpu_leaf), gpu_grads.get(gpu_leaf)) {
                (Some(c), Some(g)) => assert_close(g, c, 4.0 * tolerance(dtype), &format!("{name} gradient of input {i} ({dtype})")),
                (None, None) => {}
                (c, g) => panic!("{name}: gradient of input {i} present on cpu: {}, on gpu: {}", c.is_some(), g.is_some()),
            }
        }
    }
}

/// The gradient check on the CPU, then GPU parity in f32, f16 and bf16.
pub fn check_op(name: &str, f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    check_gradients(&f, inputs, &GradCheck::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    check_gpu_parity(name, &f, inputs, &[DType::F32, DType::F16, DType::BF16]);
}
