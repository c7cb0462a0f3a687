//! Test helper: run hand-written PTX on the engine.
#![allow(dead_code)]

use cuda_cpu::exec::{launch, LaunchConfig, LaunchError, LaunchErrorKind, LaunchOptions, LaunchReport};
use cuda_cpu::memory::DeviceMemory;
use cuda_cpu::ptx::Module;

pub const HEADER: &str = ".version 9.0\n.target sm_80\n.address_size 64\n";

pub fn module(body: &str) -> Module {
    Module::load(format!("{HEADER}{body}").as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn options() -> LaunchOptions {
    LaunchOptions { worker_threads: 2, instruction_budget: 1 << 32, race_checks: true, init_checks: true, counters: false }
}

pub struct Gpu {
    pub memory: DeviceMemory,
}

impl Default for Gpu {
    fn default() -> Self {
        Self::new()
    }
}

impl Gpu {
    pub fn new() -> Self {
        Self { memory: DeviceMemory::new(1 << 30) }
    }
    pub fn upload<T: Copy>(&self, data: &[T]) -> u64 {
        let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr() as *const u8, std::mem::size_of_val(data)) };
        let a = self.memory.alloc(bytes.len() as u64).unwrap();
        self.memory.write_from_host(a, bytes).unwrap();
        a
    }
    /// An allocation whose bytes were never written.
    pub fn alloc(&self, bytes: u64) -> u64 {
        self.memory.alloc(bytes).unwrap()
    }
    pub fn zeros(&self, bytes: u64) -> u64 {
        let a = self.memory.alloc(bytes).unwrap();
        self.memory.memset(a, &[0], bytes).unwrap();
        a
    }
    pub fn download<T: Copy + Default>(&self, addr: u64, n: usize) -> Vec<T> {
        let mut out = vec![T::default(); n];
        let bytes = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, std::mem::size_of_val(&out[..])) };
        self.memory.read_to_host(addr, bytes).unwrap();
        out
    }
    pub fn run(&self, m: &Module, kernel: &str, grid: [u32; 3], block: [u32; 3], dynamic_shared: u32, params: &[&[u8]]) -> Result<LaunchReport, LaunchError> {
        self.run_with(m, kernel, grid, block, dynamic_shared, params, &options())
    }
    #[allow(clippy::too_many_arguments)]
    pub fn run_with(&self, m: &Module, kernel: &str, grid: [u32; 3], block: [u32; 3], dynamic_shared: u32, params: &[&[u8]], opts: &LaunchOptions) -> Result<LaunchReport, LaunchError> {
        let k = m.kernel(kernel).unwrap_or_else(|| panic!("no kernel {kernel}"));
        launch(&k, &LaunchConfig { grid, block, dynamic_shared_bytes: dynamic_shared }, params, &self.memory, opts)
    }
}

pub fn expect_error(result: Result<LaunchReport, LaunchError>, kind: LaunchErrorKind, needles: &[&str]) -> LaunchError {
    match result {
        Ok(_) => panic!("the launch succeeded, expected {kind:?}"),
        Err(e) => {
            assert_eq!(e.kind, kind, "wrong error kind: {}", e.message);
            for n in needles {
                assert!(e.message.contains(n), "error message lacks {n:?}: {}", e.message);
            }
            e
        }
    }
}

pub fn p64(v: &u64) -> &[u8] {
    unsafe { std::slice::from_raw_parts(v as *const u64 as *const u8, 8) }
}

pub fn p32(v: &u32) -> &[u8] {
    unsafe { std::slice::from_raw_parts(v as *const u32 as *const u8, 4) }
}
