//! Floating-point arithmetic (PTX ISA 9.0, "Floating-Point Instructions", "Half Precision
//! Floating-Point Instructions" and the comparison instructions).
//!
//! Rounded operations are correctly rounded in every mode: the exact result is formed with
//! error-free transforms in f64 (an f32 product is exact in f64; sums keep their error term) and
//! rounded once to the destination format (see `round_exact`). Round-to-nearest f32 add, sub, mul
//! and fma, nearly all our kernels run, use the host's IEEE operations instead: the same results, faster. `.ftz` flushes subnormal inputs and
//! subnormal results (after rounding) to zero of the same sign; `.sat` clamps to [0.0, 1.0] with
//! NaN → +0.0. A NaN result is the canonical NaN (f32 `0x7fffffff`, f64 `0x7fffffffffffffff`,
//! f16/bf16 `0x7fff`), the ISA's "NaN payloads are not preserved" choice for arithmetic.

use super::rounding::{self, two_sum};
use super::{HalfType, Rounding};

/// Canonical f32 NaN.
pub const CANONICAL_NAN_F32: u32 = 0x7fff_ffff;
/// Canonical f64 NaN.
pub const CANONICAL_NAN_F64: u64 = 0x7fff_ffff_ffff_ffff;
/// Canonical f16 and bf16 NaN.
pub const CANONICAL_NAN_16: u16 = 0x7fff;

/// Modifiers of the rounded arithmetic instructions (`add/sub/mul/fma/mad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloatMode {
    /// `.rn/.rz/.rm/.rp`; PTX's default when absent is `.rn`.
    pub rounding: Rounding,
    /// `.ftz`: subnormal inputs and results become zero of the same sign.
    pub ftz: bool,
    /// `.sat`: result clamped to [0.0, 1.0], NaN → +0.0.
    pub sat: bool,
}

impl FloatMode {
    /// `.rn` with no `.ftz`/`.sat`: what an unmodified `add.f32` means.
    pub const RN: FloatMode = FloatMode { rounding: Rounding::Nearest, ftz: false, sat: false };
}

/// `add{.rnd}{.ftz}{.sat}.f32 d, a, b`.
pub fn add_f32(a: f32, b: f32, mode: FloatMode) -> f32 {
    add_sub_f32(a, b, mode)
}

/// `sub{.rnd}{.ftz}{.sat}.f32 d, a, b` = a − b.
pub fn sub_f32(a: f32, b: f32, mode: FloatMode) -> f32 {
    add_sub_f32(a, -b, mode)
}

/// `mul{.rnd}{.ftz}{.sat}.f32 d, a, b`.
pub fn mul_f32(a: f32, b: f32, mode: FloatMode) -> f32 {
    let (a, b) = (input(a, mode.ftz), input(b, mode.ftz));
    if mode.rounding == Rounding::Nearest {
        return output(a * b, mode); // the host's IEEE multiply rounds to nearest, once
    }
    let p = a as f64 * b as f64; // exact: 24 + 24 bits
    let r = if p == 0.0 || !p.is_finite() { p as f32 } else { pair_to_f32(p, 0.0, mode.rounding) };
    output(r, mode)
}

/// `fma.rnd{.ftz}{.sat}.f32 d, a, b, c` (and `mad.rnd.f32`, the same instruction): a·b + c with a
/// single rounding.
pub fn fma_f32(a: f32, b: f32, c: f32, mode: FloatMode) -> f32 {
    let (a, b, c) = (input(a, mode.ftz), input(b, mode.ftz), input(c, mode.ftz));
    if mode.rounding == Rounding::Nearest {
        if let Some(r) = host_fma_rn(a, b, c) {
            return output(r, mode);
        }
    }
    let p = a as f64 * b as f64; // exact
    let c64 = c as f64;
    let r = if !p.is_finite() || !c.is_finite() {
        (p + c64) as f32
    } else {
        let (hi, lo) = two_sum(p, c64);
        if hi == 0.0 {
            exact_zero_sum(p.is_sign_negative(), p == 0.0, c.is_sign_negative(), c == 0.0, mode.rounding) as f32
        } else if mode.rounding == Rounding::Nearest && rn_of_hi_is_exact(hi, lo) {
            hi as f32 // the common case, without the general rounding routine
        } else {
            pair_to_f32(hi, lo, mode.rounding)
        }
    };
    output(r, mode)
}

/// `add{.rnd}.f64`.
pub fn add_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    add_sub_f64(a, b, rounding)
}

/// `sub{.rnd}.f64`.
pub fn sub_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    add_sub_f64(a, -b, rounding)
}

/// `mul{.rnd}.f64`.
pub fn mul_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    let p = a * b;
    if rounding == Rounding::Nearest || a == 0.0 || b == 0.0 || p.is_nan() {
        return canonical_f64(p);
    }
    if p.is_infinite() {
        return if a.is_infinite() || b.is_infinite() { p } else { overflow_f64(p.is_sign_negative(), rounding) };
    }
    if p.abs() < f64::MIN_POSITIVE * 2f64.powi(54) {
        // The product's error may not be representable near the subnormal range: scale the
        // operands up by 2^106 in total, take the exact product's sign of error there and round
        // into f64's subnormal-aware format at the true exponent.
        let (sa, sb) = (a * 2f64.powi(53), b * 2f64.powi(53));
        let ps = sa * sb;
        let es = sa.mul_add(sb, -ps);
        let (neg, mant, exp) = rounding::decompose_f64(ps);
        let mut m = mant << 2;
        if es != 0.0 {
            if (es < 0.0) == neg { m += 1 } else { m -= 1 }
        }
        return f64::from_bits(rounding::round_to_format(neg, m, exp - 2 - 106, rounding::F64, rounding));
    }
    let e = a.mul_add(b, -p); // exact error of the product
    nudge_f64(p, e, rounding)
}

/// `fma.rn.f64` (only `.rn`; the directed modes of `fma.f64` are not implemented: the engine must
/// report them as an unimplemented instruction).
pub fn fma_rn_f64(a: f64, b: f64, c: f64) -> f64 {
    canonical_f64(a.mul_add(b, c))
}

/// Flavours of `div.f32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DivKind {
    /// `div.rnd.f32`: IEEE, correctly rounded in the mode.
    Rounded(Rounding),
    /// `div.full.f32`: max 2 ulp error over the full range (we return the correctly rounded value).
    Full,
    /// `div.approx.f32`: a · (1/b); for 2^126 < |b| < 2^128 the result is 0 (NaN if a is ±∞).
    Approx,
}

/// `div.{rnd,full,approx}{.ftz}.f32 d, a, b` = a / b.
pub fn div_f32(a: f32, b: f32, kind: DivKind, ftz: bool) -> f32 {
    let (a, b) = (input(a, ftz), input(b, ftz));
    let r = match kind {
        DivKind::Rounded(rounding) => div_rounded_f32(a, b, rounding),
        DivKind::Full => div_rounded_f32(a, b, Rounding::Nearest),
        DivKind::Approx => {
            let big = b.abs() > 2f32.powi(126) && b.is_finite();
            if big {
                if a.is_infinite() { f32::NAN } else if a.is_nan() { a } else { 0.0f32.copysign(a) * b.signum() }
            } else {
                let r = rcp_f32(b, ApproxOr::Approx, ftz);
                a * r
            }
        }
    };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `div.rn.f64` = a / b, correctly rounded (the directed modes of the f64 `div`, `rcp` and
/// `sqrt` are not implemented: the engine must report them as unimplemented).
pub fn div_rn_f64(a: f64, b: f64) -> f64 {
    canonical_f64(a / b)
}

/// Flavours of `rcp` and `sqrt`: IEEE-rounded or approximate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApproxOr {
    /// `.rn/.rz/.rm/.rp`: correctly rounded.
    Rounded(Rounding),
    /// `.approx`: within the ISA's documented error (we return the correctly rounded value
    /// except where the ISA defines special behaviour).
    Approx,
}

/// `rcp.{rnd,approx}{.ftz}.f32 d, a` = 1/a.
pub fn rcp_f32(a: f32, kind: ApproxOr, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = match kind {
        ApproxOr::Rounded(rounding) => div_rounded_f32(1.0, a, rounding),
        ApproxOr::Approx => div_rounded_f32(1.0, a, Rounding::Nearest),
    };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `rcp.rn.f64` = 1/a, correctly rounded.
pub fn rcp_rn_f64(a: f64) -> f64 {
    canonical_f64(1.0 / a)
}

/// `sqrt.{rnd,approx}{.ftz}.f32 d, a`.
pub fn sqrt_f32(a: f32, kind: ApproxOr, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = if a.is_nan() || a < 0.0 {
        f32::NAN
    } else if a == 0.0 || a.is_infinite() {
        a
    } else {
        let x = a as f64;
        let q = x.sqrt();
        match kind {
            // Double rounding through f64 is innocuous for sqrt (53 >= 2·24 + 2).
            ApproxOr::Approx | ApproxOr::Rounded(Rounding::Nearest) => q as f32,
            ApproxOr::Rounded(rounding) => {
                let residual = (-q).mul_add(q, x); // exact: x − q²
                pair_to_f32(q, residual, rounding)
            }
        }
    };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `sqrt.rn.f64`, correctly rounded.
pub fn sqrt_rn_f64(a: f64) -> f64 {
    canonical_f64(a.sqrt())
}

/// `rsqrt.approx{.ftz}.f32 d, a` = 1/√a, computed in f64 and rounded once (far inside the ISA's
/// approximation bound; the tests check a relative error ≤ 2^-22). √−0 gives −∞, negatives NaN.
pub fn rsqrt_approx_f32(a: f32, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = if a.is_nan() || a < 0.0 {
        f32::NAN
    } else if a == 0.0 {
        f32::INFINITY.copysign(a)
    } else {
        (1.0 / (a as f64).sqrt()) as f32
    };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `ex2.approx{.ftz}.f32 d, a` = 2^a, libm's f64 exp2 rounded once (the tests check a relative
/// error ≤ 2^-22); −∞ → +0, +∞ → +∞.
pub fn ex2_approx_f32(a: f32, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = if a.is_nan() { f32::NAN } else { (a as f64).exp2() as f32 };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `lg2.approx{.ftz}.f32 d, a` = log2(a), libm's f64 log2 rounded once (the tests check an error
/// ≤ 2^-22 relative to max(1, |log2 a|)); ±0 → −∞, negatives NaN.
pub fn lg2_approx_f32(a: f32, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = if a.is_nan() || a < 0.0 {
        f32::NAN
    } else if a == 0.0 {
        f32::NEG_INFINITY
    } else {
        (a as f64).log2() as f32
    };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `sin.approx{.ftz}.f32 d, a`, libm's f64 sin rounded once (the tests check an absolute error
/// ≤ 2^-20 over [−100π, 100π]); ±∞ → NaN.
pub fn sin_approx_f32(a: f32, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = if !a.is_finite() { f32::NAN } else { (a as f64).sin() as f32 };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `cos.approx{.ftz}.f32 d, a`, libm's f64 cos rounded once (absolute error ≤ 2^-20 tested over
/// [−100π, 100π]); ±∞ → NaN.
pub fn cos_approx_f32(a: f32, ftz: bool) -> f32 {
    let a = input(a, ftz);
    let r = if !a.is_finite() { f32::NAN } else { (a as f64).cos() as f32 };
    output(r, FloatMode { rounding: Rounding::Nearest, ftz, sat: false })
}

/// `tanh.approx.f32 d, a`, libm's f64 tanh rounded once (relative error ≤ 2^-11 tested; the
/// ISA's bound for this instruction is about that); subnormals kept.
pub fn tanh_approx_f32(a: f32) -> f32 {
    let r = if a.is_nan() { f32::NAN } else { (a as f64).tanh() as f32 };
    output(r, FloatMode::RN)
}

/// Modifiers of `min`/`max`: `.ftz` and `.NaN` (a NaN input makes the result the canonical NaN;
/// without it, one NaN input is ignored and two give NaN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MinMaxMode {
    pub ftz: bool,
    pub nan: bool,
}

/// `min{.ftz}{.NaN}.f32 d, a, b`. −0.0 is less than +0.0.
pub fn min_f32(a: f32, b: f32, mode: MinMaxMode) -> f32 {
    let (a, b) = (input(a, mode.ftz), input(b, mode.ftz));
    let r = min_max(a as f64, b as f64, mode.nan, true) as f32;
    if r.is_nan() { f32::from_bits(CANONICAL_NAN_F32) } else { r }
}

/// `max{.ftz}{.NaN}.f32 d, a, b`. +0.0 is greater than −0.0.
pub fn max_f32(a: f32, b: f32, mode: MinMaxMode) -> f32 {
    let (a, b) = (input(a, mode.ftz), input(b, mode.ftz));
    let r = min_max(a as f64, b as f64, mode.nan, false) as f32;
    if r.is_nan() { f32::from_bits(CANONICAL_NAN_F32) } else { r }
}

/// `min.f64 d, a, b`.
pub fn min_f64(a: f64, b: f64) -> f64 {
    canonical_f64(min_max(a, b, false, true))
}

/// `max.f64 d, a, b`.
pub fn max_f64(a: f64, b: f64) -> f64 {
    canonical_f64(min_max(a, b, false, false))
}

/// `abs{.ftz}.f32 d, a`: clears the sign bit (NaN stays NaN, payload kept).
pub fn abs_f32(a: f32, ftz: bool) -> f32 {
    input(a, ftz).abs()
}

/// `neg{.ftz}.f32 d, a`: flips the sign bit (NaN stays NaN, payload kept).
pub fn neg_f32(a: f32, ftz: bool) -> f32 {
    -input(a, ftz)
}

/// `copysign.f32 d, a, b`: **b's magnitude with a's sign** (the ISA: "copy sign bit of a into
/// value of b").
pub fn copysign_f32(a: f32, b: f32) -> f32 {
    b.copysign(a)
}

/// `copysign.f64 d, a, b`: b's magnitude with a's sign.
pub fn copysign_f64(a: f64, b: f64) -> f64 {
    b.copysign(a)
}

/// Comparison operators of `setp`/`set`/`selp`-style float comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatCmp {
    /// Ordered: false when either operand is NaN (`ne` included).
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Unordered: true when either operand is NaN.
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    /// Both operands are numbers.
    Num,
    /// Either operand is NaN.
    Nan,
}

/// `setp.cmp{.ftz}.f32`: the comparison's truth value (combine with [`super::setp_outputs`]).
pub fn compare_f32(cmp: FloatCmp, a: f32, b: f32, ftz: bool) -> bool {
    let (a, b) = (input(a, ftz), input(b, ftz));
    compare(cmp, a, b)
}

/// `setp.cmp.f64`.
pub fn compare_f64(cmp: FloatCmp, a: f64, b: f64) -> bool {
    compare(cmp, a, b)
}

/// `testp.op.f32/.f64` operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestpOp {
    Finite,
    Infinite,
    Number,
    NotANumber,
    Normal,
    Subnormal,
}

/// `testp.op.f32 p, a`.
pub fn testp_f32(op: TestpOp, a: f32) -> bool {
    match op {
        TestpOp::Finite => a.is_finite(),
        TestpOp::Infinite => a.is_infinite(),
        TestpOp::Number => !a.is_nan(),
        TestpOp::NotANumber => a.is_nan(),
        TestpOp::Normal => a.is_normal(),
        TestpOp::Subnormal => a.is_subnormal(),
    }
}

/// `testp.op.f64 p, a`.
pub fn testp_f64(op: TestpOp, a: f64) -> bool {
    match op {
        TestpOp::Finite => a.is_finite(),
        TestpOp::Infinite => a.is_infinite(),
        TestpOp::Number => !a.is_nan(),
        TestpOp::NotANumber => a.is_nan(),
        TestpOp::Normal => a.is_normal(),
        TestpOp::Subnormal => a.is_subnormal(),
    }
}

/// `add{.rn}{.ftz}{.sat}.f16` / `add.bf16` on one 16-bit lane (use twice for `.f16x2`, low half
/// and high half independently). Only `.rn` exists for these types.
pub fn add_half(ty: HalfType, a: u16, b: u16, mode: FloatMode) -> u16 {
    half_arith(ty, mode, a, b, 0, HalfArith::Add)
}

/// `sub{.rn}{.ftz}{.sat}.f16` / `.bf16` = a − b on one lane.
pub fn sub_half(ty: HalfType, a: u16, b: u16, mode: FloatMode) -> u16 {
    half_arith(ty, mode, a, b, 0, HalfArith::Sub)
}

/// `mul{.rn}{.ftz}{.sat}.f16` / `.bf16` on one lane.
pub fn mul_half(ty: HalfType, a: u16, b: u16, mode: FloatMode) -> u16 {
    half_arith(ty, mode, a, b, 0, HalfArith::Mul)
}

/// `fma.rn{.ftz}{.sat}.f16` / `.bf16` on one lane: a·b + c, one rounding.
pub fn fma_half(ty: HalfType, a: u16, b: u16, c: u16, mode: FloatMode) -> u16 {
    half_arith(ty, mode, a, b, c, HalfArith::Fma)
}

/// `min{.ftz}{.NaN}.f16` / `.bf16` on one lane (same NaN and signed-zero rules as [`min_f32`]).
pub fn min_half(ty: HalfType, a: u16, b: u16, mode: MinMaxMode) -> u16 {
    let (fa, fb) = (half_in(ty, a, mode.ftz), half_in(ty, b, mode.ftz));
    let r = min_max(fa, fb, mode.nan, true);
    half_pack_exact(ty, r)
}

/// `max{.ftz}{.NaN}.f16` / `.bf16` on one lane.
pub fn max_half(ty: HalfType, a: u16, b: u16, mode: MinMaxMode) -> u16 {
    let (fa, fb) = (half_in(ty, a, mode.ftz), half_in(ty, b, mode.ftz));
    let r = min_max(fa, fb, mode.nan, false);
    half_pack_exact(ty, r)
}

/// Applies a one-lane 16-bit operation to both halves of two packed `.f16x2`/`.bf16x2` registers
/// (low half with low half, high with high).
#[inline]
pub fn packed2(a: u32, b: u32, op: impl Fn(u16, u16) -> u16) -> u32 {
    let lo = op(a as u16, b as u16);
    let hi = op((a >> 16) as u16, (b >> 16) as u16);
    (lo as u32) | ((hi as u32) << 16)
}

// ---- shared helpers -------------------------------------------------------------------------

/// `.ftz` on an f32 input: a subnormal becomes zero of the same sign.
#[inline]
pub(crate) fn flush_f32(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

#[inline]
fn input(x: f32, ftz: bool) -> f32 {
    if ftz {
        flush_f32(x)
    } else {
        x
    }
}

/// Applies `.ftz` (to the rounded result), `.sat` and NaN canonicalisation.
#[inline]
fn output(r: f32, mode: FloatMode) -> f32 {
    let r = if mode.ftz { flush_f32(r) } else { r };
    if mode.sat {
        saturate_f32(r)
    } else if r.is_nan() {
        f32::from_bits(CANONICAL_NAN_F32)
    } else {
        r
    }
}

/// `.sat`: clamp to [0.0, 1.0]; NaN and −0.0 give +0.0.
#[inline]
pub(crate) fn saturate_f32(r: f32) -> f32 {
    if r.is_nan() || r <= 0.0 {
        0.0
    } else if r > 1.0 {
        1.0
    } else {
        r
    }
}

#[inline]
fn canonical_f64(r: f64) -> f64 {
    if r.is_nan() {
        f64::from_bits(CANONICAL_NAN_F64)
    } else {
        r
    }
}

/// a·b + c rounded once to nearest by the host's fused multiply-add, the same IEEE operation as
/// the error-free path of [`fma_f32`] and several times faster (fma is most of what our kernels
/// run); None on a host without one. The host runs with its default floating-point state (no
/// flush-to-zero), which `.ftz` handling around this call relies on.
#[inline]
fn host_fma_rn(a: f32, b: f32, c: f32) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the fma feature was detected at run time.
            return Some(unsafe { fma_x86(a, b, c) });
        }
        None
    }
    #[cfg(target_arch = "aarch64")]
    {
        Some(a.mul_add(b, c)) // fmadd, always present
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        None
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn fma_x86(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c) // vfmadd with the feature enabled
}

/// The exact value hi + lo (see [`rounding::round_pair`]) rounded to f32.
#[inline]
fn pair_to_f32(hi: f64, lo: f64, mode: Rounding) -> f32 {
    f32::from_bits(rounding::round_pair(hi, lo, rounding::F32, mode) as u32)
}

/// Whether rounding the f64 `hi` to nearest f32 also rounds `hi + lo` correctly: true unless lo
/// is non-zero and hi sits exactly on an f32 midpoint (low 29 fraction bits = 1000…0), or the
/// result is in f32's subnormal range, where the midpoints are elsewhere.
#[inline]
fn rn_of_hi_is_exact(hi: f64, lo: f64) -> bool {
    lo == 0.0 || (hi.abs() >= f32::MIN_POSITIVE as f64 && hi.to_bits() & 0x1fff_ffff != 0x1000_0000)
}

/// Sign of an exactly zero sum x + y (IEEE 754 §6.3): the common sign when both are zeros of the
/// same sign, otherwise +0, or −0 when rounding toward −∞.
#[inline]
fn exact_zero_sum(x_neg: bool, x_zero: bool, y_neg: bool, y_zero: bool, mode: Rounding) -> f64 {
    if x_zero && y_zero && x_neg == y_neg {
        if x_neg { -0.0 } else { 0.0 }
    } else if mode == Rounding::Down {
        -0.0
    } else {
        0.0
    }
}

#[inline]
fn add_sub_f32(a: f32, b: f32, mode: FloatMode) -> f32 {
    let (a, b) = (input(a, mode.ftz), input(b, mode.ftz));
    if mode.rounding == Rounding::Nearest {
        return output(a + b, mode); // the host's IEEE add rounds to nearest, once (−0 only from −0 + −0)
    }
    let (a64, b64) = (a as f64, b as f64);
    let r = if !a.is_finite() || !b.is_finite() {
        (a64 + b64) as f32
    } else {
        let (hi, lo) = two_sum(a64, b64);
        if hi == 0.0 {
            exact_zero_sum(a.is_sign_negative(), a == 0.0, b.is_sign_negative(), b == 0.0, mode.rounding) as f32
        } else {
            pair_to_f32(hi, lo, mode.rounding)
        }
    };
    output(r, mode)
}

/// ±max-finite or ±∞: where an overflowing f64 result goes in a directed mode.
#[inline]
fn overflow_f64(neg: bool, mode: Rounding) -> f64 {
    let to_infinity = match mode {
        Rounding::Nearest => true,
        Rounding::Zero => false,
        Rounding::Down => neg,
        Rounding::Up => !neg,
    };
    let magnitude = if to_infinity { f64::INFINITY } else { f64::MAX };
    if neg { -magnitude } else { magnitude }
}

/// Corrects the round-to-nearest result `r` of an operation whose exact value is r + e (e exact)
/// to the directed mode.
#[inline]
fn nudge_f64(r: f64, e: f64, mode: Rounding) -> f64 {
    if e == 0.0 {
        return r;
    }
    match mode {
        Rounding::Nearest => r,
        Rounding::Zero => {
            if (e < 0.0) != (r < 0.0) { r.next_toward_zero() } else { r }
        }
        Rounding::Down => {
            if e < 0.0 { r.next_down() } else { r }
        }
        Rounding::Up => {
            if e > 0.0 { r.next_up() } else { r }
        }
    }
}

trait NextTowardZero {
    fn next_toward_zero(self) -> Self;
}

impl NextTowardZero for f64 {
    #[inline]
    fn next_toward_zero(self) -> f64 {
        if self > 0.0 { self.next_down() } else { self.next_up() }
    }
}

#[inline]
fn add_sub_f64(a: f64, b: f64, mode: Rounding) -> f64 {
    let s = a + b;
    if !a.is_finite() || !b.is_finite() {
        return canonical_f64(s);
    }
    if s.is_infinite() {
        return overflow_f64(s < 0.0, mode);
    }
    let (s, e) = two_sum(a, b);
    if s == 0.0 {
        return exact_zero_sum(a.is_sign_negative(), a == 0.0, b.is_sign_negative(), b == 0.0, mode);
    }
    nudge_f64(s, e, mode)
}

/// IEEE division of two f32 in a mode, via the f64 quotient and its exact residual.
#[inline]
fn div_rounded_f32(a: f32, b: f32, mode: Rounding) -> f32 {
    let (x, y) = (a as f64, b as f64);
    let q = x / y;
    if q == 0.0 || !q.is_finite() || !x.is_finite() || !y.is_finite() {
        return q as f32; // exact zeros, infinities and NaN need no rounding
    }
    if mode == Rounding::Nearest {
        return q as f32; // double rounding is innocuous for division (53 >= 2·24 + 2)
    }
    let residual = (-q).mul_add(y, x); // exact: x − q·y
    pair_to_f32(q, residual / y, mode)
}

/// PTX min/max: one NaN operand is ignored, two give NaN (or any NaN gives NaN with `.NaN`);
/// −0.0 counts as less than +0.0.
#[inline]
fn min_max(a: f64, b: f64, nan_mode: bool, min: bool) -> f64 {
    if a.is_nan() || b.is_nan() {
        if nan_mode || (a.is_nan() && b.is_nan()) {
            return f64::NAN;
        }
        return if a.is_nan() { b } else { a };
    }
    let a_less = a < b || (a == b && a.is_sign_negative() && !b.is_sign_negative());
    if a_less == min { a } else { b }
}

#[inline]
fn compare(cmp: FloatCmp, a: impl Into<f64>, b: impl Into<f64>) -> bool {
    let (a, b): (f64, f64) = (a.into(), b.into());
    let unordered = a.is_nan() || b.is_nan();
    match cmp {
        FloatCmp::Eq => a == b,
        FloatCmp::Ne => !unordered && a != b,
        FloatCmp::Lt => a < b,
        FloatCmp::Le => a <= b,
        FloatCmp::Gt => a > b,
        FloatCmp::Ge => a >= b,
        FloatCmp::Equ => unordered || a == b,
        FloatCmp::Neu => a != b,
        FloatCmp::Ltu => unordered || a < b,
        FloatCmp::Leu => unordered || a <= b,
        FloatCmp::Gtu => unordered || a > b,
        FloatCmp::Geu => unordered || a >= b,
        FloatCmp::Num => !unordered,
        FloatCmp::Nan => unordered,
    }
}

#[derive(Clone, Copy)]
enum HalfArith {
    Add,
    Sub,
    Mul,
    Fma,
}

#[inline]
fn half_format(ty: HalfType) -> rounding::Format {
    match ty {
        HalfType::F16 => rounding::F16,
        HalfType::BF16 => rounding::BF16,
    }
}

/// A 16-bit encoding as f64 (exact), flushed when `.ftz` and subnormal.
#[inline]
fn half_in(ty: HalfType, h: u16, ftz: bool) -> f64 {
    let x = match ty {
        HalfType::F16 => super::convert::f16_to_f32(h),
        HalfType::BF16 => super::convert::bf16_to_f32(h),
    } as f64;
    let min_normal = match ty {
        HalfType::F16 => 2f64.powi(-14),
        HalfType::BF16 => 2f64.powi(-126),
    };
    if ftz && x != 0.0 && x.abs() < min_normal {
        0.0f64.copysign(x)
    } else {
        x
    }
}

/// Encodes a value that is exactly representable in the 16-bit format (or NaN → canonical).
#[inline]
fn half_pack_exact(ty: HalfType, x: f64) -> u16 {
    if x.is_nan() {
        return CANONICAL_NAN_16;
    }
    if x == 0.0 || x.is_infinite() {
        let fmt = half_format(ty);
        let sign = if x.is_sign_negative() { fmt.sign_bit() } else { 0 };
        return (sign | if x.is_infinite() { fmt.infinity() } else { 0 }) as u16;
    }
    rounding::round_pair(x, 0.0, half_format(ty), Rounding::Nearest) as u16
}

fn half_arith(ty: HalfType, mode: FloatMode, a: u16, b: u16, c: u16, op: HalfArith) -> u16 {
    let fmt = half_format(ty);
    let (x, y, z) = (half_in(ty, a, mode.ftz), half_in(ty, b, mode.ftz), half_in(ty, c, mode.ftz));
    // (left, right): the exact result is left + right; a product of two 16-bit floats is exact.
    let (left, right) = match op {
        HalfArith::Add => (x, y),
        HalfArith::Sub => (x, -y),
        HalfArith::Mul => (x * y, 0.0),
        HalfArith::Fma => (x * y, z),
    };
    let r = if !left.is_finite() || !right.is_finite() {
        left + right
    } else {
        let (hi, lo) = two_sum(left, right);
        if hi == 0.0 {
            if matches!(op, HalfArith::Mul) {
                left
            } else {
                exact_zero_sum(left.is_sign_negative(), left == 0.0, right.is_sign_negative(), right == 0.0, mode.rounding)
            }
        } else {
            let bits = rounding::round_pair(hi, lo, fmt, mode.rounding) as u16;
            half_in(ty, bits, false)
        }
    };
    let min_normal = match ty {
        HalfType::F16 => 2f64.powi(-14),
        HalfType::BF16 => 2f64.powi(-126),
    };
    let r = if mode.ftz && r != 0.0 && r.abs() < min_normal { 0.0f64.copysign(r) } else { r };
    let r = if mode.sat { saturate_f32(r as f32) as f64 } else { r };
    half_pack_exact(ty, r)
}
