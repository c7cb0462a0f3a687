//! State spaces and memory instructions: cp.async lands only at its wait, atomics on global and
//! shared memory, generic addressing, dynamic shared memory, vectors, local arrays.

mod common_engine;
use common_engine::*;
use half::f16;

/// Thread t: s[t] = 7 (plain store), barrier, cp.async 4 bytes of src[t] into s[t], commit,
/// WAIT, barrier, out[t] = s[t].
fn cp_async_kernel(wait: &str) -> String {
    format!(
        r#"
.extern .shared .align 16 .b8 dyn[];
.visible .entry copy(.param .u64 src, .param .u64 out)
{{
    .reg .b32 %r<12>;
    .reg .b64 %rd<8>;
    ld.param.u64 %rd1, [src];
    ld.param.u64 %rd2, [out];
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, dyn;
    shl.b32 %r3, %r1, 2;
    add.s32 %r4, %r2, %r3;
    mov.u32 %r5, 7;
    st.shared.u32 [%r4], %r5;
    bar.sync 0;
    mul.wide.u32 %rd3, %r1, 4;
    add.s64 %rd4, %rd1, %rd3;
    cp.async.ca.shared.global [%r4], [%rd4], 4;
    cp.async.commit_group;
    {wait}
    bar.sync 0;
    ld.shared.u32 %r6, [%r4];
    add.s64 %rd5, %rd2, %rd3;
    st.global.u32 [%rd5], %r6;
    ret;
}}
"#
    )
}

#[test]
fn cp_async_data_lands_only_when_its_group_is_waited_for() {
    let gpu = Gpu::new();
    let src: Vec<u32> = (0..64).map(|i| 1000 + i).collect();
    let dsrc = gpu.upload(&src);
    let out = gpu.alloc(4 * 64);
    let with_wait = module(&cp_async_kernel("cp.async.wait_group 0;"));
    gpu.run(&with_wait, "copy", [1, 1, 1], [64, 1, 1], 256, &[p64(&dsrc), p64(&out)]).unwrap();
    assert_eq!(gpu.download::<u32>(out, 64), src);
    let without = module(&cp_async_kernel(""));
    gpu.run(&without, "copy", [1, 1, 1], [64, 1, 1], 256, &[p64(&dsrc), p64(&out)]).unwrap();
    assert_eq!(gpu.download::<u32>(out, 64), vec![7; 64], "a missing wait reads the stale shared value");
    // wait_group 1 with one group committed does not wait for it either.
    let one = module(&cp_async_kernel("cp.async.wait_group 1;"));
    gpu.run(&one, "copy", [1, 1, 1], [64, 1, 1], 256, &[p64(&dsrc), p64(&out)]).unwrap();
    assert_eq!(gpu.download::<u32>(out, 64), vec![7; 64]);
    let all = module(&cp_async_kernel("cp.async.wait_all;"));
    gpu.run(&all, "copy", [1, 1, 1], [64, 1, 1], 256, &[p64(&dsrc), p64(&out)]).unwrap();
    assert_eq!(gpu.download::<u32>(out, 64), src);
}

const CP_ZFILL: &str = r#"
.visible .entry zfill(.param .u64 src, .param .u64 out)
{
    .reg .b32 %r<12>;
    .reg .b64 %rd<8>;
    .shared .align 16 .b8 tile[64];
    ld.param.u64 %rd1, [src];
    ld.param.u64 %rd2, [out];
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, tile;
    shl.b32 %r3, %r1, 4;
    add.s32 %r4, %r2, %r3;
    cvt.u64.u32 %rd3, %r3;
    add.s64 %rd4, %rd1, %rd3;
    mul.lo.s32 %r5, %r1, 4;
    cp.async.cg.shared.global [%r4], [%rd4], 16, %r5;
    cp.async.commit_group;
    cp.async.wait_group 0;
    bar.sync 0;
    ld.shared.v4.u32 {%r6, %r7, %r8, %r9}, [%r4];
    add.s64 %rd5, %rd2, %rd3;
    st.global.v4.u32 [%rd5], {%r6, %r7, %r8, %r9};
    ret;
}
"#;

#[test]
fn cp_async_src_size_zero_fills_the_rest() {
    let gpu = Gpu::new();
    let src: Vec<u8> = (1..=64).collect();
    let dsrc = gpu.upload(&src);
    let out = gpu.alloc(64);
    gpu.run(&module(CP_ZFILL), "zfill", [1, 1, 1], [4, 1, 1], 0, &[p64(&dsrc), p64(&out)]).unwrap();
    let got: Vec<u8> = gpu.download(out, 64);
    for t in 0..4usize {
        for b in 0..16usize {
            let expect = if b < 4 * t { src[16 * t + b] } else { 0 };
            assert_eq!(got[16 * t + b], expect, "thread {t} byte {b}");
        }
    }
}

const ATOMICS: &str = r#"
.visible .entry atomics(.param .u64 g)
{
    .reg .pred %p<3>;
    .reg .b32 %r<16>;
    .reg .f32 %f<4>;
    .reg .b64 %rd<8>;
    .shared .align 4 .b8 s[16];
    ld.param.u64 %rd1, [g];
    mov.u32 %r1, %tid.x;
    setp.ne.s32 %p1, %r1, 0;
    mov.u32 %r2, 0;
    mov.u32 %r9, 1000000;
    @!%p1 st.shared.u32 [s], %r2;
    @!%p1 st.shared.u32 [s+4], %r9;
    @!%p1 st.shared.u32 [s+8], %r2;
    bar.sync 0;
    atom.shared.add.u32 %r3, [s], %r1;
    atom.shared.min.s32 %r4, [s+4], %r1;
    atom.shared.max.u32 %r5, [s+8], %r1;
    cvt.rn.f32.u32 %f1, %r1;
    atom.global.add.f32 %f2, [%rd1], %f1;
    mov.b32 %r6, 0x3c003c00;
    atom.global.add.noftz.f16x2 %r7, [%rd1+4], %r6;
    atom.global.exch.b32 %r8, [%rd1+8], %r1;
    atom.global.cas.b32 %r10, [%rd1+12], 0, 99;
    bar.sync 0;
    @%p1 bra DONE;
    ld.shared.u32 %r11, [s];
    st.global.u32 [%rd1+16], %r11;
    ld.shared.u32 %r11, [s+4];
    st.global.u32 [%rd1+20], %r11;
    ld.shared.u32 %r11, [s+8];
    st.global.u32 [%rd1+24], %r11;
DONE:
    ret;
}
"#;

#[test]
fn atomics_on_global_and_shared_memory() {
    let gpu = Gpu::new();
    let g = gpu.zeros(28);
    gpu.run(&module(ATOMICS), "atomics", [1, 1, 1], [96, 1, 1], 0, &[p64(&g)]).unwrap();
    let words: Vec<u32> = gpu.download(g, 7);
    assert_eq!(f32::from_bits(words[0]), (0..96).sum::<u32>() as f32);
    assert_eq!(f16::from_bits(words[1] as u16).to_f32(), 96.0);
    assert_eq!(f16::from_bits((words[1] >> 16) as u16).to_f32(), 96.0);
    assert!(words[2] < 96, "exch leaves one thread's id");
    assert_eq!(words[3], 99, "cas succeeds once");
    assert_eq!(words[4], (0..96).sum::<u32>());
    assert_eq!(words[5], 0);
    assert_eq!(words[6], 95);
}

const GENERIC: &str = r#"
.visible .entry generic(.param .u64 out, .param .align 8 .b8 pair[8])
{
    .reg .b32 %r<12>;
    .reg .b64 %rd<12>;
    .shared .align 8 .b8 s[256];
    .local .align 4 .b8 depot[32];
    ld.param.u64 %rd1, [out];
    ld.param.v2.u32 {%r10, %r11}, [pair];
    mov.u32 %r1, %tid.x;
    mov.u64 %rd2, s;
    cvta.shared.u64 %rd3, %rd2;
    mul.wide.u32 %rd4, %r1, 8;
    add.s64 %rd5, %rd3, %rd4;
    add.s32 %r2, %r1, %r10;
    st.u32 [%rd5], %r2;
    mov.u64 %rd6, depot;
    cvta.local.u64 %rd7, %rd6;
    st.u32 [%rd7+12], %r11;
    ld.u32 %r3, [%rd7+12];
    st.u32 [%rd5+4], %r3;
    bar.sync 0;
    ld.shared.v2.u32 {%r4, %r5}, [%rd2];
    cvta.to.global.u64 %rd8, %rd1;
    add.s64 %rd9, %rd8, %rd4;
    add.s32 %r4, %r4, %r1;
    st.global.v2.u32 [%rd9], {%r4, %r5};
    ret;
}
"#;

#[test]
fn generic_addresses_reach_shared_and_local_memory_and_params_pack_structs() {
    let gpu = Gpu::new();
    let out = gpu.alloc(8 * 32);
    let pair: [u32; 2] = [100, 555];
    let bytes: Vec<u8> = pair.iter().flat_map(|v| v.to_le_bytes()).collect();
    gpu.run(&module(GENERIC), "generic", [1, 1, 1], [32, 1, 1], 0, &[p64(&out), &bytes]).unwrap();
    let got: Vec<u32> = gpu.download(out, 64);
    for t in 0..32u32 {
        assert_eq!(got[2 * t as usize], 100 + t, "thread {t}");
        assert_eq!(got[2 * t as usize + 1], 555);
    }
}

#[test]
fn launch_configuration_errors_from_the_ptx() {
    let gpu = Gpu::new();
    let m = module(GENERIC);
    let out = 0u64;
    let e = gpu.run(&m, "generic", [1, 1, 1], [32, 1, 1], 0, &[p64(&out)]).unwrap_err();
    assert_eq!(e.kind, cuda_cpu::exec::LaunchErrorKind::InvalidConfig, "{}", e.message);
    let short = [0u8; 4];
    let e = gpu.run(&m, "generic", [1, 1, 1], [32, 1, 1], 0, &[p64(&out), &short]).unwrap_err();
    assert!(e.message.contains("parameter 1 (pair) is 4 bytes, the kernel expects 8"), "{}", e.message);
    let e = gpu.run(&m, "generic", [1, 1, 1], [1025, 1, 1], 0, &[p64(&out), &[0u8; 8]]).unwrap_err();
    assert_eq!(e.kind, cuda_cpu::exec::LaunchErrorKind::InvalidConfig);
}
