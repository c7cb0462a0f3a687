//! Kernel execution: CTAs over the cores, warps of 32 lanes, the instruction families, the
//! checkers and the counters.

pub mod semantics;

mod counters;
mod cta;
mod shadow;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

pub use counters::Counters;
pub use cta::MemoryCounters;

use crate::memory::DeviceMemory;
use crate::ptx::Kernel;

/// Grid and block shape of one launch.
#[derive(Debug, Clone, Copy)]
pub struct LaunchConfig {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub dynamic_shared_bytes: u32,
}

/// How a launch runs and what it checks.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Host threads running CTAs; 0 = all cores.
    pub worker_threads: usize,
    /// Thread-instructions allowed per launch.
    pub instruction_budget: u64,
    pub race_checks: bool,
    pub init_checks: bool,
    pub counters: bool,
}

impl Default for LaunchOptions {
    /// From the environment: CUDA_CPU_THREADS (0 = all cores), CUDA_CPU_BUDGET,
    /// CUDA_CPU_CHECKS=0 (race and uninitialised checks off), CUDA_CPU_COUNTERS=1.
    fn default() -> Self {
        let var = |name: &str| std::env::var(name).ok();
        let checks = var("CUDA_CPU_CHECKS").is_none_or(|v| v != "0");
        Self {
            worker_threads: var("CUDA_CPU_THREADS").and_then(|v| v.parse().ok()).unwrap_or(0),
            instruction_budget: var("CUDA_CPU_BUDGET").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_INSTRUCTION_BUDGET),
            race_checks: checks,
            init_checks: checks,
            counters: var("CUDA_CPU_COUNTERS").is_some_and(|v| v == "1"),
        }
    }
}

/// Thread-instructions per launch unless CUDA_CPU_BUDGET says otherwise (a few minutes of CPU).
pub const DEFAULT_INSTRUCTION_BUDGET: u64 = 20_000_000_000;

/// What a finished launch reports.
#[derive(Debug, Clone, Default)]
pub struct LaunchReport {
    pub counters: Option<Counters>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchErrorKind {
    IllegalAddress,
    MisalignedAddress,
    SharedRace,
    GlobalRace,
    UninitialisedRead,
    Deadlock,
    MaskMismatch,
    /// An instruction whose result the ISA leaves undefined (a `shfl.sync` lane reading from a
    /// lane that is inactive or outside the member mask).
    UndefinedResult,
    IllegalInstruction,
    BudgetExceeded,
    InvalidConfig,
}

/// A failed launch; the message names the kernel, the PTX line (and .cu line), thread, block,
/// address and allocation where they apply.
#[derive(Debug, Clone)]
pub struct LaunchError {
    pub kind: LaunchErrorKind,
    pub message: String,
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for LaunchError {}

/// What every worker of one launch shares.
pub struct Shared<'l> {
    pub kernel: &'l Kernel,
    pub config: LaunchConfig,
    pub options: &'l LaunchOptions,
    pub memory: &'l DeviceMemory,
    /// The parameter buffer, laid out as the `.param` list says.
    pub params: Vec<u8>,
    pub shared_bytes: u32,
    /// Distinguishes this launch's writer tags from earlier launches'.
    pub launch_id: u64,
    pub executed: AtomicU64,
    pub abort: AtomicBool,
    /// Thread-instructions a worker runs before adding them to `executed` and checking the budget.
    pub budget_chunk: u64,
}

static NEXT_LAUNCH_ID: AtomicU64 = AtomicU64::new(1);

fn invalid(kernel: &Kernel, what: String) -> LaunchError {
    LaunchError { kind: LaunchErrorKind::InvalidConfig, message: format!("kernel {}: {what}", kernel.name) }
}

/// Runs `kernel` over the grid. Checks only what the PTX implies (parameter count and sizes,
/// block size against `.maxntid`/1024); device limits are the API layer's.
pub fn launch(kernel: &Kernel, config: &LaunchConfig, params: &[&[u8]], memory: &DeviceMemory, options: &LaunchOptions) -> Result<LaunchReport, LaunchError> {
    if params.len() != kernel.params.len() {
        return Err(invalid(kernel, format!("{} parameters given, the kernel takes {}", params.len(), kernel.params.len())));
    }
    let layout = &kernel.layout;
    let mut buffer = vec![0u8; layout.param_bytes as usize];
    for (i, (p, v)) in params.iter().zip(&layout.params).enumerate() {
        if p.len() != v.size as usize {
            return Err(invalid(kernel, format!("parameter {i} ({}) is {} bytes, the kernel expects {}", v.name, p.len(), v.size)));
        }
        buffer[v.offset as usize..v.offset as usize + p.len()].copy_from_slice(p);
    }
    let threads = config.block.iter().map(|&b| b as u64).product::<u64>();
    if config.grid.contains(&0) || config.block.contains(&0) {
        return Err(invalid(kernel, format!("empty grid {:?} or block {:?}", config.grid, config.block)));
    }
    if threads > kernel.max_threads_per_block as u64 {
        return Err(invalid(kernel, format!("block of {threads} threads, the kernel allows at most {}", kernel.max_threads_per_block)));
    }
    let dynamic_base = layout.dynamic_shared.as_ref().map_or(layout.static_shared_bytes, |d| d.offset);
    let shared_bytes = if config.dynamic_shared_bytes > 0 { dynamic_base + config.dynamic_shared_bytes as u64 } else { layout.static_shared_bytes };
    let body = kernel.body().map_err(|e| LaunchError { kind: LaunchErrorKind::IllegalInstruction, message: e.message })?;
    let ctas: u64 = config.grid.iter().map(|&g| g as u64).product();
    let workers = match options.worker_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(ctas as usize)
    .max(1);
    let shared = Shared {
        kernel,
        config: *config,
        options,
        memory,
        params: buffer,
        shared_bytes: shared_bytes as u32,
        launch_id: NEXT_LAUNCH_ID.fetch_add(1, Ordering::Relaxed),
        executed: AtomicU64::new(0),
        abort: AtomicBool::new(false),
        budget_chunk: (options.instruction_budget / (4 * workers as u64)).clamp(1, 1 << 22),
    };
    let next = AtomicU64::new(0);
    // The error of the lowest-numbered failing CTA (deterministic whatever the worker count).
    let first_error: Mutex<Option<(u64, LaunchError)>> = Mutex::new(None);
    let totals: Mutex<Counters> = Mutex::new(Counters::default());
    let work = || {
        let mut runner = cta::CtaRunner::new(&shared, body.clone());
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= ctas || shared.abort.load(Ordering::Relaxed) {
                break;
            }
            let result = runner.run_cta(index).and_then(|_| runner.flush_budget().map_err(|m| LaunchError { kind: LaunchErrorKind::BudgetExceeded, message: format!("kernel {}: {m}", kernel.name) }));
            if let Err(e) = result {
                if e.message.ends_with("aborted") {
                    break;
                }
                let mut slot = first_error.lock().unwrap();
                if slot.as_ref().is_none_or(|(i, _)| index < *i) {
                    *slot = Some((index, e));
                }
                shared.abort.store(true, Ordering::Relaxed);
                break;
            }
        }
        if options.counters {
            totals.lock().unwrap().merge(&runner.counters);
        }
    };
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    if let Some((_, e)) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    let counters = options.counters.then(|| {
        let mut c = totals.into_inner().unwrap();
        c.ctas = ctas;
        c.set_occupancy(kernel.registers_per_thread, shared_bytes as u32, threads as u32);
        c
    });
    Ok(LaunchReport { counters })
}
