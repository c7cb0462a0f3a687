//! The caching device allocator: the only caller of cudaMalloc. Freed blocks go back to a free list
//! of their size class instead of to the driver, so steady-state training allocates nothing.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaSlice, CudaStream, DevicePtr};

use crate::{Error, Result};

const SMALL_ROUNDING: usize = 512;
const LARGE_THRESHOLD: usize = 1 << 20;
const LARGE_ROUNDING: usize = 2 << 20;

/// Requests are rounded up so that nearby sizes share blocks: to 512 B below 1 MiB, to 2 MiB above.
fn size_class(bytes: usize) -> usize {
    let rounding = if bytes < LARGE_THRESHOLD { SMALL_ROUNDING } else { LARGE_ROUNDING };
    bytes.max(1).div_ceil(rounding) * rounding
}

/// Byte counts of the allocator, for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in blocks handed out and not yet dropped.
    pub in_use: usize,
    /// The highest `in_use` seen.
    pub peak_in_use: usize,
    /// Bytes held in free lists, ready for reuse.
    pub cached: usize,
    /// Number of cudaMalloc calls so far.
    pub device_allocations: usize,
}

#[derive(Default)]
struct Pool {
    free: BTreeMap<usize, Vec<CudaSlice<u8>>>,
    stats: MemoryStats,
}

pub struct CachingAllocator {
    stream: Arc<CudaStream>,
    pool: Mutex<Pool>,
}

/// A block of device memory; dropping it returns it to its allocator's free list.
pub struct DeviceBlock {
    slice: Option<CudaSlice<u8>>,
    pointer: u64,
    allocator: Arc<CachingAllocator>,
}

impl CachingAllocator {
    pub fn new(stream: Arc<CudaStream>) -> Arc<Self> {
        Arc::new(Self { stream, pool: Mutex::new(Pool::default()) })
    }

    pub fn stats(&self) -> MemoryStats {
        self.pool.lock().unwrap().stats
    }

    /// Returns every cached block to the driver.
    pub fn release_cached(&self) {
        let mut pool = self.pool.lock().unwrap();
        pool.free.clear();
        pool.stats.cached = 0;
    }

    pub fn allocate(self: &Arc<Self>, bytes: usize) -> Result<DeviceBlock> {
        let class = size_class(bytes);
        let reused = {
            let mut pool = self.pool.lock().unwrap();
            let slice = pool.free.get_mut(&class).and_then(Vec::pop);
            if slice.is_some() {
                pool.stats.cached -= class;
            }
            slice
        };
        let slice = match reused {
            Some(slice) => slice,
            None => self.allocate_from_driver(class)?,
        };
        let mut pool = self.pool.lock().unwrap();
        pool.stats.in_use += class;
        pool.stats.peak_in_use = pool.stats.peak_in_use.max(pool.stats.in_use);
        drop(pool);
        let pointer = slice.device_ptr(&self.stream).0;
        Ok(DeviceBlock { pointer, slice: Some(slice), allocator: Arc::clone(self) })
    }

    fn allocate_from_driver(&self, class: usize) -> Result<CudaSlice<u8>> {
        // SAFETY: the memory is uninitialised; every op writes its output before anything reads it.
        let first_try = unsafe { self.stream.alloc::<u8>(class) };
        let slice = match first_try {
            Ok(slice) => slice,
            Err(_) => {
                // Out of memory, perhaps only because of cached blocks: give them back and retry once.
                self.release_cached();
                unsafe { self.stream.alloc::<u8>(class) }.map_err(|e| {
                    Error::cuda(format!("allocating {class} bytes (in use: {} bytes)", self.stats().in_use), e)
                })?
            }
        };
        self.pool.lock().unwrap().stats.device_allocations += 1;
        Ok(slice)
    }
}

impl DeviceBlock {
    pub fn pointer(&self) -> u64 {
        self.pointer
    }
    pub fn slice(&self) -> &CudaSlice<u8> {
        self.slice.as_ref().expect("block present until drop")
    }
    pub fn slice_mut(&mut self) -> &mut CudaSlice<u8> {
        self.slice.as_mut().expect("block present until drop")
    }
}

impl Drop for DeviceBlock {
    fn drop(&mut self) {
        if let Some(slice) = self.slice.take() {
            let class = slice.len();
            let mut pool = self.allocator.pool.lock().unwrap();
            pool.stats.in_use -= class;
            pool.stats.cached += class;
            // Work queued on the one stream that still reads this block runs before any later
            // work that reuses it, so the block can be reused without waiting.
            pool.free.entry(class).or_default().push(slice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_round_up_and_never_shrink() {
        assert_eq!(size_class(0), 512);
        assert_eq!(size_class(1), 512);
        assert_eq!(size_class(513), 1024);
        assert_eq!(size_class((1 << 20) + 1), 2 << 20);
        for bytes in [7, 4096, 999_999, 3 << 20, 123_456_789] {
            assert!(size_class(bytes) >= bytes);
        }
    }
}
