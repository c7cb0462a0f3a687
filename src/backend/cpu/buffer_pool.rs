//! Reuse of the CPU backend's f32 buffers. A training step makes the same buffers every step (the
//! same ops at the same shapes); without reuse each large one is a fresh allocation from the system,
//! which for multi-megabyte buffers means fresh pages and a page fault on every 4 KB of first touch
//! (an eighth of the text LSTM's training step went to page faults). A tensor's f32 storage, when the
//! tensor that owned it last is dropped, comes back here (`tensor::TensorInner`'s `Drop`); the ops
//! that make large outputs take their buffers from here.
//!
//! Buffers are kept by exact length (a step asks for the same lengths again), only from
//! `MIN_POOLED_LEN` elements up (small ones are cheap), and at most `MAX_POOLED_BYTES` in all: a
//! buffer that would pass the limit empties the pool first, so lengths nobody asks for again (a
//! workload that changed shapes) cannot keep the pool full for good.
use std::collections::HashMap;
use std::sync::Mutex;

/// Buffers shorter than this go back to the system allocator (1,024 f32 = 4 KB, one page).
pub const MIN_POOLED_LEN: usize = 1024;
/// The most the pool holds; a buffer that would exceed it is freed.
const MAX_POOLED_BYTES: usize = 256 << 20;

struct Pool {
    by_len: HashMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    // A poisoned lock only means another thread panicked while holding it; the pool stays usable.
    let mut guard = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(guard.get_or_insert_with(|| Pool { by_len: HashMap::new(), bytes: 0 }))
}

fn take(len: usize) -> Option<Vec<f32>> {
    if len < MIN_POOLED_LEN {
        return None;
    }
    with_pool(|pool| {
        let buffer = pool.by_len.get_mut(&len)?.pop()?;
        pool.bytes -= buffer.capacity() * 4;
        Some(buffer)
    })
}

/// `len` zeros: a pooled buffer cleared, or a fresh one.
pub fn zeros(len: usize) -> Vec<f32> {
    match take(len) {
        Some(mut buffer) => {
            buffer.fill(0.0);
            buffer
        }
        None => vec![0.0; len],
    }
}

/// `len` values for an output that the caller overwrites entirely: a pooled buffer as it was
/// left (any f32 bits are valid values, so this is safe, only unspecified), or fresh zeros.
pub fn for_overwrite(len: usize) -> Vec<f32> {
    take(len).unwrap_or_else(|| vec![0.0; len])
}

/// A copy of `values` in a pooled buffer when there is one of that length.
pub fn copy_of(values: &[f32]) -> Vec<f32> {
    match take(values.len()) {
        Some(mut buffer) => {
            buffer.copy_from_slice(values);
            buffer
        }
        None => values.to_vec(),
    }
}

/// Hands a buffer back for reuse (or frees it, when small, not exactly its capacity long, or
/// bigger than the whole pool may be).
pub fn give(buffer: Vec<f32>) {
    let bytes = buffer.capacity() * 4;
    if buffer.len() < MIN_POOLED_LEN || buffer.len() != buffer.capacity() || bytes > MAX_POOLED_BYTES {
        return;
    }
    // Freed outside the lock.
    let evicted = with_pool(|pool| {
        let evicted = if pool.bytes + bytes > MAX_POOLED_BYTES {
            pool.bytes = 0;
            std::mem::take(&mut pool.by_len)
        } else {
            HashMap::new()
        };
        pool.bytes += bytes;
        pool.by_len.entry(buffer.len()).or_default().push(buffer);
        evicted
    });
    drop(evicted);
}

/// Bytes held for reuse now (tests).
pub fn pooled_bytes() -> usize {
    with_pool(|pool| pool.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_cleared() {
        // A length no other test of this binary uses, so parallel tests do not take it.
        let len = MIN_POOLED_LEN + 12_345;
        let mut buffer = zeros(len);
        buffer.iter_mut().for_each(|v| *v = 7.0);
        let address = buffer.as_ptr();
        give(buffer);
        let again = zeros(len);
        assert_eq!(again.as_ptr(), address, "the same buffer comes back");
        assert!(again.iter().all(|&v| v == 0.0), "and is cleared");
        let copied = {
            give(again);
            copy_of(&vec![3.0; len])
        };
        assert_eq!(copied.as_ptr(), address);
        assert!(copied.iter().all(|&v| v == 3.0));
    }
}
