//! The decoded form of one PTX instruction: opcode and modifiers as enums, operands as register
//! indices. Immediates, symbol addresses and special registers are materialised into registers of
//! their own when a warp starts, so every operand of an executing instruction is a register.

/// A value type of PTX (`.b32`, `.s16`, `.f32`, `.bf16x2`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    B8,
    B16,
    B32,
    B64,
    B128,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F16,
    F16x2,
    BF16,
    BF16x2,
    F32,
    F64,
    Pred,
}

impl Ty {
    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "b8" => Ty::B8,
            "b16" => Ty::B16,
            "b32" => Ty::B32,
            "b64" => Ty::B64,
            "b128" => Ty::B128,
            "u8" => Ty::U8,
            "u16" => Ty::U16,
            "u32" => Ty::U32,
            "u64" => Ty::U64,
            "s8" => Ty::S8,
            "s16" => Ty::S16,
            "s32" => Ty::S32,
            "s64" => Ty::S64,
            "f16" => Ty::F16,
            "f16x2" => Ty::F16x2,
            "bf16" => Ty::BF16,
            "bf16x2" => Ty::BF16x2,
            "f32" => Ty::F32,
            "f64" => Ty::F64,
            "pred" => Ty::Pred,
            _ => return None,
        })
    }

    pub fn bits(self) -> u32 {
        match self {
            Ty::B8 | Ty::U8 | Ty::S8 => 8,
            Ty::B16 | Ty::U16 | Ty::S16 | Ty::F16 | Ty::BF16 => 16,
            Ty::B32 | Ty::U32 | Ty::S32 | Ty::F32 | Ty::F16x2 | Ty::BF16x2 => 32,
            Ty::B64 | Ty::U64 | Ty::S64 | Ty::F64 => 64,
            Ty::B128 => 128,
            Ty::Pred => 1,
        }
    }

    pub fn bytes(self) -> u32 {
        self.bits().div_ceil(8)
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Ty::S8 | Ty::S16 | Ty::S32 | Ty::S64)
    }

    pub fn is_float(self) -> bool {
        matches!(self, Ty::F16 | Ty::F16x2 | Ty::BF16 | Ty::BF16x2 | Ty::F32 | Ty::F64)
    }
}

/// Rounding modifier of a float result (`.rn .rz .rm .rp`), or of an integral result (`.rni...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rnd {
    /// No modifier written.
    Default,
    Rn,
    Rz,
    Rm,
    Rp,
    Rni,
    Rzi,
    Rmi,
    Rpi,
    Approx,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Generic,
    Global,
    Shared,
    Local,
    Param,
    Const,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOp {
    Add,
    Sub,
    MulLo,
    MulHi,
    Div,
    Rem,
    Min,
    Max,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntUnary {
    Neg,
    Not,
    Abs,
    Popc,
    Clz,
    Brev,
    Bfind { shift_amount: bool },
    Cnot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Copysign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatUnary {
    Neg,
    Abs,
    Sqrt,
    Rsqrt,
    Rcp,
    Ex2,
    Lg2,
    Sin,
    Cos,
    Tanh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
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
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    Num,
    Nan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
    Xor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomOp {
    Add,
    Min,
    Max,
    Inc,
    Dec,
    And,
    Or,
    Xor,
    Exch,
    Cas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteMode {
    All,
    Any,
    Uni,
    Ballot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadMode {
    Lo,
    Hi,
    Wide,
}

/// What a `mov` from a special register reads when it cannot be fixed at warp start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Special {
    TidX,
    TidY,
    TidZ,
    NtidX,
    NtidY,
    NtidZ,
    CtaidX,
    CtaidY,
    CtaidZ,
    NctaidX,
    NctaidY,
    NctaidZ,
    LaneId,
    WarpId,
    NWarpId,
    SmId,
    NSmId,
    GridId,
    LaneMaskEq,
    LaneMaskLt,
    LaneMaskLe,
    LaneMaskGt,
    LaneMaskGe,
    DynamicSmemSize,
    TotalSmemSize,
}

impl Special {
    pub fn parse(s: &str) -> Option<Special> {
        Some(match s {
            "%tid.x" => Special::TidX,
            "%tid.y" => Special::TidY,
            "%tid.z" => Special::TidZ,
            "%ntid.x" => Special::NtidX,
            "%ntid.y" => Special::NtidY,
            "%ntid.z" => Special::NtidZ,
            "%ctaid.x" => Special::CtaidX,
            "%ctaid.y" => Special::CtaidY,
            "%ctaid.z" => Special::CtaidZ,
            "%nctaid.x" => Special::NctaidX,
            "%nctaid.y" => Special::NctaidY,
            "%nctaid.z" => Special::NctaidZ,
            "%laneid" => Special::LaneId,
            "%warpid" => Special::WarpId,
            "%nwarpid" => Special::NWarpId,
            "%smid" => Special::SmId,
            "%nsmid" => Special::NSmId,
            "%gridid" => Special::GridId,
            "%lanemask_eq" => Special::LaneMaskEq,
            "%lanemask_lt" => Special::LaneMaskLt,
            "%lanemask_le" => Special::LaneMaskLe,
            "%lanemask_gt" => Special::LaneMaskGt,
            "%lanemask_ge" => Special::LaneMaskGe,
            "%dynamic_smem_size" => Special::DynamicSmemSize,
            "%total_smem_size" => Special::TotalSmemSize,
            _ => return None,
        })
    }
}

/// The instruction classes counters report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Integer,
    Float,
    Convert,
    Move,
    Control,
    Global,
    Shared,
    Local,
    Param,
    Atomic,
    Barrier,
    Warp,
    Tensor,
    Async,
}

pub const CLASS_COUNT: usize = 14;
pub const CLASS_NAMES: [&str; CLASS_COUNT] =
    ["integer", "float", "convert", "move", "control", "global", "shared", "local", "param", "atomic", "barrier", "warp", "tensor", "async"];

/// Opcode with modifiers. The operand layout of each is documented on the variant; `Instr::args`
/// holds register indices (predicate indices for predicate operands; bit 31 set = negated).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// d = a. bits: width moved.
    Mov { bits: u32 },
    /// d = the lanes' predicate a (pred→pred).
    MovPred,
    /// d = a packed from n elements of `elem_bits` (`mov.b32 d, {a, b}`): args d, e0..en.
    Pack { elem_bits: u32, n: u32 },
    /// `mov.b32 {e0, e1}, a`: args e0..en, a. A destination of u32::MAX is the sink `_`.
    Unpack { elem_bits: u32, n: u32 },
    /// args d, a, b.
    Int { op: IntOp, ty: Ty, sat: bool },
    /// args d, a.
    IntUnary { op: IntUnary, ty: Ty },
    /// `mul.wide`: args d, a, b; ty is the source type.
    MulWide { ty: Ty },
    /// args d, a, b, c.
    Mad { mode: MadMode, ty: Ty },
    /// `bfe`: args d, a, pos, len.
    Bfe { ty: Ty },
    /// `bfi`: args d, a (insert), b (base), pos, len.
    Bfi { ty: Ty },
    /// `prmt.b32{.mode}`: args d, a, b, c.
    Prmt { mode: PrmtMode },
    /// args d, a, b.
    Float { op: FloatOp, ty: Ty, rnd: Rnd, ftz: bool, sat: bool, nan: bool },
    /// args d, a.
    FloatUnary { op: FloatUnary, ty: Ty, rnd: Rnd, ftz: bool },
    /// fma / mad.f: args d, a, b, c.
    Fma { ty: Ty, rnd: Rnd, ftz: bool, sat: bool },
    /// args p (pred), q (pred or u32::MAX), a, b, c (pred, only with combine).
    Setp { cmp: Cmp, ty: Ty, combine: Option<BoolOp>, ftz: bool },
    /// args d, a, b, p.
    Selp { bits: u32 },
    /// and/or/xor/not of predicates: args d, a, b (b absent for not).
    PredLogic { op: Option<BoolOp> },
    /// args d, a.
    Cvt { dst: Ty, src: Ty, rnd: Rnd, ftz: bool, sat: bool },
    /// Generic ↔ state-space address: args d, a.
    Cvta { to_space: bool, space: Space },
    /// args d0..d(vec-1), addr. `offset` is added to the address register.
    Ld { space: Space, ty: Ty, vec: u32, offset: i64 },
    /// args addr, s0..s(vec-1).
    St { space: Space, ty: Ty, vec: u32, offset: i64 },
    /// args d (u32::MAX for red), addr, b, c (cas only).
    Atom { space: Space, op: AtomOp, ty: Ty, offset: i64 },
    /// args: none. `uni` changes nothing in our execution.
    Bra { target: u32 },
    Exit,
    /// bar.sync / barrier.sync / bar.arrive: args id, count (u32::MAX = all threads).
    Bar { arrive: bool },
    /// bar.red.popc.u32 (d u32) or .and/.or.pred (d pred): args d, id, count (or MAX), c (pred).
    BarRed { op: BarRedOp },
    /// bar.warp.sync: args mask.
    WarpSync,
    /// args d, p (pred or MAX), a, b, c, mask.
    Shfl { mode: ShflMode },
    /// args d, a (pred), mask. Ballot writes a u32, others a predicate.
    Vote { mode: VoteMode, negate_a: bool },
    /// args d.
    Activemask,
    /// args d0..d3 (or d0,d1 for f16 accumulators), a0..a3 (or a0,a1), b0..b1 (or b0), c...
    Mma { k: u32, ab: Ty, cd: Ty },
    /// args d0..d(n-1), addr.
    Ldmatrix { n: u32, trans: bool },
    /// args dst (shared addr), src (global addr), src_size (or MAX).
    CpAsync { bytes: u32 },
    CpAsyncCommit,
    /// wait until at most n groups are pending (wait_all: n = 0 and the open group committed).
    CpAsyncWait { n: u32, all: bool },
    /// membar / fence: our execution is sequentially consistent, so they order nothing more.
    Fence,
    /// %clock / %clock64: args d.
    Clock { bits: u32 },
    /// `mov d, %special` for a special register read per execution (clock-like ones). args d.
    ReadSpecial(Special),
    /// An instruction the interpreter does not implement: an error when executed.
    Illegal { text: String },
}

/// `prmt` modes: the default (generic) selector, or one of the fixed permutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrmtMode {
    Generic,
    F4e,
    B4e,
    Rc8,
    Ecl,
    Ecr,
    Rc16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarRedOp {
    Popc,
    And,
    Or,
}

pub const NO_REG: u32 = u32::MAX;
pub const NEGATED: u32 = 1 << 31;

/// One decoded instruction.
#[derive(Debug, Clone)]
pub struct Instr {
    pub op: Op,
    /// Guard predicate index (| NEGATED), or NO_REG.
    pub guard: u32,
    pub args: Box<[u32]>,
    /// PTX line (1-based) in the module text.
    pub line: u32,
    /// Index into the kernel's `.loc` table (file, line) or u32::MAX.
    pub loc: u32,
    pub class: Class,
    /// The opcode as written (`ld.global.v4.f32`), for messages.
    pub opcode: Box<str>,
}
