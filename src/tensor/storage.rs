//! Storage: the flat buffer a tensor views. CPU storage is a typed `Vec`; CUDA storage is a block from
//! the caching device allocator (see `backend::cuda`).
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

use super::DType;
use crate::backend::cuda::CudaStorage;

pub enum Storage {
    Cpu(CpuStorage),
    Cuda(CudaStorage),
}

#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    I32(Vec<i32>),
}

impl CpuStorage {
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::I32(_) => DType::I32,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::I32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn zeros(dtype: DType, len: usize) -> Self {
        match dtype {
            DType::F32 => CpuStorage::F32(vec![0.0; len]),
            DType::F16 => CpuStorage::F16(vec![f16::ZERO; len]),
            DType::BF16 => CpuStorage::BF16(vec![bf16::ZERO; len]),
            DType::I32 => CpuStorage::I32(vec![0; len]),
        }
    }

    /// Converts f32 values to a storage of `dtype` (round to nearest even for f16/bf16, truncation for i32).
    /// A converted `values` goes back to the CPU buffer pool (ops take their f32 outputs from it,
    /// and the pool's limit counts what is out until it comes back).
    pub fn from_f32(values: Vec<f32>, dtype: DType) -> Self {
        match dtype {
            DType::F32 => CpuStorage::F32(values),
            // Slice-wise conversion (SIMD where the CPU has it), rounding to nearest even.
            DType::F16 => {
                let mut out = vec![f16::ZERO; values.len()];
                out.convert_from_f32_slice(&values);
                crate::backend::cpu::buffer_pool::give(values);
                CpuStorage::F16(out)
            }
            DType::BF16 => {
                let mut out = vec![bf16::ZERO; values.len()];
                out.convert_from_f32_slice(&values);
                crate::backend::cpu::buffer_pool::give(values);
                CpuStorage::BF16(out)
            }
            DType::I32 => {
                let out = values.iter().map(|&v| v as i32).collect();
                crate::backend::cpu::buffer_pool::give(values);
                CpuStorage::I32(out)
            }
        }
    }

    /// The value at storage position `i`, as f32.
    pub fn get_f32(&self, i: usize) -> f32 {
        match self {
            CpuStorage::F32(v) => v[i],
            CpuStorage::F16(v) => v[i].to_f32(),
            CpuStorage::BF16(v) => v[i].to_f32(),
            CpuStorage::I32(v) => v[i] as f32,
        }
    }

    /// Little-endian bytes of the whole buffer (used to upload to a device or save to safetensors).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            CpuStorage::F32(v) => bytemuck::cast_slice(v),
            CpuStorage::F16(v) => bytemuck::cast_slice(v),
            CpuStorage::BF16(v) => bytemuck::cast_slice(v),
            CpuStorage::I32(v) => bytemuck::cast_slice(v),
        }
    }

    pub fn from_bytes(bytes: &[u8], dtype: DType) -> Self {
        // pod_collect_to_vec copies, so unaligned input bytes are fine.
        match dtype {
            DType::F32 => CpuStorage::F32(bytemuck::pod_collect_to_vec(bytes)),
            DType::F16 => CpuStorage::F16(bytemuck::pod_collect_to_vec(bytes)),
            DType::BF16 => CpuStorage::BF16(bytemuck::pod_collect_to_vec(bytes)),
            DType::I32 => CpuStorage::I32(bytemuck::pod_collect_to_vec(bytes)),
        }
    }
}

impl Storage {
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            Storage::Cuda(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Cuda(s) => s.dtype(),
        }
    }
}
