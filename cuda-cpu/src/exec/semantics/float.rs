//! Floating-point arithmetic (PTX ISA 9.0 §9.7.3 "Floating-Point Instructions", §9.7.4 "Half
//! Precision Floating-Point Instructions", §9.7.5 comparison).
//!
//! Rounded operations are correctly rounded in every mode: the exact result is formed with
//! error-free transforms in f64 (an f32 product is exact in f64; sums keep their error term) and
//! rounded once to the destination format (see `round_exact`). `.ftz` flushes subnormal inputs and
//! subnormal results (after rounding) to zero of the same sign; `.sat` clamps to [0.0, 1.0] with
//! NaN → +0.0. A NaN result is the canonical NaN (f32 `0x7fffffff`, f64 `0x7fffffffffffffff`,
//! f16/bf16 `0x7fff`), the ISA's "NaN payloads are not preserved" choice for arithmetic.

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
    todo!("add_f32 {a} {b} {mode:?}")
}

/// `sub{.rnd}{.ftz}{.sat}.f32 d, a, b` = a − b.
pub fn sub_f32(a: f32, b: f32, mode: FloatMode) -> f32 {
    todo!("sub_f32 {a} {b} {mode:?}")
}

/// `mul{.rnd}{.ftz}{.sat}.f32 d, a, b`.
pub fn mul_f32(a: f32, b: f32, mode: FloatMode) -> f32 {
    todo!("mul_f32 {a} {b} {mode:?}")
}

/// `fma.rnd{.ftz}{.sat}.f32 d, a, b, c` (and `mad.rnd.f32`, the same instruction): a·b + c with a
/// single rounding.
pub fn fma_f32(a: f32, b: f32, c: f32, mode: FloatMode) -> f32 {
    todo!("fma_f32 {a} {b} {c} {mode:?}")
}

/// `add{.rnd}.f64`.
pub fn add_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    todo!("{a} {b} {rounding:?}")
}

/// `sub{.rnd}.f64`.
pub fn sub_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    todo!("{a} {b} {rounding:?}")
}

/// `mul{.rnd}.f64`.
pub fn mul_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    todo!("{a} {b} {rounding:?}")
}

/// `fma.rn.f64` (only `.rn`; the directed modes of `fma.f64` are not implemented: the engine must
/// report them as an unimplemented instruction).
pub fn fma_rn_f64(a: f64, b: f64, c: f64) -> f64 {
    todo!("{a} {b} {c}")
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
    todo!("{a} {b} {kind:?} {ftz}")
}

/// `div.rnd.f64` = a / b, correctly rounded.
pub fn div_f64(a: f64, b: f64, rounding: Rounding) -> f64 {
    todo!("{a} {b} {rounding:?}")
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
    todo!("{a} {kind:?} {ftz}")
}

/// `rcp.rnd.f64` = 1/a, correctly rounded.
pub fn rcp_f64(a: f64, rounding: Rounding) -> f64 {
    todo!("{a} {rounding:?}")
}

/// `sqrt.{rnd,approx}{.ftz}.f32 d, a`.
pub fn sqrt_f32(a: f32, kind: ApproxOr, ftz: bool) -> f32 {
    todo!("{a} {kind:?} {ftz}")
}

/// `sqrt.rnd.f64`, correctly rounded.
pub fn sqrt_f64(a: f64, rounding: Rounding) -> f64 {
    todo!("{a} {rounding:?}")
}

/// `rsqrt.approx{.ftz}.f32 d, a` = 1/√a (max relative error 2^-22.9 per the ISA).
pub fn rsqrt_approx_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `ex2.approx{.ftz}.f32 d, a` = 2^a (max relative error 2^-22 for the ISA's range).
pub fn ex2_approx_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `lg2.approx{.ftz}.f32 d, a` = log2(a) (max absolute error 2^-22 per the ISA).
pub fn lg2_approx_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `sin.approx{.ftz}.f32 d, a` (max absolute error 2^-20.5 in [-100π, 100π] per the ISA).
pub fn sin_approx_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `cos.approx{.ftz}.f32 d, a` (max absolute error 2^-20.5 in [-100π, 100π] per the ISA).
pub fn cos_approx_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `tanh.approx.f32 d, a` (max relative error 2^-10.987 per the ISA; subnormals supported).
pub fn tanh_approx_f32(a: f32) -> f32 {
    todo!("{a}")
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
    todo!("{a} {b} {mode:?}")
}

/// `max{.ftz}{.NaN}.f32 d, a, b`. +0.0 is greater than −0.0.
pub fn max_f32(a: f32, b: f32, mode: MinMaxMode) -> f32 {
    todo!("{a} {b} {mode:?}")
}

/// `min.f64 d, a, b`.
pub fn min_f64(a: f64, b: f64) -> f64 {
    todo!("{a} {b}")
}

/// `max.f64 d, a, b`.
pub fn max_f64(a: f64, b: f64) -> f64 {
    todo!("{a} {b}")
}

/// `abs{.ftz}.f32 d, a`: clears the sign bit (NaN stays NaN, payload kept).
pub fn abs_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `neg{.ftz}.f32 d, a`: flips the sign bit (NaN stays NaN, payload kept).
pub fn neg_f32(a: f32, ftz: bool) -> f32 {
    todo!("{a} {ftz}")
}

/// `copysign.f32 d, a, b`: **b's magnitude with a's sign** (the ISA: "copy sign bit of a into
/// value of b").
pub fn copysign_f32(a: f32, b: f32) -> f32 {
    todo!("{a} {b}")
}

/// `copysign.f64 d, a, b`: b's magnitude with a's sign.
pub fn copysign_f64(a: f64, b: f64) -> f64 {
    todo!("{a} {b}")
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
    todo!("{cmp:?} {a} {b} {ftz}")
}

/// `setp.cmp.f64`.
pub fn compare_f64(cmp: FloatCmp, a: f64, b: f64) -> bool {
    todo!("{cmp:?} {a} {b}")
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
    todo!("{op:?} {a}")
}

/// `testp.op.f64 p, a`.
pub fn testp_f64(op: TestpOp, a: f64) -> bool {
    todo!("{op:?} {a}")
}

/// `add{.rn}{.ftz}{.sat}.f16` / `add.bf16` on one 16-bit lane (use twice for `.f16x2`, low half
/// and high half independently). Only `.rn` exists for these types.
pub fn add_half(ty: HalfType, a: u16, b: u16, mode: FloatMode) -> u16 {
    todo!("{ty:?} {a} {b} {mode:?}")
}

/// `sub{.rn}{.ftz}{.sat}.f16` / `.bf16` = a − b on one lane.
pub fn sub_half(ty: HalfType, a: u16, b: u16, mode: FloatMode) -> u16 {
    todo!("{ty:?} {a} {b} {mode:?}")
}

/// `mul{.rn}{.ftz}{.sat}.f16` / `.bf16` on one lane.
pub fn mul_half(ty: HalfType, a: u16, b: u16, mode: FloatMode) -> u16 {
    todo!("{ty:?} {a} {b} {mode:?}")
}

/// `fma.rn{.ftz}{.sat}.f16` / `.bf16` on one lane: a·b + c, one rounding.
pub fn fma_half(ty: HalfType, a: u16, b: u16, c: u16, mode: FloatMode) -> u16 {
    todo!("{ty:?} {a} {b} {c} {mode:?}")
}

/// `min{.ftz}{.NaN}.f16` / `.bf16` on one lane (same NaN and signed-zero rules as [`min_f32`]).
pub fn min_half(ty: HalfType, a: u16, b: u16, mode: MinMaxMode) -> u16 {
    todo!("{ty:?} {a} {b} {mode:?}")
}

/// `max{.ftz}{.NaN}.f16` / `.bf16` on one lane.
pub fn max_half(ty: HalfType, a: u16, b: u16, mode: MinMaxMode) -> u16 {
    todo!("{ty:?} {a} {b} {mode:?}")
}

/// Applies a one-lane 16-bit operation to both halves of two packed `.f16x2`/`.bf16x2` registers
/// (low half with low half, high with high).
#[inline]
pub fn packed2(a: u32, b: u32, op: impl Fn(u16, u16) -> u16) -> u32 {
    let lo = op(a as u16, b as u16);
    let hi = op((a >> 16) as u16, (b >> 16) as u16);
    (lo as u32) | ((hi as u32) << 16)
}
