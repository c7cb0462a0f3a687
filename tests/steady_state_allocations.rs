//! A steady-state CPU training step allocates no tensor-sized buffer (issue 15): every output comes
//! from the CPU buffer pool (backend/cpu/buffer_pool.rs), and no GEMM leaves the gemm crate a
//! reason to allocate its packing buffer (backend/cpu/matmul.rs).
//!
//! Its own test binary, its tests one at a time (`ONE_AT_A_TIME`): the pool is process-wide, so a
//! test running alongside would take and return buffers of the same lengths and make the count
//! depend on the interleaving.
use std::sync::atomic::Ordering;

use memefuse::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use memefuse::backend::cpu::conv::with_im2col;
use memefuse::models::vgg16::{Vgg16, Vgg16Config};
use memefuse::ops::Conv2dOptions;
use memefuse::nn::loss::{binary_cross_entropy_with_logits, cross_entropy};
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
    /// MEMEFUSE_TRACE_BUFFERS=1: print a backtrace for every counted buffer (to find where a
    /// steady step still allocates). TRACING stops the hook from tracing its own allocations.
    pub static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    thread_local! { static TRACING: Cell<bool> = const { Cell::new(false) }; }

    pub struct Counting;

    fn note(size: usize) {
        // try_with: no panic while a thread's locals are being torn down.
        let tracing = TRACING.try_with(Cell::get).unwrap_or(true);
        if size >= BUFFER_BYTES && COUNTED.try_with(Cell::get).unwrap_or(false) && !tracing {
            BUFFERS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(size, Ordering::Relaxed);
            if TRACE.load(Ordering::Relaxed) {
                TRACING.with(|t| t.set(true));
                eprintln!("buffer of {size} bytes:\n{}", std::backtrace::Backtrace::force_capture());
                TRACING.with(|t| t.set(false));
            }
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

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Makes this thread's per-thread workspaces, each made once per thread at a fixed size, but on
/// whichever step the thread first runs an op that uses it (under another scheduling, as on CI or
/// under `taskset -c 0`, a worker may first reach one after counting has started):
/// - the gemm crate's workspace the size of the L2 cache (1 MiB here), by a product too tall for
///   the small-batch path (small_batch_product.rs takes up to 64 rows without the gemm crate);
/// - the small-batch dot form's tile accumulators, by an x·Wᵀ of a few rows;
/// - the im2col convolution's scratch (backend/cpu/conv.rs), by a small convolution on that path.
fn warm_this_worker() {
    let a = Tensor::full(&[256, 256], 1.0, DType::F32, Device::Cpu).unwrap();
    drop(a.matmul(&a).unwrap());
    let (x, w) = (Tensor::full(&[3, 64], 1.0, DType::F32, Device::Cpu).unwrap(), Tensor::full(&[40, 64], 1.0, DType::F32, Device::Cpu).unwrap());
    drop(x.matmul(&w.t().unwrap()).unwrap());
    let (image, weight) = (Tensor::full(&[1, 8, 8, 3], 1.0, DType::F32, Device::Cpu).unwrap(), Tensor::full(&[4, 3, 3, 3], 1.0, DType::F32, Device::Cpu).unwrap());
    drop(with_im2col(|| image.conv2d(&weight, None, Conv2dOptions::new(1, 1))).unwrap());
}

/// Runs `step` `steps` times on a counted 2-thread pool; returns (buffers, bytes) per step.
fn buffers_per_step(steps: usize, mut step: impl FnMut() + Send) -> Vec<(usize, usize)> {
    // A test that failed while holding the lock leaves nothing behind that this count depends on.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.broadcast(|_| {
        warm_this_worker();
        buffer_count::COUNTED.with(|c| c.set(true));
    });
    let trace = std::env::var("MEMEFUSE_TRACE_BUFFERS").is_ok_and(|v| v == "1");
    pool.install(|| {
        let mut last = (0, 0);
        (0..steps)
            .map(|index| {
                buffer_count::TRACE.store(trace && index >= 2, Ordering::Relaxed);
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

#[test]
fn vgg16_small_training_step_allocates_no_buffers_in_steady_state() {
    // benches/vgg16.rs's step (dropout in training mode, cross-entropy, backward, Adam) at 64 px
    // and an odd batch of 17 (the bench's 16 and a ragged one; large enough that dropout's mask
    // and the convolutions' task lists would pass the size threshold): im2col + GEMM in the narrow
    // first blocks (4 and 8 channels), the direct kernels from 16 channels on (on AVX-512),
    // max-pool, the classifier's small-batch products. Then the same step with every convolution
    // on the im2col path, the one a CPU without AVX-512 takes everywhere.
    let (batch, side) = (17, 64);
    for im2col_only in [false, true] {
        let model = Vgg16::new(Vgg16Config::small(), &mut Rng::new(1), Device::Cpu).unwrap();
        let parameters = model.parameters();
        let images = Tensor::randn(&[batch, side, side, 3], 1.0, &mut Rng::new(2), Device::Cpu).unwrap();
        let targets: Vec<u32> = (0..batch as u32).map(|i| i % 2).collect();
        let (mut adam, mut dropout) = (Adam::new(AdamConfig::default()), Rng::new(3));
        let mut step = || {
            let logits = model.forward(&images, true, &mut dropout).unwrap();
            let grads = cross_entropy(&logits, &targets).unwrap().backward().unwrap();
            adam.step(&parameters, &grads).unwrap();
        };
        let per_step = buffers_per_step(5, || if im2col_only { with_im2col(&mut step) } else { step() });
        assert_steady_state_allocates_nothing(if im2col_only { "vgg16-small, im2col only" } else { "vgg16-small" }, &per_step);
    }
}
