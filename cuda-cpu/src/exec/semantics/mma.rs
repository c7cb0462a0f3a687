//! `mma.sync.aligned` (PTX ISA 9.0 §9.7.14.5): warp-level matrix multiply-accumulate
//! D = A·B + C for the shapes m16n8k16 and m16n8k8 with `.row.col` layouts, f16 or bf16 inputs
//! and f32 or f16 accumulators, from the 32 lanes' fragment registers laid out exactly as the
//! ISA's figures say (groupID = laneid >> 2, threadID_in_group = laneid % 4).
//!
//! Precision: each element is accumulated in f32, starting from C and adding the products
//! a[i][k]·b[k][j] in ascending k, each by an f32 fma rounded to nearest (an f16·f16 or bf16·bf16
//! product is exact in f32, so each step rounds only the sum). An f16 D is the f32 result rounded
//! to nearest once. Real tensor cores add with a wider, truncating adder; results agree to the
//! last few f32 bits, not bit-exactly.

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
    todo!("{shape:?} {input:?} {d_type:?} {c_type:?} {a:?} {b:?} {c:?}")
}
