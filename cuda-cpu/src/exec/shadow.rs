//! The shared-memory race and initialisation shadow of one worker thread, one entry per byte.
//!
//! The order we accept between two accesses to the same shared byte by different threads of a
//! CTA, when at least one writes (anything else is a `SharedRace`):
//! 1. a barrier (`bar.sync`/`barrier.sync`/`bar.red`) completed between them (an epoch: every
//!    barrier release starts a new one), or
//! 2. both threads are in the same warp and a warp-synchronous instruction of that warp
//!    (`bar.warp.sync`, `shfl.sync`, `vote.sync`, `ldmatrix`, `mma.sync`) executed between them.
//!    Two lanes of one instruction are never ordered with each other (two lanes of one `st`
//!    writing the same byte race).
//!
//! Epochs only grow on a worker, so an entry left by an earlier CTA is simply stale: a byte is
//! initialised for the current CTA when its last write's epoch is at or after the CTA's first.

/// Reader field values: a thread id (< 1024), many lanes of one warp, or many warps.
const MANY_IN_WARP: u16 = 0x8000;
const MANY_WARPS: u16 = 0xffff;

#[derive(Clone, Copy, Default)]
pub struct ByteShadow {
    w_epoch: u32,
    r_epoch: u32,
    w_sync: u32,
    r_sync: u32,
    w_tid: u16,
    r_tid: u16,
}

/// What an access conflicts with.
pub struct Conflict {
    pub other_thread: Option<u32>,
    pub other_wrote: bool,
}

pub struct SharedShadow {
    pub bytes: Vec<ByteShadow>,
    /// The current epoch (starts a new one at every CTA start and barrier release).
    pub epoch: u32,
    pub cta_first_epoch: u32,
}

impl SharedShadow {
    pub fn new() -> Self {
        Self { bytes: Vec::new(), epoch: 1, cta_first_epoch: 1 }
    }

    pub fn start_cta(&mut self, shared_bytes: usize) {
        if self.bytes.len() < shared_bytes {
            self.bytes = vec![ByteShadow::default(); shared_bytes];
            self.epoch = 1;
        }
        self.epoch += 1;
        self.cta_first_epoch = self.epoch;
    }

    pub fn barrier(&mut self) {
        self.epoch += 1;
    }

    pub fn is_initialised(&self, offset: usize) -> bool {
        self.bytes[offset].w_epoch >= self.cta_first_epoch
    }

    /// Records a read of byte `offset` by thread `tid` whose warp's sync count is `sync`;
    /// returns the unordered write it conflicts with, if any.
    #[inline]
    pub fn read(&mut self, offset: usize, tid: u32, sync: u32, check: bool) -> Option<Conflict> {
        let e = self.epoch;
        let s = &mut self.bytes[offset];
        let t = tid as u16;
        let warp = t / 32;
        if check && s.w_epoch == e && s.w_tid != t && !(s.w_tid / 32 == warp && s.w_sync < sync) {
            return Some(Conflict { other_thread: Some(s.w_tid as u32), other_wrote: true });
        }
        if s.r_epoch != e {
            s.r_epoch = e;
            s.r_tid = t;
        } else if s.r_tid != t {
            let same_warp = if s.r_tid & MANY_IN_WARP != 0 { s.r_tid != MANY_WARPS && s.r_tid & 0x7fff == warp } else { s.r_tid / 32 == warp };
            s.r_tid = if same_warp { MANY_IN_WARP | warp } else { MANY_WARPS };
        }
        s.r_sync = sync;
        None
    }

    /// Records a write; returns the unordered access it conflicts with, if any.
    #[inline]
    pub fn write(&mut self, offset: usize, tid: u32, sync: u32, check: bool) -> Option<Conflict> {
        let e = self.epoch;
        let s = &mut self.bytes[offset];
        let t = tid as u16;
        let warp = t / 32;
        if check {
            if s.w_epoch == e && s.w_tid != t && !(s.w_tid / 32 == warp && s.w_sync < sync) {
                return Some(Conflict { other_thread: Some(s.w_tid as u32), other_wrote: true });
            }
            if s.r_epoch == e && s.r_tid != t {
                let ordered = if s.r_tid == MANY_WARPS {
                    false
                } else if s.r_tid & MANY_IN_WARP != 0 {
                    s.r_tid & 0x7fff == warp && s.r_sync < sync
                } else {
                    s.r_tid / 32 == warp && s.r_sync < sync
                };
                if !ordered {
                    let other = if s.r_tid & MANY_IN_WARP != 0 { None } else { Some(s.r_tid as u32) };
                    return Some(Conflict { other_thread: other, other_wrote: false });
                }
            }
        }
        s.w_epoch = e;
        s.w_tid = t;
        s.w_sync = sync;
        None
    }
}
