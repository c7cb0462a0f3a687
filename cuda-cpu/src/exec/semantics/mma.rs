//! `mma.sync.aligned` (PTX ISA 9.0, "Warp Level Matrix Multiply-Accumulate"): warp-level matrix multiply-accumulate
//! D = A·B + C for the shapes m16n8k16 and m16n8k8 with `.row.col` layouts, f16 or bf16 inputs
//! and f32 or f16 accumulators, from the 32 lanes' fragment registers laid out exactly as the
//! ISA's figures say (groupID = laneid >> 2, threadID_in_group = laneid % 4).
//!
//! Precision: each element is accumulated in f32, starting from C and adding the products
//! a[i][k]·b[k][j] in ascending k, each by an f32 fma rounded to nearest (an f16·f16 product is
//! exact in f32, a bf16·bf16 one too unless it leaves f32's normal range, so each step rounds only
//! the sum). An f16 D is the f32 result rounded to nearest once. The ISA does not fix the order
//! or the internal precision of the hardware's adder, so results may differ from a GPU in the
//! last bits.

use super::convert::{bf16_to_f32, f16_to_f32, f32_to_f16};
use super::Rounding;

/// The supported shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MmaShape {
    /// m16n8k16: A has 4 `.b32` registers per lane, B 2.
    M16N8K16,
    /// m16n8k8: A has 2 `.b32` registers per lane, B 1.
    M16N8K8,
}

/// Input element type of A and B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MmaInput {
    F16,
    BF16,
}

/// Accumulator type of C or D: f32 uses 4 registers per lane, f16 2 (packed `.f16x2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MmaAccum {
    F32,
    F16,
}

/// One `mma.sync.aligned.shape.row.col.dtype.atype.btype.ctype` for the whole warp.
///
/// `a[lane]`, `b[lane]`, `c[lane]` are the lane's fragment registers in operand order (unused
/// trailing registers are ignored: A uses 4 or 2, B 2 or 1, C 4 (f32) or 2 (f16)); the result is
/// each lane's D registers (4 for f32, the first 2 for f16, the rest 0).
pub fn mma_sync(
    shape: MmaShape,
    input: MmaInput,
    d_type: MmaAccum,
    c_type: MmaAccum,
    a: &[[u32; 4]; 32],
    b: &[[u32; 2]; 32],
    c: &[[u32; 4]; 32],
) -> [[u32; 4]; 32] {
    let k_dim = match shape {
        MmaShape::M16N8K16 => 16,
        MmaShape::M16N8K8 => 8,
    };
    // Gather the whole matrices from the fragments, then multiply, then scatter D.
    let mut am = [[0f32; 16]; 16]; // [row][k]
    let mut bm = [[0f32; 8]; 16]; // [k][col]
    let mut cm = [[0f32; 8]; 16]; // [row][col]
    let element = |word: u32, high: bool| {
        let h = if high { (word >> 16) as u16 } else { word as u16 };
        match input {
            MmaInput::F16 => f16_to_f32(h),
            MmaInput::BF16 => bf16_to_f32(h),
        }
    };
    for lane in 0..32 {
        let group = lane >> 2;
        let thread = lane % 4;
        // A (16×k, row): element a_i of the lane (i = 0..7 for k16, 0..3 for k8; two per register,
        // the lower index in the low half) sits at row = group + 8·((i >> 1) & 1),
        // col = 2·thread + (i & 1) + 8·(i >= 4).
        let a_elements = if k_dim == 16 { 8 } else { 4 };
        for i in 0..a_elements {
            let row = group + 8 * ((i >> 1) & 1);
            let col = 2 * thread + (i & 1) + 8 * (i >> 2);
            am[row][col] = element(a[lane][i / 2], i % 2 == 1);
        }
        // B (k×8, col): element b_i at row = 2·thread + (i & 1) + 8·(i >= 2), col = group.
        let b_elements = if k_dim == 16 { 4 } else { 2 };
        for i in 0..b_elements {
            let row = 2 * thread + (i & 1) + 8 * (i >> 1);
            bm[row][group] = element(b[lane][i / 2], i % 2 == 1);
        }
        // C (16×8): element c_i at row = group + 8·(i >= 2), col = 2·thread + (i & 1).
        for i in 0..4 {
            let row = group + 8 * (i >> 1);
            let col = 2 * thread + (i & 1);
            cm[row][col] = match c_type {
                MmaAccum::F32 => f32::from_bits(c[lane][i]),
                MmaAccum::F16 => f16_to_f32(if i % 2 == 0 { c[lane][i / 2] as u16 } else { (c[lane][i / 2] >> 16) as u16 }),
            };
        }
    }
    let mut out = [[0u32; 4]; 32];
    for (lane, d) in out.iter_mut().enumerate() {
        let group = lane >> 2;
        let thread = lane % 4;
        for i in 0..4 {
            let row = group + 8 * (i >> 1);
            let col = 2 * thread + (i & 1);
            let mut acc = cm[row][col];
            for k in 0..k_dim {
                acc = fma_exact_product(am[row][k], bm[k][col], acc);
            }
            match d_type {
                MmaAccum::F32 => d[i] = acc.to_bits(),
                MmaAccum::F16 => {
                    let h = f32_to_f16(acc, Rounding::Nearest) as u32;
                    d[i / 2] |= if i % 2 == 0 { h } else { h << 16 };
                }
            }
        }
    }
    out
}

/// acc + x·y with one rounding. A product of two f16 or bf16 values is exact in f32 unless it
/// leaves f32's normal range (only possible for bf16), so the plain sum is already the fused
/// result, as it is when a factor is zero; otherwise take the fused multiply-add, which is slow
/// without hardware FMA.
#[inline]
fn fma_exact_product(x: f32, y: f32, acc: f32) -> f32 {
    let p = x * y;
    // A zero factor (tile padding, masked elements) makes the product an exact signed zero too.
    if p.is_normal() || x == 0.0 || y == 0.0 {
        acc + p
    } else {
        x.mul_add(y, acc)
    }
}
