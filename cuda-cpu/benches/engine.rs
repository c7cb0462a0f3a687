//! Thread-instructions per second of the PTX interpreter, on one worker thread, for three shapes
//! of work: an elementwise kernel (memory-bound, every lane converged), softmax rows (shuffles,
//! barriers, exp), and the tensor-core GEMM (cp.async, ldmatrix, mma.sync). Checks on, as in CI.
//! `cargo bench -p cuda-cpu --bench engine`; the figures go in ENGINE.md.

#[path = "../tests/common_ptx.rs"]
mod common_ptx;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cuda_cpu::exec::{launch, LaunchConfig, LaunchOptions};
use cuda_cpu::memory::DeviceMemory;
use cuda_cpu::ptx::Module;

struct Case {
    name: &'static str,
    module: Module,
    kernel: &'static str,
    config: LaunchConfig,
    params: Vec<Vec<u8>>,
}

fn upload(memory: &DeviceMemory, bytes: &[u8]) -> u64 {
    let a = memory.alloc(bytes.len() as u64).unwrap();
    memory.write_from_host(a, bytes).unwrap();
    a
}

fn halves(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| half::f16::from_f32(((i * 37 % 101) as f32 - 50.0) / 64.0).to_bits().to_le_bytes()).collect()
}

fn floats(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (((i * 37 % 101) as f32 - 50.0) / 16.0).to_le_bytes()).collect()
}

fn cases(memory: &DeviceMemory) -> Vec<Case> {
    let softmax = Module::load(common_ptx::kernel_ptx("softmax").as_bytes()).unwrap();
    let gemm = Module::load(common_ptx::kernel_ptx("gemm").as_bytes()).unwrap();
    let (rows, cols) = (64usize, 1000usize);
    let x = upload(memory, &floats(rows * cols));
    let y = memory.alloc(4 * (rows * cols) as u64).unwrap();
    let softmax_params = vec![(cols as u64).to_le_bytes().to_vec(), x.to_le_bytes().to_vec(), y.to_le_bytes().to_vec(), 0u32.to_le_bytes().to_vec()];
    let (m, n, k) = (128u64, 128u64, 256u64);
    let a = upload(memory, &halves((m * k) as usize));
    let b = upload(memory, &halves((k * n) as usize));
    let c = memory.alloc(4 * m * n).unwrap();
    let mut p = Vec::new();
    for v in [a, 0, k, 1, b, 0, 1, k, c, 0] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    for v in [m as u32, n as u32, k as u32] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&1.0f32.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&1u32.to_le_bytes());
    let gemm_params = vec![p];
    let ew_n = 1usize << 18;
    let ew_in = upload(memory, &floats(ew_n));
    let ew_out = memory.alloc(4 * ew_n as u64).unwrap();
    let add = Module::load(ELEMENTWISE.as_bytes()).unwrap();
    let ew_params = vec![ew_in.to_le_bytes().to_vec(), ew_out.to_le_bytes().to_vec(), (ew_n as u32).to_le_bytes().to_vec()];
    vec![
        Case { name: "elementwise_scale_f32_256k", module: add, kernel: "scale", config: LaunchConfig { grid: [(ew_n / 256) as u32, 1, 1], block: [256, 1, 1], dynamic_shared_bytes: 0 }, params: ew_params },
        Case { name: "softmax_f32_64x1000", module: softmax, kernel: "softmax_f32", config: LaunchConfig { grid: [rows as u32, 1, 1], block: [256, 1, 1], dynamic_shared_bytes: 0 }, params: softmax_params },
        Case { name: "gemm_f16_tensor_core_128x128x256", module: gemm, kernel: "gemm_f16_arow_bcol_async", config: LaunchConfig { grid: [1, 1, 1], block: [256, 1, 1], dynamic_shared_bytes: 0 }, params: gemm_params },
    ]
}

/// y[i] = 2·x[i] + 1 over a guarded grid (the shape of every elementwise kernel).
const ELEMENTWISE: &str = r#"
.version 9.0
.target sm_80
.address_size 64
.visible .entry scale(.param .u64 x, .param .u64 y, .param .u32 n)
{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<4>;
    .reg .b64 %rd<8>;
    ld.param.u64 %rd1, [x];
    ld.param.u64 %rd2, [y];
    ld.param.u32 %r1, [n];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.u32 %p1, %r5, %r1;
    @%p1 bra DONE;
    mul.wide.u32 %rd3, %r5, 4;
    add.s64 %rd4, %rd1, %rd3;
    ld.global.nc.f32 %f1, [%rd4];
    fma.rn.f32 %f2, %f1, 0f40000000, 0f3F800000;
    add.s64 %rd5, %rd2, %rd3;
    st.global.f32 [%rd5], %f2;
DONE:
    ret;
}
"#;

fn bench(c: &mut Criterion) {
    let memory = DeviceMemory::new(1 << 30);
    let options = LaunchOptions { worker_threads: 1, instruction_budget: u64::MAX, race_checks: true, init_checks: true, counters: false };
    let mut group = c.benchmark_group("thread_instructions");
    group.sample_size(10);
    for case in cases(&memory) {
        let kernel = case.module.kernel(case.kernel).unwrap();
        let params: Vec<&[u8]> = case.params.iter().map(|p| p.as_slice()).collect();
        let counted = LaunchOptions { counters: true, ..options.clone() };
        let report = launch(&kernel, &case.config, &params, &memory, &counted).unwrap();
        let thread_instructions: u64 = report.counters.unwrap().thread_instructions.iter().sum();
        group.throughput(Throughput::Elements(thread_instructions));
        group.bench_function(case.name, |b| b.iter(|| launch(&kernel, &case.config, &params, &memory, &options).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
