//! cuda-cpu: a CUDA driver that executes PTX on the CPU.
//!
//! Built as a shared library and put first on the loader path under the name `libcuda.so.1`, it
//! answers the CUDA driver API calls a process makes (`api`), keeps devices, contexts and streams
//! (`context`) and a device address space (`memory`), and runs each launched kernel's PTX
//! (`ptx` parses, `exec` executes) with bounds, race and initialisation checks.
//!
//! Module map (who owns what while it is being built):
//! - `api`, `context`: the extern "C" driver API and its state.
//! - `memory`: allocations, bounds, initialised-byte shadow.
//! - `ptx`: PTX text → decoded kernels. `exec`: CTAs, warps, instructions, checks, counters.
//! - `exec::semantics`: pure, lane-level instruction semantics written from the PTX ISA.

pub mod api;
pub mod context;
pub mod exec;
pub mod memory;
pub mod ptx;
