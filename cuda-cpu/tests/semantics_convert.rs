//! `cvt` against values worked out from the PTX ISA: all 65,536 f16 and bf16 encodings (to f32
//! exactly and back in every rounding mode, checked against the `half` crate as an independent
//! oracle), the rounding of f32 → f16/bf16 at every midpoint, overflow and subnormal cases,
//! float → int with integer rounding, saturation and NaN, int → float rounding, int → int
//! truncation and saturation, and the packed pairs' operand order.

use cuda_cpu::exec::semantics::convert::*;
use cuda_cpu::exec::semantics::{FloatType, HalfType, IntType, Rounding};

const MODES: [Rounding; 4] = [Rounding::Nearest, Rounding::Zero, Rounding::Down, Rounding::Up];

fn to_half(ty: HalfType, x: f32, r: Rounding) -> u16 {
    match ty {
        HalfType::F16 => f32_to_f16(x, r),
        HalfType::BF16 => f32_to_bf16(x, r),
    }
}

fn from_half(ty: HalfType, h: u16) -> f32 {
    match ty {
        HalfType::F16 => f16_to_f32(h),
        HalfType::BF16 => bf16_to_f32(h),
    }
}

fn oracle(ty: HalfType, h: u16) -> f32 {
    match ty {
        HalfType::F16 => half::f16::from_bits(h).to_f32(),
        HalfType::BF16 => half::bf16::from_bits(h).to_f32(),
    }
}

fn oracle_rn(ty: HalfType, x: f32) -> u16 {
    match ty {
        HalfType::F16 => half::f16::from_f32(x).to_bits(),
        HalfType::BF16 => half::bf16::from_f32(x).to_bits(),
    }
}

#[test]
fn every_f16_and_bf16_encoding_widens_exactly_and_round_trips_in_every_mode() {
    for ty in [HalfType::F16, HalfType::BF16] {
        for h in 0..=u16::MAX {
            let x = from_half(ty, h);
            let want = oracle(ty, h);
            if want.is_nan() {
                assert!(x.is_nan(), "{ty:?} {h:#06x}");
                for r in MODES {
                    assert_eq!(to_half(ty, x, r), 0x7fff, "{ty:?} NaN → canonical");
                }
                continue;
            }
            assert_eq!(x.to_bits(), want.to_bits(), "{ty:?} {h:#06x}");
            for r in MODES {
                assert_eq!(to_half(ty, x, r), h, "{ty:?} {h:#06x} {r:?}");
            }
            // The generic cvt agrees with the fast helpers.
            let ft = match ty {
                HalfType::F16 => FloatType::F16,
                HalfType::BF16 => FloatType::BF16,
            };
            let wide = cvt(CvtType::Float(FloatType::F32), CvtType::Float(ft), h as u64, CvtModifiers::NONE);
            assert_eq!(wide as u32, x.to_bits());
            let f64_bits = cvt(CvtType::Float(FloatType::F64), CvtType::Float(ft), h as u64, CvtModifiers::NONE);
            assert_eq!(f64::from_bits(f64_bits), x as f64);
        }
    }
}

/// Between every pair of adjacent finite half values x < y (both signs): the midpoint, and the
/// f32 values just below and above it, rounded in every mode.
#[test]
fn every_midpoint_rounds_per_mode_for_both_formats() {
    for ty in [HalfType::F16, HalfType::BF16] {
        for h in 0..0x7fffu16 {
            let (x, y) = (oracle(ty, h), oracle(ty, h + 1));
            if !x.is_finite() || !y.is_finite() {
                continue;
            }
            let mid = ((x as f64 + y as f64) / 2.0) as f32; // exact: halves have ≤ 11 bits
            assert_eq!(mid as f64, (x as f64 + y as f64) / 2.0);
            let even = if h & 1 == 0 { h } else { h + 1 };
            for (sign, v) in [(0u16, 1.0f32), (0x8000, -1.0)] {
                let m = v * mid;
                assert_eq!(to_half(ty, m, Rounding::Nearest), sign | even, "{ty:?} tie {m:e}");
                assert_eq!(to_half(ty, m, Rounding::Nearest), oracle_rn(ty, m), "{ty:?} oracle tie {m:e}");
                let below = v * mid.next_down();
                let above = v * mid.next_up();
                assert_eq!(to_half(ty, below, Rounding::Nearest), sign | h, "{ty:?} {below:e}");
                assert_eq!(to_half(ty, above, Rounding::Nearest), sign | (h + 1), "{ty:?} {above:e}");
                assert_eq!(to_half(ty, m, Rounding::Zero), sign | h);
                let (down, up) = if sign == 0 { (h, h + 1) } else { (h + 1, h) };
                assert_eq!(to_half(ty, m, Rounding::Down), sign | down, "{ty:?} rm {m:e}");
                assert_eq!(to_half(ty, m, Rounding::Up), sign | up, "{ty:?} rp {m:e}");
                // Just above x: only .rp (positive) / .rm (negative) leave x.
                let near = v * x.next_up();
                if near.abs() < mid {
                    assert_eq!(to_half(ty, near, Rounding::Nearest), sign | h);
                    assert_eq!(to_half(ty, near, Rounding::Zero), sign | h);
                    assert_eq!(to_half(ty, near, if sign == 0 { Rounding::Up } else { Rounding::Down }), sign | (h + 1));
                }
            }
        }
    }
}

#[test]
fn random_f32_round_to_nearest_matches_the_half_crate() {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2_000_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let x = f32::from_bits(s as u32);
        for ty in [HalfType::F16, HalfType::BF16] {
            let got = to_half(ty, x, Rounding::Nearest);
            let want = oracle_rn(ty, x);
            if x.is_nan() {
                assert_eq!(got, 0x7fff);
            } else {
                assert_eq!(got, want, "{ty:?} {x:e} ({:#010x})", x.to_bits());
            }
        }
    }
}

#[test]
fn hand_worked_f16_overflow_and_subnormal_cases() {
    use Rounding::*;
    // 65504 is the largest f16; 65520 is the midpoint to the next (2^16): ties go to "even" ∞.
    assert_eq!(f32_to_f16(65504.0, Nearest), 0x7bff);
    assert_eq!(f32_to_f16(65519.996, Nearest), 0x7bff);
    assert_eq!(f32_to_f16(65520.0, Nearest), 0x7c00);
    assert_eq!(f32_to_f16(1e6, Zero), 0x7bff);
    assert_eq!(f32_to_f16(1e6, Down), 0x7bff);
    assert_eq!(f32_to_f16(1e6, Up), 0x7c00);
    assert_eq!(f32_to_f16(-1e6, Down), 0xfc00);
    assert_eq!(f32_to_f16(-1e6, Up), 0xfbff);
    assert_eq!(f32_to_f16(f32::INFINITY, Zero), 0x7c00); // ∞ stays ∞ in every mode
    // Subnormals: 2^-24 is the smallest; 2^-25 is the tie between 0 and it.
    assert_eq!(f32_to_f16(2f32.powi(-24), Nearest), 0x0001);
    assert_eq!(f32_to_f16(2f32.powi(-25), Nearest), 0x0000);
    assert_eq!(f32_to_f16(2f32.powi(-25) * 1.5, Nearest), 0x0001);
    assert_eq!(f32_to_f16(3.0 * 2f32.powi(-25), Nearest), 0x0002); // 1.5 ulp: tie → even 2
    assert_eq!(f32_to_f16(2f32.powi(-30), Up), 0x0001);
    assert_eq!(f32_to_f16(-2f32.powi(-30), Down), 0x8001);
    assert_eq!(f32_to_f16(-2f32.powi(-30), Nearest), 0x8000);
    assert_eq!(f32_to_f16(2f32.powi(-14) - 2f32.powi(-26), Nearest), 0x0400); // rounds up to min normal
    assert_eq!(f32_to_f16(-0.0, Nearest), 0x8000);
    // bf16: max finite 0x7f7f; just over it rounds to ∞ in .rn only when past the midpoint.
    assert_eq!(f32_to_bf16(f32::MAX, Nearest), 0x7f80);
    assert_eq!(f32_to_bf16(f32::MAX, Zero), 0x7f7f);
    assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000), Nearest), 0x3f80); // tie → even
    assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000), Nearest), 0x3f82); // tie → even
    assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8001), Nearest), 0x3f81);
    assert_eq!(f32_to_bf16(f32::from_bits(0x0000_0001), Up), 0x0001); // bf16 keeps subnormals
}

fn int(t: IntType) -> CvtType {
    CvtType::Int(t)
}
fn flt(t: FloatType) -> CvtType {
    CvtType::Float(t)
}
fn irnd(r: Rounding) -> CvtModifiers {
    CvtModifiers { rounding: CvtRounding::Integer(r), ..CvtModifiers::NONE }
}
fn frnd(r: Rounding) -> CvtModifiers {
    CvtModifiers { rounding: CvtRounding::Float(r), ..CvtModifiers::NONE }
}
fn f32b(x: f32) -> u64 {
    x.to_bits() as u64
}

#[test]
fn float_to_int_rounds_saturates_and_maps_nan_to_zero() {
    use IntType::*;
    use Rounding::*;
    let f = flt(FloatType::F32);
    let s32 = |x: f32, r| cvt(int(S32), f, f32b(x), irnd(r)) as i64;
    assert_eq!(s32(-2.7, Zero), -2);
    assert_eq!(s32(2.5, Nearest), 2);
    assert_eq!(s32(3.5, Nearest), 4);
    assert_eq!(s32(-2.5, Nearest), -2);
    assert_eq!(s32(-2.1, Down), -3);
    assert_eq!(s32(2.1, Up), 3);
    assert_eq!(s32(-0.3, Up), 0);
    assert_eq!(s32(f32::NAN, Nearest), 0);
    assert_eq!(s32(3e9, Zero), i32::MAX as i64);
    assert_eq!(s32(-3e9, Zero), i32::MIN as i64);
    assert_eq!(s32(f32::INFINITY, Zero), i32::MAX as i64);
    assert_eq!(s32(f32::NEG_INFINITY, Zero), i32::MIN as i64);
    assert_eq!(s32(2147483520.0, Zero), 2147483520);
    assert_eq!(cvt(int(U32), f, f32b(-1.0), irnd(Zero)), 0);
    assert_eq!(cvt(int(U32), f, f32b(4.5e9), irnd(Zero)), u32::MAX as u64);
    assert_eq!(cvt(int(U8), f, f32b(300.0), irnd(Zero)), 255);
    assert_eq!(cvt(int(S8), f, f32b(-200.0), irnd(Zero)), -128i64 as u64); // sign-extended
    assert_eq!(cvt(int(S16), f, f32b(-1.5), irnd(Nearest)), -2i64 as u64);
    assert_eq!(cvt(int(U64), f, f32b(1.8e19), irnd(Zero)), 1.8e19f32 as u64);
    assert_eq!(cvt(int(U64), f, f32b(f32::INFINITY), irnd(Zero)), u64::MAX);
    assert_eq!(cvt(int(S64), f, f32b(-1e30), irnd(Zero)), i64::MIN as u64);
    assert_eq!(cvt(int(S64), flt(FloatType::F64), (-7.5f64).to_bits(), irnd(Down)), -8i64 as u64);
    assert_eq!(cvt(int(S32), flt(FloatType::F16), 0x3e00, irnd(Nearest)), 2); // 1.5 → 2
    assert_eq!(cvt(int(S32), flt(FloatType::BF16), 0xc020, irnd(Zero)), -2i64 as u64); // −2.5
    // .ftz: a negative subnormal is −0 first, so .rmi gives 0, not −1.
    let sub = f32b(-f32::from_bits(1));
    assert_eq!(cvt(int(S32), f, sub, irnd(Down)), -1i64 as u64);
    assert_eq!(cvt(int(S32), f, sub, CvtModifiers { ftz: true, ..irnd(Down) }), 0);
}

#[test]
fn int_to_float_rounds_in_every_mode() {
    use IntType::*;
    use Rounding::*;
    let to_f32 = |t: IntType, v: i64, r| f32::from_bits(cvt(flt(FloatType::F32), int(t), v as u64, frnd(r)) as u32);
    assert_eq!(to_f32(S32, 16777217, Nearest), 16777216.0); // tie → even
    assert_eq!(to_f32(S32, 16777219, Nearest), 16777220.0); // tie → even
    assert_eq!(to_f32(S32, 16777219, Zero), 16777218.0);
    assert_eq!(to_f32(S32, -16777217, Down), -16777218.0);
    assert_eq!(to_f32(S32, -16777217, Zero), -16777216.0);
    assert_eq!(to_f32(S32, 16777217, Up), 16777218.0);
    assert_eq!(to_f32(S32, -1, Nearest), -1.0);
    assert_eq!(to_f32(U32, -1, Nearest), 4294967296.0); // 0xffffffff read as u32
    assert_eq!(to_f32(U32, -1, Zero), 4294967040.0);
    assert_eq!(to_f32(U64, -1, Nearest), 18446744073709551616.0);
    assert_eq!(to_f32(U64, -1, Zero).to_bits(), 0x5f7f_ffff);
    assert_eq!(to_f32(S64, i64::MIN, Zero), -9223372036854775808.0);
    assert_eq!(to_f32(S8, 0x1ff, Nearest), -1.0); // only the low 8 bits are read
    assert_eq!(to_f32(S32, 0, Down).to_bits(), 0); // +0 even toward −∞
    let to_f16 = |t: IntType, v: i64, r| cvt(flt(FloatType::F16), int(t), v as u64, frnd(r));
    assert_eq!(to_f16(S32, 2049, Nearest), 0x6800); // 2048
    assert_eq!(to_f16(S32, 2051, Nearest), 0x6802); // 2052
    assert_eq!(to_f16(U32, 70000, Nearest), 0x7c00);
    assert_eq!(to_f16(U32, 70000, Zero), 0x7bff);
    assert_eq!(to_f16(S32, -70000, Up), 0xfbff);
    assert_eq!(cvt(flt(FloatType::BF16), int(S32), 257, frnd(Nearest)), 0x4380); // 256
    let to_f64 = |v: u64, r| f64::from_bits(cvt(flt(FloatType::F64), int(U64), v, frnd(r)));
    assert_eq!(to_f64((1 << 53) + 1, Nearest), 9007199254740992.0);
    assert_eq!(to_f64((1 << 53) + 1, Up), 9007199254740994.0);
    assert_eq!(cvt(flt(FloatType::F64), int(S32), (-3i32) as u32 as u64, CvtModifiers::NONE), (-3.0f64).to_bits());
}

#[test]
fn int_to_int_truncates_extends_and_saturates() {
    use IntType::*;
    let none = CvtModifiers::NONE;
    let sat = CvtModifiers { sat: true, ..none };
    assert_eq!(cvt(int(S64), int(S32), 0xffff_fffb, none), -5i64 as u64);
    assert_eq!(cvt(int(U64), int(U32), 0xffff_fffb, none), 0xffff_fffb);
    assert_eq!(cvt(int(U32), int(U64), 0x1_2345_6789, none), 0x2345_6789);
    assert_eq!(cvt(int(S32), int(U64), 0x1_8000_0000, none), 0xffff_ffff_8000_0000); // −2^31
    assert_eq!(cvt(int(S8), int(U32), 0x1ff, none), u64::MAX); // 0xff as s8 = −1
    assert_eq!(cvt(int(U8), int(S32), (-5i32) as u32 as u64, sat), 0);
    assert_eq!(cvt(int(U8), int(S32), 300, sat), 255);
    assert_eq!(cvt(int(U8), int(S32), 300, none), 44);
    assert_eq!(cvt(int(S32), int(U32), 0xffff_ffff, sat), i32::MAX as u64);
    assert_eq!(cvt(int(S16), int(S64), (-40000i64) as u64, sat), -32768i64 as u64);
    assert_eq!(cvt(int(U32), int(S64), (-1i64) as u64, sat), 0);
    assert_eq!(cvt(int(U64), int(S64), (-1i64) as u64, sat), 0);
}

#[test]
fn float_to_float_narrowing_integral_rounding_sat_and_ftz() {
    use Rounding::*;
    let f32t = flt(FloatType::F32);
    let f64t = flt(FloatType::F64);
    let r32 = |x: f32, m: CvtModifiers| f32::from_bits(cvt(f32t, f32t, f32b(x), m) as u32);
    assert_eq!(r32(2.5, irnd(Nearest)), 2.0);
    assert_eq!(r32(-2.5, irnd(Nearest)), -2.0);
    assert_eq!(r32(-0.3, irnd(Nearest)).to_bits(), 0x8000_0000); // sign kept
    assert_eq!(r32(-0.5, irnd(Down)), -1.0);
    assert_eq!(r32(-0.5, irnd(Up)).to_bits(), 0x8000_0000);
    assert_eq!(r32(2.9, irnd(Zero)), 2.0);
    assert_eq!(r32(1e30, irnd(Zero)), 1e30);
    assert!(r32(f32::NAN, irnd(Zero)).is_nan());
    assert_eq!(r32(f32::NEG_INFINITY, irnd(Up)), f32::NEG_INFINITY);
    let sat = CvtModifiers { sat: true, ..CvtModifiers::NONE };
    assert_eq!(r32(-1.0, sat).to_bits(), 0);
    assert_eq!(r32(2.0, sat), 1.0);
    assert_eq!(r32(f32::NAN, sat).to_bits(), 0);
    assert_eq!(r32(0.5, sat), 0.5);
    assert_eq!(r32(-0.0, sat).to_bits(), 0);
    assert_eq!(r32(f32::INFINITY, sat), 1.0);
    let ftz = CvtModifiers { ftz: true, ..CvtModifiers::NONE };
    assert_eq!(r32(-f32::from_bits(7), ftz).to_bits(), 0x8000_0000);
    assert_eq!(r32(f32::from_bits(7), CvtModifiers::NONE).to_bits(), 7);
    // f64 → f32 in every mode.
    let n32 = |x: f64, m| f32::from_bits(cvt(f32t, f64t, x.to_bits(), frnd(m)) as u32);
    let tie = 1.0 + 2f64.powi(-24);
    assert_eq!(n32(tie, Nearest), 1.0);
    assert_eq!(n32(tie + 2f64.powi(-50), Nearest), 1.0 + 2f32.powi(-23));
    assert_eq!(n32(tie, Up), 1.0 + 2f32.powi(-23));
    assert_eq!(n32(-tie, Down), -(1.0 + 2f32.powi(-23)));
    assert_eq!(n32(-tie, Zero), -1.0);
    assert_eq!(n32(1e39, Nearest), f32::INFINITY);
    assert_eq!(n32(1e39, Zero), f32::MAX);
    assert_eq!(n32(-1e39, Up), -f32::MAX);
    assert_eq!(n32(1e-46, Nearest).to_bits(), 0);
    assert_eq!(n32(1e-46, Up).to_bits(), 1);
    assert_eq!(n32(-1e-46, Down).to_bits(), 0x8000_0001);
    assert_eq!(n32(2f64.powi(-149) * 1.5, Nearest).to_bits(), 2); // tie → even
    assert_eq!(cvt(f32t, f64t, 3e-40f64.to_bits(), CvtModifiers { ftz: true, ..frnd(Nearest) }), 0); // subnormal result flushed
    assert!(f32::from_bits(cvt(f32t, f64t, f64::NAN.to_bits(), frnd(Nearest)) as u32).is_nan());
    // Widening is exact.
    assert_eq!(cvt(f64t, f32t, f32b(0.1), CvtModifiers::NONE), (0.1f32 as f64).to_bits());
    // f32 → f16 with .relu.
    let relu = CvtModifiers { relu: true, ..frnd(Nearest) };
    assert_eq!(cvt(flt(FloatType::F16), f32t, f32b(-3.0), relu), 0);
    assert_eq!(cvt(flt(FloatType::F16), f32t, f32b(3.0), relu), 0x4200);
    assert_eq!(cvt(flt(FloatType::F16), f32t, f32b(f32::NAN), relu), 0x7fff);
}

#[test]
fn packed_pairs_put_a_in_the_upper_half() {
    // cvt.rn.f16x2.f32 d, a, b: d = {a → bits 16..31, b → bits 0..15}.
    assert_eq!(cvt_pack_f32x2(HalfType::F16, 1.0, 2.0, Rounding::Nearest, false), 0x3c00_4000);
    assert_eq!(cvt_pack_f32x2(HalfType::BF16, 1.0, -2.0, Rounding::Nearest, false), 0x3f80_c000);
    assert_eq!(cvt_pack_f32x2(HalfType::BF16, -1.0, 2.0, Rounding::Nearest, true), 0x0000_4000);
    assert_eq!(cvt_pack_f32x2(HalfType::F16, 65520.0, 1e6, Rounding::Zero, false), 0x7bff_7bff);
}

#[test]
fn invalid_combinations_are_rejected() {
    use IntType::*;
    use Rounding::*;
    let f32t = flt(FloatType::F32);
    assert!(cvt_check(int(S32), f32t, CvtModifiers::NONE).is_err()); // needs .rzi etc.
    assert!(cvt_check(int(S32), f32t, frnd(Nearest)).is_err());
    assert!(cvt_check(int(S32), f32t, irnd(Zero)).is_ok());
    assert!(cvt_check(flt(FloatType::F16), f32t, CvtModifiers::NONE).is_err()); // narrowing
    assert!(cvt_check(flt(FloatType::F16), f32t, frnd(Nearest)).is_ok());
    assert!(cvt_check(f32t, flt(FloatType::F16), CvtModifiers::NONE).is_ok());
    assert!(cvt_check(f32t, flt(FloatType::F16), frnd(Nearest)).is_err());
    assert!(cvt_check(f32t, f32t, irnd(Down)).is_ok());
    assert!(cvt_check(f32t, int(S32), CvtModifiers::NONE).is_err()); // inexact without rounding
    assert!(cvt_check(flt(FloatType::F64), int(S32), CvtModifiers::NONE).is_ok()); // exact
    assert!(cvt_check(int(S64), int(S32), frnd(Nearest)).is_err());
    assert!(cvt_check(int(U8), int(S32), CvtModifiers { sat: true, ..CvtModifiers::NONE }).is_ok());
}
