//! Reuse of the CPU backend's f32 buffers. A training step makes the same buffers every step (the
//! same ops at the same shapes); without reuse each large one is a fresh allocation from the system,
//! which for multi-megabyte buffers means fresh pages and a page fault on every 4 KB of first touch
//! (an eighth of the text LSTM's training step went to page faults). A tensor's f32 storage, when the
//! tensor that owned it last is dropped, comes back here (`tensor::TensorInner`'s `Drop`); the ops
//! that make large outputs take their buffers from here.
//!
//! Buffers are kept by exact length (a step asks for the same lengths again), only from
//! `MIN_POOLED_LEN` elements up (small ones are cheap). How much the pool may hold follows the
//! program, like PyTorch's caching allocator: at most twice the most the program ever had out of
//! the pool at once (requests served, hit or miss, less buffers given back), and never less than
//! `FLOOR_BYTES`. A fixed cap does not fit a training step: VGG16's classifier.0 weight gradient
//! alone is 411 MB, its step's gradients 553 MB, so under the former 256 MB cap every step
//! allocated them fresh (and faulted in their pages), and returning them flushed the pool. A
//! buffer that would pass the limit evicts the buffers that came back longest ago, one at a time,
//! so lengths nobody asks for any more (a workload that changed shapes) are the first to go, and
//! the ones a steady step cycles through stay. `release` frees everything.
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Buffers shorter than this go back to the system allocator (1,024 f32 = 4 KB, one page).
pub const MIN_POOLED_LEN: usize = 1024;
/// The pool may always hold this much, whatever the program's peak.
const FLOOR_BYTES: usize = 256 << 20;

struct Pool {
    /// Buffers by exact length, each length's in the order they came back (oldest first), with
    /// the return count at which they did.
    by_len: BTreeMap<usize, Vec<(u64, Vec<f32>)>>,
    /// Bytes held in `by_len`.
    bytes: usize,
    floor_bytes: usize,
    /// Bytes of requests served (hit or miss) less bytes given back (saturating: buffers the pool
    /// never handed out come back too), and its maximum so far.
    outstanding: usize,
    peak_outstanding: usize,
    returns: u64,
    /// Requests of a pooled length that found no buffer (fresh allocations).
    misses: u64,
}

impl Pool {
    const fn new(floor_bytes: usize) -> Self {
        Pool { by_len: BTreeMap::new(), bytes: 0, floor_bytes, outstanding: 0, peak_outstanding: 0, returns: 0, misses: 0 }
    }

    fn limit(&self) -> usize {
        self.floor_bytes.max(2 * self.peak_outstanding)
    }

    /// The most recently returned buffer of `len` (its pages likeliest in cache), counted out.
    fn take(&mut self, len: usize) -> Option<Vec<f32>> {
        if len < MIN_POOLED_LEN {
            return None;
        }
        self.outstanding += len * 4;
        self.peak_outstanding = self.peak_outstanding.max(self.outstanding);
        let Some((_, buffer)) = self.by_len.get_mut(&len).and_then(Vec::pop) else {
            self.misses += 1;
            return None;
        };
        self.bytes -= len * 4;
        Some(buffer)
    }

    /// Keeps `buffer` if the limit allows, evicting the longest-returned buffers to make room;
    /// returns what is to be freed (the evicted buffers, or `buffer` itself).
    fn give(&mut self, buffer: Vec<f32>) -> Vec<Vec<f32>> {
        if buffer.len() < MIN_POOLED_LEN {
            return vec![buffer];
        }
        let bytes = buffer.len() * 4;
        // Counted back even when not kept, or the limit would ratchet up with every such buffer.
        self.outstanding = self.outstanding.saturating_sub(bytes);
        if buffer.len() != buffer.capacity() {
            return vec![buffer];
        }
        let limit = self.limit();
        if bytes > limit {
            return vec![buffer];
        }
        let mut evicted = Vec::new();
        while self.bytes + bytes > limit {
            let Some(oldest) = self.by_len.iter().filter_map(|(&len, kept)| kept.first().map(|(at, _)| (*at, len))).min().map(|(_, len)| len) else { break };
            let kept = self.by_len.get_mut(&oldest).expect("the length was just found");
            let (_, old) = kept.remove(0);
            if kept.is_empty() {
                self.by_len.remove(&oldest);
            }
            self.bytes -= old.len() * 4;
            evicted.push(old);
        }
        self.returns += 1;
        self.bytes += bytes;
        self.by_len.entry(buffer.len()).or_default().push((self.returns, buffer));
        evicted
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new(FLOOR_BYTES));

fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    // A poisoned lock only means another thread panicked while holding it; the pool stays usable.
    let mut guard = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

fn take(len: usize) -> Option<Vec<f32>> {
    if len < MIN_POOLED_LEN {
        return None;
    }
    with_pool(|pool| pool.take(len))
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
/// bigger than the pool may hold).
pub fn give(buffer: Vec<f32>) {
    if buffer.len() < MIN_POOLED_LEN {
        return;
    }
    // Freed outside the lock.
    drop(with_pool(|pool| pool.give(buffer)));
}

/// `len` i32 values for an output the caller overwrites entirely (max-pool's argmax): i32 buffers
/// share the f32 pool by their bits, so a steady step's index tensors are reused too.
pub fn i32_for_overwrite(len: usize) -> Vec<i32> {
    reinterpret(for_overwrite(len))
}

/// Hands an i32 buffer back for reuse (see `give`).
pub fn give_i32(buffer: Vec<i32>) {
    give(reinterpret(buffer));
}

/// The same allocation viewed as another 4-byte plain value type.
fn reinterpret<From: Copy, To: Copy>(buffer: Vec<From>) -> Vec<To> {
    const { assert!(size_of::<From>() == 4 && size_of::<To>() == 4 && align_of::<From>() == 4 && align_of::<To>() == 4) };
    let mut buffer = std::mem::ManuallyDrop::new(buffer);
    // SAFETY: f32 and i32 have the same size and alignment, so the allocation's layout is the one
    // a Vec<To> of this capacity would have, and every bit pattern is a valid value of either.
    unsafe { Vec::from_raw_parts(buffer.as_mut_ptr().cast::<To>(), buffer.len(), buffer.capacity()) }
}

/// Frees every pooled buffer and forgets the peak (for a program that is done with a large
/// workload and goes on with a small one). Not the per-thread scratch some ops keep outside the
/// pool (conv.rs's im2col `SCRATCH`, small_batch_product.rs's `DOT_SUMS`): each thread keeps the
/// largest it has needed, a few MB at full VGG16, until the thread ends.
pub fn release() {
    let freed = with_pool(|pool| {
        let freed = std::mem::take(&mut pool.by_len);
        *pool = Pool { misses: pool.misses, ..Pool::new(pool.floor_bytes) };
        freed
    });
    drop(freed);
}

/// Bytes held for reuse now (tests).
pub fn pooled_bytes() -> usize {
    with_pool(|pool| pool.bytes)
}

/// Requests so far that the pool could not serve, each a fresh allocation (profiles: a steady
/// step adds none).
pub fn misses() -> u64 {
    with_pool(|pool| pool.misses)
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

    const PAGE: usize = MIN_POOLED_LEN;

    /// Takes `len` from `pool`, or makes it fresh, as `for_overwrite` does.
    fn request(pool: &mut Pool, len: usize) -> Vec<f32> {
        pool.take(len).unwrap_or_else(|| vec![0.0; len])
    }

    #[test]
    fn a_step_with_buffers_larger_than_the_floor_reuses_them_all() {
        // A floor of 4 pages; each "step" has a 10-page gradient and two 3-page activations out at
        // once, then returns them (the VGG16 step's shape: one buffer beyond the floor).
        let mut pool = Pool::new(4 * PAGE * 4);
        let mut misses_per_step = Vec::new();
        for _ in 0..4 {
            let before = pool.misses;
            let step = [request(&mut pool, 10 * PAGE), request(&mut pool, 3 * PAGE), request(&mut pool, 3 * PAGE)];
            for buffer in step {
                assert!(pool.give(buffer).is_empty(), "nothing is freed in a steady step");
            }
            misses_per_step.push(pool.misses - before);
        }
        assert_eq!(misses_per_step, [3, 0, 0, 0]);
        assert_eq!(pool.bytes, 16 * PAGE * 4);
    }

    #[test]
    fn a_buffer_the_pool_does_not_keep_still_counts_as_back() {
        // A buffer that comes back with spare capacity is freed, not kept; were it not counted back,
        // every such return would raise the peak (and so the limit) for good.
        let mut pool = Pool::new(4 * PAGE * 4);
        for _ in 0..5 {
            let mut buffer = request(&mut pool, 2 * PAGE);
            buffer.reserve_exact(PAGE);
            assert_eq!(pool.give(buffer).len(), 1, "a buffer longer in capacity than in length is freed");
        }
        assert_eq!(pool.outstanding, 0);
        assert_eq!(pool.peak_outstanding, 2 * PAGE * 4, "one buffer out at a time: the peak is one buffer");
    }

    #[test]
    fn the_pool_holds_at_most_twice_the_peak_and_evicts_the_longest_returned_first() {
        let mut pool = Pool::new(4 * PAGE * 4);
        // One buffer out at a time: peak 8 pages, limit 16 pages.
        let freed: Vec<Vec<usize>> = [8 * PAGE, 5 * PAGE, 6 * PAGE]
            .into_iter()
            .map(|len| {
                let buffer = request(&mut pool, len);
                pool.give(buffer).iter().map(Vec::len).collect()
            })
            .collect();
        assert_eq!(freed, [vec![], vec![], vec![8 * PAGE]], "8 + 5 + 6 pages do not fit in 16: the 8, returned first, goes");
        assert_eq!(pool.bytes, 11 * PAGE * 4);
        assert!(!pool.by_len.contains_key(&(8 * PAGE)), "the longest-returned length is evicted first");
        assert!(pool.bytes <= pool.limit());
        // A length above the limit is freed at once and evicts nothing.
        let huge = vec![0.0; 40 * PAGE];
        let freed = pool.give(huge);
        assert_eq!(freed.len(), 1);
        assert_eq!(freed[0].len(), 40 * PAGE);
        assert_eq!(pool.bytes, 11 * PAGE * 4);
    }
}
