//! Launchers for kernels/optim.cu: one launch updates every parameter. The host builds a table of
//! the tensors (device addresses, lengths, cumulative chunk counts) and uploads it with the launch.
use bytemuck::{Pod, Zeroable};
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::{checked, BLOCK};
use super::{CudaDevice, CudaStorage};
use crate::backend::params::{AdamHyper, SgdHyper};
use crate::tensor::DType;
use crate::{Error, Result};

/// Elements per chunk; must equal CHUNK in kernels/optim.cu.
const CHUNK: usize = 4096;

// SAFETY: plain-old-data with the kernel-side C layouts (struct AdamHyper, SgdHyper).
unsafe impl DeviceRepr for AdamHyper {}
unsafe impl DeviceRepr for SgdHyper {}

/// `struct AdamTensor` of kernels/optim.cu.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AdamEntry {
    param: u64,
    grad: u64,
    first_moment: u64,
    second_moment: u64,
    len: u64,
    first_chunk: u64,
}

/// `struct SgdTensor` of kernels/optim.cu.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SgdEntry {
    param: u64,
    grad: u64,
    velocity: u64,
    len: u64,
    first_chunk: u64,
}

/// `struct CheckedTensor` of kernels/optim.cu.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CheckedEntry {
    values: u64,
    len: u64,
    first_chunk: u64,
}

/// Cumulative chunk offsets for tensors of these lengths, and the total.
fn chunk_offsets(lengths: impl Iterator<Item = usize>) -> (Vec<u64>, u64) {
    let mut offsets = Vec::new();
    let mut total = 0u64;
    for len in lengths {
        offsets.push(total);
        total += len.div_ceil(CHUNK) as u64;
    }
    (offsets, total)
}

fn check_f32(storage: &CudaStorage, what: &str) -> Result<()> {
    if storage.dtype() != DType::F32 {
        return Err(Error::dtype("optimiser", format!("{what} must be f32 master data, found {}", storage.dtype())));
    }
    Ok(())
}

fn launch_multi<Entry: Pod, Hyper: DeviceRepr>(device: &CudaDevice, kernel: &str, table: &[Entry], total_chunks: u64, hyper: Option<&Hyper>, flag: Option<u64>) -> Result<()> {
    if total_chunks == 0 {
        return Ok(());
    }
    let table_block = device.upload(bytemuck::cast_slice(table))?;
    let function = device.function("optim", kernel)?;
    let (table_ptr, count) = (table_block.pointer(), table.len() as i32);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&table_ptr).arg(&count).arg(&total_chunks);
    if let Some(h) = hyper {
        launch.arg(h);
    }
    if let Some(f) = flag.as_ref() {
        launch.arg(f);
    }
    let blocks = total_chunks.min(device.multiprocessors() as u64 * 8) as u32;
    let config = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 };
    // SAFETY: every table entry points at buffers of at least `len` f32 elements (checked by the
    // callers), chunks never reach past `len`, and the table block outlives the launch on the stream.
    checked(device, kernel, unsafe { launch.launch(config) })
}

/// (param, grad, first moment, second moment), all f32 and of equal length.
pub fn adam(slots: &[(&CudaStorage, &CudaStorage, &CudaStorage, &CudaStorage)], hyper: &AdamHyper) -> Result<()> {
    let Some(first) = slots.first() else { return Ok(()) };
    let (offsets, total) = chunk_offsets(slots.iter().map(|s| s.0.len()));
    let mut table = Vec::with_capacity(slots.len());
    for ((param, grad, m, v), first_chunk) in slots.iter().zip(offsets) {
        for (storage, what) in [(*param, "parameter"), (*grad, "gradient"), (*m, "first moment"), (*v, "second moment")] {
            check_f32(storage, what)?;
            if storage.len() < param.len() {
                return Err(Error::shape("adam", format!("{what} holds {} elements, the parameter {}", storage.len(), param.len())));
            }
        }
        table.push(AdamEntry { param: param.pointer_at(0), grad: grad.pointer_at(0), first_moment: m.pointer_at(0), second_moment: v.pointer_at(0), len: param.len() as u64, first_chunk });
    }
    launch_multi(first.0.device(), "adam_multi", &table, total, Some(hyper), None)
}

/// (param, grad, optional velocity), all f32 and of equal length.
pub fn sgd(slots: &[(&CudaStorage, &CudaStorage, Option<&CudaStorage>)], hyper: &SgdHyper) -> Result<()> {
    let Some(first) = slots.first() else { return Ok(()) };
    let (offsets, total) = chunk_offsets(slots.iter().map(|s| s.0.len()));
    let mut table = Vec::with_capacity(slots.len());
    for ((param, grad, velocity), first_chunk) in slots.iter().zip(offsets) {
        check_f32(param, "parameter")?;
        check_f32(grad, "gradient")?;
        if grad.len() < param.len() || velocity.is_some_and(|v| v.len() < param.len()) {
            return Err(Error::shape("sgd", "gradient or velocity shorter than the parameter"));
        }
        table.push(SgdEntry { param: param.pointer_at(0), grad: grad.pointer_at(0), velocity: velocity.map_or(0, |v| v.pointer_at(0)), len: param.len() as u64, first_chunk });
    }
    launch_multi(first.0.device(), "sgd_multi", &table, total, Some(hyper), None)
}

/// True when no element of the (f32, contiguous) tensors is inf or NaN: one launch, one 4-byte read.
pub fn all_finite(tensors: &[(&CudaStorage, usize, usize)]) -> Result<bool> {
    let Some(first) = tensors.first() else { return Ok(true) };
    let device = first.0.device().clone();
    let (offsets, total) = chunk_offsets(tensors.iter().map(|t| t.2));
    let mut table = Vec::with_capacity(tensors.len());
    for ((storage, offset, len), first_chunk) in tensors.iter().zip(offsets) {
        check_f32(storage, "checked tensor")?;
        table.push(CheckedEntry { values: storage.pointer_at(*offset), len: *len as u64, first_chunk });
    }
    let mut flag = CudaStorage::alloc_on(&device, DType::I32, 1)?;
    super::fill(&mut flag, 0.0)?;
    launch_multi::<_, AdamHyper>(&device, "nonfinite_multi", &table, total, None, Some(flag.pointer_at(0)))?;
    match flag.to_cpu(0, 1)? {
        crate::tensor::CpuStorage::I32(v) => Ok(v[0] == 0),
        _ => unreachable!("the flag is i32"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_counted_per_tensor() {
        let (offsets, total) = chunk_offsets([1, CHUNK, CHUNK + 1, 0, 7].into_iter());
        assert_eq!(offsets, vec![0, 1, 2, 4, 4]);
        assert_eq!(total, 5);
    }
}
