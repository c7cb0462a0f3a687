//! Each checker: one small kernel that must trip it and one that must not.

mod common_engine;
use common_engine::*;
use cuda_cpu::exec::LaunchErrorKind as Kind;

/// A kernel `k(.param .u64 buf, .param .u32 n)` with the usual registers and `tid` in %r1,
/// `buf` (global) in %rd1; `body` is its code.
fn kernel(shared: &str, body: &str) -> String {
    format!(
        r#"
.file 1 "checked.cu"
.visible .entry k(.param .u64 buf, .param .u32 n)
{{
    .reg .pred %p<8>;
    .reg .b32 %r<32>;
    .reg .f32 %f<8>;
    .reg .b64 %rd<16>;
    {shared}
    ld.param.u64 %rd1, [buf];
    ld.param.u32 %r2, [n];
    mov.u32 %r1, %tid.x;
    mul.wide.u32 %rd2, %r1, 4;
    add.s64 %rd3, %rd1, %rd2;
{body}
    ret;
}}
"#
    )
}

fn run(shared: &str, body: &str, threads: u32, buf: u64, n: u32) -> Result<cuda_cpu::exec::LaunchReport, cuda_cpu::exec::LaunchError> {
    let gpu = Gpu::new();
    let _ = &gpu;
    run_on(&gpu, shared, body, threads, buf, n)
}

fn run_on(gpu: &Gpu, shared: &str, body: &str, threads: u32, buf: u64, n: u32) -> Result<cuda_cpu::exec::LaunchReport, cuda_cpu::exec::LaunchError> {
    let m = module(&kernel(shared, body));
    gpu.run(&m, "k", [2, 1, 1], [threads, 1, 1], 0, &[p64(&buf), p32(&n)])
}

#[test]
fn out_of_bounds_global_read_names_line_thread_and_allocation() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 32);
    let body = "    .loc 1 42 0\n    ld.global.u32 %r3, [%rd3+4];\n    st.global.u32 [%rd3], %r3;";
    let e = expect_error(run_on(&gpu, "", body, 32, buf, 0), Kind::IllegalAddress, &["kernel k", "checked.cu:42", "thread (31,0,0)", "block (0,0,0)", "allocation"]);
    assert!(e.message.contains(&format!("{:#x}", buf)), "{}", e.message);
    // In bounds: the same without the +4.
    run_on(&gpu, "", "    ld.global.u32 %r3, [%rd3];\n    add.s32 %r3, %r3, 1;", 32, buf, 0).unwrap();
}

#[test]
fn misaligned_global_and_vector_accesses() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 64);
    expect_error(run_on(&gpu, "", "    ld.global.u32 %r3, [%rd3+2];", 32, buf, 0), Kind::MisalignedAddress, &["4-byte"]);
    // v2 of u32 needs 8-byte alignment: thread 1's address is 4 mod 8.
    expect_error(run_on(&gpu, "", "    ld.global.v2.u32 {%r3, %r4}, [%rd3];", 32, buf, 0), Kind::MisalignedAddress, &["8-byte", "thread (1,0,0)"]);
    run_on(&gpu, "", "    mul.wide.u32 %rd4, %r1, 8;\n    add.s64 %rd4, %rd1, %rd4;\n    ld.global.v2.u32 {%r3, %r4}, [%rd4];", 32, buf, 0).unwrap();
}

#[test]
fn out_of_bounds_shared_and_local() {
    let shared = ".shared .align 4 .b8 s[128];";
    let store = "    mov.u32 %r4, s;\n    shl.b32 %r5, %r1, 2;\n    add.s32 %r6, %r4, %r5;\n    st.shared.u32 [%r6], %r1;";
    run(shared, store, 32, 0, 0).unwrap();
    expect_error(run(shared, store, 64, 0, 0), Kind::IllegalAddress, &["shared", "thread (32,0,0)", "128 bytes"]);
    let local = ".local .align 4 .b8 depot[16];";
    let body = |index: &str| format!("    mov.u64 %rd5, depot;\n    mul.wide.u32 %rd6, {index}, 4;\n    add.s64 %rd7, %rd5, %rd6;\n    st.local.u32 [%rd7], %r1;\n    ld.local.u32 %r8, [%rd7];");
    run(local, &body("3"), 32, 0, 0).unwrap();
    expect_error(run(local, &body("4"), 32, 0, 0), Kind::IllegalAddress, &["local", "16 bytes"]);
}

const SHARED: &str = ".shared .align 4 .b8 s[256];";
/// Thread t writes s[t]; then (after `sync`) reads s[t-1] (thread 0 its own). Warps run in
/// order, so each read comes after the write it depends on; only the ordering decides a race.
fn neighbour(sync: &str, threads: u32) -> String {
    let _ = threads;
    format!(
        "    mov.u32 %r4, s;\n    shl.b32 %r5, %r1, 2;\n    add.s32 %r6, %r4, %r5;\n    st.shared.u32 [%r6], %r1;\n{sync}\n    max.u32 %r7, %r1, 1;\n    sub.s32 %r7, %r7, 1;\n    shl.b32 %r7, %r7, 2;\n    add.s32 %r8, %r4, %r7;\n    ld.shared.u32 %r9, [%r8];\n    st.global.u32 [%rd3], %r9;"
    )
}

#[test]
fn shared_race_without_a_barrier_and_none_with_one() {
    let gpu = Gpu::new();
    let buf = gpu.alloc(4 * 64);
    expect_error(run_on(&gpu, SHARED, &neighbour("", 64), 64, buf, 0), Kind::SharedRace, &["shared-memory race", "offset"]);
    run_on(&gpu, SHARED, &neighbour("    bar.sync 0;", 64), 64, buf, 0).unwrap_err_or_global();
}

/// Helper: the neighbour kernel writes its own slot of `buf` in both blocks: a global race by
/// design when run over 2 blocks, so the passing variants run on one block.
trait UnwrapErrOrGlobal {
    fn unwrap_err_or_global(self);
}
impl UnwrapErrOrGlobal for Result<cuda_cpu::exec::LaunchReport, cuda_cpu::exec::LaunchError> {
    fn unwrap_err_or_global(self) {
        if let Err(e) = self {
            assert_eq!(e.kind, Kind::GlobalRace, "{}", e.message);
        }
    }
}

fn one_block(shared: &str, body: &str, threads: u32, gpu: &Gpu, buf: u64) -> Result<cuda_cpu::exec::LaunchReport, cuda_cpu::exec::LaunchError> {
    let m = module(&kernel(shared, body));
    let n = 0u32;
    gpu.run(&m, "k", [1, 1, 1], [threads, 1, 1], 0, &[p64(&buf), p32(&n)])
}

#[test]
fn barriers_and_warp_syncs_order_shared_accesses() {
    let gpu = Gpu::new();
    let buf = gpu.alloc(4 * 64);
    one_block(SHARED, &neighbour("    bar.sync 0;", 64), 64, &gpu, buf).unwrap();
    // Within one warp, bar.warp.sync orders the lanes; without it they race.
    one_block(SHARED, &neighbour("    bar.warp.sync -1;", 32), 32, &gpu, buf).unwrap();
    expect_error(one_block(SHARED, &neighbour("", 32), 32, &gpu, buf), Kind::SharedRace, &["thread (0,0,0)"]);
    // Across warps a warp sync is not enough.
    expect_error(one_block(SHARED, &neighbour("    bar.warp.sync -1;", 64), 64, &gpu, buf), Kind::SharedRace, &[]);
}

#[test]
fn global_race_between_plain_writes_but_not_atomics() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4);
    expect_error(one_block("", "    st.global.u32 [%rd1], %r1;", 64, &gpu, buf), Kind::GlobalRace, &["global-memory race", "without an atomic"]);
    one_block("", "    atom.global.add.u32 %r3, [%rd1], 1;", 64, &gpu, buf).unwrap();
    let v: Vec<u32> = gpu.download(buf, 1);
    assert_eq!(v[0], 64);
    // Writing the same bytes in two launches is not a race.
    one_block("", "    setp.ne.s32 %p1, %r1, 0;\n    @%p1 bra END;\n    st.global.u32 [%rd1], %r1;\nEND:", 64, &gpu, buf).unwrap();
    one_block("", "    setp.ne.s32 %p1, %r1, 5;\n    @%p1 bra END;\n    st.global.u32 [%rd1], %r1;\nEND:", 64, &gpu, buf).unwrap();
}

#[test]
fn uninitialised_reads_of_shared_and_device_memory() {
    let gpu = Gpu::new();
    let never_written = gpu.alloc(4 * 32);
    expect_error(one_block("", "    ld.global.u32 %r3, [%rd3];", 32, &gpu, never_written), Kind::UninitialisedRead, &["never written since allocation"]);
    let zeroed = gpu.zeros(4 * 32);
    one_block("", "    ld.global.u32 %r3, [%rd3];", 32, &gpu, zeroed).unwrap();
    // Shared: reading a slot no thread wrote.
    let body = "    mov.u32 %r4, s;\n    ld.shared.u32 %r5, [%r4+64];";
    expect_error(one_block(SHARED, body, 32, &gpu, zeroed), Kind::UninitialisedRead, &["shared memory at offset 0x40"]);
    let body = "    mov.u32 %r4, s;\n    setp.ne.s32 %p1, %r1, 0;\n    @!%p1 st.shared.u32 [%r4+64], %r1;\n    bar.sync 0;\n    ld.shared.u32 %r5, [%r4+64];";
    one_block(SHARED, body, 32, &gpu, zeroed).unwrap();
    // With the checks off, the read is allowed.
    let mut opts = options();
    opts.init_checks = false;
    let m = module(&kernel("", "    ld.global.u32 %r3, [%rd3];"));
    let n = 0u32;
    gpu.run_with(&m, "k", [1, 1, 1], [32, 1, 1], 0, &[p64(&never_written), p32(&n)], &opts).unwrap();
}

#[test]
fn barrier_not_reached_by_every_live_thread_is_a_deadlock() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 64);
    // Warp 0 waits at barrier 0, warp 1 at barrier 1: neither completes.
    let body = "    setp.ge.u32 %p1, %r1, 32;\n    @%p1 bra OTHER;\n    bar.sync 0;\n    bra.uni END;\nOTHER:\n    bar.sync 1;\nEND:";
    expect_error(one_block("", body, 64, &gpu, buf), Kind::Deadlock, &["barrier 0", "32 of 64 threads arrived", "not arriving: warp 1"]);
    // Threads that exited are not waited for.
    let body = "    setp.ge.u32 %p1, %r1, 32;\n    @%p1 ret;\n    bar.sync 0;";
    one_block("", body, 64, &gpu, buf).unwrap();
}

#[test]
fn collective_whose_mask_does_not_match_the_executing_lanes() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 64);
    let shfl = |mask: &str| format!("    and.b32 %r3, %r1, 31;\n    setp.ge.u32 %p1, %r3, 16;\n    @%p1 bra SKIP;\n    shfl.sync.bfly.b32 %r4, %r1, 1, 31, {mask};\nSKIP:");
    expect_error(one_block("", &shfl("-1"), 32, &gpu, buf), Kind::MaskMismatch, &["member mask 0xffffffff"]);
    one_block("", &shfl("65535"), 32, &gpu, buf).unwrap();
    // Exited members are a mismatch too.
    let body = "    setp.ge.u32 %p1, %r1, 8;\n    @%p1 ret;\n    shfl.sync.bfly.b32 %r4, %r1, 1, 31, -1;";
    expect_error(one_block("", body, 32, &gpu, buf), Kind::MaskMismatch, &["exited"]);
}

/// PTX ISA, shfl.sync: d is undefined when the source lane is inactive or not in membermask. A
/// lane that computes an out-of-range source copies its own a, which is defined.
#[test]
fn shuffle_from_an_inactive_or_non_member_lane_is_undefined() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 64);
    // Lanes 0..15 only, mask 0xffff.
    let half = |shfl: &str| format!("    and.b32 %r3, %r1, 31;\n    setp.ge.u32 %p1, %r3, 16;\n    @%p1 bra SKIP;\n    {shfl}\nSKIP:");
    // bfly 16 reads lanes 16..31: inactive and outside the mask.
    expect_error(one_block("", &half("shfl.sync.bfly.b32 %r4, %r1, 16, 31, 65535;"), 32, &gpu, buf), Kind::UndefinedResult, &["reads lane 16", "not in the member mask", "undefined"]);
    // idx from lane 20: the same.
    expect_error(one_block("", &half("shfl.sync.idx.b32 %r4, %r1, 20, 31, 65535;"), 32, &gpu, buf), Kind::UndefinedResult, &["reads lane 20"]);
    // down 8 with the clamp at 15: lanes 8..15 are out of range and keep their own value; the rest
    // read lanes 8..15, members. Defined.
    one_block("", &half("shfl.sync.down.b32 %r4, %r1, 8, 15, 65535;"), 32, &gpu, buf).unwrap();
    // down 8 with the full-warp clamp: lanes 8..15 read lanes 16..23, outside the mask.
    expect_error(one_block("", &half("shfl.sync.down.b32 %r4, %r1, 8, 31, 65535;"), 32, &gpu, buf), Kind::UndefinedResult, &["reads lane 16"]);
    // The whole warp, mask -1: every source is an executing member. Defined.
    one_block("", "    shfl.sync.up.b32 %r4, %r1, 1, 0, -1;", 32, &gpu, buf).unwrap();
}

/// A modifier the engine does not implement is refused when the kernel is decoded (its first
/// launch), even where the instruction is never reached: `.relu` and `.xorsign.abs` change the
/// result, so ignoring them would compute the wrong value silently.
#[test]
fn unimplemented_modifiers_are_refused_not_ignored() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 64);
    let cases = [
        ("    max.relu.s32 %r3, %r1, %r1;", ".relu"),
        ("    min.xorsign.abs.f32 %f1, %f1, %f1;", ".xorsign"),
        ("    max.relu.f16x2 %r3, %r1, %r1;", ".relu"),
        ("    add.f32.bogus %f1, %f1, %f1;", ".bogus"),
    ];
    for (instruction, modifier) in cases {
        // Not reached: refused all the same.
        let body = format!("    mov.f32 %f1, 0f3F800000;\n    bra.uni END;\n{instruction}\nEND:");
        let e = expect_error(one_block("", &body, 32, &gpu, buf), Kind::IllegalInstruction, &["unimplemented modifier", modifier, "kernel k", "PTX line"]);
        let opcode = instruction.trim().split(' ').next().unwrap();
        assert!(e.message.contains(opcode), "{instruction}: {}", e.message);
    }
    // Hints with no observable effect here are accepted.
    one_block("", "    ld.global.nc.u32 %r3, [%rd1];\n    ld.relaxed.gpu.global.u32 %r4, [%rd1];\n    fence.acq_rel.gpu;\n    bra.uni END;\nEND:", 32, &gpu, buf).unwrap();
}

#[test]
fn instruction_budget_and_unimplemented_instructions() {
    let gpu = Gpu::new();
    let buf = gpu.zeros(4 * 64);
    let m = module(&kernel("", "LOOP:\n    add.s32 %r3, %r3, 1;\n    bra.uni LOOP;"));
    let mut opts = options();
    opts.instruction_budget = 1_000_000;
    let n = 0u32;
    expect_error(gpu.run_with(&m, "k", [2, 1, 1], [64, 1, 1], 0, &[p64(&buf), p32(&n)], &opts), Kind::BudgetExceeded, &["budget of 1000000"]);
    let e = expect_error(one_block("", "    .loc 1 7 0\n    nanosleep.u32 100;", 32, &gpu, buf), Kind::IllegalInstruction, &["nanosleep.u32", "kernel k", "checked.cu:7", "not implemented"]);
    assert!(e.message.contains("PTX line 1"), "{}", e.message);
    // Not reached: no error.
    one_block("", "    bra.uni END;\n    nanosleep.u32 100;\nEND:", 32, &gpu, buf).unwrap();
}
