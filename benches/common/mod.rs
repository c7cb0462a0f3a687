//! Shared by the criterion benches: which devices to measure, and how to wait for a GPU inside
//! the timed closure (a kernel launch returns before the kernel has run).
#![allow(dead_code)]
use memefuse::backend::cuda;
use memefuse::{Device, Tensor};

/// ("cpu", Cpu), and ("cuda", Cuda(0)) when a GPU is usable. `MEMEFUSE_BENCH_GPU_ONLY=1` (set by
/// scripts/gpu/run-on-gpu.sh) leaves the CPU out, to spend the GPU machine's time on the GPU.
pub fn devices() -> Vec<(&'static str, Device)> {
    let gpu_only = std::env::var("MEMEFUSE_BENCH_GPU_ONLY").is_ok_and(|v| v == "1");
    let mut devices = if gpu_only { vec![] } else { vec![("cpu", Device::Cpu)] };
    match cuda::probe() {
        Ok(_) => devices.push(("cuda", Device::Cuda(0))),
        Err(reason) => eprintln!("cuda benches skipped: {reason}"),
    }
    devices
}

pub fn synchronize(device: Device) {
    if let Device::Cuda(ordinal) = device {
        cuda::device(ordinal).unwrap().synchronize().unwrap();
    }
}

/// Runs `op` and waits for it; drops the result inside the timing, as a training step would.
pub fn run_and_wait(device: Device, op: impl Fn() -> memefuse::Result<Tensor>) {
    let out = op().unwrap();
    synchronize(device);
    drop(out);
}
