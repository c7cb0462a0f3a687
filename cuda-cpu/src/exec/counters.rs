//! What a profiler would count for one launch (CUDA_CPU_COUNTERS=1).

use std::fmt;

use super::cta::MemoryCounters;
use crate::ptx::instr::{Class, CLASS_COUNT, CLASS_NAMES};

#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Warp-level instructions issued, by class.
    pub warp_instructions: [u64; CLASS_COUNT],
    /// Thread-level instructions (lanes whose guard held), by class.
    pub thread_instructions: [u64; CLASS_COUNT],
    pub memory: MemoryCounters,
    pub registers_per_thread: u32,
    pub shared_bytes_per_cta: u32,
    pub threads_per_cta: u32,
    pub ctas: u64,
    /// Resident CTAs per SM and the fraction of the SM's 64 warps they fill (A100 limits).
    pub ctas_per_sm: u32,
    pub occupancy: f64,
}

impl Counters {
    #[inline]
    pub fn count(&mut self, class: Class, lanes: u64) {
        self.warp_instructions[class as usize] += 1;
        self.thread_instructions[class as usize] += lanes;
    }

    #[allow(clippy::needless_range_loop)]
    pub fn merge(&mut self, other: &Counters) {
        for i in 0..CLASS_COUNT {
            self.warp_instructions[i] += other.warp_instructions[i];
            self.thread_instructions[i] += other.thread_instructions[i];
        }
        self.memory.shared_requests += other.memory.shared_requests;
        self.memory.shared_wavefronts += other.memory.shared_wavefronts;
        self.memory.global_requests += other.memory.global_requests;
        self.memory.global_sectors += other.memory.global_sectors;
    }

    /// Theoretical occupancy on an A100 (sm_80): 64 warps, 32 CTAs, 65,536 registers and
    /// 164 KiB of shared memory per SM (1 KiB reserved per CTA), registers allocated per warp in
    /// units of 256.
    pub fn set_occupancy(&mut self, registers_per_thread: u32, shared_bytes: u32, threads: u32) {
        self.registers_per_thread = registers_per_thread;
        self.shared_bytes_per_cta = shared_bytes;
        self.threads_per_cta = threads;
        let warps = threads.div_ceil(32).max(1);
        let regs_per_warp = (registers_per_thread * 32).div_ceil(256) * 256;
        let by_regs = if regs_per_warp == 0 { 32 } else { 65536 / (regs_per_warp * warps).max(1) };
        let by_warps = 64 / warps;
        let by_shared = if shared_bytes == 0 { 32 } else { (164 * 1024) / (shared_bytes + 1024) };
        let ctas = by_regs.min(by_warps).min(by_shared).min(32);
        self.ctas_per_sm = ctas;
        self.occupancy = (ctas * warps) as f64 / 64.0;
    }
}

#[allow(clippy::needless_range_loop)]
impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warp_total: u64 = self.warp_instructions.iter().sum();
        let thread_total: u64 = self.thread_instructions.iter().sum();
        writeln!(f, "  instructions: {warp_total} warp-level, {thread_total} thread-level ({:.1} active lanes per warp instruction)", thread_total as f64 / warp_total.max(1) as f64)?;
        let mut classes = String::new();
        for i in 0..CLASS_COUNT {
            if self.warp_instructions[i] > 0 {
                classes.push_str(&format!(" {}={}", CLASS_NAMES[i], self.warp_instructions[i]));
            }
        }
        writeln!(f, "  by class (warp-level):{classes}")?;
        let m = &self.memory;
        if m.shared_requests > 0 {
            writeln!(f, "  shared: {} requests, {} wavefronts ({:.2} per request; 1.00 = no bank conflicts for 4-byte accesses)", m.shared_requests, m.shared_wavefronts, m.shared_wavefronts as f64 / m.shared_requests as f64)?;
        }
        if m.global_requests > 0 {
            writeln!(f, "  global: {} requests, {} sectors ({:.2} sectors per request; 4 = coalesced 4-byte accesses)", m.global_requests, m.global_sectors, m.global_sectors as f64 / m.global_requests as f64)?;
        }
        write!(
            f,
            "  per CTA: {} threads, {} registers per thread (declared estimate), {} bytes of shared memory; {} CTAs; theoretical occupancy {:.0}% ({} CTAs per SM)",
            self.threads_per_cta,
            self.registers_per_thread,
            self.shared_bytes_per_cta,
            self.ctas,
            self.occupancy * 100.0,
            self.ctas_per_sm
        )
    }
}
