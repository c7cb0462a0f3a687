//! Integer arithmetic and bit operations (PTX ISA 9.0 §9.7.1 "Integer Arithmetic Instructions",
//! §9.7.2 extended precision, §9.7.8 "Logic and Shift Instructions").
//!
//! Operands are raw bits in a `u64`; each function reads the low bits its [`IntType`] names
//! (sign-extending signed types). Results are the type's bits, zero-extended into the `u64`
//! (a `.wide` result is twice the type's width).

use super::IntType;

/// `add.type` (wrapping).
pub fn add(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `sub.type` (wrapping).
pub fn sub(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `add.sat.s32`: clamps to [i32::MIN, i32::MAX].
pub fn add_sat_s32(a: u32, b: u32) -> u32 {
    todo!("{a} {b}")
}

/// `sub.sat.s32`: clamps to [i32::MIN, i32::MAX].
pub fn sub_sat_s32(a: u32, b: u32) -> u32 {
    todo!("{a} {b}")
}

/// `mul.lo.type`: the low half of the double-width product.
pub fn mul_lo(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `mul.hi.type`: the high half of the double-width product.
pub fn mul_hi(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `mul.wide.type` (16- and 32-bit types): the whole double-width product.
pub fn mul_wide(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `mad.lo.type d, a, b, c` = low half of a·b, plus c (wrapping).
pub fn mad_lo(ty: IntType, a: u64, b: u64, c: u64) -> u64 {
    todo!("{ty:?} {a} {b} {c}")
}

/// `mad.hi.type d, a, b, c` = high half of a·b, plus c (wrapping).
pub fn mad_hi(ty: IntType, a: u64, b: u64, c: u64) -> u64 {
    todo!("{ty:?} {a} {b} {c}")
}

/// `mad.hi.sat.s32`: high half of a·b plus c, clamped to the s32 range.
pub fn mad_hi_sat_s32(a: u32, b: u32, c: u32) -> u32 {
    todo!("{a} {b} {c}")
}

/// `mad.wide.type d, a, b, c` (16/32-bit types): the double-width a·b plus the double-width c.
pub fn mad_wide(ty: IntType, a: u64, b: u64, c: u64) -> u64 {
    todo!("{ty:?} {a} {b} {c}")
}

/// `mul24.{lo,hi}.{u32,s32}`: product of the low 24 bits (sign-extended for s32) of a and b;
/// `hi` gives bits 16..47 of the 48-bit product, `lo` its low 32 bits.
pub fn mul24(signed: bool, hi: bool, a: u32, b: u32) -> u32 {
    todo!("{signed} {hi} {a} {b}")
}

/// `mad24.{lo,hi}.{u32,s32} d, a, b, c` = mul24(a, b) + c (wrapping).
pub fn mad24(signed: bool, hi: bool, a: u32, b: u32, c: u32) -> u32 {
    todo!("{signed} {hi} {a} {b} {c}")
}

/// `div.type` (truncating). The ISA says division by zero gives an unspecified, machine-specific
/// value: we return all ones (as the hardware's unsigned divide does). `MIN / -1` wraps to `MIN`.
pub fn div(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `rem.type` (sign of the dividend, as C's `%`). Remainder by zero: we return `a` (unspecified
/// in the ISA). `MIN % -1` is 0.
pub fn rem(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `min.type`.
pub fn min(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `max.type`.
pub fn max(ty: IntType, a: u64, b: u64) -> u64 {
    todo!("{ty:?} {a} {b}")
}

/// `abs.type` (signed types; `abs(MIN)` wraps to MIN).
pub fn abs(ty: IntType, a: u64) -> u64 {
    todo!("{ty:?} {a}")
}

/// `neg.type` (wrapping).
pub fn neg(ty: IntType, a: u64) -> u64 {
    todo!("{ty:?} {a}")
}

/// `bfe.type d, a, b, c` (u32/u64/s32/s64): extract `len = c & 0xff` bits of a starting at bit
/// `pos = b & 0xff`; signed types replicate the field's top bit (or a's msb when the field runs
/// past it); len = 0 gives 0.
pub fn bfe(ty: IntType, a: u64, pos: u32, len: u32) -> u64 {
    todo!("{ty:?} {a} {pos} {len}")
}

/// `bfi.b32/.b64 f, a, b, c, d`: b with `len = d & 0xff` low bits of a inserted at bit
/// `pos = c & 0xff` (bits past the register's msb are dropped). `bits` is 32 or 64.
pub fn bfi(bits: u32, a: u64, b: u64, pos: u32, len: u32) -> u64 {
    todo!("{bits} {a} {b} {pos} {len}")
}

/// `bfind{.shiftamt}.type d, a` (u32/u64/s32/s64): bit position of the most significant bit
/// that is 1 (unsigned) or that differs from the sign bit (signed); with `.shiftamt`, the left
/// shift that moves it to the msb. No such bit: 0xffffffff.
pub fn bfind(ty: IntType, a: u64, shiftamt: bool) -> u32 {
    todo!("{ty:?} {a} {shiftamt}")
}

/// `brev.b32`.
pub fn brev32(a: u32) -> u32 {
    a.reverse_bits()
}

/// `brev.b64`.
pub fn brev64(a: u64) -> u64 {
    a.reverse_bits()
}

/// `popc.b32` (result is u32).
pub fn popc32(a: u32) -> u32 {
    a.count_ones()
}

/// `popc.b64` (result is u32).
pub fn popc64(a: u64) -> u32 {
    a.count_ones()
}

/// `clz.b32` (result is u32; 32 for 0).
pub fn clz32(a: u32) -> u32 {
    a.leading_zeros()
}

/// `clz.b64` (result is u32; 64 for 0).
pub fn clz64(a: u64) -> u32 {
    a.leading_zeros()
}

/// `prmt.b32{.mode}` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrmtMode {
    /// No mode: four 4-bit selectors in c (bit 3 of each replicates the chosen byte's sign).
    Generic,
    F4e,
    B4e,
    Rc8,
    Ecl,
    Ecr,
    Rc16,
}

/// `prmt.b32{.mode} d, a, b, c`: picks bytes from the 8-byte value {b, a} (a is bytes 0..3,
/// b bytes 4..7) by the selector c.
pub fn prmt(mode: PrmtMode, a: u32, b: u32, c: u32) -> u32 {
    todo!("{mode:?} {a} {b} {c}")
}

/// `shl.b16/b32/b64 d, a, b`: shift amounts above the width are clamped to the width (result 0).
/// `bits` is 16, 32 or 64.
pub fn shl(bits: u32, a: u64, amount: u32) -> u64 {
    todo!("{bits} {a} {amount}")
}

/// `shr.type d, a, b`: logical for unsigned/bit types, arithmetic for signed; amounts above the
/// width are clamped to the width (0, or all sign bits).
pub fn shr(ty: IntType, a: u64, amount: u32) -> u64 {
    todo!("{ty:?} {a} {amount}")
}

/// `shf.{l,r}.{clamp,wrap}.b32 d, a, b, c`: funnel shift of the 64-bit {b:a} (b the high word) by
/// c (clamped to 32, or taken mod 32 with `.wrap`); `.l` returns the high word, `.r` the low word.
pub fn shf(left: bool, clamp: bool, a: u32, b: u32, c: u32) -> u32 {
    todo!("{left} {clamp} {a} {b} {c}")
}

/// `lop3.b32 d, a, b, c, immLut`: bitwise function given by its truth table.
pub fn lop3(a: u32, b: u32, c: u32, lut: u8) -> u32 {
    todo!("{a} {b} {c} {lut}")
}

/// Integer comparison operators of `setp`/`set`: `lo/ls/hi/hs` are the unsigned spellings of
/// `lt/le/gt/ge` (and mean the same for unsigned types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntCmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Lo,
    Ls,
    Hi,
    Hs,
}

/// `setp.cmp.type` on integers: the comparison's truth value.
pub fn compare_int(cmp: IntCmp, ty: IntType, a: u64, b: u64) -> bool {
    todo!("{cmp:?} {ty:?} {a} {b}")
}
