//! Shared by the criterion benches: which devices to measure, and how to wait for a GPU inside
//! the timed closure (a kernel launch returns before the kernel has run).
#![allow(dead_code)]
use memefuse::backend::cuda;
use memefuse::{Device, Tensor};

/// ("cpu", Cpu) always, ("cuda", Cuda(0)) when a GPU is usable.
pub fn devices() -> Vec<(&'static str, Device)> {
    let mut devices = vec![("cpu", Device::Cpu)];
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
