//! `cvt` (PTX ISA 9.0, "cvt"): conversions between every integer and float type, incl. f16,
//! bf16 and the packed `.f16x2`/`.bf16x2` forms.
//!
//! Values travel as raw bits in a `u64`: an integer source is read from its low bits per its type
//! (sign- or zero-extended), a float source is its encoding (f16/bf16 in the low 16 bits). An
//! integer result is returned **sign-extended to 64 bits for signed destination types and
//! zero-extended for unsigned ones**; the engine keeps the register's width of it. A float result
//! is its encoding in the low bits.

use super::float::{CANONICAL_NAN_16, CANONICAL_NAN_F32, CANONICAL_NAN_F64};
use super::rounding::{self, Format};
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
    use CvtRounding as R;
    match (dst, src) {
        (CvtType::Int(_), CvtType::Int(_)) => match mods.rounding {
            R::None if !mods.relu => Ok(()),
            R::None => Err("cvt: .relu needs an f16/bf16 destination"),
            _ => Err("cvt between integer types takes no rounding modifier"),
        },
        (CvtType::Float(d), CvtType::Int(s)) => match mods.rounding {
            _ if mods.relu => Err("cvt: .relu needs an f32 source"),
            R::Float(_) => Ok(()),
            R::None if s.bits() - s.is_signed() as u32 <= precision(d) => Ok(()),
            R::None => Err("cvt from an integer to a float type needs .rn/.rz/.rm/.rp"),
            R::Integer(_) => Err("cvt from an integer to a float type takes .rn/.rz/.rm/.rp, not an integer rounding"),
        },
        (CvtType::Int(_), CvtType::Float(_)) => match mods.rounding {
            _ if mods.relu => Err("cvt: .relu needs an f16/bf16 destination"),
            R::Integer(_) => Ok(()),
            _ => Err("cvt from a float to an integer type needs .rni/.rzi/.rmi/.rpi"),
        },
        (CvtType::Float(d), CvtType::Float(s)) => {
            let (dw, sw) = (width(d), width(s));
            if mods.relu && !(matches!(d, FloatType::F16 | FloatType::BF16) && s == FloatType::F32) {
                return Err("cvt: .relu is only defined for f32 → f16/bf16");
            }
            match mods.rounding {
                R::Float(_) if dw < sw || (d != s && dw == sw) => Ok(()),
                R::Float(_) => Err("cvt: .rn/.rz/.rm/.rp is only for narrowing float conversions"),
                R::None if dw > sw || d == s => Ok(()),
                R::None => Err("cvt: a narrowing float conversion needs .rn/.rz/.rm/.rp"),
                R::Integer(_) if dw >= sw => Ok(()),
                R::Integer(_) => Err("cvt: integer rounding is not defined for a narrowing float conversion"),
            }
        }
    }
}

/// `cvt{.rnd}{.ftz}{.sat}{.relu}.dtype.stype d, a` on one lane. `a` holds the source's bits;
/// see the module doc for how the result is laid out.
///
/// Float → integer: rounded to an integral value in the mode, then clamped to the destination's
/// range (the ISA: saturation is the default for float→int); NaN gives 0.
pub fn cvt(dst: CvtType, src: CvtType, a: u64, mods: CvtModifiers) -> u64 {
    match (dst, src) {
        (CvtType::Int(d), CvtType::Int(s)) => {
            let mut v = s.value(a);
            if mods.sat {
                v = v.clamp(d.min_value(), d.max_value());
            }
            int_bits(d, v)
        }
        (CvtType::Float(d), CvtType::Int(s)) => {
            let v = s.value(a);
            let rounding = match mods.rounding {
                CvtRounding::Float(r) => r,
                _ => Rounding::Nearest, // only exact conversions come here without one
            };
            let bits = match (d, rounding, i64::try_from(v)) {
                // The host's int → float conversion rounds to nearest even: the common index math.
                (FloatType::F32, Rounding::Nearest, Ok(v)) => (v as f32).to_bits() as u64,
                (FloatType::F64, Rounding::Nearest, Ok(v)) => (v as f64).to_bits(),
                _ => rounding::round_to_format(v < 0, v.unsigned_abs() as u64, 0, format(d), rounding),
            };
            if mods.sat { saturate_bits(d, bits) } else { bits }
        }
        (CvtType::Int(d), CvtType::Float(s)) => {
            let x = float_in(s, a, mods.ftz);
            let rounding = match mods.rounding {
                CvtRounding::Integer(r) => r,
                _ => Rounding::Zero,
            };
            let r = round_integral(x, rounding);
            // Float → int saturates by default and NaN gives 0 (Rust's `as` does exactly that).
            let v: i128 = match d {
                IntType::U64 => r as u64 as i128,
                IntType::S64 => r as i64 as i128,
                _ => (r as i64 as i128).clamp(d.min_value(), d.max_value()),
            };
            int_bits(d, v)
        }
        (CvtType::Float(d), CvtType::Float(s)) => {
            let x = float_in(s, a, mods.ftz && s == FloatType::F32);
            let x = match mods.rounding {
                CvtRounding::Integer(r) => round_integral(x, r),
                _ => x,
            };
            let x = if mods.relu && !x.is_nan() && x < 0.0 { 0.0 } else { x };
            let x = if mods.sat { saturate(x) } else { x };
            let rounding = match mods.rounding {
                CvtRounding::Float(r) => r,
                _ => Rounding::Nearest, // exact: widening or same size
            };
            let bits = encode_f64(x, format(d), rounding);
            let flush = mods.ftz && d == FloatType::F32 && f32::from_bits(bits as u32).is_subnormal();
            let bits = if flush { bits & 0x8000_0000 } else { bits };
            // A value that rounds above 1.0 (only possible before rounding) stays saturated.
            if mods.sat { saturate_bits(d, bits) } else { bits }
        }
    }
}

/// `cvt.rnd{.relu}{.satfinite}.f16x2.f32 d, a, b` / `.bf16x2.f32`: **a goes to the upper half,
/// b to the lower half** of `d` (ISA: "d = {cvt(a), cvt(b)}" with the first element in the upper
/// 16 bits).
pub fn cvt_pack_f32x2(ty: HalfType, a: f32, b: f32, rounding: Rounding, relu: bool) -> u32 {
    let mods = CvtModifiers { rounding: CvtRounding::Float(rounding), ftz: false, sat: false, relu };
    let dst = CvtType::Float(match ty {
        HalfType::F16 => FloatType::F16,
        HalfType::BF16 => FloatType::BF16,
    });
    let src = CvtType::Float(FloatType::F32);
    let hi = cvt(dst, src, a.to_bits() as u64, mods) as u32;
    let lo = cvt(dst, src, b.to_bits() as u64, mods) as u32;
    (hi << 16) | (lo & 0xffff)
}

/// f16 encoding → f32, exact (NaN → canonical f32 NaN).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let field = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    match field {
        0 => {
            let magnitude = frac as f32 * (1.0 / 16_777_216.0); // frac · 2^-24, exact
            f32::from_bits(magnitude.to_bits() | sign)
        }
        31 if frac != 0 => f32::from_bits(CANONICAL_NAN_F32),
        31 => f32::from_bits(sign | 0x7f80_0000),
        _ => f32::from_bits(sign | ((field + 112) << 23) | (frac << 13)),
    }
}

/// bf16 encoding → f32, exact (NaN → canonical f32 NaN).
pub fn bf16_to_f32(h: u16) -> f32 {
    let x = f32::from_bits((h as u32) << 16);
    if x.is_nan() {
        f32::from_bits(CANONICAL_NAN_F32)
    } else {
        x
    }
}

/// f32 → f16 encoding, rounded in the mode (overflow → ±∞ or ±max finite as the mode says;
/// NaN → 0x7fff).
pub fn f32_to_f16(x: f32, rounding: Rounding) -> u16 {
    if rounding == Rounding::Nearest {
        return f32_to_f16_nearest(x);
    }
    encode_f64(x as f64, rounding::F16, rounding) as u16
}

/// f32 → bf16 encoding, rounded in the mode (NaN → 0x7fff).
pub fn f32_to_bf16(x: f32, rounding: Rounding) -> u16 {
    if rounding == Rounding::Nearest {
        let bits = x.to_bits();
        if x.is_nan() {
            return CANONICAL_NAN_16;
        }
        // Round to nearest even at bit 16; a carry moves into the exponent (up to ∞) by itself.
        return ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16;
    }
    encode_f64(x as f64, rounding::BF16, rounding) as u16
}

/// f32 → f16 to nearest even, on the bits (the hot path of `cvt.rn.f16.f32`).
#[inline]
fn f32_to_f16_nearest(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let a = bits & 0x7fff_ffff;
    if a > 0x7f80_0000 {
        return CANONICAL_NAN_16;
    }
    if a >= 0x4780_0000 {
        return sign | 0x7c00; // |x| ≥ 2^16 (or ∞): beyond every f16
    }
    if a >= 0x3880_0000 {
        // f16-normal range: rebias the exponent (127 → 15) and round at bit 13; a carry out of
        // the fraction moves into the exponent, up to ∞ for [65520, 65536).
        let v = a - (112 << 23);
        return sign | ((v + 0x0fff + ((v >> 13) & 1)) >> 13) as u16;
    }
    if a <= 0x3300_0000 {
        return sign; // |x| ≤ 2^-25: rounds to zero (2^-25 itself is a tie to even 0)
    }
    // f16 subnormal: the value in units of 2^-24 is mant·2^(e − 126), e = the f32 exponent field.
    let e = a >> 23;
    let mant = (a & 0x7f_ffff) | 0x80_0000;
    let shift = 126 - e; // 14..=24
    let q = mant >> shift;
    let rem = mant & ((1 << shift) - 1);
    let half = 1 << (shift - 1);
    let up = rem > half || (rem == half && q & 1 == 1);
    sign | (q + up as u32) as u16
}

// ---- helpers --------------------------------------------------------------------------------

#[inline]
fn format(t: FloatType) -> Format {
    match t {
        FloatType::F16 => rounding::F16,
        FloatType::BF16 => rounding::BF16,
        FloatType::F32 => rounding::F32,
        FloatType::F64 => rounding::F64,
    }
}

/// Significand precision in bits.
#[inline]
fn precision(t: FloatType) -> u32 {
    format(t).frac_bits + 1
}

#[inline]
fn width(t: FloatType) -> u32 {
    match t {
        FloatType::F16 | FloatType::BF16 => 16,
        FloatType::F32 => 32,
        FloatType::F64 => 64,
    }
}

/// An integer value as the destination type's bits: truncated to its width, then sign-extended
/// (signed types) or zero-extended into the u64.
#[inline]
fn int_bits(t: IntType, v: i128) -> u64 {
    t.value(v as u64) as u64
}

/// A float source's bits as f64 (every source format is a subset of f64, so this is exact);
/// `ftz` flushes an f32 subnormal to zero of the same sign.
#[inline]
fn float_in(t: FloatType, a: u64, ftz: bool) -> f64 {
    match t {
        FloatType::F16 => f16_to_f32(a as u16) as f64,
        FloatType::BF16 => bf16_to_f32(a as u16) as f64,
        FloatType::F32 => {
            let x = f32::from_bits(a as u32);
            let x = if ftz { super::float::flush_f32(x) } else { x };
            x as f64
        }
        FloatType::F64 => f64::from_bits(a),
    }
}

/// `.rni/.rzi/.rmi/.rpi`: the integral value in the direction (NaN, ±∞ and ±0 unchanged; the
/// sign of a zero result follows the input, e.g. −0.3 → −0.0).
#[inline]
fn round_integral(x: f64, r: Rounding) -> f64 {
    match r {
        Rounding::Nearest => x.round_ties_even(),
        Rounding::Zero => x.trunc(),
        Rounding::Down => x.floor(),
        Rounding::Up => x.ceil(),
    }
}

/// `.sat` on a float value: [0.0, 1.0], NaN → +0.0.
#[inline]
fn saturate(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        0.0
    } else if x > 1.0 {
        1.0
    } else {
        x
    }
}

/// `.sat` after rounding: a result that rounded to a value above 1.0 is 1.0.
#[inline]
fn saturate_bits(t: FloatType, bits: u64) -> u64 {
    let x = float_in(t, bits, false);
    let s = saturate(x);
    if s == x && !x.is_sign_negative() {
        bits
    } else {
        encode_f64(s, format(t), Rounding::Nearest)
    }
}

/// An f64 value rounded to `fmt` (NaN → the format's canonical NaN).
#[inline]
fn encode_f64(x: f64, fmt: Format, mode: Rounding) -> u64 {
    if x.is_nan() {
        return match fmt.frac_bits {
            52 => CANONICAL_NAN_F64,
            23 => CANONICAL_NAN_F32 as u64,
            _ => CANONICAL_NAN_16 as u64,
        };
    }
    let sign = if x.is_sign_negative() { fmt.sign_bit() } else { 0 };
    if x == 0.0 {
        return sign;
    }
    if x.is_infinite() {
        return sign | fmt.infinity();
    }
    if mode == Rounding::Nearest && fmt.frac_bits == rounding::F32.frac_bits && fmt.exp_bits == rounding::F32.exp_bits {
        return (x as f32).to_bits() as u64; // the host's f64 → f32 rounds to nearest even, subnormals and overflow included
    }
    if fmt.frac_bits == rounding::F64.frac_bits {
        return x.to_bits(); // an f64 is already one
    }
    rounding::round_pair(x, 0.0, fmt, mode)
}
