//! The driver's state behind the API: the one device and what it reports, its primary context,
//! the current context of each host thread, streams, events, loaded modules and kernel functions,
//! and the sticky error of a context that a kernel fault has poisoned.
//!
//! Work runs at the call, in the calling thread (the interpreter spreads a launch's CTAs over the
//! cores), so every stream is always idle: stream order is kept trivially, a synchronize only
//! reports the sticky error, and events record the host time at which they were reached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crate::memory::DeviceMemory;
use crate::ptx::{Kernel, Module};

/// The name `cuDeviceGetName` reports. Tests tell the CPU driver from a GPU by "CPU driver" in it.
pub const DEVICE_NAME: &str = "memefuse CPU driver (PTX interpreter, sm_80)";
/// The UUID `cuDeviceGetUuid` reports (16 bytes).
pub const DEVICE_UUID: [u8; 16] = *b"cuda-cpu-driver!";
/// CUDA 13.0, the version the product's PTX (ISA 9.0) needs.
pub const DRIVER_VERSION: i32 = 13000;
/// Device memory unless CUDA_CPU_MEMORY_MIB says otherwise. Host memory holds it (plus the
/// initialised shadow), so it is far below an A100's 40 GiB.
pub const DEFAULT_MEMORY_MIB: u64 = 4096;
/// The handle of the one (primary) context.
pub const PRIMARY_CONTEXT: usize = 0xc0de_0000;

/// The A100 limits the driver enforces and reports (its attributes are in `device_attribute`).
pub mod limits {
    pub const MAX_THREADS_PER_BLOCK: u32 = 1024;
    pub const MAX_BLOCK: [u32; 3] = [1024, 1024, 64];
    pub const MAX_GRID: [u32; 3] = [i32::MAX as u32, 65535, 65535];
    /// Static plus dynamic shared memory of a block without opt-in.
    pub const SHARED_PER_BLOCK: u32 = 48 * 1024;
    /// The most a kernel can opt in to through CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    /// (static plus dynamic): 163 KiB.
    pub const SHARED_PER_BLOCK_OPTIN: u32 = 163 * 1024;
    pub const SHARED_PER_MULTIPROCESSOR: u32 = 164 * 1024;
    pub const MULTIPROCESSORS: i32 = 108;
    pub const COMPUTE_CAPABILITY: (i32, i32) = (8, 0);
}

/// The value of device attribute `attribute` (the CUdevice_attribute number), as on an A100, or
/// None for an attribute the driver does not know.
pub fn device_attribute(attribute: i32) -> Option<i32> {
    use limits::*;
    Some(match attribute {
        1 => MAX_THREADS_PER_BLOCK as i32,
        2..=4 => MAX_BLOCK[(attribute - 2) as usize] as i32,
        5..=7 => MAX_GRID[(attribute - 5) as usize] as i32,
        8 => SHARED_PER_BLOCK as i32,
        9 => 65536,                // total constant memory
        10 => 32,                  // warp size
        11 => i32::MAX,            // max pitch
        12 => 65536,               // registers per block
        13 => 1_410_000,           // clock rate, kHz
        14 => 512,                 // texture alignment
        15 => 1,                   // GPU overlap
        16 => MULTIPROCESSORS,
        17 => 0,                   // kernel execution timeout
        18 => 0,                   // integrated
        19 => 1,                   // can map host memory
        20 => 0,                   // compute mode: default
        30 => 512,                 // surface alignment
        31 => 1,                   // concurrent kernels
        32 => 0,                   // ECC
        33 | 34 | 50 => 0,         // PCI bus, device and domain
        35 => 0,                   // TCC driver
        36 => 1_215_000,           // memory clock, kHz
        37 => 5120,                // memory bus width, bits
        38 => 40 * 1024 * 1024,    // L2 cache bytes
        39 => 2048,                // threads per multiprocessor
        40 => 3,                   // async engines
        41 => 1,                   // unified addressing
        75 => COMPUTE_CAPABILITY.0,
        76 => COMPUTE_CAPABILITY.1,
        78 => 1,                   // stream priorities
        79 | 80 => 1,              // global / local L1 cache
        81 => SHARED_PER_MULTIPROCESSOR as i32,
        82 => 65536,               // registers per multiprocessor
        83 => 0,                   // managed memory: not provided
        84 => 0,                   // multi-GPU board
        86 => 0,                   // host native atomics
        88 | 89 => 0,              // pageable / concurrent managed access
        90 => 1,                   // compute preemption
        95 => 1,                   // cooperative launch
        97 => SHARED_PER_BLOCK_OPTIN as i32,
        106 => 32,                 // blocks per multiprocessor
        111 => 1024,               // reserved shared memory per block
        115 => 1,                  // memory pools: the product allocates stream-ordered
        _ => return None,
    })
}

/// A kernel function handle: the decoded kernel and its settable attributes.
pub struct Function {
    pub kernel: Arc<Kernel>,
    /// The module handle it came from (unloading the module invalidates it).
    pub module: usize,
    /// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: 48 KiB minus the static shared memory
    /// until the program opts in to more.
    pub max_dynamic_shared: AtomicU32,
    /// CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT (stored, has no effect).
    pub carveout: std::sync::atomic::AtomicI32,
}

impl Function {
    fn new(kernel: Arc<Kernel>, module: usize) -> Self {
        let default_dynamic = limits::SHARED_PER_BLOCK.saturating_sub(kernel.static_shared_bytes);
        Self { kernel, module, max_dynamic_shared: AtomicU32::new(default_dynamic), carveout: (-1).into() }
    }
}

/// An event: when it was last recorded (host time, since all work before it has finished).
pub struct Event {
    pub timing: bool,
    pub recorded: Option<Instant>,
}

#[derive(Default)]
struct Handles {
    next: usize,
    streams: HashMap<usize, ()>,
    events: HashMap<usize, Event>,
    modules: HashMap<usize, Arc<Module>>,
    functions: HashMap<usize, Arc<Function>>,
}

impl Handles {
    /// A fresh opaque handle: never 0, never reused, far from small integers (which mean special
    /// streams such as CU_STREAM_LEGACY = 1 and CU_STREAM_PER_THREAD = 2).
    fn fresh(&mut self) -> usize {
        self.next += 1;
        0x1000_0000 + self.next * 16
    }
}

/// Why a context is no longer usable, and the code every later call on it returns.
#[derive(Clone)]
pub struct StickyError {
    pub code: u32,
    pub message: String,
}

pub struct Driver {
    pub memory: DeviceMemory,
    pub sticky_faults: bool,
    primary_retains: Mutex<u32>,
    primary_flags: AtomicU32,
    handles: Mutex<Handles>,
    sticky: Mutex<Option<StickyError>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a call is caught at the API boundary; the state it guarded stays usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

static DRIVER: OnceLock<Driver> = OnceLock::new();
static INITIALISED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The context stack of this host thread (cuCtxPush/Pop, cuCtxSetCurrent replaces the top).
    static CONTEXT_STACK: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether CUDA_CPU_TRACE=1 (read once, before cuInit too).
pub fn trace_enabled() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var("CUDA_CPU_TRACE").is_ok_and(|v| v == "1"))
}

/// cuInit: creates the device on first call.
pub fn init() -> &'static Driver {
    let driver = DRIVER.get_or_init(|| {
        let mib = std::env::var("CUDA_CPU_MEMORY_MIB").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(DEFAULT_MEMORY_MIB);
        Driver {
            memory: DeviceMemory::new(mib * 1024 * 1024),
            sticky_faults: std::env::var("CUDA_CPU_STICKY").map_or(true, |v| v != "0"),
            primary_retains: Mutex::new(0),
            primary_flags: AtomicU32::new(0),
            handles: Mutex::new(Handles::default()),
            sticky: Mutex::new(None),
        }
    });
    INITIALISED.store(true, Ordering::Release);
    driver
}

/// The driver if cuInit has been called.
pub fn driver() -> Option<&'static Driver> {
    if INITIALISED.load(Ordering::Acquire) {
        DRIVER.get()
    } else {
        None
    }
}

/// The current context of this thread (null when none).
pub fn current_context() -> usize {
    CONTEXT_STACK.with(|stack| stack.borrow().last().copied().unwrap_or(0))
}

/// cuCtxSetCurrent: replaces the top of the stack; null pops it.
pub fn set_current_context(context: usize) {
    CONTEXT_STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        stack.pop();
        if context != 0 {
            stack.push(context);
        }
    })
}

pub fn push_context(context: usize) {
    CONTEXT_STACK.with(|stack| stack.borrow_mut().push(context))
}

pub fn pop_context() -> Option<usize> {
    CONTEXT_STACK.with(|stack| stack.borrow_mut().pop())
}

impl Driver {
    pub fn retain_primary(&self) -> usize {
        *lock(&self.primary_retains) += 1;
        PRIMARY_CONTEXT
    }

    /// False when the primary context was not retained.
    pub fn release_primary(&self) -> bool {
        let mut retains = lock(&self.primary_retains);
        if *retains == 0 {
            return false;
        }
        *retains -= 1;
        true
    }

    pub fn primary_state(&self) -> (u32, bool) {
        (self.primary_flags.load(Ordering::Relaxed), *lock(&self.primary_retains) > 0)
    }

    pub fn set_primary_flags(&self, flags: u32) {
        self.primary_flags.store(flags, Ordering::Relaxed)
    }

    /// The error a poisoned context returns from every later call, if a kernel has faulted.
    pub fn sticky_error(&self) -> Option<StickyError> {
        lock(&self.sticky).clone()
    }

    /// Poisons the context (the first fault wins: its message is the useful one).
    pub fn set_sticky_error(&self, code: u32, message: &str) {
        let mut sticky = lock(&self.sticky);
        if sticky.is_none() {
            *sticky = Some(StickyError { code, message: message.to_string() });
        }
    }

    pub fn create_stream(&self) -> usize {
        let mut handles = lock(&self.handles);
        let handle = handles.fresh();
        handles.streams.insert(handle, ());
        handle
    }

    /// The null stream, CU_STREAM_LEGACY (1), CU_STREAM_PER_THREAD (2) and created streams.
    pub fn is_stream(&self, stream: usize) -> bool {
        stream <= 2 || lock(&self.handles).streams.contains_key(&stream)
    }

    pub fn destroy_stream(&self, stream: usize) -> bool {
        lock(&self.handles).streams.remove(&stream).is_some()
    }

    pub fn create_event(&self, timing: bool) -> usize {
        let mut handles = lock(&self.handles);
        let handle = handles.fresh();
        handles.events.insert(handle, Event { timing, recorded: None });
        handle
    }

    pub fn destroy_event(&self, event: usize) -> bool {
        lock(&self.handles).events.remove(&event).is_some()
    }

    /// False for an unknown event.
    pub fn record_event(&self, event: usize) -> bool {
        match lock(&self.handles).events.get_mut(&event) {
            Some(e) => {
                e.recorded = Some(Instant::now());
                true
            }
            None => false,
        }
    }

    /// (timing enabled, when recorded) of an event, None if unknown.
    pub fn event(&self, event: usize) -> Option<(bool, Option<Instant>)> {
        lock(&self.handles).events.get(&event).map(|e| (e.timing, e.recorded))
    }

    pub fn add_module(&self, module: Module) -> usize {
        let mut handles = lock(&self.handles);
        let handle = handles.fresh();
        handles.modules.insert(handle, Arc::new(module));
        handle
    }

    /// Unloads a module and invalidates its functions; false if unknown.
    pub fn unload_module(&self, module: usize) -> bool {
        let mut handles = lock(&self.handles);
        if handles.modules.remove(&module).is_none() {
            return false;
        }
        handles.functions.retain(|_, f| f.module != module);
        true
    }

    pub fn module(&self, module: usize) -> Option<Arc<Module>> {
        lock(&self.handles).modules.get(&module).cloned()
    }

    /// The function handle of `kernel` of `module` (the same handle for the same kernel each time,
    /// as the real driver does, so attributes set on it stay set).
    pub fn function_handle(&self, module: usize, kernel: Arc<Kernel>) -> usize {
        let mut handles = lock(&self.handles);
        if let Some((&handle, _)) = handles.functions.iter().find(|(_, f)| f.module == module && Arc::ptr_eq(&f.kernel, &kernel)) {
            return handle;
        }
        let handle = handles.fresh();
        handles.functions.insert(handle, Arc::new(Function::new(kernel, module)));
        handle
    }

    pub fn function(&self, function: usize) -> Option<Arc<Function>> {
        lock(&self.handles).functions.get(&function).cloned()
    }
}
