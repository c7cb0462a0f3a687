//! The device address space: allocations, bounds, and a shadow of which bytes were ever written.
//! Shared by every context and every launch; all methods take `&self` (internally synchronised).
//!
//! Addresses are handed out by a bump pointer and never reused, so a use after `free` is an
//! out-of-bounds access rather than a silent read of someone else's buffer. Each allocation keeps
//! its bytes, one "initialised" byte per data byte, and (created on the first kernel write, only
//! when race checks are on) one writer tag per byte for the global race check.

use std::cell::UnsafeCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// An error of the address space, each naming the address involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemError {
    OutOfMemory { requested: u64, free: u64 },
    /// `addr..addr+len` is not inside one live allocation.
    OutOfBounds { addr: u64, len: u64 },
    /// `free` of an address that is not the start of a live allocation.
    InvalidFree { addr: u64 },
}

impl std::fmt::Display for MemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemError::OutOfMemory { requested, free } => write!(f, "out of device memory: {requested} bytes requested, {free} free"),
            MemError::OutOfBounds { addr, len } => write!(f, "{len} bytes at {addr:#x} are not inside one live allocation"),
            MemError::InvalidFree { addr } => write!(f, "{addr:#x} is not the start of a live allocation"),
        }
    }
}

impl std::error::Error for MemError {}

/// The first address handed out (a realistic-looking device address, far from 0).
const BASE_ADDRESS: u64 = 0x7f00_0000_0000;
const ALIGNMENT: u64 = 256;

/// One live allocation. Its bytes are written concurrently by the CTAs of a launch through raw
/// pointers (as on a GPU, a kernel's own races are its business; the race checker reports them).
pub struct Allocation {
    pub start: u64,
    pub size: u64,
    /// Backed by u64 words so that every naturally aligned access up to 8 bytes is aligned on
    /// the host too (atomics need it).
    data: Box<[UnsafeCell<u64>]>,
    /// 1 where the byte was ever written (host copy, memset or kernel store).
    initialised: Box<[UnsafeCell<u8>]>,
    /// The writer of each byte in the latest launch that wrote it: `launch << 40 | thread + 1`.
    writer_tags: OnceLock<Box<[AtomicU64]>>,
}

// Safety: the cells are only accessed through raw pointers by code that accepts racy bytes
// (kernel loads/stores, like a GPU's), or under the address space's lock (host copies).
unsafe impl Sync for Allocation {}
unsafe impl Send for Allocation {}

impl Allocation {
    fn new(start: u64, size: u64) -> Self {
        let words = size.div_ceil(8) as usize;
        let data = (0..words).map(|_| UnsafeCell::new(0u64)).collect();
        let initialised = (0..size as usize).map(|_| UnsafeCell::new(0u8)).collect();
        Self { start, size, data, initialised, writer_tags: OnceLock::new() }
    }

    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.start && addr.checked_add(len).is_some_and(|end| end <= self.end())
    }

    /// The host pointer of the byte at device address `addr` (which must be inside).
    pub fn host_ptr(&self, addr: u64) -> *mut u8 {
        debug_assert!(addr >= self.start && addr <= self.end());
        unsafe { (self.data.as_ptr() as *mut u8).add((addr - self.start) as usize) }
    }

    /// The pointer to the initialised flags of the byte at `addr`.
    pub fn init_ptr(&self, addr: u64) -> *mut u8 {
        unsafe { (self.initialised.as_ptr() as *mut u8).add((addr - self.start) as usize) }
    }

    /// Whether all of `addr..addr+len` were written; `None` when they were, else the first that was not.
    pub fn first_uninitialised(&self, addr: u64, len: u64) -> Option<u64> {
        let flags = self.init_ptr(addr);
        (0..len).find(|&i| unsafe { *flags.add(i as usize) } == 0).map(|i| addr + i)
    }

    pub fn mark_initialised(&self, addr: u64, len: u64) {
        let flags = self.init_ptr(addr);
        for i in 0..len as usize {
            unsafe { *flags.add(i) = 1 };
        }
    }

    /// The per-byte writer tags, created on first use.
    pub fn writer_tags(&self) -> &[AtomicU64] {
        self.writer_tags.get_or_init(|| (0..self.size as usize).map(|_| AtomicU64::new(0)).collect())
    }

    /// Clears the writer tags of `addr..addr+len` (host writes end any race with earlier launches).
    fn clear_writer_tags(&self, addr: u64, len: u64) {
        if let Some(tags) = self.writer_tags.get() {
            let first = (addr - self.start) as usize;
            for tag in &tags[first..first + len as usize] {
                tag.store(0, Ordering::Relaxed);
            }
        }
    }
}

struct Space {
    allocations: BTreeMap<u64, Arc<Allocation>>,
    next_address: u64,
    used_bytes: u64,
}

/// Every device allocation, at addresses that are 256-aligned and never 0.
pub struct DeviceMemory {
    total_bytes: u64,
    space: RwLock<Space>,
    /// Serialises host-side copies against each other (kernels do not take it).
    host_copy: Mutex<()>,
}

impl DeviceMemory {
    pub fn new(total_bytes: u64) -> Self {
        Self {
            total_bytes,
            space: RwLock::new(Space { allocations: BTreeMap::new(), next_address: BASE_ADDRESS, used_bytes: 0 }),
            host_copy: Mutex::new(()),
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn used_bytes(&self) -> u64 {
        self.space.read().unwrap().used_bytes
    }

    /// A new allocation of `bytes` (at least 1 byte of address space is reserved for 0 bytes).
    pub fn alloc(&self, bytes: u64) -> Result<u64, MemError> {
        let mut space = self.space.write().unwrap();
        let free = self.total_bytes - space.used_bytes;
        if bytes > free {
            return Err(MemError::OutOfMemory { requested: bytes, free });
        }
        let start = space.next_address;
        // A gap of one alignment unit after each allocation, so that running off the end of one
        // buffer is never a silent access into the next.
        space.next_address = start + bytes.max(1).div_ceil(ALIGNMENT) * ALIGNMENT + ALIGNMENT;
        space.used_bytes += bytes;
        space.allocations.insert(start, Arc::new(Allocation::new(start, bytes)));
        Ok(start)
    }

    pub fn free(&self, addr: u64) -> Result<(), MemError> {
        let mut space = self.space.write().unwrap();
        match space.allocations.remove(&addr) {
            Some(allocation) => {
                space.used_bytes -= allocation.size;
                Ok(())
            }
            None => Err(MemError::InvalidFree { addr }),
        }
    }

    /// The live allocation holding `addr` (the byte itself, not a range).
    pub fn find(&self, addr: u64) -> Option<Arc<Allocation>> {
        let space = self.space.read().unwrap();
        let (_, allocation) = space.allocations.range(..=addr).next_back()?;
        (addr < allocation.end()).then(|| allocation.clone())
    }

    /// The allocation nearest below `addr` (for error messages about out-of-bounds addresses).
    pub fn nearest_below(&self, addr: u64) -> Option<(u64, u64)> {
        let space = self.space.read().unwrap();
        space.allocations.range(..=addr).next_back().map(|(_, a)| (a.start, a.size))
    }

    fn find_range(&self, addr: u64, len: u64) -> Result<Arc<Allocation>, MemError> {
        let allocation = self.find(addr).ok_or(MemError::OutOfBounds { addr, len })?;
        if allocation.contains(addr, len) {
            Ok(allocation)
        } else {
            Err(MemError::OutOfBounds { addr, len })
        }
    }

    /// Marks the bytes initialised.
    pub fn write_from_host(&self, dst: u64, src: &[u8]) -> Result<(), MemError> {
        if src.is_empty() {
            return Ok(());
        }
        let allocation = self.find_range(dst, src.len() as u64)?;
        let _guard = self.host_copy.lock().unwrap();
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), allocation.host_ptr(dst), src.len()) };
        allocation.mark_initialised(dst, src.len() as u64);
        allocation.clear_writer_tags(dst, src.len() as u64);
        Ok(())
    }

    /// Within one allocation. Reading bytes that were never written is allowed from the host
    /// (they read as zero); only kernels are checked for it.
    pub fn read_to_host(&self, src: u64, dst: &mut [u8]) -> Result<(), MemError> {
        if dst.is_empty() {
            return Ok(());
        }
        let allocation = self.find_range(src, dst.len() as u64)?;
        unsafe { std::ptr::copy_nonoverlapping(allocation.host_ptr(src), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// `pattern` (1, 2 or 4 bytes) repeated `count` times from `dst`.
    pub fn memset(&self, dst: u64, pattern: &[u8], count: u64) -> Result<(), MemError> {
        assert!(matches!(pattern.len(), 1 | 2 | 4), "memset pattern must be 1, 2 or 4 bytes");
        let len = count * pattern.len() as u64;
        if len == 0 {
            return Ok(());
        }
        let allocation = self.find_range(dst, len)?;
        let _guard = self.host_copy.lock().unwrap();
        let ptr = allocation.host_ptr(dst);
        for i in 0..len as usize {
            unsafe { *ptr.add(i) = pattern[i % pattern.len()] };
        }
        allocation.mark_initialised(dst, len);
        allocation.clear_writer_tags(dst, len);
        Ok(())
    }

    /// Device to device; the initialised shadow travels with the bytes. The ranges may overlap.
    pub fn copy(&self, dst: u64, src: u64, bytes: u64) -> Result<(), MemError> {
        if bytes == 0 {
            return Ok(());
        }
        let from = self.find_range(src, bytes)?;
        let to = self.find_range(dst, bytes)?;
        let _guard = self.host_copy.lock().unwrap();
        unsafe {
            std::ptr::copy(from.host_ptr(src), to.host_ptr(dst), bytes as usize);
            std::ptr::copy(from.init_ptr(src), to.init_ptr(dst), bytes as usize);
        }
        to.clear_writer_tags(dst, bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_bounded() {
        let memory = DeviceMemory::new(1 << 20);
        let a = memory.alloc(100).unwrap();
        let b = memory.alloc(1).unwrap();
        assert_eq!(a % 256, 0);
        assert_eq!(b % 256, 0);
        assert!(b >= a + 100);
        assert_eq!(memory.used_bytes(), 101);
        assert_eq!(memory.write_from_host(a + 99, &[1, 2]), Err(MemError::OutOfBounds { addr: a + 99, len: 2 }));
        assert!(matches!(memory.alloc(1 << 21), Err(MemError::OutOfMemory { .. })));
        memory.free(a).unwrap();
        assert_eq!(memory.free(a), Err(MemError::InvalidFree { addr: a }));
        assert!(memory.find(a).is_none(), "freed addresses are never reused");
    }

    #[test]
    fn host_copies_memset_and_shadow() {
        let memory = DeviceMemory::new(1 << 20);
        let a = memory.alloc(16).unwrap();
        let b = memory.alloc(16).unwrap();
        memory.memset(a, &[0xab, 0xcd], 4).unwrap();
        let allocation = memory.find(a).unwrap();
        assert_eq!(allocation.first_uninitialised(a, 16), Some(a + 8));
        memory.copy(b + 1, a, 9).unwrap();
        let mut out = [0u8; 10];
        memory.read_to_host(b, &mut out).unwrap();
        assert_eq!(out, [0, 0xab, 0xcd, 0xab, 0xcd, 0xab, 0xcd, 0xab, 0xcd, 0]);
        let second = memory.find(b).unwrap();
        assert_eq!(second.first_uninitialised(b + 1, 8), None);
        assert_eq!(second.first_uninitialised(b + 1, 9), Some(b + 9), "the copied shadow says byte 8 of a was never written");
    }
}
