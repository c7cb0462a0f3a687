//! A steady-state CPU training step allocates no tensor-sized buffer (issue 15): every output comes
//! from the CPU buffer pool (backend/cpu/buffer_pool.rs), and no GEMM leaves the gemm crate a
//! reason to allocate its packing buffer (backend/cpu/matmul.rs).
//!
//! Its own test binary, with one test: the pool is process-wide, so a test running alongside would
//! take and return buffers of the same lengths and make the count depend on the interleaving.
use std::sync::atomic::Ordering;

use memefuse::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use memefuse::nn::loss::binary_cross_entropy_with_logits;
use memefuse::optim::{Adam, AdamConfig, Optimizer};
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};

/// Counts heap allocations of at least `BUFFER_BYTES` (tensor-sized buffers, not bookkeeping)
/// made by threads that opted in: the workers of the rayon pool the test builds (the steps run on
/// them through `install`).
mod buffer_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub const BUFFER_BYTES: usize = 4096;
    pub static BUFFERS: AtomicUsize = AtomicUsize::new(0);
    pub static BYTES: AtomicUsize = AtomicUsize::new(0);
    thread_local! { pub static COUNTED: Cell<bool> = const { Cell::new(false) }; }

    pub struct Counting;

    fn note(size: usize) {
        // try_with: no panic while a thread's locals are being torn down.
        if size >= BUFFER_BYTES && COUNTED.try_with(Cell::get).unwrap_or(false) {
            BUFFERS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(size, Ordering::Relaxed);
        }
    }

    // SAFETY: every call is forwarded unchanged to the system allocator; counting touches no memory
    // the allocator owns.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: buffer_count::Counting = buffer_count::Counting;

/// Runs `step` `steps` times on a counted 2-thread pool; returns (buffers, bytes) per step.
fn buffers_per_step(steps: usize, mut step: impl FnMut() + Send) -> Vec<(usize, usize)> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // The gemm crate gives each thread a workspace the size of its L2 cache (1 MiB here) on the
    // thread's first GEMM: made once per thread, but on whichever step a thread first multiplies.
    // Each worker makes it before counting starts, with a product too tall for the small-batch
    // path (small_batch_product.rs takes up to 64 rows without the gemm crate): a 64-row warm-up
    // left one worker's workspace to whichever step first sent it a tall product.
    pool.broadcast(|_| {
        let a = Tensor::full(&[256, 256], 1.0, DType::F32, Device::Cpu).unwrap();
        drop(a.matmul(&a).unwrap());
        buffer_count::COUNTED.with(|c| c.set(true));
    });
    pool.install(|| {
        let mut last = (0, 0);
        (0..steps)
            .map(|_| {
                step();
                let now = (buffer_count::BUFFERS.load(Ordering::Relaxed), buffer_count::BYTES.load(Ordering::Relaxed));
                let this_step = (now.0 - last.0, now.1 - last.1);
                last = now;
                this_step
            })
            .collect()
    })
}

/// The first step makes Adam's moments and fills the pool; the second can still miss where
/// buffers of one length are live at other moments than in the first; from the third on nothing
/// may be allocated.
fn assert_steady_state_allocates_nothing(model: &str, per_step: &[(usize, usize)]) {
    eprintln!("{model}: buffers of ≥ {} bytes allocated per training step (count, bytes): {per_step:?}", buffer_count::BUFFER_BYTES);
    assert!(per_step[0].0 > 0, "{model}: the counting hook sees the first step's buffers: {per_step:?}");
    assert!(per_step[2..].iter().all(|&step| step == (0, 0)), "{model}: steady state allocates: {per_step:?}");
}

#[test]
fn cpu_training_steps_allocate_no_buffers_in_steady_state() {
    // The text LSTM classifier (benches/lstm.rs's step) at tests/text_lstm.rs's odd shape: batch 37
    // (a ragged block of rows in the recurrence), an embedding width of 12 (not a multiple of the
    // GEMM's register width).
    let (vocab, batch, length) = (300, 37, 9);
    let config = TextLstmConfig { vocab_size: vocab, embedding_dim: 12, hidden: 16, layers: 2, readout: SequenceReadout::LastStep };
    let model = TextLstm::new(config, &mut Rng::new(4), Device::Cpu).unwrap();
    let mut rng = Rng::new(5);
    let ids: Vec<i32> = (0..batch * length).map(|_| rng.below(vocab) as i32).collect();
    let tokens = Tensor::from_i32(ids, &[batch, length], Device::Cpu).unwrap();
    let targets = Tensor::from_vec((0..batch).map(|i| (i % 2) as f32).collect(), &[batch], Device::Cpu).unwrap();
    let lengths = vec![length; batch];
    let mut adam = Adam::new(AdamConfig::default());
    let per_step = buffers_per_step(5, || {
        let logits = model.forward(&tokens, &lengths, true, DType::F32).unwrap();
        let grads = binary_cross_entropy_with_logits(&logits, &targets).unwrap().backward().unwrap();
        adam.step(&model.parameters(), &grads).unwrap();
    });
    assert_steady_state_allocates_nothing("text LSTM", &per_step);
}
