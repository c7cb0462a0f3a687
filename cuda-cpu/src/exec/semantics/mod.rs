//! Pure, lane-level instruction semantics written from the PTX ISA 9.0 text.
//!
//! Every function here takes plain values (bits as `u32`/`u64`, `f32`/`f64`, fixed-size arrays for
//! warp-wide instructions, and the small enums below for modifiers) and returns plain values: no
//! engine types, no allocation, so the engine can call them per lane per instruction.
//!
//! One file per family: [`float`] (f32/f64/f16/bf16 arithmetic, approximate functions, min/max,
//! comparisons), [`convert`] (`cvt`), [`integer`] (integer arithmetic and bit operations),
//! [`warp`] (`shfl`, `vote`, `match`, `redux`), [`mma`] (`mma.sync` m16n8k16/m16n8k8) and
//! [`ldmatrix`]; `rounding` is the one routine that rounds an exact value into a format.
//!
//! Where the ISA leaves a result undefined, machine-specific or unstated, we chose:
//! - A NaN result of arithmetic or of a narrowing/widening `cvt` is the canonical NaN (f32
//!   `0x7fffffff`, f64 `0x7fffffffffffffff`, f16/bf16 `0x7fff`); `abs`/`neg` only touch the sign
//!   bit, so they keep a NaN's payload.
//! - `.ftz` flushes a subnormal *result* after rounding (tininess after rounding); the sign is kept.
//! - `.sat` gives +0.0 for NaN and for −0.0.
//! - The `.approx` functions, `div.full` and `rcp.approx` return the correctly rounded value (or the
//!   f64 libm value rounded once), which is inside every bound the ISA documents; `div.approx` is
//!   a·(1/b) with the ISA's rule for 2^126 < |b| < 2^128.
//! - `min`/`max` order −0.0 below +0.0.
//! - Integer `div` by zero gives all ones, `rem` by zero gives the dividend; `MIN / -1` wraps to
//!   `MIN` and `MIN % -1` is 0.
//! - A `shfl.sync` lane that reads an inactive or non-member lane gets that lane's register value
//!   and is reported in `ShflResult::undefined`; the engine fails the launch with `UndefinedResult`.
//! - The directed rounding modes of f64 `fma`, `div`, `rcp` and `sqrt` are not implemented (only
//!   `.rn` has a function): an instruction that needs one must be reported as unimplemented.
//! - `mma` accumulates in f32, C first and then k in ascending order (see [`mma`]).

pub mod convert;
pub mod float;
pub mod integer;
pub mod ldmatrix;
pub mod mma;
pub mod warp;

mod rounding;

/// IEEE rounding of a floating-point result: `.rn` (nearest, ties to even), `.rz` (toward zero),
/// `.rm` (toward −∞), `.rp` (toward +∞). For `cvt` to an integer or integral value the same four
/// directions are spelt `.rni/.rzi/.rmi/.rpi` (see [`convert::CvtRounding`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// `.rn`: to nearest, ties to even.
    Nearest,
    /// `.rz`: toward zero.
    Zero,
    /// `.rm`: toward minus infinity.
    Down,
    /// `.rp`: toward plus infinity.
    Up,
}

/// Integer types as PTX spells them (`.b` types are the unsigned ones for arithmetic purposes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntType {
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
}

impl IntType {
    /// Width in bits.
    #[inline]
    pub const fn bits(self) -> u32 {
        match self {
            IntType::U8 | IntType::S8 => 8,
            IntType::U16 | IntType::S16 => 16,
            IntType::U32 | IntType::S32 => 32,
            IntType::U64 | IntType::S64 => 64,
        }
    }

    /// Whether the type is signed (two's complement).
    #[inline]
    pub const fn is_signed(self) -> bool {
        matches!(self, IntType::S8 | IntType::S16 | IntType::S32 | IntType::S64)
    }

    /// Mask of the type's bits within a `u64`.
    #[inline]
    pub const fn mask(self) -> u64 {
        if self.bits() == 64 {
            u64::MAX
        } else {
            (1u64 << self.bits()) - 1
        }
    }

    /// The low `bits()` of `raw` read as this type, widened to `i128` (sign- or zero-extended).
    #[inline]
    pub const fn value(self, raw: u64) -> i128 {
        let shift = 64 - self.bits();
        if self.is_signed() {
            (((raw << shift) as i64) >> shift) as i128
        } else {
            ((raw << shift) >> shift) as i128
        }
    }

    /// Smallest value of the type.
    #[inline]
    pub const fn min_value(self) -> i128 {
        if self.is_signed() {
            -(1i128 << (self.bits() - 1))
        } else {
            0
        }
    }

    /// Largest value of the type.
    #[inline]
    pub const fn max_value(self) -> i128 {
        if self.is_signed() {
            (1i128 << (self.bits() - 1)) - 1
        } else {
            (1i128 << self.bits()) - 1
        }
    }
}

/// Floating-point types. `F16` is IEEE binary16, `BF16` is bfloat16 (8-bit exponent, 7-bit
/// fraction); both are passed around as their 16-bit encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatType {
    F16,
    BF16,
    F32,
    F64,
}

/// The two 16-bit float formats, for the instructions that only exist for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HalfType {
    F16,
    BF16,
}

/// Boolean combination of `setp`/`set` with a third predicate: `setp.CmpOp.BoolOp p|q, a, b, {!}c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoolOp {
    And,
    Or,
    Xor,
}

/// The two destination predicates of `setp`: `p = cmp BoolOp c`, `q = !cmp BoolOp c` (ISA 9.3.x
/// "setp"). With no BoolOp, `p = cmp` and `q = !cmp`. `c` is the (possibly negated) third operand.
#[inline]
pub fn setp_outputs(cmp: bool, op: Option<BoolOp>, c: bool) -> (bool, bool) {
    match op {
        None => (cmp, !cmp),
        Some(BoolOp::And) => (cmp && c, !cmp && c),
        Some(BoolOp::Or) => (cmp || c, !cmp || c),
        Some(BoolOp::Xor) => (cmp ^ c, !cmp ^ c),
    }
}
