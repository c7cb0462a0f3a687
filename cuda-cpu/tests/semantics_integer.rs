//! Integer instruction semantics against values worked out by hand from the PTX ISA's
//! descriptions and pseudocode: mul/mad .lo/.hi/.wide, mul24, div/rem edge cases, bfe/bfi
//! (positions and lengths past the msb, only the low 8 bits read), bfind (.shiftamt, signed),
//! every prmt mode, shift-amount clamping, funnel shifts, lop3 and the comparisons.

use cuda_cpu::exec::semantics::integer::*;
use cuda_cpu::exec::semantics::IntType::{self, *};

fn s(x: i64) -> u64 {
    x as u64
}

#[test]
fn add_sub_neg_abs_min_max_wrap_and_saturate() {
    assert_eq!(add(S32, 0x7fff_ffff, 1), 0x8000_0000);
    assert_eq!(add(U64, u64::MAX, 2), 1);
    assert_eq!(sub(S32, 0, 1), 0xffff_ffff);
    assert_eq!(add_sat_s32(0x7fff_ffff, 1), 0x7fff_ffff);
    assert_eq!(add_sat_s32(0x8000_0000, 0xffff_ffff), 0x8000_0000);
    assert_eq!(sub_sat_s32(0x8000_0000, 1), 0x8000_0000);
    assert_eq!(sub_sat_s32(5, 7), (-2i32) as u32);
    assert_eq!(neg(S32, 5), 0xffff_fffb);
    assert_eq!(neg(S32, 0x8000_0000), 0x8000_0000);
    assert_eq!(abs(S32, 0xffff_fffb), 5);
    assert_eq!(abs(S32, 0x8000_0000), 0x8000_0000);
    assert_eq!(abs(S64, s(-9)), 9);
    assert_eq!(min(S32, 0xffff_ffff, 1), 0xffff_ffff); // −1 < 1
    assert_eq!(min(U32, 0xffff_ffff, 1), 1);
    assert_eq!(max(S32, 0xffff_ffff, 1), 1);
    assert_eq!(max(U32, 0xffff_ffff, 1), 0xffff_ffff);
    assert_eq!(min(U64, 3, u64::MAX), 3);
    assert_eq!(max(S64, s(-3), s(-4)), s(-3));
    assert_eq!(min(S16, 0x8000, 0x7fff), 0x8000);
}

#[test]
fn multiply_high_wide_and_mad() {
    assert_eq!(mul_lo(S32, 0x1_0000, 0x1_0000), 0);
    assert_eq!(mul_lo(S64, s(-3), 5), s(-15));
    assert_eq!(mul_hi(U32, 0xffff_ffff, 0xffff_ffff), 0xffff_fffe);
    assert_eq!(mul_hi(S32, 0xffff_ffff, 0xffff_ffff), 0); // (−1)(−1) = 1
    assert_eq!(mul_hi(S32, 0x8000_0000, 0x8000_0000), 0x4000_0000); // 2^62
    assert_eq!(mul_hi(S32, 0xffff_fffe, 3), 0xffff_ffff); // −6
    assert_eq!(mul_hi(U64, u64::MAX, u64::MAX), u64::MAX - 1);
    assert_eq!(mul_hi(S64, 1 << 63, 1 << 63), 1 << 62);
    assert_eq!(mul_hi(U16, 0xffff, 0xffff), 0xfffe);
    assert_eq!(mul_wide(S32, 0xffff_fffe, 3), s(-6));
    assert_eq!(mul_wide(U32, 0xffff_ffff, 0xffff_ffff), 0xffff_fffe_0000_0001);
    assert_eq!(mul_wide(U16, 0xffff, 0xffff), 0xfffe_0001);
    assert_eq!(mul_wide(S16, 0xffff, 0xffff), 1);
    assert_eq!(mul_wide(S16, 0x8000, 2), 0xffff_0000); // −65536 in 32 bits
    assert_eq!(mad_lo(S32, 3, 4, 5), 17);
    assert_eq!(mad_lo(S32, 0xffff_ffff, 2, 0), 0xffff_fffe);
    assert_eq!(mad_hi(U32, 0xffff_ffff, 0xffff_ffff, 3), 1); // 0xfffffffe + 3 wraps
    assert_eq!(mad_wide(S32, 0xffff_fffe, 3, 10), 4);
    assert_eq!(mad_wide(U32, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), 0xffff_ffff_0000_0000);
    assert_eq!(mad_hi_sat_s32(0x7fff_ffff, 0x7fff_ffff, 0x7fff_ffff), 0x7fff_ffff);
    assert_eq!(mad_hi_sat_s32(0x8000_0000, 0x7fff_ffff, 0x8000_0000), 0x8000_0000);
    assert_eq!(mul24(false, false, 0x0100_0003, 2), 6); // bits above 24 ignored
    assert_eq!(mul24(false, true, 0xff_ffff, 0xff_ffff), 0xffff_fe00); // bits 16..47
    assert_eq!(mul24(true, false, 0x00ff_ffff, 5), (-5i32) as u32); // 0xffffff is −1 as s24
    assert_eq!(mad24(false, false, 3, 4, 0xffff_ffff), 11);
}

#[test]
fn division_and_remainder_edge_cases() {
    assert_eq!(div(S32, s(-7), 2) as u32, (-3i32) as u32);
    assert_eq!(rem(S32, s(-7), 2) as u32, (-1i32) as u32);
    assert_eq!(rem(S32, 7, s(-2)) as u32, 1);
    assert_eq!(div(U32, 0xffff_fff9, 2), 0x7fff_fffc);
    // Our choices where the ISA leaves it unspecified: x/0 = all ones, x%0 = x,
    // MIN/−1 wraps to MIN, MIN%−1 = 0.
    assert_eq!(div(U32, 7, 0), 0xffff_ffff);
    assert_eq!(div(S32, 7, 0), 0xffff_ffff);
    assert_eq!(div(U64, 7, 0), u64::MAX);
    assert_eq!(rem(U32, 7, 0), 7);
    assert_eq!(rem(S64, s(-7), 0), s(-7));
    assert_eq!(div(S32, 0x8000_0000, 0xffff_ffff), 0x8000_0000);
    assert_eq!(rem(S32, 0x8000_0000, 0xffff_ffff), 0);
    assert_eq!(div(S64, 1 << 63, u64::MAX), 1 << 63);
    assert_eq!(div(U64, u64::MAX, 3), u64::MAX / 3);
    assert_eq!(rem(U64, u64::MAX, 10), u64::MAX % 10);
}

#[test]
fn bfe_follows_the_isa_pseudocode() {
    assert_eq!(bfe(U32, 0xf0f0_1234, 4, 8), 0x23);
    assert_eq!(bfe(S32, 0x0000_0f00, 8, 4), 0xffff_ffff); // field 0xf, its top bit set
    assert_eq!(bfe(S32, 0x0000_0f00, 8, 5), 0xf);
    assert_eq!(bfe(U32, 0xffff_ffff, 3, 0), 0); // len 0
    assert_eq!(bfe(S32, 0xffff_ffff, 3, 0), 0); // len 0: no sign bit either
    assert_eq!(bfe(U32, 0xa000_0000, 28, 8), 0xa); // past the msb: zeros for unsigned
    assert_eq!(bfe(S32, 0x8000_0000, 28, 8), 0xffff_fff8); // past the msb: a's msb replicated
    assert_eq!(bfe(S32, 0x8000_0000, 200, 5), 0xffff_ffff); // start past the msb
    assert_eq!(bfe(S32, 0x7fff_ffff, 200, 5), 0);
    assert_eq!(bfe(U32, 0xf0, 0x104, 0x204), 0xf); // only the low 8 bits of b and c count
    assert_eq!(bfe(U32, 0x1234_5678, 0, 32), 0x1234_5678);
    assert_eq!(bfe(U32, 0x1234_5678, 0, 255), 0x1234_5678);
    assert_eq!(bfe(S64, 0xff00, 8, 8), u64::MAX);
    assert_eq!(bfe(U64, 0xdead_0000_0000_0000, 48, 16), 0xdead);
}

#[test]
fn bfi_follows_the_isa_pseudocode() {
    assert_eq!(bfi(32, 0xab, 0xffff_0000, 4, 8), 0xffff_0ab0);
    assert_eq!(bfi(32, 0xab, 0, 28, 8), 0xb000_0000); // bits past the msb dropped
    assert_eq!(bfi(32, 0xab, 0x1234, 4, 0), 0x1234); // len 0: b unchanged
    assert_eq!(bfi(32, 0xab, 0x1234, 32, 8), 0x1234); // pos past the msb
    assert_eq!(bfi(32, 0xdead_beef, 0, 0, 40), 0xdead_beef);
    assert_eq!(bfi(32, 0xff, 0, 0x108, 0x104), 0xf00); // low 8 bits of c and d
    assert_eq!(bfi(64, 0xffff, 0, 56, 16), 0xff00_0000_0000_0000);
}

#[test]
fn bfind_brev_popc_clz() {
    assert_eq!(bfind(U32, 0x1000, false), 12);
    assert_eq!(bfind(U32, 0x1000, true), 19);
    assert_eq!(bfind(U32, 0, false), 0xffff_ffff);
    assert_eq!(bfind(U32, 0, true), 0xffff_ffff);
    assert_eq!(bfind(U32, 0x8000_0000, true), 0);
    assert_eq!(bfind(S32, 0xffff_ffff, false), 0xffff_ffff); // −1: no bit differs from the sign
    assert_eq!(bfind(S32, 0xffff_f000, false), 11);
    assert_eq!(bfind(S32, 5, false), 2);
    assert_eq!(bfind(S32, 0x8000_0000, false), 30);
    assert_eq!(bfind(U64, 1 << 40, false), 40);
    assert_eq!(bfind(U64, 1 << 40, true), 23);
    assert_eq!(bfind(S64, u64::MAX, true), 0xffff_ffff);
    assert_eq!(brev32(0x0000_0001), 0x8000_0000);
    assert_eq!(brev32(0x1234_5678), 0x1e6a_2c48);
    assert_eq!(brev64(1), 1 << 63);
    assert_eq!(popc32(0xf0f0_0001), 9);
    assert_eq!(popc64(u64::MAX), 64);
    assert_eq!(clz32(0), 32);
    assert_eq!(clz32(0x0001_0000), 15);
    assert_eq!(clz64(1), 63);
}

#[test]
fn prmt_default_mode_and_sign_replication() {
    let (a, b) = (0x3322_1100u32, 0x7766_5544u32);
    assert_eq!(prmt(PrmtMode::Generic, a, b, 0x3210), a);
    assert_eq!(prmt(PrmtMode::Generic, a, b, 0x7654), b);
    assert_eq!(prmt(PrmtMode::Generic, a, b, 0x0123), 0x0011_2233);
    assert_eq!(prmt(PrmtMode::Generic, a, b, 0x5140), 0x5511_4400);
    let a = 0x3322_1180;
    assert_eq!(prmt(PrmtMode::Generic, a, b, 0x3218), 0x3322_11ff); // msb of byte 0 replicated
    assert_eq!(prmt(PrmtMode::Generic, a, b, 0x321a), 0x3322_1100); // msb of byte 2 is 0
    assert_eq!(prmt(PrmtMode::Generic, a, 0x8000_0000, 0xf000), 0xff80_8080); // byte 7 = 0x80
    assert_eq!(prmt(PrmtMode::Generic, 0x3322_1100, b, 0xffff_3210), 0x3322_1100); // c[31:16] ignored
}

#[test]
fn prmt_special_modes_match_the_isa_table() {
    let (a, b) = (0x3322_1100u32, 0x7766_5544u32); // byte i of {b, a} is 0x11·i
    let cases: [(PrmtMode, [u32; 4]); 6] = [
        (PrmtMode::F4e, [0x3322_1100, 0x4433_2211, 0x5544_3322, 0x6655_4433]),
        (PrmtMode::B4e, [0x5566_7700, 0x6677_0011, 0x7700_1122, 0x0011_2233]),
        (PrmtMode::Rc8, [0x0000_0000, 0x1111_1111, 0x2222_2222, 0x3333_3333]),
        (PrmtMode::Ecl, [0x3322_1100, 0x3322_1111, 0x3322_2222, 0x3333_3333]),
        (PrmtMode::Ecr, [0x0000_0000, 0x1111_1100, 0x2222_1100, 0x3322_1100]),
        (PrmtMode::Rc16, [0x1100_1100, 0x3322_3322, 0x1100_1100, 0x3322_3322]),
    ];
    for (mode, want) in cases {
        for (sel, w) in want.iter().enumerate() {
            assert_eq!(prmt(mode, a, b, sel as u32), *w, "{mode:?} c={sel}");
            // Only c[1:0] selects.
            assert_eq!(prmt(mode, a, b, sel as u32 | 0xfff0), *w, "{mode:?} c={sel} high bits");
        }
    }
}

#[test]
fn shifts_clamp_the_amount_to_the_width() {
    assert_eq!(shl(32, 1, 31), 0x8000_0000);
    assert_eq!(shl(32, 1, 32), 0);
    assert_eq!(shl(32, 1, 0xffff_ffff), 0);
    assert_eq!(shl(32, 0xffff_ffff, 4), 0xffff_fff0);
    assert_eq!(shl(16, 0xffff, 4), 0xfff0);
    assert_eq!(shl(16, 1, 16), 0);
    assert_eq!(shl(64, 1, 63), 1 << 63);
    assert_eq!(shl(64, 1, 64), 0);
    assert_eq!(shr(U32, 0x8000_0000, 31), 1);
    assert_eq!(shr(U32, 0x8000_0000, 40), 0);
    assert_eq!(shr(S32, 0x8000_0000, 40), 0xffff_ffff);
    assert_eq!(shr(S32, 0x4000_0000, 40), 0);
    assert_eq!(shr(S32, (-8i32) as u32 as u64, 1), (-4i32) as u32 as u64);
    assert_eq!(shr(S64, 1 << 63, 100), u64::MAX);
    assert_eq!(shr(U64, 1 << 63, 63), 1);
    assert_eq!(shr(S16, 0x8000, 3), 0xf000);
    assert_eq!(shr(U16, 0x8000, 3), 0x1000);
}

#[test]
fn funnel_shift_lop3_and_comparisons() {
    let (lo, hi) = (0x89ab_cdefu32, 0x0123_4567u32);
    assert_eq!(shf(true, false, lo, hi, 8), 0x2345_6789);
    assert_eq!(shf(false, false, lo, hi, 8), 0x6789_abcd);
    assert_eq!(shf(true, true, lo, hi, 40), lo); // clamped to 32
    assert_eq!(shf(false, true, lo, hi, 40), hi);
    assert_eq!(shf(true, false, lo, hi, 40), 0x2345_6789); // wrap: 40 mod 32 = 8
    assert_eq!(shf(false, false, lo, hi, 0), lo);
    let (a, b, c) = (0xff00_ff00u32, 0xf0f0_f0f0u32, 0xcccc_ccccu32);
    assert_eq!(lop3(a, b, c, 0xf0), a);
    assert_eq!(lop3(a, b, c, 0xcc), b);
    assert_eq!(lop3(a, b, c, 0xaa), c);
    assert_eq!(lop3(a, b, c, 0xf0 & 0xcc), a & b);
    assert_eq!(lop3(a, b, c, 0x96), a ^ b ^ c);
    assert_eq!(lop3(a, b, c, 0xe8), (a & b) | (b & c) | (a & c));
    use IntCmp::*;
    let t: IntType = S32;
    assert!(compare_int(Lt, t, 0xffff_ffff, 1));
    assert!(!compare_int(Lt, U32, 0xffff_ffff, 1));
    assert!(!compare_int(Lo, t, 0xffff_ffff, 1)); // lo/ls/hi/hs compare unsigned
    assert!(compare_int(Hi, t, 0xffff_ffff, 1));
    assert!(compare_int(Hs, U32, 1, 1));
    assert!(compare_int(Ls, U32, 1, 1));
    assert!(compare_int(Ge, S64, 0, u64::MAX));
    assert!(compare_int(Ne, U32, 0x1_0000_0001, 2)); // only the low 32 bits count
    assert!(compare_int(Eq, U32, 0x1_0000_0001, 1));
    assert!(compare_int(Le, S16, 0x8000, 0x7fff));
    assert!(compare_int(Gt, U16, 0x8000, 0x7fff));
}

/// The ISA's bfe pseudocode, bit by bit.
fn bfe_pseudocode(ty: IntType, a: u64, b: u32, c: u32) -> u64 {
    let msb = ty.bits() - 1;
    let (pos, len) = (b & 0xff, c & 0xff);
    let a = a & ty.mask();
    let sbit = if !ty.is_signed() || len == 0 { 0 } else { (a >> (pos + len - 1).min(msb)) & 1 };
    let mut d = 0;
    for i in 0..=msb {
        let bit = if i < len && pos + i <= msb { (a >> (pos + i)) & 1 } else { sbit };
        d |= bit << i;
    }
    d
}

/// The ISA's bfi pseudocode, bit by bit.
fn bfi_pseudocode(bits: u32, a: u64, b: u64, c: u32, d: u32) -> u64 {
    let msb = bits - 1;
    let (pos, len) = (c & 0xff, d & 0xff);
    let mut f = b & if bits == 64 { u64::MAX } else { (1 << bits) - 1 };
    let mut i = 0;
    while i < len && pos + i <= msb {
        f = (f & !(1 << (pos + i))) | (((a >> i) & 1) << (pos + i));
        i += 1;
    }
    f
}

#[test]
fn bfe_bfi_match_the_pseudocode_bit_by_bit_on_random_operands() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b) = (x, x.rotate_left(29));
        // Positions and lengths mostly near the width, sometimes with high bits set.
        let pos = ((x >> 3) % 80) as u32 | if x & 1 == 0 { 0 } else { 0x300 };
        let len = ((x >> 11) % 80) as u32 | if x & 2 == 0 { 0 } else { 0x500 };
        for ty in [U32, S32, U64, S64] {
            assert_eq!(bfe(ty, a, pos, len), bfe_pseudocode(ty, a, pos, len), "bfe {ty:?} {a:#x} {pos} {len}");
        }
        for bits in [32, 64] {
            assert_eq!(bfi(bits, a, b, pos, len), bfi_pseudocode(bits, a, b, pos, len), "bfi {bits} {pos} {len}");
        }
    }
}
