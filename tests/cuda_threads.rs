//! The CUDA device from a thread that has not used it yet: cudarc binds the context to the calling
//! thread on most calls, but not when it looks a kernel up in a module another thread loaded (or
//! sets a kernel attribute), so the device binds it itself (the CPU driver, like CUDA, refuses
//! such a call when no context is current). Found as a flaky CI failure in tests/ops.rs.
mod common;

use memefuse::util::Rng;
use memefuse::{Device, Tensor};

#[test]
fn a_fresh_thread_runs_a_kernel_of_a_module_another_thread_loaded() {
    let Some(device) = common::gpu("CUDA from a fresh thread") else { return };
    let mut rng = Rng::new(1);
    let a = Tensor::randn(&[1000], 1.0, &mut rng, device).unwrap();
    let b = Tensor::randn(&[1000], 1.0, &mut rng, device).unwrap();
    // This thread loads the elementwise module (for binary_f32) and leaves a block of the output's
    // size in the allocator's cache, so the other thread's first CUDA call is the kernel lookup.
    drop(a.add(&b).unwrap());
    let expected = a.to_device(Device::Cpu).unwrap().relu().unwrap().to_vec_f32().unwrap();
    let on_another_thread = std::thread::spawn(move || a.relu().and_then(|r| r.to_vec_f32())).join().unwrap();
    assert_eq!(on_another_thread.unwrap(), expected);
}

#[test]
fn a_fresh_thread_runs_a_kernel_another_thread_already_looked_up() {
    let Some(device) = common::gpu("CUDA from a fresh thread") else { return };
    let mut rng = Rng::new(2);
    let x = Tensor::randn(&[3, 77, 64], 1.0, &mut rng, device).unwrap();
    let weight = Tensor::randn(&[64], 1.0, &mut rng, device).unwrap();
    let bias = Tensor::randn(&[64], 1.0, &mut rng, device).unwrap();
    // Cached function and cached output blocks: the other thread starts at the launch itself.
    drop(x.layer_norm(&weight, &bias, 1e-5).unwrap());
    let expected = x.layer_norm(&weight, &bias, 1e-5).unwrap().to_vec_f32().unwrap();
    let on_another_thread = std::thread::spawn(move || x.layer_norm(&weight, &bias, 1e-5).and_then(|y| y.to_vec_f32())).join().unwrap();
    assert_eq!(on_another_thread.unwrap(), expected);
}
