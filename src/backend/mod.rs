//! Backends execute ops on storage. `cpu` is the reference every kernel is tested against; `cuda`
//! launches the kernels of kernels/. `dispatch` holds the one place where an op picks its backend.
pub mod cpu;
pub mod cuda;
pub(crate) mod dispatch;
pub mod params;

use crate::tensor::Device;
use crate::{Error, Result};

/// Turns a `--device` value (auto, cpu, cuda, cuda:N) into a device. `auto` takes GPU 0 when one is
/// usable and otherwise falls back to the CPU, saying why in one line on stderr; an explicit `cuda`
/// that cannot be served is an error that says why. `auto` never picks the CPU driver (cuda-cpu):
/// it checks kernels, it is no speed-up; `--device cuda` asks for it.
pub fn resolve_device(request: &str) -> Result<Device> {
    let request = request.trim().to_ascii_lowercase();
    match request.as_str() {
        "auto" => match cuda::probe().and_then(|_| cuda::device(0).map_err(|e| e.to_string())) {
            Ok(gpu) if gpu.is_cpu_driver() => {
                eprintln!("memefuse: running on the CPU: the CUDA driver found is the CPU driver (cuda-cpu), which checks kernels but is far slower than the CPU backend; --device cuda uses it");
                Ok(Device::Cpu)
            }
            Ok(_) => Ok(Device::Cuda(0)),
            Err(reason) => {
                eprintln!("memefuse: running on the CPU: {reason}");
                Ok(Device::Cpu)
            }
        },
        other => {
            let device: Device = other
                .parse()
                .map_err(|_: String| Error::InvalidArgument(format!("--device {other:?} is not a device: use auto, cpu, cuda or cuda:N (N = the GPU's index)")))?;
            if let Device::Cuda(ordinal) = device {
                cuda::device(ordinal)?;
            }
            Ok(device)
        }
    }
}

/// One line per device this process can use, for `memefuse devices`.
pub fn describe_devices() -> Vec<String> {
    let mut lines = vec![format!("cpu: {} threads (rayon)", rayon::current_num_threads())];
    match cuda::probe() {
        Ok(count) => {
            for ordinal in 0..count {
                lines.push(match cuda::device(ordinal) {
                    Ok(d) => format!("cuda:{ordinal}: {} (sm_{}{}, {} SMs)", d.name(), d.compute_capability().0, d.compute_capability().1, d.multiprocessors()),
                    Err(e) => format!("cuda:{ordinal}: unusable: {e}"),
                });
            }
        }
        Err(reason) => lines.push(format!("cuda: none ({reason})")),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_requests_resolve_or_explain() {
        assert_eq!(resolve_device("cpu").unwrap(), Device::Cpu);
        let error = resolve_device("tpu").unwrap_err().to_string();
        assert!(error.contains("\"tpu\"") && error.contains("auto, cpu, cuda or cuda:N") && !error.contains("CUDA is not available"), "{error}");
        assert_eq!(resolve_device("CPU").unwrap(), Device::Cpu, "case does not matter");
        assert!(resolve_device("cuda:x").unwrap_err().to_string().contains("auto, cpu, cuda or cuda:N"));
        match cuda::probe() {
            Ok(_) if cuda::device(0).unwrap().is_cpu_driver() => {
                assert_eq!(resolve_device("auto").unwrap(), Device::Cpu, "auto never picks the CPU driver");
                assert_eq!(resolve_device("cuda").unwrap(), Device::Cuda(0), "an explicit cuda does");
            }
            Ok(_) => assert_eq!(resolve_device("auto").unwrap(), Device::Cuda(0)),
            Err(reason) => {
                assert_eq!(resolve_device("auto").unwrap(), Device::Cpu);
                let err = resolve_device("cuda").unwrap_err().to_string();
                assert!(err.contains("CUDA is not available") && err.contains(&reason), "{err}");
            }
        }
    }
}
