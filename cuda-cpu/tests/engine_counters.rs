//! The counters: bank conflicts (wavefronts per shared request), sectors per global request,
//! instruction classes, occupancy.

mod common_engine;
use common_engine::*;

/// Each lane stores to s[lane * stride] (4-byte words) and reads x[lane * gstride].
fn kernel(stride: u32, gstride: u32) -> String {
    format!(
        r#"
.visible .entry k(.param .u64 x)
{{
    .reg .b32 %r<8>;
    .reg .f32 %f<2>;
    .reg .b64 %rd<4>;
    .shared .align 4 .b8 s[4096];
    ld.param.u64 %rd1, [x];
    mov.u32 %r1, %tid.x;
    mul.lo.s32 %r2, %r1, {};
    mov.u32 %r3, s;
    add.s32 %r4, %r3, %r2;
    st.shared.u32 [%r4], %r1;
    mul.wide.u32 %rd2, %r1, {};
    add.s64 %rd3, %rd1, %rd2;
    ld.global.f32 %f1, [%rd3];
    ret;
}}
"#,
        4 * stride,
        4 * gstride
    )
}

fn counters(stride: u32, gstride: u32) -> cuda_cpu::exec::Counters {
    let gpu = Gpu::new();
    let x = gpu.zeros(4 * 32 * 32);
    let mut opts = options();
    opts.counters = true;
    let m = module(&kernel(stride, gstride));
    gpu.run_with(&m, "k", [1, 1, 1], [32, 1, 1], 0, &[p64(&x)], &opts).unwrap().counters.unwrap()
}

#[test]
fn bank_conflicts_and_sectors_per_request() {
    let unit = counters(1, 1);
    assert_eq!((unit.memory.shared_requests, unit.memory.shared_wavefronts), (1, 1), "consecutive words: no conflict");
    assert_eq!((unit.memory.global_requests, unit.memory.global_sectors), (1, 4), "32 consecutive floats: 4 sectors");
    let conflicted = counters(32, 8);
    assert_eq!(conflicted.memory.shared_wavefronts, 32, "stride 32 words: all lanes in bank 0");
    assert_eq!(conflicted.memory.global_sectors, 32, "stride 32 bytes: a sector per lane");
    let two_way = counters(2, 1);
    assert_eq!(two_way.memory.shared_wavefronts, 2);
    let text = unit.to_string();
    assert!(text.contains("1.00 per request"), "{text}");
    assert!(text.contains("4.00 sectors per request"), "{text}");
    assert!(text.contains("theoretical occupancy"), "{text}");
    assert_eq!(unit.warp_instructions.iter().sum::<u64>(), 10);
    assert_eq!(unit.thread_instructions.iter().sum::<u64>(), 10 * 32);
}
