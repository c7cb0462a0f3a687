//! Memory instructions of a warp: ld/st/atom in every state space, ldmatrix, cp.async, with the
//! bounds, alignment, initialisation and race checks. (A child of `cta`, for its private state.)

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::*;

/// Where one lane's access lands.
enum Place {
    Global(*mut u8),
    Shared(usize),
    Local(usize),
    Param(usize),
}

/// Shared-memory bank and global-sector statistics of one launch.
#[derive(Debug, Clone, Default)]
pub struct MemoryCounters {
    pub shared_requests: u64,
    pub shared_wavefronts: u64,
    pub global_requests: u64,
    pub global_sectors: u64,
}

impl<'l> CtaRunner<'l> {
    /// The allocation the last `place` resolved a global address in.
    #[inline]
    fn current(&self) -> &Arc<Allocation> {
        self.allocs[self.current_alloc].as_ref().unwrap()
    }

    fn thread_of(&self, wi: usize, lane: usize) -> u32 {
        wi as u32 * 32 + lane as u32
    }

    fn global_thread(&self, wi: usize, lane: usize) -> u64 {
        self.cta_linear * self.threads as u64 + self.thread_of(wi, lane) as u64
    }

    fn describe_global(&self, addr: u64, len: u64) -> String {
        match self.launch.memory.nearest_below(addr) {
            Some((start, size)) if addr < start + size + 4096 => {
                format!("{len} bytes at {addr:#x}, {} bytes from the start of the allocation {start:#x} of {size} bytes", addr as i128 - start as i128)
            }
            _ => format!("{len} bytes at {addr:#x}, in no allocation"),
        }
    }

    /// Resolves one lane's address in `space` to a host location, checking bounds and alignment.
    #[inline]
    fn place(&mut self, wi: usize, lane: usize, space: Space, addr: u64, len: u64, align: u64) -> Res<Place> {
        let lane32 = lane as u32;
        let space = match space {
            Space::Generic => {
                if (SHARED_WINDOW..SHARED_WINDOW + WINDOW_SIZE).contains(&addr) {
                    return self.place(wi, lane, Space::Shared, addr - SHARED_WINDOW, len, align);
                } else if (LOCAL_WINDOW..LOCAL_WINDOW + WINDOW_SIZE).contains(&addr) {
                    return self.place(wi, lane, Space::Local, addr - LOCAL_WINDOW, len, align);
                }
                Space::Global
            }
            s => s,
        };
        if !addr.is_multiple_of(align) {
            let what = match space {
                Space::Global => self.describe_global(addr, len),
                Space::Shared => format!("shared offset {addr:#x}"),
                Space::Local => format!("local offset {addr:#x}"),
                _ => format!("param offset {addr:#x}"),
            };
            return Err(Fault::new(Kind::MisalignedAddress, lane32, format!("misaligned {len}-byte access (needs {align}-byte alignment): {what}")));
        }
        match space {
            Space::Global => {
                let hit = matches!(&self.allocs[self.current_alloc], Some(a) if a.contains(addr, len));
                if !hit {
                    match self.allocs.iter().position(|a| matches!(a, Some(a) if a.contains(addr, len))) {
                        Some(i) => self.current_alloc = i,
                        None => match self.launch.memory.find(addr) {
                            Some(a) if a.contains(addr, len) => {
                                let slot = self.next_victim;
                                self.next_victim = (slot + 1) % self.allocs.len();
                                self.allocs[slot] = Some(a);
                                self.current_alloc = slot;
                            }
                            _ => return Err(Fault::new(Kind::IllegalAddress, lane32, format!("out-of-bounds global access: {}", self.describe_global(addr, len)))),
                        },
                    }
                }
                Ok(Place::Global(self.current().host_ptr(addr)))
            }
            Space::Shared => {
                if addr.checked_add(len).is_none_or(|e| e > self.shared.len() as u64) {
                    return Err(Fault::new(Kind::IllegalAddress, lane32, format!("out-of-bounds shared access: {len} bytes at offset {addr:#x} of the CTA's {} bytes of shared memory ({} static + {} dynamic)", self.shared.len(), self.launch.kernel.static_shared_bytes, self.launch.config.dynamic_shared_bytes)));
                }
                Ok(Place::Shared(addr as usize))
            }
            Space::Local => {
                let per = self.launch.kernel.local_bytes_per_thread as u64;
                if addr.checked_add(len).is_none_or(|e| e > per) {
                    return Err(Fault::new(Kind::IllegalAddress, lane32, format!("out-of-bounds local access: {len} bytes at offset {addr:#x} of the thread's {per} bytes of local memory")));
                }
                Ok(Place::Local(self.thread_of(wi, lane) as usize * per as usize + addr as usize))
            }
            Space::Param => {
                if addr.checked_add(len).is_none_or(|e| e > self.launch.params.len() as u64) {
                    return Err(Fault::new(Kind::IllegalAddress, lane32, format!("out-of-bounds param access: {len} bytes at offset {addr:#x} of {} parameter bytes", self.launch.params.len())));
                }
                Ok(Place::Param(addr as usize))
            }
            _ => Err(Fault::new(Kind::IllegalInstruction, lane32, "the .const state space is not implemented by the CPU driver".into())),
        }
    }

    /// Reads `len` bytes at a place, checking initialisation and recording shared reads.
    fn read_place(&mut self, wi: usize, lane: usize, place: &Place, len: usize, addr: u64, out: &mut [u8]) -> Res<()> {
        let init = self.launch.options.init_checks;
        match *place {
            Place::Global(p) => {
                copy_small(p, out.as_mut_ptr(), len);
                if init {
                    let alloc = self.current();
                    if !all_set(alloc.init_ptr(addr), len) {
                        let first = alloc.first_uninitialised(addr, len as u64).unwrap();
                        return Err(Fault::new(Kind::UninitialisedRead, lane as u32, format!("read of device memory never written since allocation: {}", self.describe_global(first, 1))));
                    }
                }
            }
            Place::Shared(o) => {
                out[..len].copy_from_slice(&self.shared[o..o + len]);
                let tid = self.thread_of(wi, lane);
                let sync = self.warps[wi].sync;
                let race = self.launch.options.race_checks;
                for i in 0..len {
                    if init && !self.shadow.is_initialised(o + i) {
                        return Err(Fault::new(Kind::UninitialisedRead, lane as u32, format!("read of shared memory at offset {:#x} that no thread of this CTA has written", o + i)));
                    }
                    if let Some(c) = self.shadow.read(o + i, tid, sync, race) {
                        return Err(self.shared_race(lane, o + i, c, false));
                    }
                }
            }
            Place::Local(o) => {
                out[..len].copy_from_slice(&self.local[o..o + len]);
                if init && self.local_init[o..o + len].contains(&0) {
                    return Err(Fault::new(Kind::UninitialisedRead, lane as u32, format!("read of local memory at offset {:#x} that this thread never wrote", o % self.launch.kernel.local_bytes_per_thread.max(1) as usize)));
                }
            }
            Place::Param(o) => out[..len].copy_from_slice(&self.launch.params[o..o + len]),
        }
        Ok(())
    }

    fn shared_race(&self, lane: usize, offset: usize, c: super::super::shadow::Conflict, this_writes: bool) -> Fault {
        let other = match c.other_thread {
            Some(t) => {
                let xyz = self.thread_xyz(t);
                format!("thread ({},{},{})", xyz[0], xyz[1], xyz[2])
            }
            None => "several threads".to_string(),
        };
        let (mine, theirs) = (if this_writes { "write" } else { "read" }, if c.other_wrote { "wrote" } else { "read" });
        Fault::new(Kind::SharedRace, lane as u32, format!("shared-memory race at offset {offset:#x}: this {mine} and {other}, which {theirs} the byte since the last barrier, are not ordered by a barrier (or, in one warp, by a warp-synchronous instruction)"))
    }

    /// Writes bytes at a place with the race check and initialisation marking.
    fn write_place(&mut self, wi: usize, lane: usize, place: &Place, addr: u64, bytes: &[u8]) -> Res<()> {
        let len = bytes.len();
        match *place {
            Place::Global(p) => {
                let alloc = self.current();
                if self.launch.options.race_checks {
                    let me = (self.launch.launch_id << 40) | (self.global_thread(wi, lane) + 1);
                    let tags = alloc.writer_tags();
                    let first = (addr - alloc.start) as usize;
                    // A relaxed load and store rather than a swap: exact within a worker, and
                    // between workers it misses only writes that land in the same instant.
                    for (i, tag) in tags[first..first + len].iter().enumerate() {
                        let old = tag.load(Ordering::Relaxed);
                        if old == me {
                            continue;
                        }
                        tag.store(me, Ordering::Relaxed);
                        if old >> 40 == self.launch.launch_id {
                            let other = (old & ((1 << 40) - 1)) - 1;
                            return Err(self.global_race(lane, addr + i as u64, other, alloc));
                        }
                    }
                }
                copy_small(bytes.as_ptr(), p, len);
                if !all_set(alloc.init_ptr(addr), len) {
                    alloc.mark_initialised(addr, len as u64);
                }
            }
            Place::Shared(o) => {
                let tid = self.thread_of(wi, lane);
                let sync = self.warps[wi].sync;
                let race = self.launch.options.race_checks;
                for i in 0..len {
                    if let Some(c) = self.shadow.write(o + i, tid, sync, race) {
                        return Err(self.shared_race(lane, o + i, c, true));
                    }
                }
                self.shared[o..o + len].copy_from_slice(bytes);
            }
            Place::Local(o) => {
                self.local[o..o + len].copy_from_slice(bytes);
                self.local_init[o..o + len].fill(1);
            }
            Place::Param(_) => return Err(Fault::new(Kind::IllegalInstruction, lane as u32, "store to the .param space of a kernel".into())),
        }
        Ok(())
    }

    fn global_race(&self, lane: usize, addr: u64, other: u64, alloc: &Arc<Allocation>) -> Fault {
        let per = self.threads as u64;
        let (cta, t) = (other / per, (other % per) as u32);
        let g = self.launch.config.grid;
        let cxyz = [cta % g[0] as u64, (cta / g[0] as u64) % g[1] as u64, cta / (g[0] as u64 * g[1] as u64)];
        let txyz = self.thread_xyz(t);
        Fault::new(
            Kind::GlobalRace,
            lane as u32,
            format!(
                "global-memory race: byte {addr:#x} (offset {} of the allocation {:#x} of {} bytes) is written without an atomic by this thread and by thread ({},{},{}) of block ({},{},{}) in the same launch",
                addr - alloc.start,
                alloc.start,
                alloc.size,
                txyz[0],
                txyz[1],
                txyz[2],
                cxyz[0],
                cxyz[1],
                cxyz[2]
            ),
        )
    }

    #[allow(clippy::needless_range_loop)]
    fn count_memory(&mut self, space: Space, addrs: &[u64; 32], exec: u32, len: u64) {
        if !self.launch.options.counters || exec == 0 {
            return;
        }
        let shared = matches!(space, Space::Shared) || (space == Space::Generic && (SHARED_WINDOW..SHARED_WINDOW + WINDOW_SIZE).contains(&addrs[exec.trailing_zeros() as usize]));
        if shared {
            // Wavefronts: lanes are served in phases of 128 bytes; per phase, the most distinct
            // 4-byte words that fall into one bank.
            let lanes_per_phase = (128 / len.max(4)).clamp(1, 32) as usize;
            let mut wavefronts = 0u64;
            for phase in (0..32).step_by(lanes_per_phase) {
                let mut words: Vec<u64> = Vec::with_capacity(64);
                for l in phase..(phase + lanes_per_phase).min(32) {
                    if exec & (1 << l) != 0 {
                        let a = addrs[l] & !(SHARED_WINDOW);
                        for wd in (a / 4)..(a + len).div_ceil(4) {
                            words.push(wd);
                        }
                    }
                }
                if words.is_empty() {
                    continue;
                }
                words.sort_unstable();
                words.dedup();
                let mut per_bank = [0u32; 32];
                for wd in words {
                    per_bank[(wd % 32) as usize] += 1;
                }
                wavefronts += *per_bank.iter().max().unwrap() as u64;
            }
            self.counters.memory.shared_requests += 1;
            self.counters.memory.shared_wavefronts += wavefronts;
        } else if matches!(space, Space::Global | Space::Generic) {
            let mut sectors: Vec<u64> = Vec::with_capacity(64);
            lanes(exec, |l| {
                for s in (addrs[l] / 32)..(addrs[l] + len).div_ceil(32) {
                    sectors.push(s);
                }
            });
            sectors.sort_unstable();
            sectors.dedup();
            self.counters.memory.global_requests += 1;
            self.counters.memory.global_sectors += sectors.len() as u64;
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn load(&mut self, wi: usize, a: &[u32], exec: u32, space: Space, ty: Ty, vec: u32, offset: i64) -> Res<()> {
        let size = ty.bytes() as usize;
        let vec = vec as usize;
        let total = size * vec;
        let addr_reg = a[vec] as usize;
        let mut addrs = [0u64; 32];
        let mut buf = [0u8; 64];
        let signed = ty.is_signed();
        try_lanes(exec, |l| {
            let addr = self.warps[wi].regs[addr_reg * 32 + l].wrapping_add(offset as u64);
            addrs[l] = addr;
            let place = self.place(wi, l, space, addr, total as u64, total as u64)?;
            self.read_place(wi, l, &place, total, addr, &mut buf)?;
            let w = &mut self.warps[wi];
            for i in 0..vec {
                let mut v = 0u64;
                for b in 0..size.min(8) {
                    v |= (buf[i * size + b] as u64) << (8 * b);
                }
                if signed && size < 8 {
                    let sh = 64 - 8 * size as u32;
                    v = ((v << sh) as i64 >> sh) as u64;
                }
                if a[i] != NO_REG {
                    w.regs[a[i] as usize * 32 + l] = v;
                }
            }
            Ok(())
        })?;
        self.count_memory(space, &addrs, exec, total as u64);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn store(&mut self, wi: usize, a: &[u32], exec: u32, space: Space, ty: Ty, vec: u32, offset: i64) -> Res<()> {
        let size = ty.bytes() as usize;
        let vec = vec as usize;
        let total = size * vec;
        let mut addrs = [0u64; 32];
        try_lanes(exec, |l| {
            let addr = self.warps[wi].regs[a[0] as usize * 32 + l].wrapping_add(offset as u64);
            addrs[l] = addr;
            let mut buf = [0u8; 64];
            for i in 0..vec {
                let v = self.warps[wi].regs[a[1 + i] as usize * 32 + l];
                buf[i * size..i * size + size.min(8)].copy_from_slice(&v.to_le_bytes()[..size.min(8)]);
            }
            let place = self.place(wi, l, space, addr, total as u64, total as u64)?;
            self.write_place(wi, l, &place, addr, &buf[..total])
        })?;
        self.count_memory(space, &addrs, exec, total as u64);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn atom(&mut self, wi: usize, a: &[u32], exec: u32, space: Space, op: AtomOp, ty: Ty, offset: i64) -> Res<()> {
        let size = ty.bytes() as u64;
        try_lanes(exec, |l| {
            let w = &self.warps[wi];
            let addr = w.regs[a[1] as usize * 32 + l].wrapping_add(offset as u64);
            let b = w.regs[a[2] as usize * 32 + l];
            let c = if a.len() > 3 { w.regs[a[3] as usize * 32 + l] } else { 0 };
            let place = self.place(wi, l, space, addr, size, size)?;
            // The old value: atomics read memory, so it must have been written.
            let mut old_bytes = [0u8; 8];
            let init = self.launch.options.init_checks;
            let old = match place {
                Place::Global(p) => {
                    if init {
                        if let Some(first) = self.current().first_uninitialised(addr, size) {
                            return Err(Fault::new(Kind::UninitialisedRead, l as u32, format!("atomic on device memory never written since allocation: {}", self.describe_global(first, 1))));
                        }
                    }
                    let old = unsafe { atomic_rmw(p, size, |old| atom_value(op, ty, old, b, c)) }.ok_or_else(|| illegal(1 << l, "an atomic of this size"))?;
                    self.current().mark_initialised(addr, size);
                    old
                }
                Place::Shared(o) => {
                    for i in 0..size as usize {
                        if init && !self.shadow.is_initialised(o + i) {
                            return Err(Fault::new(Kind::UninitialisedRead, l as u32, format!("atomic on shared memory at offset {:#x} that no thread of this CTA has written", o + i)));
                        }
                    }
                    old_bytes[..size as usize].copy_from_slice(&self.shared[o..o + size as usize]);
                    let old = u64::from_le_bytes(old_bytes);
                    let new = atom_value(op, ty, old, b, c);
                    self.shared[o..o + size as usize].copy_from_slice(&new.to_le_bytes()[..size as usize]);
                    old
                }
                _ => return Err(illegal(1 << l, "an atomic outside the global and shared spaces")),
            };
            if a[0] != NO_REG {
                let v = if ty.is_signed() && size < 8 {
                    let sh = 64 - 8 * size as u32;
                    ((old << sh) as i64 >> sh) as u64
                } else {
                    old
                };
                self.warps[wi].regs[a[0] as usize * 32 + l] = v;
            }
            Ok(())
        })
    }

    #[allow(clippy::needless_range_loop)]
    pub(super) fn ldmatrix(&mut self, wi: usize, a: &[u32], n: u32, trans: bool) -> Res<()> {
        use sem::ldmatrix as L;
        let addr_reg = a[n as usize] as usize;
        let rows: [u64; 32] = std::array::from_fn(|l| self.warps[wi].regs[addr_reg * 32 + l]);
        let count = match n {
            1 => L::LdmatrixCount::X1,
            2 => L::LdmatrixCount::X2,
            _ => L::LdmatrixCount::X4,
        };
        // Row addresses come from lanes 0..8n in order; the lane that gives a row reads it.
        let mut lane_of_row = 0usize;
        let out = L::ldmatrix(count, trans, &rows, |addr| -> Res<[u8; 16]> {
            let l = lane_of_row;
            lane_of_row += 1;
            let place = self.place(wi, l, Space::Shared, addr, 16, 16)?;
            let mut buf = [0u8; 16];
            self.read_place(wi, l, &place, 16, addr, &mut buf)?;
            Ok(buf)
        })?;
        let w = &mut self.warps[wi];
        for l in 0..32 {
            for (i, &d) in a.iter().take(n as usize).enumerate() {
                if d != NO_REG {
                    w.regs[d as usize * 32 + l] = out[l][i] as u64;
                }
            }
        }
        let mut addrs = [0u64; 32];
        addrs[..].copy_from_slice(&rows);
        self.count_memory(Space::Shared, &addrs, if n == 4 { FULL } else { (1u32 << (8 * n)) - 1 }, 16);
        Ok(())
    }

    pub(super) fn cp_async(&mut self, wi: usize, a: &[u32], exec: u32, bytes: u32) -> Res<()> {
        try_lanes(exec, |l| {
            let w = &self.warps[wi];
            let dst = w.regs[a[0] as usize * 32 + l];
            let src = w.regs[a[1] as usize * 32 + l];
            let src_size = if a[2] != NO_REG { (w.regs[a[2] as usize * 32 + l] as u32).min(bytes) } else { bytes };
            // The destination is checked now (the copy lands later, at the wait).
            self.place(wi, l, Space::Shared, dst, bytes as u64, bytes as u64)?;
            let mut data = [0u8; 16];
            if src_size > 0 {
                let place = self.place(wi, l, Space::Global, src, src_size as u64, bytes as u64)?;
                self.read_place(wi, l, &place, src_size as usize, src, &mut data)?;
            } else if !src.is_multiple_of(bytes as u64) {
                return Err(Fault::new(Kind::MisalignedAddress, l as u32, format!("cp.async source {src:#x} is not {bytes}-byte aligned")));
            }
            let w = &mut self.warps[wi];
            let group = w.committed[l];
            w.pending.push(PendingCopy { lane: l as u8, group, dst: dst as u32, len: bytes as u8, data });
            Ok(())
        })
    }

    pub(super) fn cp_async_wait(&mut self, wi: usize, exec: u32, n: u32, all: bool) -> Res<()> {
        if self.warps[wi].pending.is_empty() {
            return Ok(());
        }
        let w = &mut self.warps[wi];
        let committed = w.committed;
        let mut done = Vec::new();
        w.pending.retain(|p| {
            let l = p.lane as usize;
            let complete = exec & (1 << l) != 0 && (all || p.group + n < committed[l]);
            if complete {
                done.push((l, p.dst, p.len, p.data));
            }
            !complete
        });
        for (l, dst, len, data) in done {
            let place = Place::Shared(dst as usize);
            self.write_place(wi, l, &place, dst as u64, &data[..len as usize])?;
        }
        Ok(())
    }
}

/// Copies 1–16 bytes (a fixed-size copy for the usual sizes rather than a memmove call).
#[inline(always)]
fn copy_small(src: *const u8, dst: *mut u8, len: usize) {
    unsafe {
        match len {
            4 => std::ptr::write_unaligned(dst as *mut u32, std::ptr::read_unaligned(src as *const u32)),
            8 => std::ptr::write_unaligned(dst as *mut u64, std::ptr::read_unaligned(src as *const u64)),
            2 => std::ptr::write_unaligned(dst as *mut u16, std::ptr::read_unaligned(src as *const u16)),
            16 => std::ptr::write_unaligned(dst as *mut u128, std::ptr::read_unaligned(src as *const u128)),
            _ => std::ptr::copy_nonoverlapping(src, dst, len),
        }
    }
}

/// Whether all `len` flag bytes at `p` are nonzero (flags are 0 or 1).
#[inline(always)]
fn all_set(p: *const u8, len: usize) -> bool {
    unsafe {
        match len {
            4 => std::ptr::read_unaligned(p as *const u32) == 0x0101_0101,
            8 => std::ptr::read_unaligned(p as *const u64) == 0x0101_0101_0101_0101,
            16 => std::ptr::read_unaligned(p as *const u128) == 0x0101_0101_0101_0101_0101_0101_0101_0101,
            _ => (0..len).all(|i| *p.add(i) != 0),
        }
    }
}

/// Applies an atomic to `size` bytes at `p` with a CAS loop; returns the old value.
unsafe fn atomic_rmw(p: *mut u8, size: u64, f: impl Fn(u64) -> u64) -> Option<u64> {
    match size {
        2 => {
            let a = &*(p as *const AtomicU16);
            let mut cur = a.load(Ordering::Relaxed);
            loop {
                match a.compare_exchange_weak(cur, f(cur as u64) as u16, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return Some(cur as u64),
                    Err(x) => cur = x,
                }
            }
        }
        4 => {
            let a = &*(p as *const AtomicU32);
            let mut cur = a.load(Ordering::Relaxed);
            loop {
                match a.compare_exchange_weak(cur, f(cur as u64) as u32, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return Some(cur as u64),
                    Err(x) => cur = x,
                }
            }
        }
        8 => {
            let a = &*(p as *const AtomicU64);
            let mut cur = a.load(Ordering::Relaxed);
            loop {
                match a.compare_exchange_weak(cur, f(cur), Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return Some(cur),
                    Err(x) => cur = x,
                }
            }
        }
        _ => None,
    }
}

/// The value an atomic stores, from the old value and its operands.
fn atom_value(op: AtomOp, ty: Ty, old: u64, b: u64, c: u64) -> u64 {
    use sem::integer as I;
    let bits = ty.bits();
    let m = mask_bits(bits);
    match ty {
        Ty::F32 => {
            let (o, v) = (f32::from_bits(old as u32), f32::from_bits(b as u32));
            return match op {
                // atom.add.f32 rounds to nearest and flushes subnormals (ISA: .ftz implied).
                AtomOp::Add => sem::float::add_f32(o, v, sem::float::FloatMode { rounding: sem::Rounding::Nearest, ftz: true, sat: false }).to_bits() as u64,
                AtomOp::Min => sem::float::min_f32(o, v, Default::default()).to_bits() as u64,
                AtomOp::Max => sem::float::max_f32(o, v, Default::default()).to_bits() as u64,
                AtomOp::Exch => b & m,
                AtomOp::Cas => if old & m == b & m { c & m } else { old },
                _ => old,
            };
        }
        Ty::F64 => {
            return match op {
                AtomOp::Add => (f64::from_bits(old) + f64::from_bits(b)).to_bits(),
                AtomOp::Exch => b,
                AtomOp::Cas => if old == b { c } else { old },
                _ => old,
            };
        }
        Ty::F16 | Ty::BF16 | Ty::F16x2 | Ty::BF16x2 => {
            let h = if matches!(ty, Ty::F16 | Ty::F16x2) { sem::HalfType::F16 } else { sem::HalfType::BF16 };
            let add = |x: u16, y: u16| sem::float::add_half(h, x, y, sem::float::FloatMode::RN);
            return match op {
                AtomOp::Add if bits == 32 => sem::float::packed2(old as u32, b as u32, add) as u64,
                AtomOp::Add => add(old as u16, b as u16) as u64,
                AtomOp::Exch => b & m,
                AtomOp::Cas => if old & m == b & m { c & m } else { old },
                _ => old,
            };
        }
        _ => {}
    }
    let t = int_type(ty);
    match op {
        AtomOp::Add => I::add(t, old, b),
        AtomOp::Min => I::min(t, old, b),
        AtomOp::Max => I::max(t, old, b),
        AtomOp::Inc => {
            if old & m >= b & m {
                0
            } else {
                (old + 1) & m
            }
        }
        AtomOp::Dec => {
            if old & m == 0 || old & m > b & m {
                b & m
            } else {
                (old - 1) & m
            }
        }
        AtomOp::And => old & b & m,
        AtomOp::Or => (old | b) & m,
        AtomOp::Xor => (old ^ b) & m,
        AtomOp::Exch => b & m,
        AtomOp::Cas => {
            if old & m == b & m {
                c & m
            } else {
                old
            }
        }
    }
}
