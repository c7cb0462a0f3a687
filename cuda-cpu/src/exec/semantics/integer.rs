//! Integer arithmetic and bit operations (PTX ISA 9.0, "Integer Arithmetic Instructions" and
//! "Logic and Shift Instructions").
//!
//! Operands are raw bits in a `u64`; each function reads the low bits its [`IntType`] names
//! (sign-extending signed types). Results are the type's bits, zero-extended into the `u64`
//! (a `.wide` result is twice the type's width).

use super::IntType;

/// `add.type` (wrapping).
pub fn add(ty: IntType, a: u64, b: u64) -> u64 {
    a.wrapping_add(b) & ty.mask()
}

/// `sub.type` (wrapping).
pub fn sub(ty: IntType, a: u64, b: u64) -> u64 {
    a.wrapping_sub(b) & ty.mask()
}

/// `add.sat.s32`: clamps to [i32::MIN, i32::MAX].
pub fn add_sat_s32(a: u32, b: u32) -> u32 {
    (a as i32).saturating_add(b as i32) as u32
}

/// `sub.sat.s32`: clamps to [i32::MIN, i32::MAX].
pub fn sub_sat_s32(a: u32, b: u32) -> u32 {
    (a as i32).saturating_sub(b as i32) as u32
}

/// `mul.lo.type`: the low half of the double-width product.
pub fn mul_lo(ty: IntType, a: u64, b: u64) -> u64 {
    a.wrapping_mul(b) & ty.mask()
}

/// `mul.hi.type`: the high half of the double-width product.
pub fn mul_hi(ty: IntType, a: u64, b: u64) -> u64 {
    if ty == IntType::U64 {
        return ((a as u128 * b as u128) >> 64) as u64;
    }
    let p = ty.value(a) * ty.value(b); // exact in i128 for the other types
    ((p >> ty.bits()) as u64) & ty.mask()
}

/// `mul.wide.type` (16- and 32-bit types): the whole double-width product.
pub fn mul_wide(ty: IntType, a: u64, b: u64) -> u64 {
    let p = ty.value(a) * ty.value(b);
    let wide = 2 * ty.bits();
    if wide >= 64 { p as u64 } else { (p as u64) & ((1u64 << wide) - 1) }
}

/// `mad.lo.type d, a, b, c` = low half of a·b, plus c (wrapping).
pub fn mad_lo(ty: IntType, a: u64, b: u64, c: u64) -> u64 {
    a.wrapping_mul(b).wrapping_add(c) & ty.mask()
}

/// `mad.hi.type d, a, b, c` = high half of a·b, plus c (wrapping).
pub fn mad_hi(ty: IntType, a: u64, b: u64, c: u64) -> u64 {
    mul_hi(ty, a, b).wrapping_add(c) & ty.mask()
}

/// `mad.hi.sat.s32`: high half of a·b plus c, clamped to the s32 range.
pub fn mad_hi_sat_s32(a: u32, b: u32, c: u32) -> u32 {
    let hi = ((a as i32 as i64 * b as i32 as i64) >> 32) as i32;
    hi.saturating_add(c as i32) as u32
}

/// `mad.wide.type d, a, b, c` (16/32-bit types): the double-width a·b plus the double-width c.
pub fn mad_wide(ty: IntType, a: u64, b: u64, c: u64) -> u64 {
    let wide = 2 * ty.bits();
    let sum = mul_wide(ty, a, b).wrapping_add(c);
    if wide >= 64 { sum } else { sum & ((1u64 << wide) - 1) }
}

/// `mul24.{lo,hi}.{u32,s32}`: product of the low 24 bits (sign-extended for s32) of a and b;
/// `hi` gives bits 16..47 of the 48-bit product, `lo` its low 32 bits.
pub fn mul24(signed: bool, hi: bool, a: u32, b: u32) -> u32 {
    let (x, y) = if signed {
        (((a << 8) as i32 >> 8) as i64, ((b << 8) as i32 >> 8) as i64)
    } else {
        ((a & 0xff_ffff) as i64, (b & 0xff_ffff) as i64)
    };
    let p = x * y; // 48 bits
    if hi { (p >> 16) as u32 } else { p as u32 }
}

/// `mad24.{lo,hi}.{u32,s32} d, a, b, c` = mul24(a, b) + c (wrapping).
pub fn mad24(signed: bool, hi: bool, a: u32, b: u32, c: u32) -> u32 {
    mul24(signed, hi, a, b).wrapping_add(c)
}

/// `div.type` (truncating). The ISA says division by zero gives an unspecified, machine-specific
/// value: we return all ones (as the hardware's unsigned divide does). `MIN / -1` wraps to `MIN`.
pub fn div(ty: IntType, a: u64, b: u64) -> u64 {
    let (x, y) = (ty.value(a), ty.value(b));
    if y == 0 {
        return ty.mask();
    }
    ((x / y) as u64) & ty.mask() // i128: MIN / -1 does not overflow, and truncation wraps it
}

/// `rem.type` (sign of the dividend, as C's `%`). Remainder by zero: we return `a` (unspecified
/// in the ISA). `MIN % -1` is 0.
pub fn rem(ty: IntType, a: u64, b: u64) -> u64 {
    let (x, y) = (ty.value(a), ty.value(b));
    if y == 0 {
        return a & ty.mask();
    }
    ((x % y) as u64) & ty.mask()
}

/// `min.type`.
pub fn min(ty: IntType, a: u64, b: u64) -> u64 {
    if ty.value(a) <= ty.value(b) { a & ty.mask() } else { b & ty.mask() }
}

/// `max.type`.
pub fn max(ty: IntType, a: u64, b: u64) -> u64 {
    if ty.value(a) >= ty.value(b) { a & ty.mask() } else { b & ty.mask() }
}

/// `abs.type` (signed types; `abs(MIN)` wraps to MIN).
pub fn abs(ty: IntType, a: u64) -> u64 {
    (ty.value(a).unsigned_abs() as u64) & ty.mask()
}

/// `neg.type` (wrapping).
pub fn neg(ty: IntType, a: u64) -> u64 {
    a.wrapping_neg() & ty.mask()
}

/// `bfe.type d, a, b, c` (u32/u64/s32/s64): extract `len = c & 0xff` bits of a starting at bit
/// `pos = b & 0xff`; signed types replicate the field's top bit (or a's msb when the field runs
/// past it); len = 0 gives 0.
pub fn bfe(ty: IntType, a: u64, pos: u32, len: u32) -> u64 {
    let bits = ty.bits();
    let (pos, len) = (pos & 0xff, len & 0xff);
    if len == 0 {
        return 0;
    }
    let a = a & ty.mask();
    // Bits of the field that lie inside the register; the rest are the sign bit (or 0).
    let inside = if pos >= bits { 0 } else { len.min(bits - pos) };
    let field = if inside == 0 { 0 } else { (a >> pos) & width_mask(inside) };
    let sign = ty.is_signed() && (a >> (pos + len - 1).min(bits - 1)) & 1 == 1;
    if sign {
        field | (ty.mask() & !width_mask(inside))
    } else {
        field
    }
}

/// `bfi.b32/.b64 f, a, b, c, d`: b with `len = d & 0xff` low bits of a inserted at bit
/// `pos = c & 0xff` (bits past the register's msb are dropped). `bits` is 32 or 64.
pub fn bfi(bits: u32, a: u64, b: u64, pos: u32, len: u32) -> u64 {
    let (pos, len) = (pos & 0xff, len & 0xff);
    if len == 0 || pos >= bits {
        return b & width_mask(bits);
    }
    let field = width_mask(len.min(bits - pos)) << pos;
    ((b & !field) | ((a << pos) & field)) & width_mask(bits)
}

/// `bfind{.shiftamt}.type d, a` (u32/u64/s32/s64): bit position of the most significant bit
/// that is 1 (unsigned) or that differs from the sign bit (signed); with `.shiftamt`, the left
/// shift that moves it to the msb. No such bit: 0xffffffff.
pub fn bfind(ty: IntType, a: u64, shiftamt: bool) -> u32 {
    let msb = ty.bits() - 1;
    let mut x = a & ty.mask();
    if ty.is_signed() && (x >> msb) & 1 == 1 {
        x = !x & ty.mask();
    }
    if x == 0 {
        return 0xffff_ffff;
    }
    let d = 63 - x.leading_zeros();
    if shiftamt { msb - d } else { d }
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
    let bytes = ((b as u64) << 32) | a as u64; // byte i of {b, a} = bits 8i..8i+7
    let byte = |i: u32| ((bytes >> (8 * (i & 7))) & 0xff) as u32;
    let pick = |sel: [u32; 4]| byte(sel[0]) | (byte(sel[1]) << 8) | (byte(sel[2]) << 16) | (byte(sel[3]) << 24);
    let s = c & 3;
    // Tables list d.b0, d.b1, d.b2, d.b3.
    match mode {
        PrmtMode::Generic => {
            let mut d = 0u32;
            for i in 0..4 {
                let sel = (c >> (4 * i)) & 0xf;
                let v = byte(sel & 7);
                let v = if sel & 8 != 0 { if v & 0x80 != 0 { 0xff } else { 0 } } else { v };
                d |= v << (8 * i);
            }
            d
        }
        PrmtMode::F4e => pick([s, s + 1, s + 2, s + 3]),
        PrmtMode::B4e => pick([s, s + 7, s + 6, s + 5]),
        PrmtMode::Rc8 => pick([s, s, s, s]),
        PrmtMode::Ecl => pick([s, s.max(1), s.max(2), 3]),
        PrmtMode::Ecr => pick([0, s.min(1), s.min(2), s]),
        PrmtMode::Rc16 => {
            let lo = 2 * (c & 1);
            pick([lo, lo + 1, lo, lo + 1])
        }
    }
}

/// `shl.b16/b32/b64 d, a, b`: shift amounts above the width are clamped to the width (result 0).
/// `bits` is 16, 32 or 64.
pub fn shl(bits: u32, a: u64, amount: u32) -> u64 {
    if amount >= bits { 0 } else { (a << amount) & width_mask(bits) }
}

/// `shr.type d, a, b`: logical for unsigned/bit types, arithmetic for signed; amounts above the
/// width are clamped to the width (0, or all sign bits).
pub fn shr(ty: IntType, a: u64, amount: u32) -> u64 {
    let bits = ty.bits();
    let amount = amount.min(bits);
    if ty.is_signed() {
        let v = ty.value(a); // sign-extended
        ((v >> amount) as u64) & ty.mask()
    } else if amount >= bits {
        0
    } else {
        (a & ty.mask()) >> amount
    }
}

/// `shf.{l,r}.{clamp,wrap}.b32 d, a, b, c`: funnel shift of the 64-bit {b:a} (b the high word) by
/// c (clamped to 32, or taken mod 32 with `.wrap`); `.l` returns the high word, `.r` the low word.
pub fn shf(left: bool, clamp: bool, a: u32, b: u32, c: u32) -> u32 {
    let n = if clamp { c.min(32) } else { c & 31 };
    let wide = ((b as u64) << 32) | a as u64;
    if left {
        ((wide << n) >> 32) as u32
    } else {
        (wide >> n) as u32
    }
}

/// `lop3.b32 d, a, b, c, immLut`: bitwise function given by its truth table.
pub fn lop3(a: u32, b: u32, c: u32, lut: u8) -> u32 {
    // The OR of the minterms whose truth-table bit is set (index = a·4 + b·2 + c, as the ISA's
    // ta = 0xF0, tb = 0xCC, tc = 0xAA encoding implies).
    let mut d = 0u32;
    for index in 0..8 {
        if (lut >> index) & 1 == 1 {
            let x = if index & 4 != 0 { a } else { !a };
            let y = if index & 2 != 0 { b } else { !b };
            let z = if index & 1 != 0 { c } else { !c };
            d |= x & y & z;
        }
    }
    d
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
    let (x, y) = (ty.value(a), ty.value(b));
    let (ux, uy) = (a & ty.mask(), b & ty.mask());
    match cmp {
        IntCmp::Eq => x == y,
        IntCmp::Ne => x != y,
        IntCmp::Lt => x < y,
        IntCmp::Le => x <= y,
        IntCmp::Gt => x > y,
        IntCmp::Ge => x >= y,
        IntCmp::Lo => ux < uy,
        IntCmp::Ls => ux <= uy,
        IntCmp::Hi => ux > uy,
        IntCmp::Hs => ux >= uy,
    }
}

#[inline]
fn width_mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}
