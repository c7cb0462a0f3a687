//! `cvt` (PTX ISA 9.0 §9.7.9.21): conversions between every integer and float type, incl. f16,
//! bf16 and the packed `.f16x2`/`.bf16x2` forms.
//!
//! Values travel as raw bits in a `u64`: an integer source is read from its low bits per its type
//! (sign- or zero-extended), a float source is its encoding (f16/bf16 in the low 16 bits). An
//! integer result is returned **sign-extended to 64 bits for signed destination types and
//! zero-extended for unsigned ones**; the engine keeps the register's width of it. A float result
//! is its encoding in the low bits.

use super::{FloatType, HalfType, IntType, Rounding};

/// A `cvt` operand type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CvtType {
    Int(IntType),
    Float(FloatType),
}

/// The rounding modifier of a `cvt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CvtRounding {
    /// No rounding modifier.
    None,
    /// `.rn/.rz/.rm/.rp`: float results (int→float, float→narrower float).
    Float(Rounding),
    /// `.rni/.rzi/.rmi/.rpi`: round to an integral value (float→int, float→same-size float).
    Integer(Rounding),
}

/// Modifiers of a `cvt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CvtModifiers {
    pub rounding: CvtRounding,
    /// `.ftz`: an f32 subnormal source or result becomes zero of the same sign.
    pub ftz: bool,
    /// `.sat`: integer destinations clamp to their range; float destinations clamp to [0.0, 1.0]
    /// with NaN → +0.0.
    pub sat: bool,
    /// `.relu` (f16/bf16 destinations): negative results become +0, NaN becomes canonical NaN.
    pub relu: bool,
}

impl CvtModifiers {
    /// No modifiers at all.
    pub const NONE: CvtModifiers =
        CvtModifiers { rounding: CvtRounding::None, ftz: false, sat: false, relu: false };
}

/// Checks that a `cvt` with these types and modifiers is one the ISA defines (rounding required
/// for float→int and for narrowing float conversions, forbidden for widening float and
/// int→int, ...). Call it once when decoding; [`cvt`] assumes a valid combination.
pub fn cvt_check(dst: CvtType, src: CvtType, mods: CvtModifiers) -> Result<(), &'static str> {
    todo!("{dst:?} {src:?} {mods:?}")
}

/// `cvt{.rnd}{.ftz}{.sat}{.relu}.dtype.stype d, a` on one lane. `a` holds the source's bits;
/// see the module doc for how the result is laid out.
///
/// Float → integer: rounded to an integral value in the mode, then clamped to the destination's
/// range (the ISA: saturation is the default for float→int); NaN gives 0.
pub fn cvt(dst: CvtType, src: CvtType, a: u64, mods: CvtModifiers) -> u64 {
    todo!("{dst:?} {src:?} {a} {mods:?}")
}

/// `cvt.rnd{.relu}{.satfinite}.f16x2.f32 d, a, b` / `.bf16x2.f32`: **a goes to the upper half,
/// b to the lower half** of `d` (ISA: "d = {cvt(a), cvt(b)}" with the first element in the upper
/// 16 bits).
pub fn cvt_pack_f32x2(ty: HalfType, a: f32, b: f32, rounding: Rounding, relu: bool) -> u32 {
    todo!("{ty:?} {a} {b} {rounding:?} {relu}")
}

/// f16 encoding → f32, exact (NaN → canonical f32 NaN).
pub fn f16_to_f32(h: u16) -> f32 {
    todo!("{h}")
}

/// bf16 encoding → f32, exact (NaN → canonical f32 NaN).
pub fn bf16_to_f32(h: u16) -> f32 {
    todo!("{h}")
}

/// f32 → f16 encoding, rounded in the mode (overflow → ±∞ or ±max finite as the mode says;
/// NaN → 0x7fff).
pub fn f32_to_f16(x: f32, rounding: Rounding) -> u16 {
    todo!("{x} {rounding:?}")
}

/// f32 → bf16 encoding, rounded in the mode (NaN → 0x7fff).
pub fn f32_to_bf16(x: f32, rounding: Rounding) -> u16 {
    todo!("{x} {rounding:?}")
}
