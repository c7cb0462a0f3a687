//! Tokens of one kernel body → statements (labels, scopes, register declarations, `.loc`,
//! instructions with operand trees). `decode.rs` turns the statements into `Instr`s.

use super::lexer::{Tok, Token};

#[derive(Debug, Clone, PartialEq)]
pub enum Operand<'a> {
    /// A register, special register, symbol or label name.
    Name(&'a str),
    /// `!%p`.
    Not(Box<Operand<'a>>),
    Int(i64),
    /// Raw bits of a `0f`/`0d` literal and whether it is 64-bit.
    Float(u64, bool),
    /// `{a, b, ...}`.
    Vector(Vec<Operand<'a>>),
    /// `[base+offset]`, base absent for `[imm]`.
    Address { base: Option<&'a str>, offset: i64 },
    /// `%r|%p` (shfl, setp with two destinations).
    Pair(&'a str, &'a str),
    /// `_`.
    Sink,
}

#[derive(Debug, Clone)]
pub struct InstrStmt<'a> {
    pub guard: Option<(&'a str, bool)>,
    pub opcode: &'a str,
    pub operands: Vec<Operand<'a>>,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub enum Stmt<'a> {
    Open,
    Close,
    Label(&'a str),
    /// `.reg .ty name<N>` or `.reg .ty a, b`: (type, name, count or None for a single name).
    Reg { ty: &'a str, names: Vec<(&'a str, Option<u32>)> },
    /// `.loc file line col`.
    Loc { file: u32, line: u32 },
    /// `.shared`/`.local` inside a body: handled from the declaration scan, skipped here.
    Var,
    Instr(InstrStmt<'a>),
}

pub struct Parser<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Parser<'t, 'a> {
    pub fn new(toks: &'t [Token<'a>]) -> Self {
        Self { toks, pos: 0 }
    }

    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn line(&self) -> u32 {
        self.toks.get(self.pos).or(self.toks.last()).map_or(0, |t| t.line)
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        let line = self.line();
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            other => Err(format!("PTX line {line}: expected '{c}', found {other:?}")),
        }
    }

    fn word(&mut self) -> Result<&'a str, String> {
        let line = self.line();
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(format!("PTX line {line}: expected a name, found {other:?}")),
        }
    }

    fn skip_to_semicolon(&mut self) {
        while let Some(t) = self.next() {
            if t == Tok::Punct(';') {
                break;
            }
        }
    }

    pub fn statements(&mut self) -> Result<Vec<Stmt<'a>>, String> {
        let mut out = Vec::new();
        while let Some(tok) = self.peek().cloned() {
            let line = self.line();
            match tok {
                Tok::Punct('{') => {
                    self.pos += 1;
                    out.push(Stmt::Open);
                }
                Tok::Punct('}') => {
                    self.pos += 1;
                    out.push(Stmt::Close);
                }
                Tok::Punct(';') => self.pos += 1,
                Tok::Punct('@') => out.push(Stmt::Instr(self.instruction()?)),
                Tok::Word(w) if w.starts_with('.') => out.push(self.directive(w)?),
                Tok::Word(w) => {
                    if self.toks.get(self.pos + 1).map(|t| &t.tok) == Some(&Tok::Punct(':')) {
                        self.pos += 2;
                        out.push(Stmt::Label(w));
                    } else {
                        out.push(Stmt::Instr(self.instruction()?));
                    }
                }
                other => return Err(format!("PTX line {line}: unexpected {other:?}")),
            }
        }
        Ok(out)
    }

    fn directive(&mut self, name: &'a str) -> Result<Stmt<'a>, String> {
        let line = self.line();
        self.pos += 1;
        match name {
            ".reg" => {
                let ty = self.word()?;
                let ty = if ty.starts_with(".v") { self.word()? } else { ty };
                let mut names = Vec::new();
                loop {
                    let n = self.word()?;
                    let mut count = None;
                    if self.peek() == Some(&Tok::Punct('<')) {
                        self.pos += 1;
                        match self.next() {
                            Some(Tok::Int(v)) => count = Some(v as u32),
                            other => return Err(format!("PTX line {line}: bad register count {other:?}")),
                        }
                        self.expect_punct('>')?;
                    }
                    names.push((n, count));
                    match self.next() {
                        Some(Tok::Punct(',')) => continue,
                        Some(Tok::Punct(';')) => break,
                        other => return Err(format!("PTX line {line}: bad .reg declaration near {other:?}")),
                    }
                }
                Ok(Stmt::Reg { ty, names })
            }
            ".loc" => {
                let mut nums = Vec::new();
                while let Some(t) = self.toks.get(self.pos) {
                    if t.line != line {
                        break;
                    }
                    if let Tok::Int(v) = t.tok {
                        nums.push(v as u32);
                    }
                    self.pos += 1;
                }
                Ok(Stmt::Loc { file: nums.first().copied().unwrap_or(0), line: nums.get(1).copied().unwrap_or(0) })
            }
            ".shared" | ".local" | ".pragma" | ".const" | ".global" => {
                self.skip_to_semicolon();
                Ok(Stmt::Var)
            }
            other => Err(format!("PTX line {line}: unsupported directive {other} in a kernel body")),
        }
    }

    fn instruction(&mut self) -> Result<InstrStmt<'a>, String> {
        let line = self.line();
        let mut guard = None;
        if self.peek() == Some(&Tok::Punct('@')) {
            self.pos += 1;
            let negate = if self.peek() == Some(&Tok::Punct('!')) {
                self.pos += 1;
                true
            } else {
                false
            };
            guard = Some((self.word()?, negate));
        }
        let opcode = self.word()?;
        let mut operands = Vec::new();
        if self.peek() == Some(&Tok::Punct(';')) {
            self.pos += 1;
            return Ok(InstrStmt { guard, opcode, operands, line });
        }
        loop {
            operands.push(self.operand()?);
            match self.next() {
                Some(Tok::Punct(',')) => continue,
                Some(Tok::Punct(';')) => break,
                other => return Err(format!("PTX line {line}: expected ',' or ';' after an operand of {opcode}, found {other:?}")),
            }
        }
        Ok(InstrStmt { guard, opcode, operands, line })
    }

    fn operand(&mut self) -> Result<Operand<'a>, String> {
        let line = self.line();
        match self.next() {
            Some(Tok::Word("_")) => Ok(Operand::Sink),
            Some(Tok::Word(w)) => {
                if self.peek() == Some(&Tok::Punct('|')) {
                    self.pos += 1;
                    let second = self.word()?;
                    return Ok(Operand::Pair(w, second));
                }
                Ok(Operand::Name(w))
            }
            Some(Tok::Punct('!')) => Ok(Operand::Not(Box::new(self.operand()?))),
            Some(Tok::Punct('-')) => match self.next() {
                Some(Tok::Int(v)) => Ok(Operand::Int((v as i64).wrapping_neg())),
                other => Err(format!("PTX line {line}: expected a number after '-', found {other:?}")),
            },
            Some(Tok::Int(v)) => Ok(Operand::Int(v as i64)),
            Some(Tok::Float(bits, is64)) => Ok(Operand::Float(bits, is64)),
            Some(Tok::Punct('{')) => {
                let mut items = Vec::new();
                loop {
                    items.push(self.operand()?);
                    match self.next() {
                        Some(Tok::Punct(',')) => continue,
                        Some(Tok::Punct('}')) => break,
                        other => return Err(format!("PTX line {line}: bad vector operand near {other:?}")),
                    }
                }
                Ok(Operand::Vector(items))
            }
            Some(Tok::Punct('[')) => {
                let mut base = None;
                let mut offset: i64 = 0;
                let mut sign = 1i64;
                loop {
                    match self.next() {
                        Some(Tok::Word(w)) => base = Some(w),
                        Some(Tok::Int(v)) => offset = offset.wrapping_add(sign.wrapping_mul(v as i64)),
                        Some(Tok::Punct('+')) => sign = 1,
                        Some(Tok::Punct('-')) => sign = -sign,
                        Some(Tok::Punct(']')) => break,
                        other => return Err(format!("PTX line {line}: bad address operand near {other:?}")),
                    }
                }
                Ok(Operand::Address { base, offset })
            }
            other => Err(format!("PTX line {line}: unexpected operand {other:?}")),
        }
    }
}
