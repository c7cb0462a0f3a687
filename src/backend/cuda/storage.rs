//! Device storage: a block from the caching allocator, its dtype and element count.
use std::sync::Arc;

use super::allocator::DeviceBlock;
use super::{device, CudaDevice};
use crate::tensor::{CpuStorage, DType};
use crate::{Error, Result};

pub struct CudaStorage {
    block: DeviceBlock,
    dtype: DType,
    len: usize,
    device: Arc<CudaDevice>,
}

impl CudaStorage {
    /// Uninitialised storage for `len` elements; the op that asked for it writes every element.
    pub(crate) fn alloc_on(device: &Arc<CudaDevice>, dtype: DType, len: usize) -> Result<Self> {
        let block = device.allocate(len * dtype.size_in_bytes())?;
        Ok(Self { block, dtype, len, device: Arc::clone(device) })
    }

    pub fn alloc(ordinal: usize, dtype: DType, len: usize) -> Result<Self> {
        Self::alloc_on(&device(ordinal)?, dtype, len)
    }

    pub fn from_cpu(cpu: &CpuStorage, ordinal: usize) -> Result<Self> {
        let mut storage = Self::alloc(ordinal, cpu.dtype(), cpu.len())?;
        let bytes = cpu.as_bytes();
        if !bytes.is_empty() {
            let stream = Arc::clone(storage.device.stream());
            stream.memcpy_htod(bytes, storage.block.slice_mut()).map_err(|e| Error::cuda("copying host to device", e))?;
        }
        Ok(storage)
    }

    /// Copies elements `start..start+len` back to the host (waits for queued work first).
    pub fn to_cpu(&self, start: usize, len: usize) -> Result<CpuStorage> {
        let size = self.dtype.size_in_bytes();
        let mut bytes = vec![0u8; len * size];
        if len > 0 {
            let source = self.block.slice().slice(start * size..(start + len) * size);
            self.device.stream().memcpy_dtoh(&source, &mut bytes).map_err(|e| Error::cuda("copying device to host", e))?;
            self.device.synchronize()?;
        }
        Ok(CpuStorage::from_bytes(&bytes, self.dtype))
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn ordinal(&self) -> usize {
        self.device.ordinal()
    }
    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }

    /// The device address of element `offset`, for a kernel argument.
    pub fn pointer_at(&self, offset: usize) -> u64 {
        self.block.pointer() + (offset * self.dtype.size_in_bytes()) as u64
    }
}
