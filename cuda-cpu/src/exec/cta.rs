//! One CTA at a time on one worker thread: its warps, their scheduling (per-lane PCs, the lanes
//! at the lowest PC run together, which reconverges structured control flow where it merges),
//! barriers, and the instructions themselves.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::counters::Counters;
use super::shadow::SharedShadow;
use super::{semantics as sem, LaunchError, LaunchErrorKind as Kind, Shared};
use crate::memory::Allocation;
use crate::ptx::instr::*;
use crate::ptx::Body;

pub const FULL: u32 = u32::MAX;
/// Generic-address windows of the shared and local state spaces (global addresses are the
/// allocations' own, far above these).
pub const SHARED_WINDOW: u64 = 0x0000_1000_0000_0000;
pub const LOCAL_WINDOW: u64 = 0x0000_2000_0000_0000;
const WINDOW_SIZE: u64 = 0x0000_1000_0000_0000;

/// Instructions a warp runs before the scheduler moves to the next (lets warps that spin on a
/// flag another warp sets make progress).
const QUANTUM: u32 = 4096;

/// A cp.async copy issued but not yet landed.
struct PendingCopy {
    lane: u8,
    group: u32,
    dst: u32,
    len: u8,
    data: [u8; 16],
}

pub struct Warp {
    pub index: u32,
    pub regs: Vec<u64>,
    pub preds: Vec<u32>,
    pcs: [u32; 32],
    /// Lanes that exist (a CTA's last warp may be partial).
    pub existing: u32,
    pub exited: u32,
    /// Lanes waiting at a barrier.
    pub blocked: u32,
    /// Lanes waiting for the other members of a warp collective.
    parked: u32,
    /// The group being executed: lanes at `pc` (valid when `group != 0`).
    pc: u32,
    group: u32,
    /// Per-lane barrier bookkeeping: which barrier, and the bar instruction's index.
    bar_id: [u8; 32],
    bar_pc: [u32; 32],
    bar_value: u32,
    /// Count of warp-synchronous instructions executed (the race checker's intra-warp order).
    pub sync: u32,
    committed: [u32; 32],
    pending: Vec<PendingCopy>,
}

impl Warp {
    fn runnable(&self) -> u32 {
        self.existing & !self.exited & !self.blocked & !self.parked
    }

    fn live(&self) -> u32 {
        self.existing & !self.exited
    }

    /// Writes back the current group's PC and picks the lowest-PC group among runnable lanes.
    fn reschedule(&mut self) {
        let g = self.group;
        let mut m = g;
        while m != 0 {
            let l = m.trailing_zeros() as usize;
            m &= m - 1;
            self.pcs[l] = self.pc;
        }
        let runnable = self.runnable();
        let mut min = u32::MAX;
        let mut group = 0;
        let mut m = runnable;
        while m != 0 {
            let l = m.trailing_zeros();
            m &= m - 1;
            let p = self.pcs[l as usize];
            if p < min {
                min = p;
                group = 1 << l;
            } else if p == min {
                group |= 1 << l;
            }
        }
        self.pc = min;
        self.group = group;
    }
}

struct BarrierState {
    arrived: u32,
    expected: u32,
}

/// A worker's reusable state for running CTAs of one launch.
pub struct CtaRunner<'l> {
    pub launch: &'l Shared<'l>,
    pub body: Arc<Body>,
    pub warps: Vec<Warp>,
    pub shared: Vec<u8>,
    pub shadow: SharedShadow,
    pub local: Vec<u8>,
    pub local_init: Vec<u8>,
    pub counters: Counters,
    pub executed: u64,
    barriers: [BarrierState; 16],
    ctaid: [u32; 3],
    cta_linear: u64,
    threads: u32,
    /// Cache of the last global allocation touched.
    /// The last few global allocations touched (kernels alternate between their buffers), and
    /// which one the current access is in.
    allocs: [Option<Arc<Allocation>>; 4],
    current_alloc: usize,
    next_victim: usize,
    clock: u64,
    /// Warp slots whose constants and per-thread specials are set for this launch.
    prepared: Vec<bool>,
}

/// An error at an instruction, before the location is attached.
pub struct Fault {
    kind: Kind,
    lane: u32,
    what: String,
}

fn fault(kind: Kind, lane: u32, what: String) -> Fault {
    Fault { kind, lane, what }
}

type Res<T> = Result<T, Fault>;

#[inline(always)]
fn lanes(mask: u32, mut f: impl FnMut(usize)) {
    if mask == FULL {
        for l in 0..32 {
            f(l);
        }
    } else {
        let mut m = mask;
        while m != 0 {
            let l = m.trailing_zeros() as usize;
            m &= m - 1;
            f(l);
        }
    }
}

#[inline(always)]
fn try_lanes(mask: u32, mut f: impl FnMut(usize) -> Res<()>) -> Res<()> {
    let mut m = mask;
    while m != 0 {
        let l = m.trailing_zeros() as usize;
        m &= m - 1;
        f(l)?;
    }
    Ok(())
}

fn int_type(ty: Ty) -> sem::IntType {
    use sem::IntType as I;
    match ty {
        Ty::U8 | Ty::B8 => I::U8,
        Ty::U16 | Ty::B16 => I::U16,
        Ty::U32 | Ty::B32 => I::U32,
        Ty::U64 | Ty::B64 => I::U64,
        Ty::S8 => I::S8,
        Ty::S16 => I::S16,
        Ty::S32 => I::S32,
        Ty::S64 => I::S64,
        _ => I::U32,
    }
}

fn rounding(rnd: Rnd) -> sem::Rounding {
    match rnd {
        Rnd::Rz | Rnd::Rzi => sem::Rounding::Zero,
        Rnd::Rm | Rnd::Rmi => sem::Rounding::Down,
        Rnd::Rp | Rnd::Rpi => sem::Rounding::Up,
        _ => sem::Rounding::Nearest,
    }
}

fn float_cmp(c: Cmp) -> sem::float::FloatCmp {
    use sem::float::FloatCmp as F;
    match c {
        Cmp::Eq => F::Eq,
        Cmp::Ne => F::Ne,
        Cmp::Lt | Cmp::Lo => F::Lt,
        Cmp::Le | Cmp::Ls => F::Le,
        Cmp::Gt | Cmp::Hi => F::Gt,
        Cmp::Ge | Cmp::Hs => F::Ge,
        Cmp::Equ => F::Equ,
        Cmp::Neu => F::Neu,
        Cmp::Ltu => F::Ltu,
        Cmp::Leu => F::Leu,
        Cmp::Gtu => F::Gtu,
        Cmp::Geu => F::Geu,
        Cmp::Num => F::Num,
        Cmp::Nan => F::Nan,
    }
}

fn int_cmp(c: Cmp) -> Option<sem::integer::IntCmp> {
    use sem::integer::IntCmp as I;
    Some(match c {
        Cmp::Eq => I::Eq,
        Cmp::Ne => I::Ne,
        Cmp::Lt => I::Lt,
        Cmp::Le => I::Le,
        Cmp::Gt => I::Gt,
        Cmp::Ge => I::Ge,
        Cmp::Lo => I::Lo,
        Cmp::Ls => I::Ls,
        Cmp::Hi => I::Hi,
        Cmp::Hs => I::Hs,
        _ => return None,
    })
}

fn cvt_type(ty: Ty) -> sem::convert::CvtType {
    use sem::convert::CvtType as C;
    match ty {
        Ty::F16 => C::Float(sem::FloatType::F16),
        Ty::BF16 => C::Float(sem::FloatType::BF16),
        Ty::F32 => C::Float(sem::FloatType::F32),
        Ty::F64 => C::Float(sem::FloatType::F64),
        other => C::Int(int_type(other)),
    }
}

fn mask_bits(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// What an executed instruction did to control flow.
enum Flow {
    Next,
    /// Lanes (of the executing group) that branch to the target.
    Branch(u32, u32),
    Exit(u32),
    /// Lanes that now wait at a barrier (they resume after it).
    Block(u32),
    /// The group waits for the rest of a collective's members (retries the instruction).
    Park,
}

/// Warp register files and shared shadows of finished launches, reused by the next (allocating
/// them afresh per launch put page clearing in the profile).
static POOL: std::sync::Mutex<Vec<(Vec<Warp>, SharedShadow)>> = std::sync::Mutex::new(Vec::new());

impl Drop for CtaRunner<'_> {
    fn drop(&mut self) {
        let mut pool = POOL.lock().unwrap();
        if pool.len() < 64 {
            pool.push((std::mem::take(&mut self.warps), std::mem::replace(&mut self.shadow, SharedShadow::new())));
        }
    }
}

impl<'l> CtaRunner<'l> {
    pub fn new(launch: &'l Shared<'l>, body: Arc<Body>) -> Self {
        let (warps, shadow) = POOL.lock().unwrap().pop().unwrap_or_else(|| (Vec::new(), SharedShadow::new()));
        Self {
            launch,
            body,
            warps,
            shared: Vec::new(),
            shadow,
            local: Vec::new(),
            local_init: Vec::new(),
            counters: Counters::default(),
            executed: 0,
            barriers: std::array::from_fn(|_| BarrierState { arrived: 0, expected: 0 }),
            ctaid: [0; 3],
            cta_linear: 0,
            threads: 0,
            allocs: [None, None, None, None],
            current_alloc: 0,
            next_victim: 0,
            clock: 0,
            prepared: Vec::new(),
        }
    }

    fn tid_of(&self, warp: u32, lane: u32) -> u32 {
        warp * 32 + lane
    }

    fn thread_xyz(&self, t: u32) -> [u32; 3] {
        let b = self.launch.config.block;
        [t % b[0], (t / b[0]) % b[1], t / (b[0] * b[1])]
    }

    pub fn run_cta(&mut self, linear: u64) -> Result<(), LaunchError> {
        let cfg = self.launch.config;
        let g = cfg.grid;
        self.cta_linear = linear;
        self.ctaid = [(linear % g[0] as u64) as u32, ((linear / g[0] as u64) % g[1] as u64) as u32, (linear / (g[0] as u64 * g[1] as u64)) as u32];
        let threads = cfg.block[0] * cfg.block[1] * cfg.block[2];
        self.threads = threads;
        let warp_count = threads.div_ceil(32);
        let body = self.body.clone();
        // Warps: constants and special registers filled in. Other registers keep whatever an
        // earlier CTA left (PTX registers are undefined until written; zeroing the GEMM's
        // thousands of virtual registers per CTA cost more than running it).
        self.warps.truncate(warp_count as usize);
        for warp in self.warps.iter_mut() {
            if warp.regs.len() < body.reg_count as usize * 32 {
                warp.regs.resize(body.reg_count as usize * 32, 0);
            }
            warp.preds.resize(body.pred_count as usize, 0);
        }
        while self.warps.len() < warp_count as usize {
            self.warps.push(Warp {
                index: 0,
                regs: vec![0; body.reg_count as usize * 32],
                preds: vec![0; body.pred_count as usize],
                pcs: [0; 32],
                existing: 0,
                exited: 0,
                blocked: 0,
                parked: 0,
                pc: 0,
                group: 0,
                bar_id: [0; 32],
                bar_pc: [0; 32],
                bar_value: 0,
                sync: 0,
                committed: [0; 32],
                pending: Vec::new(),
            });
        }
        let shared_bytes = self.launch.shared_bytes as usize;
        self.shared.clear();
        self.shared.resize(shared_bytes, 0);
        self.shadow.start_cta(shared_bytes);
        let local_total = self.launch.kernel.local_bytes_per_thread as usize * threads as usize;
        self.local.clear();
        self.local.resize(local_total, 0);
        self.local_init.clear();
        self.local_init.resize(local_total, 0);
        for w in 0..warp_count {
            let existing = if (w + 1) * 32 <= threads { FULL } else { (1u32 << (threads - w * 32)) - 1 };
            let xyz: [[u32; 3]; 32] = std::array::from_fn(|l| self.thread_xyz(w * 32 + l as u32));
            let (ctaid, nctaid, block) = (self.ctaid, g, cfg.block);
            let warp = &mut self.warps[w as usize];
            warp.index = w;
            warp.preds.iter_mut().for_each(|p| *p = 0);
            warp.pcs = [0; 32];
            warp.existing = existing;
            warp.exited = 0;
            warp.blocked = 0;
            warp.parked = 0;
            warp.pc = 0;
            warp.group = existing;
            warp.sync = 0;
            warp.committed = [0; 32];
            warp.pending.clear();
            // Constants and the per-thread specials are the same for every CTA of a launch (no
            // instruction writes them): set once per warp slot per launch.
            let first_cta_of_warp = !self.prepared.get(w as usize).copied().unwrap_or(false);
            if first_cta_of_warp {
                for &(r, v) in &body.constants {
                    warp.regs[r as usize * 32..r as usize * 32 + 32].fill(v);
                }
            }
            for &p in &body.true_preds {
                warp.preds[p as usize] = FULL;
            }
            for &(r, s) in &body.specials {
                let per_cta = matches!(s, Special::CtaidX | Special::CtaidY | Special::CtaidZ);
                if !first_cta_of_warp && !per_cta {
                    continue;
                }
                for l in 0..32u32 {
                    let v: u64 = match s {
                        Special::TidX => xyz[l as usize][0] as u64,
                        Special::TidY => xyz[l as usize][1] as u64,
                        Special::TidZ => xyz[l as usize][2] as u64,
                        Special::NtidX => block[0] as u64,
                        Special::NtidY => block[1] as u64,
                        Special::NtidZ => block[2] as u64,
                        Special::CtaidX => ctaid[0] as u64,
                        Special::CtaidY => ctaid[1] as u64,
                        Special::CtaidZ => ctaid[2] as u64,
                        Special::NctaidX => nctaid[0] as u64,
                        Special::NctaidY => nctaid[1] as u64,
                        Special::NctaidZ => nctaid[2] as u64,
                        Special::LaneId => l as u64,
                        Special::WarpId => w as u64,
                        Special::NWarpId => 64,
                        Special::SmId => 0,
                        Special::NSmId => 108,
                        Special::GridId => 1,
                        Special::LaneMaskEq => 1u64 << l,
                        Special::LaneMaskLt => (1u64 << l) - 1,
                        Special::LaneMaskLe => (1u64 << (l + 1)) - 1,
                        Special::LaneMaskGt => !((1u64 << (l + 1)) - 1) & 0xffff_ffff,
                        Special::LaneMaskGe => !((1u64 << l) - 1) & 0xffff_ffff,
                        Special::DynamicSmemSize => cfg.dynamic_shared_bytes as u64,
                        Special::TotalSmemSize => shared_bytes as u64,
                    };
                    warp.regs[r as usize * 32 + l as usize] = v;
                }
            }
        }
        if self.prepared.len() < warp_count as usize {
            self.prepared.resize(warp_count as usize, false);
        }
        self.prepared[..warp_count as usize].fill(true);
        for b in self.barriers.iter_mut() {
            b.arrived = 0;
            b.expected = 0;
        }
        self.schedule()
    }

    /// Runs warps round-robin until all have exited; releases barriers; reports deadlocks.
    fn schedule(&mut self) -> Result<(), LaunchError> {
        loop {
            let mut progressed = false;
            let mut all_exited = true;
            for w in 0..self.warps.len() {
                if self.warps[w].runnable() != 0 {
                    progressed |= self.run_warp(w)?;
                }
                if self.warps[w].live() != 0 {
                    all_exited = false;
                }
            }
            if all_exited {
                return Ok(());
            }
            if self.release_barriers() {
                continue;
            }
            if !progressed && self.warps.iter().all(|w| w.runnable() == 0) {
                return Err(self.deadlock());
            }
        }
    }

    fn live_threads(&self) -> u32 {
        self.warps.iter().map(|w| w.live().count_ones()).sum()
    }

    /// Releases every barrier whose expected threads have all arrived.
    fn release_barriers(&mut self) -> bool {
        let live = self.live_threads();
        let mut released = false;
        for id in 0..16usize {
            let b = &self.barriers[id];
            if b.arrived == 0 {
                continue;
            }
            let expected = if b.expected == 0 { live } else { b.expected };
            if b.arrived < expected {
                continue;
            }
            // Result of bar.red over all arrived threads.
            let mut popc = 0u32;
            let mut all = true;
            let mut any = false;
            for w in &self.warps {
                let waiting = self.waiting_at(w, id);
                popc += (w.bar_value & waiting).count_ones();
                all &= w.bar_value & waiting == waiting;
                any |= w.bar_value & waiting != 0;
            }
            for wi in 0..self.warps.len() {
                let waiting = self.waiting_at(&self.warps[wi], id);
                if waiting == 0 {
                    continue;
                }
                let w = &mut self.warps[wi];
                let mut m = waiting;
                while m != 0 {
                    let l = m.trailing_zeros() as usize;
                    m &= m - 1;
                    let instr = &self.body.instrs[w.bar_pc[l] as usize];
                    if let Op::BarRed { op } = instr.op {
                        let d = instr.args[0] as usize;
                        match op {
                            BarRedOp::Popc => w.regs[d * 32 + l] = popc as u64,
                            BarRedOp::And => set_pred(&mut w.preds[d], l, all),
                            BarRedOp::Or => set_pred(&mut w.preds[d], l, any),
                        }
                    }
                }
                w.blocked &= !waiting;
                w.bar_value &= !waiting;
                w.group = 0;
                w.reschedule();
            }
            self.barriers[id].arrived = 0;
            self.barriers[id].expected = 0;
            self.shadow.barrier();
            released = true;
        }
        released
    }

    fn waiting_at(&self, w: &Warp, id: usize) -> u32 {
        let mut m = w.blocked;
        let mut out = 0;
        while m != 0 {
            let l = m.trailing_zeros();
            m &= m - 1;
            if w.bar_id[l as usize] as usize == id {
                out |= 1 << l;
            }
        }
        out
    }

    fn deadlock(&self) -> LaunchError {
        let mut parts = Vec::new();
        for (id, b) in self.barriers.iter().enumerate() {
            if b.arrived > 0 {
                let expected = if b.expected == 0 { self.live_threads() } else { b.expected };
                let mut missing = Vec::new();
                for w in &self.warps {
                    let m = w.live() & !self.waiting_at(w, id);
                    if m != 0 {
                        missing.push(format!("warp {} lanes {m:#010x}", w.index));
                    }
                }
                let where_ = self
                    .warps
                    .iter()
                    .find_map(|w| {
                        let m = self.waiting_at(w, id);
                        (m != 0).then(|| w.bar_pc[m.trailing_zeros() as usize])
                    })
                    .unwrap_or(0);
                parts.push(format!(
                    "barrier {id} at {}: {} of {expected} threads arrived; not arriving: {}",
                    self.where_str(where_),
                    b.arrived,
                    missing.join(", ")
                ));
            }
        }
        for w in &self.warps {
            if w.parked != 0 {
                let lane = w.parked.trailing_zeros();
                let pc = w.pcs[lane as usize];
                let instr = &self.body.instrs[pc as usize];
                let mask_reg = match instr.op {
                    Op::Shfl { .. } => instr.args[5],
                    Op::Vote { .. } => instr.args[2],
                    _ => instr.args[0],
                };
                let mask = w.regs[mask_reg as usize * 32 + lane as usize] as u32;
                let missing = mask & w.existing & !self.parked_at_warp(w, pc);
                let (gone, elsewhere) = (missing & w.exited, missing & !w.exited);
                return self.error(Kind::MaskMismatch, pc, w.index, lane, format!("member mask {mask:#010x}, but lanes {missing:#010x} never execute this collective ({gone:#010x} exited, {elsewhere:#010x} wait elsewhere)"));
            }
        }
        LaunchError { kind: Kind::Deadlock, message: format!("kernel {}: block ({},{},{}): deadlock: {}", self.launch.kernel.name, self.ctaid[0], self.ctaid[1], self.ctaid[2], parts.join("; ")) }
    }

    fn where_str(&self, pc: u32) -> String {
        match self.body.instrs.get(pc as usize) {
            Some(i) => {
                let cu = self.launch.kernel.source_line(&self.body, i.loc).map(|s| format!(" ({s})")).unwrap_or_default();
                format!("PTX line {}{cu}", i.line)
            }
            None => format!("instruction {pc}"),
        }
    }

    pub fn error(&self, kind: Kind, pc: u32, warp: u32, lane: u32, what: String) -> LaunchError {
        let t = self.tid_of(warp, lane);
        let xyz = self.thread_xyz(t);
        let opcode = self.body.instrs.get(pc as usize).map_or("", |i| &i.opcode);
        LaunchError {
            kind,
            message: format!(
                "kernel {}: {} ({opcode}): thread ({},{},{}) of block ({},{},{}): {what}",
                self.launch.kernel.name,
                self.where_str(pc),
                xyz[0],
                xyz[1],
                xyz[2],
                self.ctaid[0],
                self.ctaid[1],
                self.ctaid[2]
            ),
        }
    }

    /// Runs one warp until none of its lanes can run (or its quantum is spent). Returns whether
    /// it executed anything.
    fn run_warp(&mut self, wi: usize) -> Result<bool, LaunchError> {
        let body = self.body.clone();
        let mut executed_any = false;
        let mut steps = 0u32;
        {
            let w = &mut self.warps[wi];
            if w.group == 0 || w.group & !w.runnable() != 0 {
                w.group &= w.runnable();
                w.reschedule();
            }
        }
        loop {
            let (pc, group) = {
                let w = &self.warps[wi];
                (w.pc, w.group)
            };
            if group == 0 {
                break;
            }
            steps += 1;
            if steps > QUANTUM {
                break;
            }
            let instr = match body.instrs.get(pc as usize) {
                Some(i) => i,
                None => {
                    // Falling off the end of the body is an implicit exit.
                    let w = &mut self.warps[wi];
                    w.exited |= group;
                    w.group = 0;
                    w.reschedule();
                    continue;
                }
            };
            let exec = if instr.guard == NO_REG {
                group
            } else {
                let p = self.warps[wi].preds[(instr.guard & !NEGATED) as usize];
                group & if instr.guard & NEGATED != 0 { !p } else { p }
            };
            executed_any = true;
            let n = exec.count_ones() as u64;
            self.executed += n;
            if self.launch.options.counters {
                self.counters.count(instr.class, n);
            }
            let flow = match self.step(wi, instr, pc, group, exec) {
                Ok(f) => f,
                Err(f) => {
                    return Err(self.error(f.kind, pc, wi as u32, f.lane, f.what));
                }
            };
            let w = &mut self.warps[wi];
            match flow {
                Flow::Next => {
                    w.pc = pc + 1;
                    if w.group != w.runnable() {
                        // Diverged: lanes waiting at pc+1 join; a lower PC may exist if lanes were unblocked.
                        w.reschedule();
                    }
                }
                Flow::Branch(taken, target) => {
                    if taken == group {
                        w.pc = target;
                        if w.group != w.runnable() {
                            w.reschedule();
                        }
                    } else if taken == 0 {
                        w.pc = pc + 1;
                        if w.group != w.runnable() {
                            w.reschedule();
                        }
                    } else {
                        lanes(group, |l| w.pcs[l] = if taken & (1 << l) != 0 { target } else { pc + 1 });
                        w.group = 0;
                        w.reschedule();
                    }
                }
                Flow::Exit(lanes_exiting) => {
                    w.exited |= lanes_exiting;
                    w.pc = pc + 1;
                    w.group &= !lanes_exiting;
                    w.reschedule();
                }
                Flow::Block(blocking) => {
                    w.pc = pc + 1;
                    w.reschedule();
                    let _ = blocking;
                }
                Flow::Park => {
                    w.parked |= group;
                    lanes(group, |l| w.pcs[l] = pc);
                    w.group = 0;
                    w.reschedule();
                }
            }
            if self.executed > self.launch.budget_chunk {
                self.flush_budget().map_err(|m| self.error(Kind::BudgetExceeded, pc, wi as u32, 0, m))?;
            }
        }
        Ok(executed_any)
    }

    pub fn flush_budget(&mut self) -> Result<(), String> {
        let n = std::mem::take(&mut self.executed);
        let total = self.launch.executed.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.launch.options.instruction_budget {
            return Err(format!("the launch executed more than its budget of {} thread-instructions (CUDA_CPU_BUDGET)", self.launch.options.instruction_budget));
        }
        if self.launch.abort.load(Ordering::Relaxed) {
            return Err("aborted".into());
        }
        Ok(())
    }

    fn r(&self, wi: usize, reg: u32, lane: usize) -> u64 {
        self.warps[wi].regs[reg as usize * 32 + lane]
    }

    /// Executes `instr` for the lanes in `exec` (those of `group` whose guard holds).
    fn step(&mut self, wi: usize, instr: &Instr, pc: u32, group: u32, exec: u32) -> Res<Flow> {
        let a = &instr.args;
        match &instr.op {
            Op::Mov { bits } => {
                let m = mask_bits(*bits);
                self.map1(wi, a[0], a[1], exec, |x| x & m);
            }
            Op::MovPred => {
                let w = &mut self.warps[wi];
                let v = read_pred(&w.preds, a[1]);
                let d = &mut w.preds[a[0] as usize];
                *d = (*d & !exec) | (v & exec);
            }
            Op::Pack { elem_bits, n } => {
                let w = &mut self.warps[wi];
                let (eb, n) = (*elem_bits, *n as usize);
                let m = mask_bits(eb);
                lanes(exec, |l| {
                    let mut v = 0u64;
                    for i in 0..n {
                        v |= (w.regs[a[1 + i] as usize * 32 + l] & m) << (eb as usize * i);
                    }
                    w.regs[a[0] as usize * 32 + l] = v;
                });
            }
            Op::Unpack { elem_bits, n } => {
                let w = &mut self.warps[wi];
                let (eb, n) = (*elem_bits, *n as usize);
                let m = mask_bits(eb);
                let src = a[n] as usize;
                lanes(exec, |l| {
                    let v = w.regs[src * 32 + l];
                    for i in 0..n {
                        if a[i] != NO_REG {
                            w.regs[a[i] as usize * 32 + l] = (v >> (eb as usize * i)) & m;
                        }
                    }
                });
            }
            Op::Int { op, ty, sat } => {
                let t = int_type(*ty);
                use sem::integer as I;
                let bits = ty.bits();
                match (op, sat) {
                    (IntOp::Add, true) => self.map2(wi, a, exec, |x, y| I::add_sat_s32(x as u32, y as u32) as u64),
                    (IntOp::Sub, true) => self.map2(wi, a, exec, |x, y| I::sub_sat_s32(x as u32, y as u32) as u64),
                    (IntOp::Add, _) => self.map2(wi, a, exec, |x, y| I::add(t, x, y)),
                    (IntOp::Sub, _) => self.map2(wi, a, exec, |x, y| I::sub(t, x, y)),
                    (IntOp::MulLo, _) => self.map2(wi, a, exec, |x, y| I::mul_lo(t, x, y)),
                    (IntOp::MulHi, _) => self.map2(wi, a, exec, |x, y| I::mul_hi(t, x, y)),
                    (IntOp::Div, _) => self.map2(wi, a, exec, |x, y| I::div(t, x, y)),
                    (IntOp::Rem, _) => self.map2(wi, a, exec, |x, y| I::rem(t, x, y)),
                    (IntOp::Min, _) => self.map2(wi, a, exec, |x, y| I::min(t, x, y)),
                    (IntOp::Max, _) => self.map2(wi, a, exec, |x, y| I::max(t, x, y)),
                    (IntOp::And, _) => self.map2(wi, a, exec, |x, y| x & y & mask_bits(bits)),
                    (IntOp::Or, _) => self.map2(wi, a, exec, |x, y| (x | y) & mask_bits(bits)),
                    (IntOp::Xor, _) => self.map2(wi, a, exec, |x, y| (x ^ y) & mask_bits(bits)),
                    (IntOp::Shl, _) => self.map2(wi, a, exec, |x, y| I::shl(bits, x, y as u32)),
                    (IntOp::Shr, _) => self.map2(wi, a, exec, |x, y| I::shr(t, x, y as u32)),
                }
            }
            Op::IntUnary { op, ty } => {
                let t = int_type(*ty);
                use sem::integer as I;
                let bits = ty.bits();
                match op {
                    IntUnary::Neg => self.map1(wi, a[0], a[1], exec, |x| I::neg(t, x)),
                    IntUnary::Not => self.map1(wi, a[0], a[1], exec, |x| !x & mask_bits(bits)),
                    IntUnary::Cnot => self.map1(wi, a[0], a[1], exec, |x| (x & mask_bits(bits) == 0) as u64),
                    IntUnary::Abs => self.map1(wi, a[0], a[1], exec, |x| I::abs(t, x)),
                    IntUnary::Popc => self.map1(wi, a[0], a[1], exec, |x| if bits == 64 { I::popc64(x) } else { I::popc32(x as u32) } as u64),
                    IntUnary::Clz => self.map1(wi, a[0], a[1], exec, |x| if bits == 64 { I::clz64(x) } else { I::clz32(x as u32) } as u64),
                    IntUnary::Brev => self.map1(wi, a[0], a[1], exec, |x| if bits == 64 { I::brev64(x) } else { I::brev32(x as u32) as u64 }),
                    IntUnary::Bfind { shift_amount } => {
                        let s = *shift_amount;
                        self.map1(wi, a[0], a[1], exec, |x| I::bfind(t, x, s) as u64)
                    }
                }
            }
            Op::MulWide { ty } => {
                let t = int_type(*ty);
                self.map2(wi, a, exec, |x, y| sem::integer::mul_wide(t, x, y));
            }
            Op::Mad { mode, ty } => {
                let t = int_type(*ty);
                use sem::integer as I;
                match mode {
                    MadMode::Lo => self.map3(wi, a, exec, |x, y, z| I::mad_lo(t, x, y, z)),
                    MadMode::Hi => self.map3(wi, a, exec, |x, y, z| I::mad_hi(t, x, y, z)),
                    MadMode::Wide => self.map3(wi, a, exec, |x, y, z| I::mad_wide(t, x, y, z)),
                }
            }
            Op::Bfe { ty } => {
                let t = int_type(*ty);
                self.map3(wi, a, exec, |x, p, n| sem::integer::bfe(t, x, p as u32, n as u32));
            }
            Op::Bfi { ty } => {
                let bits = ty.bits();
                let w = &mut self.warps[wi];
                let idx = |i: usize| a[i] as usize * 32;
                lanes(exec, |l| {
                    let v = sem::integer::bfi(bits, w.regs[idx(1) + l], w.regs[idx(2) + l], w.regs[idx(3) + l] as u32, w.regs[idx(4) + l] as u32);
                    w.regs[idx(0) + l] = v;
                });
            }
            Op::Prmt { mode } => {
                use sem::integer::PrmtMode as P;
                let m = match mode {
                    PrmtMode::Generic => P::Generic,
                    PrmtMode::F4e => P::F4e,
                    PrmtMode::B4e => P::B4e,
                    PrmtMode::Rc8 => P::Rc8,
                    PrmtMode::Ecl => P::Ecl,
                    PrmtMode::Ecr => P::Ecr,
                    PrmtMode::Rc16 => P::Rc16,
                };
                self.map3(wi, a, exec, |x, y, z| sem::integer::prmt(m, x as u32, y as u32, z as u32) as u64)
            }
            Op::Float { op, ty, rnd, ftz, sat, nan } => self.float2(wi, a, exec, *op, *ty, *rnd, *ftz, *sat, *nan)?,
            Op::FloatUnary { op, ty, rnd, ftz } => self.float1(wi, a, exec, *op, *ty, *rnd, *ftz)?,
            Op::Fma { ty, rnd, ftz, sat } => {
                let mode = sem::float::FloatMode { rounding: rounding(*rnd), ftz: *ftz, sat: *sat };
                match ty {
                    Ty::F32 => self.map3(wi, a, exec, |x, y, z| sem::float::fma_f32(f32::from_bits(x as u32), f32::from_bits(y as u32), f32::from_bits(z as u32), mode).to_bits() as u64),
                    Ty::F64 if mode.rounding == sem::Rounding::Nearest => self.map3(wi, a, exec, |x, y, z| sem::float::fma_rn_f64(f64::from_bits(x), f64::from_bits(y), f64::from_bits(z)).to_bits()),
                    Ty::F16 | Ty::BF16 => {
                        let h = if *ty == Ty::F16 { sem::HalfType::F16 } else { sem::HalfType::BF16 };
                        self.map3(wi, a, exec, |x, y, z| sem::float::fma_half(h, x as u16, y as u16, z as u16, mode) as u64)
                    }
                    Ty::F16x2 | Ty::BF16x2 => {
                        let h = if *ty == Ty::F16x2 { sem::HalfType::F16 } else { sem::HalfType::BF16 };
                        self.map3(wi, a, exec, |x, y, z| {
                            let lo = sem::float::fma_half(h, x as u16, y as u16, z as u16, mode) as u64;
                            let hi = sem::float::fma_half(h, (x >> 16) as u16, (y >> 16) as u16, (z >> 16) as u16, mode) as u64;
                            lo | hi << 16
                        })
                    }
                    _ => return Err(illegal(exec, "fma of this type")),
                }
            }
            Op::Setp { cmp, ty, combine, ftz } => self.setp(wi, a, exec, *cmp, *ty, *combine, *ftz)?,
            Op::Selp { bits } => {
                let m = mask_bits(*bits);
                let w = &mut self.warps[wi];
                let p = read_pred(&w.preds, a[3]);
                let (d, x, y) = (a[0] as usize * 32, a[1] as usize * 32, a[2] as usize * 32);
                lanes(exec, |l| w.regs[d + l] = if p & (1 << l) != 0 { w.regs[x + l] } else { w.regs[y + l] } & m);
            }
            Op::PredLogic { op } => {
                let w = &mut self.warps[wi];
                let x = read_pred(&w.preds, a[1]);
                let v = match op {
                    None => !x,
                    Some(o) => {
                        let y = read_pred(&w.preds, a[2]);
                        match o {
                            BoolOp::And => x & y,
                            BoolOp::Or => x | y,
                            BoolOp::Xor => x ^ y,
                        }
                    }
                };
                let d = &mut w.preds[a[0] as usize];
                *d = (*d & !exec) | (v & exec);
            }
            Op::Cvt { dst, src, rnd, ftz, sat } => self.cvt(wi, a, exec, *dst, *src, *rnd, *ftz, *sat)?,
            Op::Cvta { to_space, space } => {
                let (base, mask) = match space {
                    Space::Shared => (SHARED_WINDOW, true),
                    Space::Local => (LOCAL_WINDOW, true),
                    _ => (0, false),
                };
                let to = *to_space;
                self.map1(wi, a[0], a[1], exec, |x| {
                    if !mask {
                        x
                    } else if to {
                        x.wrapping_sub(base)
                    } else {
                        x.wrapping_add(base)
                    }
                });
            }
            Op::Ld { space, ty, vec, offset } => self.load(wi, a, exec, *space, *ty, *vec, *offset)?,
            Op::St { space, ty, vec, offset } => self.store(wi, a, exec, *space, *ty, *vec, *offset)?,
            Op::Atom { space, op, ty, offset } => self.atom(wi, a, exec, *space, *op, *ty, *offset)?,
            Op::Bra { target } => return Ok(Flow::Branch(exec, *target)),
            Op::Exit => return Ok(Flow::Exit(exec)),
            Op::Bar { arrive } => {
                if exec == 0 {
                    return Ok(Flow::Next);
                }
                return self.barrier(wi, a, exec, pc, *arrive, None);
            }
            Op::BarRed { .. } => {
                if exec == 0 {
                    return Ok(Flow::Next);
                }
                let c = read_pred(&self.warps[wi].preds, a[3]);
                return self.barrier(wi, &[a[1], a[2]], exec, pc, false, Some(c));
            }
            Op::WarpSync => {
                let mask = self.r(wi, a[0], exec.trailing_zeros() as usize) as u32;
                if let Some(flow) = self.collective(wi, exec, group, mask)? {
                    return Ok(flow);
                }
                self.warps[wi].sync += 1;
            }
            Op::Shfl { mode } => {
                if exec == 0 {
                    return Ok(Flow::Next);
                }
                let mask = self.r(wi, a[5], exec.trailing_zeros() as usize) as u32;
                if let Some(flow) = self.collective(wi, exec, group, mask)? {
                    return Ok(flow);
                }
                let exec = self.take_parked(wi, exec, pc);
                self.shfl(wi, a, exec, mask, *mode)?;
                self.warps[wi].sync += 1;
            }
            Op::Vote { mode, negate_a } => {
                if exec == 0 {
                    return Ok(Flow::Next);
                }
                let mask = self.r(wi, a[2], exec.trailing_zeros() as usize) as u32;
                if let Some(flow) = self.collective(wi, exec, group, mask)? {
                    return Ok(flow);
                }
                let exec = self.take_parked(wi, exec, pc);
                let w = &mut self.warps[wi];
                let mut p = w.preds[a[1] as usize];
                if *negate_a {
                    p = !p;
                }
                let members = exec;
                match mode {
                    VoteMode::Ballot => {
                        let v = sem::warp::vote_ballot(p, members) as u64;
                        lanes(exec, |l| w.regs[a[0] as usize * 32 + l] = v);
                    }
                    _ => {
                        let v = match mode {
                            VoteMode::All => sem::warp::vote_all(p, members),
                            VoteMode::Any => sem::warp::vote_any(p, members),
                            _ => sem::warp::vote_uni(p, members),
                        };
                        let d = &mut w.preds[a[0] as usize];
                        *d = if v { *d | exec } else { *d & !exec };
                    }
                }
                w.sync += 1;
            }
            Op::Activemask => {
                let w = &mut self.warps[wi];
                let v = group as u64;
                lanes(exec, |l| w.regs[a[0] as usize * 32 + l] = v);
            }
            Op::Mma { k, ab, cd } => {
                if exec == 0 {
                    return Ok(Flow::Next);
                }
                if exec != self.warps[wi].live() || exec != FULL {
                    return Err(fault(Kind::MaskMismatch, exec.trailing_zeros(), format!("mma.sync.aligned needs all 32 lanes of the warp converged; executing lanes {exec:#010x}")));
                }
                self.mma(wi, a, *k, *ab, *cd);
                self.warps[wi].sync += 1;
            }
            Op::Ldmatrix { n, trans } => {
                if exec == 0 {
                    return Ok(Flow::Next);
                }
                if exec != FULL {
                    return Err(fault(Kind::MaskMismatch, exec.trailing_zeros(), format!("ldmatrix.sync.aligned needs all 32 lanes of the warp converged; executing lanes {exec:#010x}")));
                }
                self.ldmatrix(wi, a, *n, *trans)?;
                self.warps[wi].sync += 1;
            }
            Op::CpAsync { bytes } => self.cp_async(wi, a, exec, *bytes)?,
            Op::CpAsyncCommit => {
                let w = &mut self.warps[wi];
                lanes(exec, |l| w.committed[l] += 1);
            }
            Op::CpAsyncWait { n, all } => self.cp_async_wait(wi, exec, *n, *all)?,
            Op::Fence => {}
            Op::Clock { bits } => {
                self.clock += 1;
                let c = self.clock + self.executed;
                let m = mask_bits(*bits);
                let w = &mut self.warps[wi];
                lanes(exec, |l| w.regs[a[0] as usize * 32 + l] = c & m);
            }
            Op::ReadSpecial(s) => return Err(illegal(exec, &format!("read of {s:?}"))),
            Op::Illegal { text } => {
                if exec != 0 {
                    return Err(fault(Kind::IllegalInstruction, exec.trailing_zeros(), format!("the instruction {text} is not implemented by the CPU driver")));
                }
            }
        }
        Ok(Flow::Next)
    }

    /// A warp collective with member mask `mask` executed by `exec`: checks that the executing
    /// lanes are members and waits (parks) until every live member has arrived.
    fn collective(&mut self, wi: usize, exec: u32, group: u32, mask: u32) -> Res<Option<Flow>> {
        let w = &self.warps[wi];
        if exec & !mask != 0 {
            let l = (exec & !mask).trailing_zeros();
            return Err(fault(Kind::MaskMismatch, l, format!("the lane executes a warp collective whose member mask {mask:#010x} does not include it")));
        }
        let members = mask & w.existing;
        let exited = members & w.exited;
        if exited != 0 {
            return Err(fault(Kind::MaskMismatch, exec.trailing_zeros(), format!("member mask {mask:#010x} names lanes {exited:#010x} that have exited")));
        }
        let parked_here = self.parked_at(wi, w.pc);
        let arrived = exec | parked_here;
        if members & !arrived != 0 {
            let missing = members & !arrived;
            // Missing members that can still arrive: wait for them.
            if missing & w.runnable() & !group != 0 {
                return Ok(Some(Flow::Park));
            }
            return Err(fault(Kind::MaskMismatch, exec.trailing_zeros(), format!("member mask {mask:#010x}, but lanes {missing:#010x} do not execute this instruction (they are at a barrier or inactive by predicate)")));
        }
        Ok(None)
    }

    fn parked_at(&self, wi: usize, pc: u32) -> u32 {
        self.parked_at_warp(&self.warps[wi], pc)
    }

    fn parked_at_warp(&self, w: &Warp, pc: u32) -> u32 {
        let mut out = 0;
        let mut m = w.parked;
        while m != 0 {
            let l = m.trailing_zeros();
            m &= m - 1;
            if w.pcs[l as usize] == pc {
                out |= 1 << l;
            }
        }
        out
    }

    /// Unparks the lanes parked at `pc` (they complete with this execution) and returns all
    /// executing lanes.
    fn take_parked(&mut self, wi: usize, exec: u32, pc: u32) -> u32 {
        let parked = self.parked_at(wi, pc);
        if parked == 0 {
            return exec;
        }
        let w = &mut self.warps[wi];
        w.parked &= !parked;
        // They advance past the instruction together with the group.
        w.group |= parked;
        exec | parked
    }

    fn barrier(&mut self, wi: usize, a: &[u32], exec: u32, pc: u32, arrive: bool, value: Option<u32>) -> Res<Flow> {
        let lane0 = exec.trailing_zeros() as usize;
        let id = self.r(wi, a[0], lane0) as usize;
        if id >= 16 {
            return Err(fault(Kind::IllegalInstruction, lane0 as u32, format!("barrier id {id} is out of range (0..15)")));
        }
        let count = if a.len() > 1 && a[1] != NO_REG { self.r(wi, a[1], lane0) as u32 } else { 0 };
        if count != 0 && count % 32 != 0 {
            return Err(fault(Kind::IllegalInstruction, lane0 as u32, format!("barrier thread count {count} is not a multiple of the warp size")));
        }
        if count > self.threads.div_ceil(32) * 32 {
            return Err(fault(Kind::InvalidConfig, lane0 as u32, format!("barrier thread count {count} exceeds the CTA's {} threads", self.threads)));
        }
        let b = &mut self.barriers[id];
        if b.arrived > 0 && b.expected != count {
            return Err(fault(Kind::Deadlock, lane0 as u32, format!("barrier {id} used with thread counts {} and {count} at once", b.expected)));
        }
        b.expected = count;
        if arrive {
            // bar.arrive: counts toward the barrier but does not wait.
            b.arrived += exec.count_ones();
            return Ok(Flow::Next);
        }
        b.arrived += exec.count_ones();
        let w = &mut self.warps[wi];
        w.blocked |= exec;
        if let Some(v) = value {
            w.bar_value = (w.bar_value & !exec) | (v & exec);
        }
        lanes(exec, |l| {
            w.bar_id[l] = id as u8;
            w.bar_pc[l] = pc;
            w.pcs[l] = pc + 1;
        });
        // Lanes of the group that are predicated off continue past the barrier alone.
        let group = w.group;
        w.group = group & !exec;
        Ok(Flow::Block(exec))
    }

    #[inline(always)]
    fn map1(&mut self, wi: usize, d: u32, x: u32, exec: u32, f: impl Fn(u64) -> u64) {
        if d == NO_REG {
            return;
        }
        let w = &mut self.warps[wi];
        let (d, x) = (d as usize * 32, x as usize * 32);
        lanes(exec, |l| w.regs[d + l] = f(w.regs[x + l]));
    }

    #[inline(always)]
    fn map2(&mut self, wi: usize, a: &[u32], exec: u32, f: impl Fn(u64, u64) -> u64) {
        if a[0] == NO_REG {
            return;
        }
        let w = &mut self.warps[wi];
        let (d, x, y) = (a[0] as usize * 32, a[1] as usize * 32, a[2] as usize * 32);
        lanes(exec, |l| w.regs[d + l] = f(w.regs[x + l], w.regs[y + l]));
    }

    #[inline(always)]
    fn map3(&mut self, wi: usize, a: &[u32], exec: u32, f: impl Fn(u64, u64, u64) -> u64) {
        if a[0] == NO_REG {
            return;
        }
        let w = &mut self.warps[wi];
        let (d, x, y, z) = (a[0] as usize * 32, a[1] as usize * 32, a[2] as usize * 32, a[3] as usize * 32);
        lanes(exec, |l| w.regs[d + l] = f(w.regs[x + l], w.regs[y + l], w.regs[z + l]));
    }

    #[allow(clippy::too_many_arguments)]
    fn float2(&mut self, wi: usize, a: &[u32], exec: u32, op: FloatOp, ty: Ty, rnd: Rnd, ftz: bool, sat: bool, nan: bool) -> Res<()> {
        use sem::float as F;
        let mode = F::FloatMode { rounding: rounding(rnd), ftz, sat };
        let mm = F::MinMaxMode { ftz, nan };
        let f32b = |x: u64| f32::from_bits(x as u32);
        match ty {
            Ty::F32 => {
                let plain = mode == F::FloatMode::RN;
                match op {
                    FloatOp::Add if plain => self.map2(wi, a, exec, |x, y| (f32b(x) + f32b(y)).to_bits() as u64),
                    FloatOp::Mul if plain => self.map2(wi, a, exec, |x, y| (f32b(x) * f32b(y)).to_bits() as u64),
                    FloatOp::Sub if plain => self.map2(wi, a, exec, |x, y| (f32b(x) - f32b(y)).to_bits() as u64),
                    FloatOp::Add => self.map2(wi, a, exec, |x, y| F::add_f32(f32b(x), f32b(y), mode).to_bits() as u64),
                    FloatOp::Sub => self.map2(wi, a, exec, |x, y| F::sub_f32(f32b(x), f32b(y), mode).to_bits() as u64),
                    FloatOp::Mul => self.map2(wi, a, exec, |x, y| F::mul_f32(f32b(x), f32b(y), mode).to_bits() as u64),
                    FloatOp::Div => {
                        let kind = match rnd {
                            Rnd::Approx => F::DivKind::Approx,
                            Rnd::Full => F::DivKind::Full,
                            Rnd::Default => return Err(illegal(exec, "div.f32 without .rn/.approx/.full")),
                            r => F::DivKind::Rounded(rounding(r)),
                        };
                        self.map2(wi, a, exec, |x, y| F::div_f32(f32b(x), f32b(y), kind, ftz).to_bits() as u64)
                    }
                    FloatOp::Min => self.map2(wi, a, exec, |x, y| F::min_f32(f32b(x), f32b(y), mm).to_bits() as u64),
                    FloatOp::Max => self.map2(wi, a, exec, |x, y| F::max_f32(f32b(x), f32b(y), mm).to_bits() as u64),
                    FloatOp::Copysign => self.map2(wi, a, exec, |x, y| F::copysign_f32(f32b(x), f32b(y)).to_bits() as u64),
                }
            }
            Ty::F64 => {
                let f = f64::from_bits;
                let r = rounding(rnd);
                match op {
                    FloatOp::Add => self.map2(wi, a, exec, |x, y| F::add_f64(f(x), f(y), r).to_bits()),
                    FloatOp::Sub => self.map2(wi, a, exec, |x, y| F::sub_f64(f(x), f(y), r).to_bits()),
                    FloatOp::Mul => self.map2(wi, a, exec, |x, y| F::mul_f64(f(x), f(y), r).to_bits()),
                    FloatOp::Div if r == sem::Rounding::Nearest => self.map2(wi, a, exec, |x, y| F::div_rn_f64(f(x), f(y)).to_bits()),
                    FloatOp::Min => self.map2(wi, a, exec, |x, y| F::min_f64(f(x), f(y)).to_bits()),
                    FloatOp::Max => self.map2(wi, a, exec, |x, y| F::max_f64(f(x), f(y)).to_bits()),
                    FloatOp::Copysign => self.map2(wi, a, exec, |x, y| F::copysign_f64(f(x), f(y)).to_bits()),
                    _ => return Err(illegal(exec, "this f64 operation")),
                }
            }
            Ty::F16 | Ty::BF16 | Ty::F16x2 | Ty::BF16x2 => {
                let h = if matches!(ty, Ty::F16 | Ty::F16x2) { sem::HalfType::F16 } else { sem::HalfType::BF16 };
                let one = move |x: u16, y: u16| -> u16 {
                    match op {
                        FloatOp::Add => F::add_half(h, x, y, mode),
                        FloatOp::Sub => F::sub_half(h, x, y, mode),
                        FloatOp::Mul => F::mul_half(h, x, y, mode),
                        FloatOp::Min => F::min_half(h, x, y, mm),
                        FloatOp::Max => F::max_half(h, x, y, mm),
                        _ => 0,
                    }
                };
                if matches!(op, FloatOp::Div | FloatOp::Copysign) {
                    return Err(illegal(exec, "this f16/bf16 operation"));
                }
                if ty.bits() == 32 {
                    self.map2(wi, a, exec, |x, y| F::packed2(x as u32, y as u32, one) as u64)
                } else {
                    self.map2(wi, a, exec, |x, y| one(x as u16, y as u16) as u64)
                }
            }
            _ => return Err(illegal(exec, "float operation on a non-float type")),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn float1(&mut self, wi: usize, a: &[u32], exec: u32, op: FloatUnary, ty: Ty, rnd: Rnd, ftz: bool) -> Res<()> {
        use sem::float as F;
        let f32b = |x: u64| f32::from_bits(x as u32);
        let kind = match rnd {
            Rnd::Approx | Rnd::Default => F::ApproxOr::Approx,
            r => F::ApproxOr::Rounded(rounding(r)),
        };
        match ty {
            Ty::F32 => match op {
                FloatUnary::Neg => self.map1(wi, a[0], a[1], exec, |x| F::neg_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Abs => self.map1(wi, a[0], a[1], exec, |x| F::abs_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Sqrt => self.map1(wi, a[0], a[1], exec, |x| F::sqrt_f32(f32b(x), kind, ftz).to_bits() as u64),
                FloatUnary::Rcp => self.map1(wi, a[0], a[1], exec, |x| F::rcp_f32(f32b(x), kind, ftz).to_bits() as u64),
                FloatUnary::Rsqrt => self.map1(wi, a[0], a[1], exec, |x| F::rsqrt_approx_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Ex2 => self.map1(wi, a[0], a[1], exec, |x| F::ex2_approx_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Lg2 => self.map1(wi, a[0], a[1], exec, |x| F::lg2_approx_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Sin => self.map1(wi, a[0], a[1], exec, |x| F::sin_approx_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Cos => self.map1(wi, a[0], a[1], exec, |x| F::cos_approx_f32(f32b(x), ftz).to_bits() as u64),
                FloatUnary::Tanh => self.map1(wi, a[0], a[1], exec, |x| F::tanh_approx_f32(f32b(x)).to_bits() as u64),
            },
            Ty::F64 => {
                let f = f64::from_bits;
                match op {
                    FloatUnary::Neg => self.map1(wi, a[0], a[1], exec, |x| (-f(x)).to_bits()),
                    FloatUnary::Abs => self.map1(wi, a[0], a[1], exec, |x| f(x).abs().to_bits()),
                    FloatUnary::Sqrt if matches!(rnd, Rnd::Rn) => self.map1(wi, a[0], a[1], exec, |x| F::sqrt_rn_f64(f(x)).to_bits()),
                    FloatUnary::Rcp if matches!(rnd, Rnd::Rn) => self.map1(wi, a[0], a[1], exec, |x| F::rcp_rn_f64(f(x)).to_bits()),
                    _ => return Err(illegal(exec, "this f64 operation")),
                }
            }
            Ty::F16 | Ty::BF16 | Ty::F16x2 | Ty::BF16x2 if matches!(op, FloatUnary::Neg | FloatUnary::Abs) => {
                // Sign-bit operations on each 16-bit half.
                let bits = ty.bits();
                let signs: u64 = if bits == 32 { 0x8000_8000 } else { 0x8000 };
                match op {
                    FloatUnary::Neg => self.map1(wi, a[0], a[1], exec, |x| (x ^ signs) & mask_bits(bits)),
                    _ => self.map1(wi, a[0], a[1], exec, |x| x & !signs & mask_bits(bits)),
                }
            }
            _ => return Err(illegal(exec, "this float operation type")),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn setp(&mut self, wi: usize, a: &[u32], exec: u32, cmp: Cmp, ty: Ty, combine: Option<BoolOp>, ftz: bool) -> Res<()> {
        let w = &mut self.warps[wi];
        let (x, y) = (a[2] as usize * 32, a[3] as usize * 32);
        let mut result = 0u32;
        if let Some(r) = fast_compare(&w.regs, x, y, exec, cmp, ty, ftz) {
            result = r;
        } else {
        match ty {
            Ty::F32 => {
                let c = float_cmp(cmp);
                lanes(exec, |l| {
                    if sem::float::compare_f32(c, f32::from_bits(w.regs[x + l] as u32), f32::from_bits(w.regs[y + l] as u32), ftz) {
                        result |= 1 << l;
                    }
                });
            }
            Ty::F64 => {
                let c = float_cmp(cmp);
                lanes(exec, |l| {
                    if sem::float::compare_f64(c, f64::from_bits(w.regs[x + l]), f64::from_bits(w.regs[y + l])) {
                        result |= 1 << l;
                    }
                });
            }
            Ty::F16 | Ty::BF16 => {
                let c = float_cmp(cmp);
                let conv = if ty == Ty::F16 { sem::convert::f16_to_f32 } else { sem::convert::bf16_to_f32 };
                lanes(exec, |l| {
                    if sem::float::compare_f32(c, conv(w.regs[x + l] as u16), conv(w.regs[y + l] as u16), false) {
                        result |= 1 << l;
                    }
                });
            }
            _ if ty.is_float() => return Err(illegal(exec, "setp of this type")),
            _ => {
                let c = int_cmp(cmp).ok_or_else(|| illegal(exec, "a float comparison on integers"))?;
                let t = int_type(ty);
                lanes(exec, |l| {
                    if sem::integer::compare_int(c, t, w.regs[x + l], w.regs[y + l]) {
                        result |= 1 << l;
                    }
                });
            }
        }
        }
        let (p, q) = match combine {
            None => (result, !result),
            Some(op) => {
                let c = read_pred(&w.preds, a[4]);
                match op {
                    BoolOp::And => (result & c, !result & c),
                    BoolOp::Or => (result | c, !result | c),
                    BoolOp::Xor => (result ^ c, !result ^ c),
                }
            }
        };
        let d = &mut w.preds[a[0] as usize];
        *d = (*d & !exec) | (p & exec);
        if a[1] != NO_REG {
            let d = &mut w.preds[a[1] as usize];
            *d = (*d & !exec) | (q & exec);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn cvt(&mut self, wi: usize, a: &[u32], exec: u32, dst: Ty, src: Ty, rnd: Rnd, ftz: bool, sat: bool) -> Res<()> {
        use sem::convert as C;
        if matches!(dst, Ty::F16x2 | Ty::BF16x2) {
            let h = if dst == Ty::F16x2 { sem::HalfType::F16 } else { sem::HalfType::BF16 };
            let r = rounding(rnd);
            // cvt.rn.f16x2.f32 d, a, b: a goes to the upper half.
            self.map2(wi, a, exec, |x, y| C::cvt_pack_f32x2(h, f32::from_bits(x as u32), f32::from_bits(y as u32), r, false) as u64);
            return Ok(());
        }
        let rounding_mod = match rnd {
            Rnd::Default => C::CvtRounding::None,
            Rnd::Rn | Rnd::Rz | Rnd::Rm | Rnd::Rp => C::CvtRounding::Float(rounding(rnd)),
            Rnd::Rni | Rnd::Rzi | Rnd::Rmi | Rnd::Rpi => C::CvtRounding::Integer(rounding(rnd)),
            _ => return Err(illegal(exec, "cvt with this rounding")),
        };
        let mods = C::CvtModifiers { rounding: rounding_mod, ftz, sat, relu: false };
        let (d, s) = (cvt_type(dst), cvt_type(src));
        if let Err(m) = C::cvt_check(d, s, mods) {
            return Err(illegal(exec, m));
        }
        // The result widened to the destination register: sign-extended for signed destinations.
        let dst_bits = dst.bits();
        let signed = dst.is_signed();
        let src_mask = mask_bits(src.bits());
        self.map1(wi, a[0], a[1], exec, |x| {
            let v = C::cvt(d, s, x & src_mask, mods);
            if signed && dst_bits < 64 {
                let sh = 64 - dst_bits;
                (((v << sh) as i64 >> sh) as u64) & mask_bits(dst_bits.max(32))
            } else {
                v
            }
        });
        Ok(())
    }

    fn shfl(&mut self, wi: usize, a: &[u32], exec: u32, mask: u32, mode: ShflMode) -> Res<()> {
        let w = &mut self.warps[wi];
        let gather = |r: u32| -> [u32; 32] { std::array::from_fn(|l| w.regs[r as usize * 32 + l] as u32) };
        let (va, vb, vc) = (gather(a[2]), gather(a[3]), gather(a[4]));
        let m = match mode {
            ShflMode::Up => sem::warp::ShflMode::Up,
            ShflMode::Down => sem::warp::ShflMode::Down,
            ShflMode::Bfly => sem::warp::ShflMode::Bfly,
            ShflMode::Idx => sem::warp::ShflMode::Idx,
        };
        let res = sem::warp::shfl_sync(m, &va, &vb, &vc, mask, exec);
        if res.undefined & exec != 0 {
            // The ISA: d is undefined when the source lane is inactive or not in membermask.
            let lane = (res.undefined & exec).trailing_zeros();
            let source = res.source[lane as usize];
            return Err(fault(Kind::UndefinedResult, lane, format!("shfl.sync: the lane reads lane {source}, which is {} (member mask {mask:#010x}, executing lanes {exec:#010x}): the ISA leaves the result undefined", if mask & (1 << source) == 0 { "not in the member mask" } else { "inactive" })));
        }
        lanes(exec, |l| {
            if a[0] != NO_REG {
                w.regs[a[0] as usize * 32 + l] = res.value[l] as u64;
            }
        });
        if a[1] != NO_REG {
            let d = &mut w.preds[a[1] as usize];
            *d = (*d & !exec) | (res.in_range & exec);
        }
        Ok(())
    }

    #[allow(clippy::needless_range_loop)]
    fn mma(&mut self, wi: usize, a: &[u32], k: u32, ab: Ty, cd: Ty) {
        use sem::mma as M;
        let w = &mut self.warps[wi];
        let c_regs = if cd == Ty::F32 { 4 } else { 2 };
        let a_regs = if k == 16 { 4 } else { 2 };
        let b_regs = if k == 16 { 2 } else { 1 };
        let (d_at, a_at) = (0, c_regs);
        let b_at = a_at + a_regs;
        let c_at = b_at + b_regs;
        let mut av = [[0u32; 4]; 32];
        let mut bv = [[0u32; 2]; 32];
        let mut cv = [[0u32; 4]; 32];
        for l in 0..32 {
            for i in 0..a_regs {
                av[l][i] = w.regs[a[a_at + i] as usize * 32 + l] as u32;
            }
            for i in 0..b_regs {
                bv[l][i] = w.regs[a[b_at + i] as usize * 32 + l] as u32;
            }
            for i in 0..c_regs {
                cv[l][i] = w.regs[a[c_at + i] as usize * 32 + l] as u32;
            }
        }
        let shape = if k == 16 { M::MmaShape::M16N8K16 } else { M::MmaShape::M16N8K8 };
        let input = if ab == Ty::F16 { M::MmaInput::F16 } else { M::MmaInput::BF16 };
        let acc = if cd == Ty::F32 { M::MmaAccum::F32 } else { M::MmaAccum::F16 };
        let out = M::mma_sync(shape, input, acc, acc, &av, &bv, &cv);
        for l in 0..32 {
            for i in 0..c_regs {
                if a[d_at + i] != NO_REG {
                    w.regs[a[d_at + i] as usize * 32 + l] = out[l][i] as u64;
                }
            }
        }
    }
}

/// The lanes of `exec` for which `a cmp b` holds, with native comparisons for the common types
/// (the same results as `semantics::{integer::compare_int, float::compare_f32}`, without a
/// per-lane dispatch on the comparison); None for the forms left to semantics (`.ftz`, halves, f64).
// The negated float comparisons are deliberate: they are true for NaN operands (unordered forms).
#[allow(clippy::nonminimal_bool, clippy::neg_cmp_op_on_partial_ord, clippy::double_comparisons)]
#[inline(always)]
fn fast_compare(regs: &[u64], x: usize, y: usize, exec: u32, cmp: Cmp, ty: Ty, ftz: bool) -> Option<u32> {
    #[inline(always)]
    fn collect<T: Copy>(regs: &[u64], x: usize, y: usize, exec: u32, conv: impl Fn(u64) -> T, f: impl Fn(T, T) -> bool) -> u32 {
        let (xs, ys) = (&regs[x..x + 32], &regs[y..y + 32]);
        let mut r = 0u32;
        for l in 0..32 {
            r |= (f(conv(xs[l]), conv(ys[l])) as u32) << l;
        }
        r & exec
    }
    macro_rules! ints {
        ($s:ty, $u:ty) => {{
            let s = |v: u64| v as $s;
            let u = |v: u64| v as $u;
            match cmp {
                Cmp::Eq => collect(regs, x, y, exec, u, |a, b| a == b),
                Cmp::Ne => collect(regs, x, y, exec, u, |a, b| a != b),
                Cmp::Lo => collect(regs, x, y, exec, u, |a, b| a < b),
                Cmp::Ls => collect(regs, x, y, exec, u, |a, b| a <= b),
                Cmp::Hi => collect(regs, x, y, exec, u, |a, b| a > b),
                Cmp::Hs => collect(regs, x, y, exec, u, |a, b| a >= b),
                Cmp::Lt if ty.is_signed() => collect(regs, x, y, exec, s, |a, b| a < b),
                Cmp::Le if ty.is_signed() => collect(regs, x, y, exec, s, |a, b| a <= b),
                Cmp::Gt if ty.is_signed() => collect(regs, x, y, exec, s, |a, b| a > b),
                Cmp::Ge if ty.is_signed() => collect(regs, x, y, exec, s, |a, b| a >= b),
                Cmp::Lt => collect(regs, x, y, exec, u, |a, b| a < b),
                Cmp::Le => collect(regs, x, y, exec, u, |a, b| a <= b),
                Cmp::Gt => collect(regs, x, y, exec, u, |a, b| a > b),
                Cmp::Ge => collect(regs, x, y, exec, u, |a, b| a >= b),
                _ => return None,
            }
        }};
    }
    Some(match ty {
        Ty::S32 | Ty::U32 | Ty::B32 => ints!(i32, u32),
        Ty::S64 | Ty::U64 | Ty::B64 => ints!(i64, u64),
        Ty::S16 | Ty::U16 | Ty::B16 => ints!(i16, u16),
        Ty::F32 if !ftz => {
            let f = |v: u64| f32::from_bits(v as u32);
            match cmp {
                Cmp::Eq => collect(regs, x, y, exec, f, |a, b| a == b),
                Cmp::Ne => collect(regs, x, y, exec, f, |a, b| a < b || a > b),
                Cmp::Lt => collect(regs, x, y, exec, f, |a, b| a < b),
                Cmp::Le => collect(regs, x, y, exec, f, |a, b| a <= b),
                Cmp::Gt => collect(regs, x, y, exec, f, |a, b| a > b),
                Cmp::Ge => collect(regs, x, y, exec, f, |a, b| a >= b),
                Cmp::Equ => collect(regs, x, y, exec, f, |a, b| !(a < b || a > b)),
                Cmp::Neu => collect(regs, x, y, exec, f, |a, b| a != b),
                Cmp::Ltu => collect(regs, x, y, exec, f, |a, b| !(a >= b)),
                Cmp::Leu => collect(regs, x, y, exec, f, |a, b| !(a > b)),
                Cmp::Gtu => collect(regs, x, y, exec, f, |a, b| !(a <= b)),
                Cmp::Geu => collect(regs, x, y, exec, f, |a, b| !(a < b)),
                Cmp::Num => collect(regs, x, y, exec, f, |a, b| !a.is_nan() && !b.is_nan()),
                Cmp::Nan => collect(regs, x, y, exec, f, |a, b| a.is_nan() || b.is_nan()),
                _ => return None,
            }
        }
        _ => return None,
    })
}

pub fn read_pred(preds: &[u32], p: u32) -> u32 {
    let v = preds[(p & !NEGATED) as usize];
    if p & NEGATED != 0 {
        !v
    } else {
        v
    }
}

fn set_pred(p: &mut u32, lane: usize, v: bool) {
    if v {
        *p |= 1 << lane;
    } else {
        *p &= !(1 << lane);
    }
}

pub fn illegal(exec: u32, what: &str) -> Fault {
    fault(Kind::IllegalInstruction, exec.trailing_zeros().min(31), format!("{what} is not implemented by the CPU driver"))
}

impl Fault {
    pub fn new(kind: Kind, lane: u32, what: String) -> Self {
        fault(kind, lane, what)
    }
}

#[path = "access.rs"]
mod access;
pub use access::MemoryCounters;

#[cfg(test)]
mod tests {
    use super::*;

    /// The native comparisons agree with semantics' compare_int/compare_f32 on boundary values.
    #[test]
    fn fast_compare_matches_semantics() {
        let floats = [0.0f32, -0.0, 1.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e-45, f32::MAX, 3.5];
        let ints: [u64; 8] = [0, 1, u64::MAX, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x8000_0000_0000_0000, 0xffff];
        let cmps = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Lo, Cmp::Ls, Cmp::Hi, Cmp::Hs, Cmp::Equ, Cmp::Neu, Cmp::Ltu, Cmp::Leu, Cmp::Gtu, Cmp::Geu, Cmp::Num, Cmp::Nan];
        let mut regs = vec![0u64; 64];
        for &cmp in &cmps {
            for ty in [Ty::S32, Ty::U32, Ty::S64, Ty::U64, Ty::S16, Ty::U16, Ty::B32] {
                let Some(c) = int_cmp(cmp) else { continue };
                for (i, &a) in ints.iter().enumerate() {
                    for (j, &b) in ints.iter().enumerate() {
                        let lane = (i * 8 + j) % 32;
                        regs[lane] = a;
                        regs[32 + lane] = b;
                        let got = fast_compare(&regs, 0, 32, 1 << lane, cmp, ty, false).unwrap() != 0;
                        assert_eq!(got, sem::integer::compare_int(c, int_type(ty), a, b), "{cmp:?} {ty:?} {a:#x} {b:#x}");
                    }
                }
            }
            if matches!(cmp, Cmp::Lo | Cmp::Ls | Cmp::Hi | Cmp::Hs) {
                continue;
            }
            for &a in &floats {
                for &b in &floats {
                    regs[0] = a.to_bits() as u64;
                    regs[32] = b.to_bits() as u64;
                    let got = fast_compare(&regs, 0, 32, 1, cmp, Ty::F32, false).unwrap() != 0;
                    assert_eq!(got, sem::float::compare_f32(float_cmp(cmp), a, b, false), "{cmp:?} {a} {b}");
                }
            }
        }
    }
}
