//! PTX text → decoded kernels. `Module::load` splits the module into its entries and reads each
//! entry's header and declarations (parameters, shared and local variables, registers); the body
//! is decoded into an instruction array on the kernel's first launch (gemm.ptx holds 22 entries
//! in 5.9 MB, most of which a process never launches).

pub mod decode;
pub mod instr;
pub mod lexer;
pub mod parse;

use std::sync::{Arc, OnceLock};

use lexer::{tokenize, Tok};

pub use decode::Body;

/// A PTX module that failed to parse or uses something the interpreter does not know: the message
/// names the instruction, the kernel and the PTX line.
#[derive(Debug, Clone)]
pub struct PtxError {
    pub message: String,
}

impl std::fmt::Display for PtxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PtxError {}

/// One `.param` of a kernel entry, as `cuLaunchKernel` must pack it.
#[derive(Debug, Clone, Copy)]
pub struct ParamInfo {
    pub size: usize,
    pub align: usize,
}

/// A state-space variable of a kernel: its name and where it lives in its space.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// Where every symbol of a kernel lives: parameters in the parameter buffer, `.shared` variables
/// in the CTA's shared window (static ones first, the dynamic `extern` array after them),
/// `.local` variables in each thread's local window.
#[derive(Debug, Clone, Default)]
pub struct KernelLayout {
    pub name: String,
    pub params: Vec<Variable>,
    pub param_bytes: u64,
    pub shared: Vec<Variable>,
    pub static_shared_bytes: u64,
    /// The extern `.shared` array's name and offset (aligned after the static variables).
    pub dynamic_shared: Option<Variable>,
    pub locals: Vec<Variable>,
    pub local_bytes: u64,
}

impl KernelLayout {
    pub fn symbol(&self, name: &str) -> Option<u64> {
        let all = self.params.iter().chain(&self.shared).chain(&self.locals).chain(&self.dynamic_shared);
        all.into_iter().find(|v| v.name == name).map(|v| v.offset)
    }
}

/// The module's `.file` table: index → path.
#[derive(Debug, Default)]
pub struct FileTable {
    pub files: Vec<(u32, String)>,
}

impl FileTable {
    pub fn name(&self, index: u32) -> &str {
        self.files.iter().find(|(i, _)| *i == index).map_or("?", |(_, n)| n.as_str())
    }
}

/// A loaded PTX module: its kernel entries by name.
pub struct Module {
    kernels: Vec<Arc<Kernel>>,
}

/// One `.entry` of a module.
pub struct Kernel {
    pub name: String,
    pub params: Vec<ParamInfo>,
    pub static_shared_bytes: u32,
    pub local_bytes_per_thread: u32,
    pub registers_per_thread: u32,
    pub max_threads_per_block: u32,
    pub layout: KernelLayout,
    pub files: Arc<FileTable>,
    text: Arc<str>,
    body_range: (usize, usize),
    body_first_line: u32,
    body: OnceLock<Result<Arc<Body>, PtxError>>,
}

impl Kernel {
    /// The decoded body (decoded on first use, then shared).
    pub fn body(&self) -> Result<Arc<Body>, PtxError> {
        self.body
            .get_or_init(|| {
                let text = &self.text[self.body_range.0..self.body_range.1];
                decode::decode_body(&self.layout, text, self.body_first_line).map(Arc::new)
            })
            .clone()
    }

    /// "file.cu:line" for a `.loc` index, or None.
    pub fn source_line(&self, body: &Body, loc: u32) -> Option<String> {
        let &(file, line) = body.locs.get(loc as usize)?;
        let name = self.files.name(file);
        let short = name.rsplit('/').next().unwrap_or(name);
        Some(format!("{short}:{line}"))
    }
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernel({})", self.name)
    }
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a.max(1)) * a.max(1)
}

/// `.shared/.local/.param .align A .type name[N]` → (name, size, align, is_extern_array).
fn parse_variable(toks: &[Tok<'_>]) -> Option<(String, u64, u64, bool)> {
    let mut align = 0u64;
    let mut elem = 0u64;
    let mut name = None;
    let mut count: Option<u64> = None;
    let mut is_unsized = false;
    let mut after_ptr = false;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Word(".ptr") => after_ptr = true,
            Tok::Word(".align") => {
                if let Some(Tok::Int(a)) = toks.get(i + 1) {
                    if !after_ptr {
                        align = *a;
                    }
                    i += 1;
                }
            }
            Tok::Word(w) if w.starts_with('.') => {
                if let Some(ty) = instr::Ty::parse(&w[1..]) {
                    elem = ty.bytes() as u64;
                }
            }
            Tok::Word(w) if name.is_none() => name = Some(w.to_string()),
            Tok::Punct('[') => match toks.get(i + 1) {
                Some(Tok::Int(n)) => {
                    count = Some(count.unwrap_or(1) * n);
                    i += 2;
                }
                _ => {
                    is_unsized = true;
                    i += 1;
                }
            },
            Tok::Punct(',') | Tok::Punct(';') | Tok::Punct(')') => break,
            _ => {}
        }
        i += 1;
    }
    let name = name?;
    let align = if align == 0 { elem.max(1) } else { align };
    Some((name, elem * count.unwrap_or(1), align, is_unsized))
}

fn err(message: String) -> PtxError {
    PtxError { message }
}

/// A module-level declaration line, kept to lay out kernels that use it.
struct ModuleVar {
    name: String,
    size: u64,
    align: u64,
    dynamic: bool,
}

impl Module {
    /// PTX text, possibly NUL-terminated; anything else is an error.
    pub fn load(image: &[u8]) -> Result<Module, PtxError> {
        let end = image.iter().position(|&b| b == 0).unwrap_or(image.len());
        let text = std::str::from_utf8(&image[..end]).map_err(|_| err("the module image is not PTX text (not UTF-8)".into()))?;
        if !text.contains(".version") || !text.contains(".target") {
            return Err(err("the module image is not PTX text (no .version/.target)".into()));
        }
        let text: Arc<str> = Arc::from(text);
        let mut files = FileTable::default();
        let mut module_vars: Vec<ModuleVar> = Vec::new();
        struct Entry {
            header: (usize, usize, u32),
            body: (usize, usize, u32),
        }
        let mut entries = Vec::new();

        // Walk lines, tracking brace depth (comments stripped) at the module level.
        let mut depth = 0i32;
        let mut offset = 0usize;
        let mut header_start: Option<(usize, u32)> = None;
        let mut body_start: Option<(usize, u32)> = None;
        let mut header_end = 0usize;
        let mut line_no = 0u32;
        for raw in text.split_inclusive('\n') {
            line_no += 1;
            let line_offset = offset;
            offset += raw.len();
            let code = raw.split("//").next().unwrap();
            let trimmed = code.trim();
            if depth == 0 && header_start.is_none() && body_start.is_none() {
                if trimmed.starts_with(".file") {
                    let toks = tokenize(trimmed, line_no).map_err(err)?;
                    if let (Some(Tok::Int(i)), Some(Tok::Str(s))) = (toks.get(1).map(|t| &t.tok), toks.get(2).map(|t| &t.tok)) {
                        files.files.push((*i as u32, s.to_string()));
                    }
                    continue;
                }
                let words: Vec<&str> = trimmed.split_whitespace().collect();
                if words.contains(&".entry") {
                    header_start = Some((line_offset, line_no));
                } else if words.contains(&".func") {
                    // Device functions: not called by today's kernels; a `call` is Illegal.
                } else if words.iter().any(|w| matches!(*w, ".shared" | ".global" | ".const")) && !trimmed.starts_with(".section") {
                    let toks = tokenize(trimmed, line_no).map_err(err)?;
                    let toks: Vec<Tok> = toks.into_iter().map(|t| t.tok).collect();
                    if words.contains(&".global") || words.contains(&".const") {
                        return Err(err(format!("PTX line {line_no}: module-level .global/.const variables are not supported")));
                    }
                    if let Some((name, size, align, is_unsized)) = parse_variable(&toks) {
                        module_vars.push(ModuleVar { name, size, align, dynamic: is_unsized || words.contains(&".extern") && size == 0 });
                    }
                }
            }
            for (i, c) in code.char_indices() {
                match c {
                    '{' => {
                        if depth == 0 && header_start.is_some() && body_start.is_none() {
                            header_end = line_offset + i;
                            body_start = Some((line_offset + i + 1, line_no));
                        }
                        depth += 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            if let (Some((hs, hl)), Some((bs, bl))) = (header_start, body_start) {
                                entries.push(Entry { header: (hs, header_end, hl), body: (bs, line_offset + i, bl) });
                                header_start = None;
                                body_start = None;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let files = Arc::new(files);
        let mut kernels = Vec::new();
        for e in entries {
            kernels.push(Arc::new(Self::entry(&text, e.header, e.body, &module_vars, files.clone())?));
        }
        Ok(Module { kernels })
    }

    fn entry(text: &Arc<str>, header: (usize, usize, u32), body: (usize, usize, u32), module_vars: &[ModuleVar], files: Arc<FileTable>) -> Result<Kernel, PtxError> {
        let htoks = tokenize(&text[header.0..header.1], header.2).map_err(err)?;
        let htoks: Vec<Tok> = htoks.into_iter().map(|t| t.tok).collect();
        let entry_at = htoks.iter().position(|t| *t == Tok::Word(".entry")).unwrap();
        let name = match htoks.get(entry_at + 1) {
            Some(Tok::Word(w)) => w.to_string(),
            _ => return Err(err(format!("PTX line {}: .entry without a name", header.2))),
        };
        let mut layout = KernelLayout { name: name.clone(), ..Default::default() };
        let mut params = Vec::new();
        // Parameters: each `.param` up to the next ',' or ')'.
        let open = htoks.iter().position(|t| *t == Tok::Punct('('));
        let mut after_params = entry_at + 2;
        if let Some(open) = open {
            let close = htoks.iter().position(|t| *t == Tok::Punct(')')).ok_or_else(|| err(format!("kernel {name}: unclosed parameter list")))?;
            let mut i = open + 1;
            while i < close {
                let j = (i..close).find(|&k| htoks[k] == Tok::Punct(',')).unwrap_or(close);
                if let Some((pname, size, align, _)) = parse_variable(&htoks[i..j]) {
                    let offset = align_up(layout.param_bytes, align);
                    layout.param_bytes = offset + size;
                    layout.params.push(Variable { name: pname, offset, size });
                    params.push(ParamInfo { size: size as usize, align: align as usize });
                }
                i = j + 1;
            }
            after_params = close + 1;
        }
        let mut max_threads = 1024u32;
        let mut i = after_params;
        while i < htoks.len() {
            if htoks[i] == Tok::Word(".maxntid") || htoks[i] == Tok::Word(".reqntid") {
                let mut product = 1u64;
                let mut j = i + 1;
                while let Some(Tok::Int(v)) = htoks.get(j) {
                    product *= v;
                    j += 1;
                    if htoks.get(j) == Some(&Tok::Punct(',')) {
                        j += 1;
                    }
                }
                max_threads = product.min(1024) as u32;
                i = j;
            } else {
                i += 1;
            }
        }

        // Declarations in the body: registers (an estimate of use), shared and local variables.
        let body_text = &text[body.0..body.1];
        let mut reg_units = 0u64;
        for (index, raw) in body_text.lines().enumerate() {
            let line_no = body.2 + index as u32;
            let t = raw.trim_start();
            if t.starts_with(".reg") || t.starts_with(".shared") || t.starts_with(".local") {
                let toks: Vec<Tok> = tokenize(t, line_no).map_err(err)?.into_iter().map(|t| t.tok).collect();
                if t.starts_with(".reg") {
                    let bits = toks.iter().find_map(|t| if let Tok::Word(w) = t { w.strip_prefix('.').and_then(instr::Ty::parse) } else { None });
                    let per = match bits {
                        Some(instr::Ty::Pred) => 0,
                        Some(ty) if ty.bits() > 32 => 2,
                        _ => 1,
                    };
                    let mut k = 0;
                    while k < toks.len() {
                        if toks[k] == Tok::Punct('<') {
                            if let Some(Tok::Int(n)) = toks.get(k + 1) {
                                reg_units += per * n;
                            }
                        }
                        k += 1;
                    }
                } else if let Some((vname, size, align, _)) = parse_variable(&toks) {
                    if t.starts_with(".shared") {
                        let offset = align_up(layout.static_shared_bytes, align);
                        layout.static_shared_bytes = offset + size;
                        layout.shared.push(Variable { name: vname, offset, size });
                    } else {
                        let offset = align_up(layout.local_bytes, align);
                        layout.local_bytes = offset + size;
                        layout.locals.push(Variable { name: vname, offset, size });
                    }
                }
            }
        }
        // Module-level shared variables that this body names.
        let mut dynamic_align = 16;
        let mut dynamic_name = None;
        for v in module_vars {
            if !body_text.contains(v.name.as_str()) {
                continue;
            }
            if v.dynamic {
                dynamic_align = v.align.max(1);
                dynamic_name = Some(v.name.clone());
            } else {
                let offset = align_up(layout.static_shared_bytes, v.align);
                layout.static_shared_bytes = offset + v.size;
                layout.shared.push(Variable { name: v.name.clone(), offset, size: v.size });
            }
        }
        if let Some(dname) = dynamic_name {
            layout.dynamic_shared = Some(Variable { name: dname, offset: align_up(layout.static_shared_bytes, dynamic_align), size: 0 });
        }
        Ok(Kernel {
            name,
            params,
            static_shared_bytes: layout.static_shared_bytes as u32,
            local_bytes_per_thread: layout.local_bytes as u32,
            registers_per_thread: reg_units.clamp(1, 255) as u32,
            max_threads_per_block: max_threads,
            layout,
            files,
            text: text.clone(),
            body_range: (body.0, body.1),
            body_first_line: body.2,
            body: OnceLock::new(),
        })
    }

    pub fn kernel(&self, name: &str) -> Option<Arc<Kernel>> {
        self.kernels.iter().find(|k| k.name == name).cloned()
    }

    pub fn kernel_names(&self) -> impl Iterator<Item = &str> {
        self.kernels.iter().map(|k| k.name.as_str())
    }
}
