//! Control flow and warps: divergence and reconvergence, loops with lane-dependent trip counts,
//! predicated execution, barriers across warps, special registers.

mod common_engine;
use common_engine::*;

/// out[i] = a[i] + b[i] for i < n, with a guard (the usual elementwise shape).
const ADD: &str = r#"
.visible .entry add(.param .u64 a, .param .u64 b, .param .u64 out, .param .u32 n)
{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<4>;
    .reg .b64 %rd<10>;
    ld.param.u64 %rd1, [a];
    ld.param.u64 %rd2, [b];
    ld.param.u64 %rd3, [out];
    ld.param.u32 %r1, [n];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.u32 %p1, %r5, %r1;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd4, %rd1;
    mul.wide.u32 %rd5, %r5, 4;
    add.s64 %rd6, %rd4, %rd5;
    ld.global.f32 %f1, [%rd6];
    cvta.to.global.u64 %rd7, %rd2;
    add.s64 %rd8, %rd7, %rd5;
    ld.global.nc.f32 %f2, [%rd8];
    add.f32 %f3, %f1, %f2;
    cvta.to.global.u64 %rd9, %rd3;
    add.s64 %rd9, %rd9, %rd5;
    st.global.f32 [%rd9], %f3;
DONE:
    ret;
}
"#;

#[test]
fn elementwise_add_over_a_partial_last_block() {
    let gpu = Gpu::new();
    let n = 1000u32;
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..n).map(|i| 3.0 - i as f32).collect();
    let (da, db, dout) = (gpu.upload(&a), gpu.upload(&b), gpu.alloc(4 * n as u64));
    let m = module(ADD);
    gpu.run(&m, "add", [n.div_ceil(128), 1, 1], [128, 1, 1], 0, &[p64(&da), p64(&db), p64(&dout), p32(&n)]).unwrap();
    let out: Vec<f32> = gpu.download(dout, n as usize);
    for i in 0..n as usize {
        assert_eq!(out[i], a[i] + b[i], "element {i}");
    }
}

/// Each lane loops tid%5 times, with an if/else inside; all lanes then reconverge for a
/// full-warp shuffle (which fails with MaskMismatch if they did not reconverge).
const DIVERGE: &str = r#"
.visible .entry diverge(.param .u64 out)
{
    .reg .pred %p<4>;
    .reg .b32 %r<12>;
    .reg .b64 %rd<4>;
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, %tid.x;
    rem.u32 %r2, %r1, 5;
    mov.u32 %r3, 0;
    mov.u32 %r4, 0;
LOOP:
    setp.ge.u32 %p1, %r3, %r2;
    @%p1 bra END;
    and.b32 %r5, %r3, 1;
    setp.eq.s32 %p2, %r5, 0;
    @%p2 bra EVEN;
    add.s32 %r4, %r4, 100;
    bra.uni NEXT;
EVEN:
    add.s32 %r4, %r4, 1;
NEXT:
    add.s32 %r3, %r3, 1;
    bra.uni LOOP;
END:
    shfl.sync.bfly.b32 %r6, %r4, 1, 31, -1;
    add.s32 %r7, %r4, %r6;
    mul.wide.u32 %rd2, %r1, 4;
    add.s64 %rd3, %rd1, %rd2;
    st.global.u32 [%rd3], %r7;
    ret;
}
"#;

#[test]
fn divergent_loops_reconverge_before_a_full_warp_shuffle() {
    let gpu = Gpu::new();
    let out = gpu.alloc(4 * 64);
    let m = module(DIVERGE);
    gpu.run(&m, "diverge", [1, 1, 1], [64, 1, 1], 0, &[p64(&out)]).unwrap();
    let got: Vec<u32> = gpu.download(out, 64);
    let value = |t: u32| -> u32 { (0..t % 5).map(|i| if i % 2 == 0 { 1 } else { 100 }).sum() };
    for t in 0..64u32 {
        assert_eq!(got[t as usize], value(t) + value(t ^ 1), "thread {t}");
    }
}

/// A block-wide sum through shared memory with barriers: warp partials, then thread 0 adds.
const BLOCK_SUM: &str = r#"
.visible .entry block_sum(.param .u64 input, .param .u64 out)
{
    .reg .pred %p<3>;
    .reg .b32 %r<20>;
    .reg .b64 %rd<8>;
    .shared .align 4 .b8 partial[32];
    ld.param.u64 %rd1, [input];
    ld.param.u64 %rd2, [out];
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mad.lo.s32 %r4, %r2, %r3, %r1;
    mul.wide.u32 %rd3, %r4, 4;
    add.s64 %rd4, %rd1, %rd3;
    ld.global.u32 %r5, [%rd4];
    shfl.sync.bfly.b32 %r6, %r5, 16, 31, -1;
    add.s32 %r5, %r5, %r6;
    shfl.sync.bfly.b32 %r6, %r5, 8, 31, -1;
    add.s32 %r5, %r5, %r6;
    shfl.sync.bfly.b32 %r6, %r5, 4, 31, -1;
    add.s32 %r5, %r5, %r6;
    shfl.sync.bfly.b32 %r6, %r5, 2, 31, -1;
    add.s32 %r5, %r5, %r6;
    shfl.sync.bfly.b32 %r6, %r5, 1, 31, -1;
    add.s32 %r5, %r5, %r6;
    and.b32 %r7, %r1, 31;
    shr.u32 %r8, %r1, 5;
    setp.ne.s32 %p1, %r7, 0;
    mov.u32 %r9, partial;
    shl.b32 %r10, %r8, 2;
    add.s32 %r11, %r9, %r10;
    @!%p1 st.shared.u32 [%r11], %r5;
    bar.sync 0;
    setp.ne.s32 %p2, %r1, 0;
    @%p2 bra DONE;
    ld.shared.u32 %r12, [partial];
    ld.shared.u32 %r13, [partial+4];
    add.s32 %r12, %r12, %r13;
    ld.shared.u32 %r13, [partial+8];
    add.s32 %r12, %r12, %r13;
    ld.shared.u32 %r13, [partial+12];
    add.s32 %r12, %r12, %r13;
    mul.wide.u32 %rd5, %r2, 4;
    add.s64 %rd6, %rd2, %rd5;
    st.global.u32 [%rd6], %r12;
DONE:
    ret;
}
"#;

#[test]
fn block_sum_with_shuffles_shared_memory_and_a_barrier() {
    let gpu = Gpu::new();
    let input: Vec<u32> = (0..512).map(|i| i * 7 % 13).collect();
    let (din, dout) = (gpu.upload(&input), gpu.alloc(4 * 4));
    let m = module(BLOCK_SUM);
    gpu.run(&m, "block_sum", [4, 1, 1], [128, 1, 1], 0, &[p64(&din), p64(&dout)]).unwrap();
    let got: Vec<u32> = gpu.download(dout, 4);
    for b in 0..4 {
        assert_eq!(got[b], input[b * 128..(b + 1) * 128].iter().sum::<u32>(), "block {b}");
    }
}

const SPECIALS: &str = r#"
.visible .entry specials(.param .u64 out)
{
    .reg .b32 %r<12>;
    .reg .b64 %rd<4>;
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, %tid.y;
    mov.u32 %r3, %ntid.x;
    mad.lo.s32 %r4, %r2, %r3, %r1;
    mov.u32 %r5, %ctaid.y;
    mov.u32 %r6, %nctaid.x;
    mov.u32 %r7, %ctaid.x;
    mad.lo.s32 %r8, %r5, %r6, %r7;
    mov.u32 %r9, %laneid;
    mov.u32 %r10, %warpid;
    shl.b32 %r10, %r10, 8;
    or.b32 %r9, %r9, %r10;
    shl.b32 %r11, %r8, 16;
    or.b32 %r9, %r9, %r11;
    mad.lo.s32 %r8, %r8, 48, %r4;
    mul.wide.u32 %rd2, %r8, 4;
    add.s64 %rd3, %rd1, %rd2;
    st.global.u32 [%rd3], %r9;
    ret;
}
"#;

#[test]
fn special_registers_in_two_dimensional_grids_and_blocks() {
    let gpu = Gpu::new();
    let out = gpu.alloc(4 * 48 * 6);
    let m = module(SPECIALS);
    gpu.run(&m, "specials", [3, 2, 1], [16, 3, 1], 0, &[p64(&out)]).unwrap();
    let got: Vec<u32> = gpu.download(out, 48 * 6);
    for block in 0..6u32 {
        for t in 0..48u32 {
            let expect = (block << 16) | ((t / 32) << 8) | (t % 32);
            assert_eq!(got[(block * 48 + t) as usize], expect, "block {block} thread {t}");
        }
    }
}

const PRMT: &str = r#"
.visible .entry prmt(.param .u64 out)
{
    .reg .b32 %r<8>;
    .reg .b64 %rd<2>;
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, 0x44332211;
    mov.u32 %r2, 0x88776655;
    prmt.b32 %r3, %r1, %r2, 0x7531;
    prmt.b32.rc8 %r4, %r1, %r2, 1;
    st.global.v2.u32 [%rd1], {%r3, %r4};
    ret;
}
"#;

#[test]
fn prmt_default_and_replicate_modes() {
    let gpu = Gpu::new();
    let out = gpu.alloc(8);
    gpu.run(&module(PRMT), "prmt", [1, 1, 1], [1, 1, 1], 0, &[p64(&out)]).unwrap();
    let got: Vec<u32> = gpu.download(out, 2);
    // Selector nibbles 1,3,5,7 (low to high) pick bytes 0x22, 0x44, 0x66, 0x88 of {b, a}.
    assert_eq!(got[0], 0x8866_4422);
    // rc8 replicates the byte selected by c[1:0].
    assert_eq!(got[1], 0x2222_2222);
}

/// Every special mode through the decoder, with a selector in a register whose high bits are set
/// (only c[1:0] selects): the decoder must route each mode name to its table (ISA, prmt).
const PRMT_MODES: &str = r#"
.visible .entry prmt_modes(.param .u64 out)
{
    .reg .b32 %r<12>;
    .reg .b64 %rd<2>;
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, 0x33221100;
    mov.u32 %r2, 0x77665544;
    mov.u32 %r3, 0xfffffff1;
    prmt.b32.f4e %r4, %r1, %r2, %r3;
    prmt.b32.b4e %r5, %r1, %r2, %r3;
    prmt.b32.rc8 %r6, %r1, %r2, %r3;
    prmt.b32.ecl %r7, %r1, %r2, %r3;
    prmt.b32.ecr %r8, %r1, %r2, %r3;
    prmt.b32.rc16 %r9, %r1, %r2, %r3;
    st.global.v4.u32 [%rd1], {%r4, %r5, %r6, %r7};
    st.global.v2.u32 [%rd1+16], {%r8, %r9};
    ret;
}
"#;

#[test]
fn prmt_special_modes_decode_to_their_tables() {
    let gpu = Gpu::new();
    let out = gpu.alloc(24);
    gpu.run(&module(PRMT_MODES), "prmt_modes", [1, 1, 1], [1, 1, 1], 0, &[p64(&out)]).unwrap();
    let got: Vec<u32> = gpu.download(out, 6);
    // The ISA's rows for c[1:0] = 1 (d.b3 d.b2 d.b1 d.b0): f4e 4 3 2 1, b4e 6 7 0 1, rc8 1 1 1 1,
    // ecl 3 2 1 1, ecr 1 1 1 0, rc16 3 2 3 2; byte i of {b, a} is 0x11·i.
    assert_eq!(got, vec![0x4433_2211, 0x6677_0011, 0x1111_1111, 0x3322_1111, 0x1111_1100, 0x3322_3322]);
}
