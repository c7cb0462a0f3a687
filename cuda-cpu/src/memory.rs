//! The device address space: allocations, bounds, and a shadow of which bytes were ever written.
//! Shared by every context and every launch; all methods take `&self` (internally synchronised).

/// An error of the address space, each naming the address involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemError {
    OutOfMemory { requested: u64, free: u64 },
    /// `addr..addr+len` is not inside one live allocation.
    OutOfBounds { addr: u64, len: u64 },
    /// `free` of an address that is not the start of a live allocation.
    InvalidFree { addr: u64 },
}

/// Every device allocation, at addresses that are 256-aligned and never 0.
pub struct DeviceMemory {
    total_bytes: u64,
}

impl DeviceMemory {
    pub fn new(total_bytes: u64) -> Self {
        Self { total_bytes }
    }
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }
}
