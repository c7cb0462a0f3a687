//! Correct rounding of an exactly known value into a binary floating-point format: the one place
//! where every rounded float result (arithmetic, `cvt`, mma's f16 outputs) gets its bits.

use super::Rounding;

/// A binary interchange format: exponent and fraction widths.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format {
    pub exp_bits: u32,
    pub frac_bits: u32,
}

pub(crate) const F16: Format = Format { exp_bits: 5, frac_bits: 10 };
pub(crate) const BF16: Format = Format { exp_bits: 8, frac_bits: 7 };
pub(crate) const F32: Format = Format { exp_bits: 8, frac_bits: 23 };
pub(crate) const F64: Format = Format { exp_bits: 11, frac_bits: 52 };

impl Format {
    /// Encoding of +∞.
    #[inline]
    pub const fn infinity(self) -> u64 {
        ((1u64 << self.exp_bits) - 1) << self.frac_bits
    }

    /// The sign bit.
    #[inline]
    pub const fn sign_bit(self) -> u64 {
        1u64 << (self.exp_bits + self.frac_bits)
    }
}

/// Rounds ±`mant`·2^`exp` (exact) to `fmt` in `mode` and returns its encoding: subnormals
/// gradual, overflow to ±∞ or ±max-finite as the mode requires, zero keeps the sign `neg`.
#[inline]
pub(crate) fn round_to_format(neg: bool, mant: u64, exp: i32, fmt: Format, mode: Rounding) -> u64 {
    let sign = if neg { fmt.sign_bit() } else { 0 };
    if mant == 0 {
        return sign;
    }
    let precision = fmt.frac_bits as i32 + 1;
    let bias = (1i32 << (fmt.exp_bits - 1)) - 1;
    let emin = 1 - bias;
    let leading = 63 - mant.leading_zeros() as i32 + exp; // exponent of the leading bit
    let ulp_exp = leading.max(emin) - (precision - 1);
    let shift = ulp_exp - exp;
    let (mut q, above_half, at_half, inexact) = if shift <= 0 {
        (mant << (-shift) as u32, false, false, false) // exact; fits, having ≤ precision bits
    } else if shift > 64 {
        (0u64, false, false, true)
    } else {
        let rem = if shift == 64 { mant } else { mant & ((1u64 << shift) - 1) };
        let half = 1u64 << (shift - 1);
        let q = if shift == 64 { 0 } else { mant >> shift };
        (q, rem > half, rem == half, rem != 0)
    };
    let round_up = match mode {
        Rounding::Nearest => above_half || (at_half && q & 1 == 1),
        Rounding::Zero => false,
        Rounding::Down => neg && inexact,
        Rounding::Up => !neg && inexact,
    };
    q += round_up as u64;
    let magnitude = if leading < emin {
        q // subnormal (rounding up to 2^frac_bits lands on the smallest normal)
    } else {
        (((leading - emin) as u64) << fmt.frac_bits) + q
    };
    if magnitude >= fmt.infinity() {
        let to_infinity = match mode {
            Rounding::Nearest => true,
            Rounding::Zero => false,
            Rounding::Down => neg,
            Rounding::Up => !neg,
        };
        return sign | if to_infinity { fmt.infinity() } else { fmt.infinity() - 1 };
    }
    sign | magnitude
}

/// A finite, non-zero f64 as (negative, integer mantissa, exponent).
#[inline]
pub(crate) fn decompose_f64(x: f64) -> (bool, u64, i32) {
    let bits = x.to_bits();
    let neg = bits >> 63 != 0;
    let field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if field == 0 {
        (neg, frac, -1074)
    } else {
        (neg, frac | (1u64 << 52), field - 1075)
    }
}

/// Rounds the exact value `hi + lo` to `fmt`, where `hi` is a finite non-zero f64 and `lo` is an
/// error term with |lo| ≤ ulp(hi)/2 of which only the sign matters (it may be inexact itself).
/// The sign of lo nudges hi's mantissa by a quarter ulp, which lies on the same side of every
/// rounding boundary of a format narrower than f64 as the exact value.
#[inline]
pub(crate) fn round_pair(hi: f64, lo: f64, fmt: Format, mode: Rounding) -> u64 {
    let (neg, mant, exp) = decompose_f64(hi);
    let mut m = mant << 2; // 55 bits
    if lo != 0.0 {
        if (lo < 0.0) == neg {
            m += 1;
        } else {
            m -= 1;
        }
    }
    round_to_format(neg, m, exp - 2, fmt, mode)
}

/// Error-free sum: `s + e == a + b` exactly, `s = fl(a + b)` (Knuth's TwoSum; finite inputs).
#[inline]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}
