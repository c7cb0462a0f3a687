//! Statements of one kernel body → the decoded instruction array: registers resolved to indices
//! (scoped: nested `{ }` blocks declare their own), labels to instruction indices, opcodes and
//! modifiers to `Op`. An opcode or form the interpreter does not implement becomes `Op::Illegal`,
//! an error when (and only when) a thread executes it.

use std::collections::HashMap;

use super::instr::*;
use super::lexer::tokenize;
use super::parse::{InstrStmt, Operand, Parser, Stmt};
use super::{KernelLayout, PtxError};

/// A kernel's decoded body, shared by every launch.
#[derive(Debug)]
pub struct Body {
    pub instrs: Vec<Instr>,
    /// u64 register slots per lane (declared registers, then constants and specials).
    pub reg_count: u32,
    pub pred_count: u32,
    /// Registers holding the same value in every lane, set when a warp starts.
    pub constants: Vec<(u32, u64)>,
    /// Registers holding a special register's per-lane value, set when a warp starts.
    pub specials: Vec<(u32, Special)>,
    /// Predicates that are constantly true (immediate `1` as a predicate operand).
    pub true_preds: Vec<u32>,
    /// `.loc` entries: (file index, line).
    pub locs: Vec<(u32, u32)>,
}

struct Scope<'a> {
    ranges: Vec<(&'a str, u32, u32, bool)>, // prefix, base index, count, is_pred
    singles: HashMap<&'a str, (u32, bool)>,
}

struct Decoder<'a, 'l> {
    layout: &'l KernelLayout,
    scopes: Vec<Scope<'a>>,
    reg_count: u32,
    pred_count: u32,
    constants: Vec<(u32, u64)>,
    constant_index: HashMap<u64, u32>,
    specials: Vec<(u32, Special)>,
    special_index: HashMap<Special, u32>,
    true_pred: Option<u32>,
    /// Constants and specials, numbered apart (EXTRA_TAG | n) until the declared registers are
    /// compacted; then they follow them.
    extra_count: u32,
    declared_wide: u32,
}

/// Marks a constant or special register index during decoding.
const EXTRA_TAG: u32 = 1 << 30;

type R<T> = Result<T, String>;

impl<'a, 'l> Decoder<'a, 'l> {
    fn lookup(&self, name: &str) -> Option<(u32, bool)> {
        for scope in self.scopes.iter().rev() {
            if let Some(&r) = scope.singles.get(name) {
                return Some(r);
            }
            let digits = name.bytes().rev().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 {
                let (prefix, number) = name.split_at(name.len() - digits);
                if let Ok(n) = number.parse::<u32>() {
                    for &(p, base, count, is_pred) in scope.ranges.iter().rev() {
                        if p == prefix && n < count {
                            return Some((base + n, is_pred));
                        }
                    }
                }
            }
        }
        None
    }

    fn declare(&mut self, ty: &str, names: &[(&'a str, Option<u32>)]) {
        let is_pred = ty == ".pred";
        let wide = matches!(ty, ".b128");
        if wide {
            self.declared_wide += 1;
        }
        for &(name, count) in names {
            let slots = if wide { 2 } else { 1 };
            let n = count.unwrap_or(1);
            let base = if is_pred {
                let b = self.pred_count;
                self.pred_count += n;
                b
            } else {
                let b = self.reg_count;
                self.reg_count += n * slots;
                b
            };
            let scope = self.scopes.last_mut().unwrap();
            match count {
                Some(c) => scope.ranges.push((name, base, c, is_pred)),
                None => {
                    scope.singles.insert(name, (base, is_pred));
                }
            }
        }
    }

    fn constant(&mut self, value: u64) -> u32 {
        if let Some(&r) = self.constant_index.get(&value) {
            return r;
        }
        let r = EXTRA_TAG | self.extra_count;
        self.extra_count += 1;
        self.constants.push((r, value));
        self.constant_index.insert(value, r);
        r
    }

    fn special(&mut self, s: Special) -> u32 {
        if let Some(&r) = self.special_index.get(&s) {
            return r;
        }
        let r = EXTRA_TAG | self.extra_count;
        self.extra_count += 1;
        self.specials.push((r, s));
        self.special_index.insert(s, r);
        r
    }

    /// The address (in its state space) a symbol names.
    fn symbol(&self, name: &str) -> Option<u64> {
        self.layout.symbol(name)
    }

    fn reg(&mut self, op: &Operand<'a>) -> R<u32> {
        match op {
            Operand::Name(n) => {
                if let Some((r, is_pred)) = self.lookup(n) {
                    if is_pred {
                        return Err(format!("{n} is a predicate, a value register was expected"));
                    }
                    return Ok(r);
                }
                if let Some(s) = Special::parse(n) {
                    return Ok(self.special(s));
                }
                if let Some(addr) = self.symbol(n) {
                    return Ok(self.constant(addr));
                }
                Err(format!("unknown register or symbol {n}"))
            }
            Operand::Int(v) => Ok(self.constant(*v as u64)),
            Operand::Float(bits, _) => Ok(self.constant(*bits)),
            other => Err(format!("expected a register or immediate, found {other:?}")),
        }
    }

    fn dst(&mut self, op: &Operand<'a>) -> R<u32> {
        match op {
            Operand::Sink => Ok(NO_REG),
            Operand::Name(n) => match self.lookup(n) {
                Some((r, false)) => Ok(r),
                Some((_, true)) => Err(format!("{n} is a predicate, a value register was expected")),
                None => Err(format!("unknown register {n}")),
            },
            other => Err(format!("expected a destination register, found {other:?}")),
        }
    }

    fn pred(&mut self, op: &Operand<'a>) -> R<u32> {
        match op {
            Operand::Name(n) => match self.lookup(n) {
                Some((p, true)) => Ok(p),
                _ => Err(format!("{n} is not a predicate register")),
            },
            Operand::Not(inner) => Ok(self.pred(inner)? | NEGATED),
            Operand::Int(v) => {
                let t = match self.true_pred {
                    Some(t) => t,
                    None => {
                        let t = self.pred_count;
                        self.pred_count += 1;
                        self.true_pred = Some(t);
                        t
                    }
                };
                Ok(if *v != 0 { t } else { t | NEGATED })
            }
            other => Err(format!("expected a predicate, found {other:?}")),
        }
    }


    fn vector(&mut self, op: &Operand<'a>, as_dst: bool) -> R<Vec<u32>> {
        match op {
            Operand::Vector(items) => items.iter().map(|i| if as_dst { self.dst(i) } else { self.reg(i) }).collect(),
            single => Ok(vec![if as_dst { self.dst(single)? } else { self.reg(single)? }]),
        }
    }

    /// `[base+offset]` → (register holding base, offset).
    fn address(&mut self, op: &Operand<'a>) -> R<(u32, i64)> {
        match op {
            Operand::Address { base: Some(b), offset } => {
                let reg = self.reg(&Operand::Name(b))?;
                Ok((reg, *offset))
            }
            Operand::Address { base: None, offset } => Ok((self.constant(0), *offset)),
            other => Err(format!("expected an address [..], found {other:?}")),
        }
    }
}

struct Mods<'a> {
    parts: Vec<&'a str>,
    /// Bit i set once part i has been read by the decoder: a part nobody read is a modifier the
    /// engine does not implement (`unread`), which must not be silently ignored.
    read: std::cell::Cell<u64>,
}

/// Modifiers that change nothing an interpreter with one coherent memory and no caches can
/// observe: cache operators and eviction hints, memory-ordering and scope qualifiers (every
/// access is sequentially consistent here), `.aligned`/`.sync` on collectives, `.uni` on branches.
fn no_observable_effect(part: &str) -> bool {
    matches!(part, "sync" | "aligned" | "uni" | "nc" | "ca" | "cg" | "cs" | "lu" | "cv" | "wb" | "wt" | "volatile" | "relaxed" | "acquire" | "release" | "acq_rel" | "sc" | "weak" | "cta" | "gpu" | "sys")
        || part.starts_with("L1::")
        || part.starts_with("L2::")
}

impl<'a> Mods<'a> {
    fn new(parts: Vec<&'a str>) -> Self {
        Mods { parts, read: std::cell::Cell::new(0) }
    }
    fn mark(&self, index: usize) {
        self.read.set(self.read.get() | 1 << index.min(63));
    }
    /// Marks every part as read (for opcodes whose modifiers the engine deliberately ignores).
    fn accept_all(&self) {
        self.read.set(u64::MAX);
    }
    /// The first part, marked read.
    fn first(&self) -> &'a str {
        if self.parts.is_empty() {
            return "";
        }
        self.mark(0);
        self.parts[0]
    }
    /// The first part nobody read that has an observable effect: a modifier the engine does not
    /// implement.
    fn unread(&self) -> Option<&'a str> {
        let read = self.read.get();
        self.parts.iter().enumerate().find(|(i, p)| read & (1 << (*i).min(63)) == 0 && !no_observable_effect(p)).map(|(_, p)| *p)
    }
    fn has(&self, m: &str) -> bool {
        match self.parts.iter().position(|p| *p == m) {
            Some(i) => {
                self.mark(i);
                true
            }
            None => false,
        }
    }
    fn types(&self) -> Vec<Ty> {
        let mut types = Vec::new();
        for (i, p) in self.parts.iter().enumerate() {
            if let Some(t) = Ty::parse(p) {
                self.mark(i);
                types.push(t);
            }
        }
        types
    }
    fn ty(&self) -> R<Ty> {
        self.types().last().copied().ok_or_else(|| "no type modifier".to_string())
    }
    fn space(&self) -> Space {
        for (i, p) in self.parts.iter().enumerate() {
            let space = match *p {
                "global" => Space::Global,
                "shared" => Space::Shared,
                "local" => Space::Local,
                "param" => Space::Param,
                "const" => Space::Const,
                _ => continue,
            };
            self.mark(i);
            return space;
        }
        Space::Generic
    }
    fn vec(&self) -> u32 {
        if self.has("v2") {
            2
        } else if self.has("v4") {
            4
        } else if self.has("v8") {
            8
        } else {
            1
        }
    }
    fn rnd(&self) -> Rnd {
        for (i, p) in self.parts.iter().enumerate() {
            let r = match *p {
                "rn" => Rnd::Rn,
                "rz" => Rnd::Rz,
                "rm" => Rnd::Rm,
                "rp" => Rnd::Rp,
                "rni" => Rnd::Rni,
                "rzi" => Rnd::Rzi,
                "rmi" => Rnd::Rmi,
                "rpi" => Rnd::Rpi,
                "approx" => Rnd::Approx,
                "full" => Rnd::Full,
                _ => continue,
            };
            self.mark(i);
            return r;
        }
        Rnd::Default
    }
    fn cmp(&self) -> Option<Cmp> {
        for (i, p) in self.parts.iter().enumerate() {
            let c = match *p {
                "eq" => Cmp::Eq,
                "ne" => Cmp::Ne,
                "lt" => Cmp::Lt,
                "le" => Cmp::Le,
                "gt" => Cmp::Gt,
                "ge" => Cmp::Ge,
                "lo" => Cmp::Lo,
                "ls" => Cmp::Ls,
                "hi" => Cmp::Hi,
                "hs" => Cmp::Hs,
                "equ" => Cmp::Equ,
                "neu" => Cmp::Neu,
                "ltu" => Cmp::Ltu,
                "leu" => Cmp::Leu,
                "gtu" => Cmp::Gtu,
                "geu" => Cmp::Geu,
                "num" => Cmp::Num,
                "nan" => Cmp::Nan,
                _ => continue,
            };
            self.mark(i);
            return Some(c);
        }
        None
    }
    fn bool_op(&self) -> Option<BoolOp> {
        if self.has("and") {
            Some(BoolOp::And)
        } else if self.has("or") {
            Some(BoolOp::Or)
        } else if self.has("xor") {
            Some(BoolOp::Xor)
        } else {
            None
        }
    }
}

/// Decodes one body. `text` starts at PTX line `first_line`.
pub fn decode_body(layout: &KernelLayout, text: &str, first_line: u32) -> Result<Body, PtxError> {
    let err = |m: String| PtxError { message: format!("kernel {}: {m}", layout.name) };
    let toks = tokenize(text, first_line).map_err(err)?;
    let stmts = Parser::new(&toks).statements().map_err(err)?;

    let mut d = Decoder {
        layout,
        scopes: vec![Scope { ranges: Vec::new(), singles: HashMap::new() }],
        reg_count: 0,
        pred_count: 0,
        constants: Vec::new(),
        constant_index: HashMap::new(),
        specials: Vec::new(),
        special_index: HashMap::new(),
        true_pred: None,
        extra_count: 0,
        declared_wide: 0,
    };
    // Labels first, so forward branches resolve.
    let mut labels: HashMap<&str, u32> = HashMap::new();
    let mut count = 0u32;
    for s in &stmts {
        match s {
            Stmt::Label(l) => {
                labels.insert(l, count);
            }
            Stmt::Instr(_) => count += 1,
            _ => {}
        }
    }
    let mut instrs = Vec::with_capacity(count as usize);
    let mut locs: Vec<(u32, u32)> = Vec::new();
    let mut loc_index: HashMap<(u32, u32), u32> = HashMap::new();
    let mut current_loc = u32::MAX;
    for s in &stmts {
        match s {
            Stmt::Open => d.scopes.push(Scope { ranges: Vec::new(), singles: HashMap::new() }),
            Stmt::Close => {
                if d.scopes.len() > 1 {
                    d.scopes.pop();
                }
            }
            Stmt::Reg { ty, names } => d.declare(ty, names),
            Stmt::Loc { file, line } => {
                let key = (*file, *line);
                current_loc = *loc_index.entry(key).or_insert_with(|| {
                    locs.push(key);
                    (locs.len() - 1) as u32
                });
            }
            Stmt::Label(_) | Stmt::Var => {}
            Stmt::Instr(stmt) => {
                let (op, args, guard) = match decode_instr(&mut d, stmt, &labels) {
                    Ok(x) => x,
                    Err(m) if m.starts_with(UNIMPLEMENTED_MODIFIER) => {
                        return Err(err(format!("PTX line {}: {} has an {m}; the engine does not run it rather than ignore it", stmt.line, stmt.opcode)));
                    }
                    Err(m) => (Op::Illegal { text: format!("{} ({m})", stmt.opcode) }, Vec::new(), NO_REG),
                };
                let class = classify(&op);
                instrs.push(Instr { op, guard, args: args.into_boxed_slice(), line: stmt.line, loc: current_loc, class, opcode: stmt.opcode.into() });
            }
        }
    }
    let declared = d.reg_count;
    let mut body = Body { instrs, reg_count: declared + d.extra_count, pred_count: d.pred_count, constants: d.constants, specials: d.specials, true_preds: d.true_pred.into_iter().collect(), locs };
    compact_registers(&mut body, declared, d.declared_wide == 0);
    Ok(body)
}

fn classify(op: &Op) -> Class {
    match op {
        Op::Mov { .. } | Op::MovPred | Op::Pack { .. } | Op::Unpack { .. } | Op::Selp { .. } | Op::ReadSpecial(_) | Op::Clock { .. } => Class::Move,
        Op::Int { .. } | Op::IntUnary { .. } | Op::MulWide { .. } | Op::Mad { .. } | Op::Bfe { .. } | Op::Bfi { .. } | Op::Prmt { .. } | Op::PredLogic { .. } | Op::Cvta { .. } => Class::Integer,
        Op::Float { .. } | Op::FloatUnary { .. } | Op::Fma { .. } => Class::Float,
        Op::Setp { ty, .. } => {
            if ty.is_float() {
                Class::Float
            } else {
                Class::Integer
            }
        }
        Op::Cvt { .. } => Class::Convert,
        Op::Ld { space, .. } | Op::St { space, .. } => match space {
            Space::Shared => Class::Shared,
            Space::Local => Class::Local,
            Space::Param => Class::Param,
            _ => Class::Global,
        },
        Op::Atom { .. } => Class::Atomic,
        Op::Bra { .. } | Op::Exit | Op::Illegal { .. } | Op::Fence => Class::Control,
        Op::Bar { .. } | Op::BarRed { .. } => Class::Barrier,
        Op::WarpSync | Op::Shfl { .. } | Op::Vote { .. } | Op::Activemask => Class::Warp,
        Op::Mma { .. } | Op::Ldmatrix { .. } => Class::Tensor,
        Op::CpAsync { .. } | Op::CpAsyncCommit | Op::CpAsyncWait { .. } => Class::Async,
    }
}

fn int_ty(ty: Ty) -> bool {
    !ty.is_float() && ty != Ty::Pred
}

fn decode_instr<'a>(d: &mut Decoder<'a, '_>, s: &InstrStmt<'a>, labels: &HashMap<&str, u32>) -> R<(Op, Vec<u32>, u32)> {
    let guard = match s.guard {
        Some((p, negate)) => d.pred(&Operand::Name(p))? | if negate { NEGATED } else { 0 },
        None => NO_REG,
    };
    let mut parts = s.opcode.split('.');
    let base = parts.next().unwrap();
    let mods = Mods::new(parts.collect());
    let o = &s.operands;
    let need = |n: usize| -> R<()> {
        if o.len() < n {
            Err(format!("{} needs {n} operands", s.opcode))
        } else {
            Ok(())
        }
    };
    let unsupported = || Err(format!("the form {} is not implemented", s.opcode));
    let (op, args): (Op, Vec<u32>) = match base {
        "mov" => {
            need(2)?;
            let ty = mods.ty()?;
            if ty == Ty::Pred {
                (Op::MovPred, vec![d.pred(&o[0])?, d.pred(&o[1])?])
            } else if let Operand::Vector(items) = &o[0] {
                let n = items.len() as u32;
                let mut args = d.vector(&o[0], true)?;
                args.push(d.reg(&o[1])?);
                (Op::Unpack { elem_bits: ty.bits() / n, n }, args)
            } else if let Operand::Vector(items) = &o[1] {
                let n = items.len() as u32;
                let mut args = vec![d.dst(&o[0])?];
                args.extend(d.vector(&o[1], false)?);
                (Op::Pack { elem_bits: ty.bits() / n, n }, args)
            } else if let Operand::Name(n) = &o[1] {
                match *n {
                    "%clock" => (Op::Clock { bits: 32 }, vec![d.dst(&o[0])?]),
                    "%clock64" | "%globaltimer" => (Op::Clock { bits: 64 }, vec![d.dst(&o[0])?]),
                    _ => (Op::Mov { bits: ty.bits() }, vec![d.dst(&o[0])?, d.reg(&o[1])?]),
                }
            } else {
                (Op::Mov { bits: ty.bits() }, vec![d.dst(&o[0])?, d.reg(&o[1])?])
            }
        }
        "add" | "sub" | "mul" | "div" | "rem" | "min" | "max" | "and" | "or" | "xor" | "shl" | "shr" | "copysign" => {
            need(3)?;
            let ty = mods.ty()?;
            if ty == Ty::Pred {
                let op = match base {
                    "and" => BoolOp::And,
                    "or" => BoolOp::Or,
                    "xor" => BoolOp::Xor,
                    _ => return unsupported(),
                };
                (Op::PredLogic { op: Some(op) }, vec![d.pred(&o[0])?, d.pred(&o[1])?, d.pred(&o[2])?])
            } else if ty.is_float() {
                let op = match base {
                    "add" => FloatOp::Add,
                    "sub" => FloatOp::Sub,
                    "mul" => FloatOp::Mul,
                    "div" => FloatOp::Div,
                    "min" => FloatOp::Min,
                    "max" => FloatOp::Max,
                    "copysign" => FloatOp::Copysign,
                    _ => return unsupported(),
                };
                let op = Op::Float { op, ty, rnd: mods.rnd(), ftz: mods.has("ftz"), sat: mods.has("sat"), nan: mods.has("NaN") };
                (op, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?])
            } else if base == "mul" && mods.has("wide") {
                (Op::MulWide { ty }, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?])
            } else {
                let op = match base {
                    "add" => IntOp::Add,
                    "sub" => IntOp::Sub,
                    "mul" if mods.has("hi") => IntOp::MulHi,
                    "mul" => {
                        mods.has("lo");
                        IntOp::MulLo
                    }
                    "div" => IntOp::Div,
                    "rem" => IntOp::Rem,
                    "min" => IntOp::Min,
                    "max" => IntOp::Max,
                    "and" => IntOp::And,
                    "or" => IntOp::Or,
                    "xor" => IntOp::Xor,
                    "shl" => IntOp::Shl,
                    "shr" => IntOp::Shr,
                    _ => return unsupported(),
                };
                if mods.has("cc") {
                    return unsupported();
                }
                (Op::Int { op, ty, sat: mods.has("sat") }, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?])
            }
        }
        "not" | "cnot" | "neg" | "abs" | "popc" | "clz" | "brev" | "bfind" => {
            need(2)?;
            let ty = mods.ty()?;
            if ty == Ty::Pred && base == "not" {
                (Op::PredLogic { op: None }, vec![d.pred(&o[0])?, d.pred(&o[1])?])
            } else if ty.is_float() {
                let op = match base {
                    "neg" => FloatUnary::Neg,
                    "abs" => FloatUnary::Abs,
                    _ => return unsupported(),
                };
                (Op::FloatUnary { op, ty, rnd: mods.rnd(), ftz: mods.has("ftz") }, vec![d.dst(&o[0])?, d.reg(&o[1])?])
            } else {
                let op = match base {
                    "not" => IntUnary::Not,
                    "cnot" => IntUnary::Cnot,
                    "neg" => IntUnary::Neg,
                    "abs" => IntUnary::Abs,
                    "popc" => IntUnary::Popc,
                    "clz" => IntUnary::Clz,
                    "brev" => IntUnary::Brev,
                    _ => IntUnary::Bfind { shift_amount: mods.has("shiftamt") },
                };
                (Op::IntUnary { op, ty }, vec![d.dst(&o[0])?, d.reg(&o[1])?])
            }
        }
        "sqrt" | "rsqrt" | "rcp" | "ex2" | "lg2" | "sin" | "cos" | "tanh" => {
            need(2)?;
            let op = match base {
                "sqrt" => FloatUnary::Sqrt,
                "rsqrt" => FloatUnary::Rsqrt,
                "rcp" => FloatUnary::Rcp,
                "ex2" => FloatUnary::Ex2,
                "lg2" => FloatUnary::Lg2,
                "sin" => FloatUnary::Sin,
                "cos" => FloatUnary::Cos,
                _ => FloatUnary::Tanh,
            };
            (Op::FloatUnary { op, ty: mods.ty()?, rnd: mods.rnd(), ftz: mods.has("ftz") }, vec![d.dst(&o[0])?, d.reg(&o[1])?])
        }
        "mad" | "fma" => {
            need(4)?;
            let ty = mods.ty()?;
            let args = vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?, d.reg(&o[3])?];
            if ty.is_float() {
                (Op::Fma { ty, rnd: mods.rnd(), ftz: mods.has("ftz"), sat: mods.has("sat") }, args)
            } else {
                let mode = if mods.has("hi") {
                    MadMode::Hi
                } else if mods.has("wide") {
                    MadMode::Wide
                } else {
                    mods.has("lo");
                    MadMode::Lo
                };
                if mods.has("cc") || mods.has("sat") {
                    return unsupported();
                }
                (Op::Mad { mode, ty }, args)
            }
        }
        "bfe" => {
            need(4)?;
            (Op::Bfe { ty: mods.ty()? }, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?, d.reg(&o[3])?])
        }
        "bfi" => {
            need(5)?;
            (Op::Bfi { ty: mods.ty()? }, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?, d.reg(&o[3])?, d.reg(&o[4])?])
        }
        "prmt" => {
            need(4)?;
            mods.types();
            let mode = match mods.parts.iter().position(|p| *p != "b32").map(|i| {
                mods.mark(i);
                mods.parts[i]
            }) {
                None => PrmtMode::Generic,
                Some("f4e") => PrmtMode::F4e,
                Some("b4e") => PrmtMode::B4e,
                Some("rc8") => PrmtMode::Rc8,
                Some("ecl") => PrmtMode::Ecl,
                Some("ecr") => PrmtMode::Ecr,
                Some("rc16") => PrmtMode::Rc16,
                Some(_) => return unsupported(),
            };
            (Op::Prmt { mode }, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?, d.reg(&o[3])?])
        }
        "setp" => {
            need(3)?;
            let ty = mods.ty()?;
            let cmp = mods.cmp().ok_or("setp without a comparison")?;
            let combine = mods.bool_op();
            let (p, q) = match &o[0] {
                Operand::Pair(p, q) => (d.pred(&Operand::Name(p))?, d.pred(&Operand::Name(q))?),
                other => (d.pred(other)?, NO_REG),
            };
            let mut args = vec![p, q, d.reg(&o[1])?, d.reg(&o[2])?];
            if combine.is_some() {
                need(4)?;
                args.push(d.pred(&o[3])?);
            }
            (Op::Setp { cmp, ty, combine, ftz: mods.has("ftz") }, args)
        }
        "selp" => {
            need(4)?;
            (Op::Selp { bits: mods.ty()?.bits() }, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?, d.pred(&o[3])?])
        }
        "cvt" => {
            need(2)?;
            let types = mods.types();
            // .relu and .satfinite are left unread: refused as unimplemented modifiers below.
            if types.len() != 2 {
                return unsupported();
            }
            let op = Op::Cvt { dst: types[0], src: types[1], rnd: mods.rnd(), ftz: mods.has("ftz"), sat: mods.has("sat") };
            if types[0].bits() == 32 && matches!(types[0], Ty::F16x2 | Ty::BF16x2) {
                // cvt.rn.f16x2.f32 d, a, b: two sources.
                need(3)?;
                (op, vec![d.dst(&o[0])?, d.reg(&o[1])?, d.reg(&o[2])?])
            } else {
                (op, vec![d.dst(&o[0])?, d.reg(&o[1])?])
            }
        }
        "cvta" => {
            need(2)?;
            let space = mods.space();
            if !matches!(space, Space::Global | Space::Shared | Space::Local | Space::Param | Space::Const) {
                return unsupported();
            }
            (Op::Cvta { to_space: mods.has("to"), space }, vec![d.dst(&o[0])?, d.reg(&o[1])?])
        }
        "ld" | "ldu" => {
            need(2)?;
            let ty = mods.ty()?;
            let vec = mods.vec();
            let mut args = d.vector(&o[0], true)?;
            if args.len() as u32 != vec {
                return Err("vector width does not match the destination count".into());
            }
            let (addr, offset) = d.address(&o[1])?;
            args.push(addr);
            (Op::Ld { space: mods.space(), ty, vec, offset }, args)
        }
        "st" => {
            need(2)?;
            let ty = mods.ty()?;
            let vec = mods.vec();
            let (addr, offset) = d.address(&o[0])?;
            let mut args = vec![addr];
            let values = d.vector(&o[1], false)?;
            if values.len() as u32 != vec {
                return Err("vector width does not match the source count".into());
            }
            args.extend(values);
            (Op::St { space: mods.space(), ty, vec, offset }, args)
        }
        "atom" | "red" => {
            let ty = mods.ty()?;
            let op = if mods.has("add") {
                AtomOp::Add
            } else if mods.has("min") {
                AtomOp::Min
            } else if mods.has("max") {
                AtomOp::Max
            } else if mods.has("inc") {
                AtomOp::Inc
            } else if mods.has("dec") {
                AtomOp::Dec
            } else if mods.has("and") {
                AtomOp::And
            } else if mods.has("or") {
                AtomOp::Or
            } else if mods.has("xor") {
                AtomOp::Xor
            } else if mods.has("exch") {
                AtomOp::Exch
            } else if mods.has("cas") {
                AtomOp::Cas
            } else {
                return unsupported();
            };
            if mods.vec() != 1 || mods.has("noftz") && ty != Ty::F16 && ty != Ty::F16x2 && ty != Ty::BF16 && ty != Ty::BF16x2 {
                return unsupported();
            }
            let (mut i, dst) = if base == "atom" { (1, d.dst(&o[0])?) } else { (0, NO_REG) };
            need(i + 2)?;
            let (addr, offset) = d.address(&o[i])?;
            i += 1;
            let mut args = vec![dst, addr, d.reg(&o[i])?];
            if op == AtomOp::Cas {
                need(i + 2)?;
                args.push(d.reg(&o[i + 1])?);
            }
            (Op::Atom { space: mods.space(), op, ty, offset }, args)
        }
        "bra" | "brx" => {
            if base == "brx" {
                return unsupported();
            }
            need(1)?;
            let target = match &o[0] {
                Operand::Name(l) => *labels.get(l).ok_or_else(|| format!("unknown label {l}"))?,
                other => return Err(format!("bra target {other:?}")),
            };
            (Op::Bra { target }, vec![])
        }
        "ret" | "exit" => (Op::Exit, vec![]),
        "bar" | "barrier" => {
            let first = mods.first();
            mods.types();
            match first {
                "warp" => {
                    need(1)?;
                    (Op::WarpSync, vec![d.reg(&o[0])?])
                }
                "sync" | "arrive" | "" => {
                    need(1)?;
                    let count = if o.len() > 1 { d.reg(&o[1])? } else { NO_REG };
                    (Op::Bar { arrive: first == "arrive" }, vec![d.reg(&o[0])?, count])
                }
                "red" => {
                    let op = if mods.has("popc") {
                        BarRedOp::Popc
                    } else if mods.has("and") {
                        BarRedOp::And
                    } else if mods.has("or") {
                        BarRedOp::Or
                    } else {
                        return unsupported();
                    };
                    need(3)?;
                    let dst = if op == BarRedOp::Popc { d.dst(&o[0])? } else { d.pred(&o[0])? };
                    let (count, c) = if o.len() == 4 { (d.reg(&o[2])?, d.pred(&o[3])?) } else { (NO_REG, d.pred(&o[2])?) };
                    (Op::BarRed { op }, vec![dst, d.reg(&o[1])?, count, c])
                }
                _ => return unsupported(),
            }
        }
        "shfl" => {
            if !mods.has("sync") {
                return unsupported();
            }
            need(5)?;
            let mode = if mods.has("up") {
                ShflMode::Up
            } else if mods.has("down") {
                ShflMode::Down
            } else if mods.has("bfly") {
                ShflMode::Bfly
            } else if mods.has("idx") {
                ShflMode::Idx
            } else {
                return unsupported();
            };
            let (dst, p) = match &o[0] {
                Operand::Pair(r, p) => (d.dst(&Operand::Name(r))?, d.pred(&Operand::Name(p))?),
                other => (d.dst(other)?, NO_REG),
            };
            (Op::Shfl { mode }, vec![dst, p, d.reg(&o[1])?, d.reg(&o[2])?, d.reg(&o[3])?, d.reg(&o[4])?])
        }
        "vote" => {
            if !mods.has("sync") {
                return unsupported();
            }
            need(3)?;
            let mode = if mods.has("all") {
                VoteMode::All
            } else if mods.has("any") {
                VoteMode::Any
            } else if mods.has("uni") {
                VoteMode::Uni
            } else if mods.has("ballot") {
                VoteMode::Ballot
            } else {
                return unsupported();
            };
            let dst = if mode == VoteMode::Ballot { d.dst(&o[0])? } else { d.pred(&o[0])? };
            let a = d.pred(&o[1])?;
            (Op::Vote { mode, negate_a: a & NEGATED != 0 }, vec![dst, a & !NEGATED, d.reg(&o[2])?])
        }
        "activemask" => {
            need(1)?;
            (Op::Activemask, vec![d.dst(&o[0])?])
        }
        "mma" => {
            need(4)?;
            let types = mods.types();
            let k = if mods.has("m16n8k16") {
                16
            } else if mods.has("m16n8k8") {
                8
            } else {
                return unsupported();
            };
            if !(mods.has("row") && mods.has("col")) || types.len() != 4 || types[1] != types[2] || types[0] != types[3] {
                return unsupported();
            }
            let (cd, ab) = (types[0], types[1]);
            if !matches!(ab, Ty::F16 | Ty::BF16) || !matches!(cd, Ty::F32 | Ty::F16) || (ab == Ty::BF16 && cd != Ty::F32) {
                return unsupported();
            }
            let mut args = d.vector(&o[0], true)?;
            args.extend(d.vector(&o[1], false)?);
            args.extend(d.vector(&o[2], false)?);
            args.extend(d.vector(&o[3], false)?);
            let c_regs = if cd == Ty::F32 { 4 } else { 2 };
            let a_regs = if k == 16 { 4 } else { 2 };
            let b_regs = if k == 16 { 2 } else { 1 };
            if args.len() != 2 * c_regs + a_regs + b_regs {
                return Err("mma operand counts do not match its shape".into());
            }
            (Op::Mma { k, ab, cd }, args)
        }
        "ldmatrix" => {
            need(2)?;
            let n = if mods.has("x1") {
                1
            } else if mods.has("x2") {
                2
            } else if mods.has("x4") {
                4
            } else {
                return unsupported();
            };
            if !mods.has("m8n8") || !mods.has("b16") || mods.space() != Space::Shared {
                return unsupported();
            }
            let mut args = d.vector(&o[0], true)?;
            if args.len() != n as usize {
                return Err("ldmatrix destination count".into());
            }
            let (addr, offset) = d.address(&o[1])?;
            if offset != 0 {
                let _ = offset;
                return unsupported();
            }
            args.push(addr);
            (Op::Ldmatrix { n, trans: mods.has("trans") }, args)
        }
        "cp" => {
            let first = mods.first();
            mods.has("shared");
            mods.has("global");
            mods.has("ca");
            if first != "async" {
                return unsupported();
            }
            if mods.has("commit_group") {
                (Op::CpAsyncCommit, vec![])
            } else if mods.has("wait_group") {
                need(1)?;
                let n = match &o[0] {
                    Operand::Int(v) => *v as u32,
                    _ => return Err("cp.async.wait_group needs an immediate".into()),
                };
                (Op::CpAsyncWait { n, all: false }, vec![])
            } else if mods.has("wait_all") {
                (Op::CpAsyncWait { n: 0, all: true }, vec![])
            } else if mods.has("bulk") || mods.has("mbarrier") {
                return unsupported();
            } else {
                need(3)?;
                let bytes = match &o[2] {
                    Operand::Int(v) if matches!(v, 4 | 8 | 16) => *v as u32,
                    _ => return Err("cp.async copy size must be 4, 8 or 16".into()),
                };
                if mods.has("cg") && bytes != 16 {
                    return Err("cp.async.cg copies 16 bytes".into());
                }
                let (dst, dst_off) = d.address(&o[0])?;
                let (src, src_off) = d.address(&o[1])?;
                if dst_off != 0 || src_off != 0 || o.len() > 4 {
                    return unsupported();
                }
                let src_size = if o.len() == 4 { d.reg(&o[3])? } else { NO_REG };
                (Op::CpAsync { bytes }, vec![dst, src, src_size])
            }
        }
        "membar" | "fence" => {
            // Every access is sequentially consistent here: any fence (and any of its scopes,
            // orderings or proxies) is a no-op.
            mods.accept_all();
            (Op::Fence, vec![])
        }
        _ => return unsupported(),
    };
    let _ = int_ty;
    // Collectives' fixed `.b32`/`.pred`/`.b16` types are part of their form.
    mods.types();
    if let Some(part) = mods.unread() {
        return Err(format!("{UNIMPLEMENTED_MODIFIER} .{part}"));
    }
    Ok((op, args, guard))
}

/// Start of the decode error for a modifier the engine does not implement: such a kernel is
/// refused when its body is decoded (its first launch), whether or not the instruction is reached.
const UNIMPLEMENTED_MODIFIER: &str = "unimplemented modifier";

/// Positions in `args` that hold value registers (not predicates, not NO_REG).
fn value_arg_positions(op: &Op, args: &[u32]) -> Vec<usize> {
    let all = || (0..args.len()).collect::<Vec<_>>();
    let mut v = match op {
        Op::MovPred | Op::PredLogic { .. } | Op::Bra { .. } | Op::Exit | Op::Fence | Op::CpAsyncCommit | Op::CpAsyncWait { .. } | Op::Illegal { .. } | Op::ReadSpecial(_) => vec![],
        Op::Setp { .. } => vec![2, 3],
        Op::Selp { .. } => vec![0, 1, 2],
        Op::BarRed { op } => {
            if *op == BarRedOp::Popc {
                vec![0, 1, 2]
            } else {
                vec![1, 2]
            }
        }
        Op::Shfl { .. } => vec![0, 2, 3, 4, 5],
        Op::Vote { mode, .. } => {
            if *mode == VoteMode::Ballot {
                vec![0, 2]
            } else {
                vec![2]
            }
        }
        _ => all(),
    };
    v.retain(|&i| i < args.len() && args[i] != NO_REG);
    v
}

/// Renumbers the declared value registers so that registers whose live ranges do not overlap
/// share a slot. nvcc's virtual registers number in the thousands for the GEMM kernels (each
/// used briefly); a dense register file of that size per warp does not stay in cache.
///
/// A register's range is from its first to its last occurrence in instruction order, widened to
/// cover every loop (backward branch target..branch) it overlaps, until nothing changes: without
/// backward branches every path runs forward in instruction order, so a value is only live between
/// its first and last occurrence; a loop can carry it around from its end back to its start.
pub fn compact_registers(body: &mut Body, declared: u32, compact: bool) {
    let n = declared as usize;
    let mut first = vec![u32::MAX; n];
    let mut last = vec![0u32; n];
    let mut loops: Vec<(u32, u32)> = Vec::new();
    for (pc, instr) in body.instrs.iter().enumerate() {
        let pc = pc as u32;
        if let Op::Bra { target } = instr.op {
            if target <= pc {
                loops.push((target, pc));
            }
        }
        for i in value_arg_positions(&instr.op, &instr.args) {
            let r = instr.args[i] as usize;
            if r < n {
                first[r] = first[r].min(pc);
                last[r] = last[r].max(pc);
            }
        }
    }
    loops.sort_unstable();
    loops.dedup();
    // Widen over loops until stable.
    for r in 0..n {
        if first[r] == u32::MAX {
            continue;
        }
        loop {
            let mut changed = false;
            for &(t, b) in &loops {
                if first[r] <= b && last[r] >= t && (first[r] > t || last[r] < b) {
                    first[r] = first[r].min(t);
                    last[r] = last[r].max(b);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
    // Linear scan: a slot is free again once its range ended strictly before the next starts.
    let mut order: Vec<usize> = (0..n).filter(|&r| first[r] != u32::MAX).collect();
    order.sort_unstable_by_key(|&r| first[r]);
    let mut active: std::collections::BinaryHeap<std::cmp::Reverse<(u32, u32)>> = std::collections::BinaryHeap::new();
    let mut free: Vec<u32> = Vec::new();
    let mut slots = 0u32;
    let mut map = vec![u32::MAX; n];
    for r in order {
        if !compact {
            map[r] = r as u32;
            slots = declared;
            continue;
        }
        while let Some(&std::cmp::Reverse((end, slot))) = active.peek() {
            if end < first[r] {
                active.pop();
                free.push(slot);
            } else {
                break;
            }
        }
        let slot = free.pop().unwrap_or_else(|| {
            slots += 1;
            slots - 1
        });
        map[r] = slot;
        active.push(std::cmp::Reverse((last[r], slot)));
    }
    if !compact {
        slots = declared;
    }
    // Constants and specials follow the compacted registers.
    let remap = |r: u32| -> u32 {
        if r & EXTRA_TAG != 0 {
            slots + (r & !EXTRA_TAG)
        } else {
            map[r as usize]
        }
    };
    for instr in body.instrs.iter_mut() {
        for i in value_arg_positions(&instr.op, &instr.args) {
            instr.args[i] = remap(instr.args[i]);
        }
    }
    for (r, _) in body.constants.iter_mut() {
        *r = remap(*r);
    }
    for (r, _) in body.specials.iter_mut() {
        *r = remap(*r);
    }
    body.reg_count = slots + (body.reg_count - declared);
}
