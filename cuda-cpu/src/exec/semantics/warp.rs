//! Warp collectives (PTX ISA 9.0: `shfl.sync`, `vote.sync`, `match.sync`,
//! `redux.sync`): whole-warp functions over the 32 lanes' operand values.
//!
//! Lane masks are `u32` with bit i for lane i. `executing` is the set of lanes that execute the
//! instruction together (the engine has already checked it against each lane's membermask).

/// `shfl.sync` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

/// Result of a `shfl.sync` for the whole warp (only executing lanes' entries mean anything).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShflResult {
    /// Each lane's `d`.
    pub value: [u32; 32],
    /// Each lane's `p` (bit per lane): whether its computed source lane was in range.
    pub in_range: u32,
    /// Lanes whose `d` the ISA leaves undefined because they read from a lane that is inactive
    /// or not in `membermask` (their `value` is that lane's `a` regardless, as the register
    /// file would give).
    pub undefined: u32,
    /// Each executing lane's computed source lane (its own lane when out of range).
    pub source: [u32; 32],
}

/// `shfl.sync.mode.b32 d[|p], a, b, c, membermask` for the warp, following the ISA's pseudocode:
/// c packs the clamp value (bits 0..4) and the segment mask (bits 8..12); a lane whose computed
/// source is out of range copies its own `a` and gets p = false. `a`, `b`, `c` are per-lane
/// operand values (all 32 lanes' `a` registers, active or not).
pub fn shfl_sync(
    mode: ShflMode,
    a: &[u32; 32],
    b: &[u32; 32],
    c: &[u32; 32],
    membermask: u32,
    executing: u32,
) -> ShflResult {
    let mut out = ShflResult { value: *a, in_range: 0, undefined: 0, source: std::array::from_fn(|l| l as u32) };
    for lane in 0..32u32 {
        if executing & (1 << lane) == 0 {
            continue;
        }
        let l = lane as usize;
        let bval = b[l] & 0x1f;
        let cval = c[l] & 0x1f;
        let segmask = (c[l] >> 8) & 0x1f;
        let max_lane = (lane & segmask) | (cval & !segmask);
        let min_lane = lane & segmask;
        let (j, in_range) = match mode {
            ShflMode::Up => {
                let j = lane as i32 - bval as i32;
                (j, j >= max_lane as i32)
            }
            ShflMode::Down => {
                let j = lane as i32 + bval as i32;
                (j, j <= max_lane as i32)
            }
            ShflMode::Bfly => {
                let j = (lane ^ bval) as i32;
                (j, j <= max_lane as i32)
            }
            ShflMode::Idx => {
                let j = (min_lane | (bval & !segmask)) as i32;
                (j, j <= max_lane as i32)
            }
        };
        if in_range {
            let j = j as u32;
            out.value[l] = a[j as usize];
            out.source[l] = j;
            out.in_range |= 1 << lane;
            if (membermask & executing) & (1 << j) == 0 {
                out.undefined |= 1 << lane;
            }
        } else {
            out.value[l] = a[l];
        }
    }
    out
}

/// `vote.sync.all.pred`: true iff `pred` is set for every lane of `members` (the membermask's
/// non-exited lanes). `pred` is one bit per lane, already negated when the operand is `!a`.
pub fn vote_all(pred: u32, members: u32) -> bool {
    pred & members == members
}

/// `vote.sync.any.pred`: true iff `pred` is set for some lane of `members`.
pub fn vote_any(pred: u32, members: u32) -> bool {
    pred & members != 0
}

/// `vote.sync.uni.pred`: true iff `pred` is the same for every lane of `members`.
pub fn vote_uni(pred: u32, members: u32) -> bool {
    let set = pred & members;
    set == 0 || set == members
}

/// `vote.sync.ballot.b32`: bit i set iff lane i is in `members` and its predicate is true.
pub fn vote_ballot(pred: u32, members: u32) -> u32 {
    pred & members
}

/// `match.any.sync.b32/.b64 d, a, membermask`: for each lane of `members`, the mask of lanes of
/// `members` whose `a` equals its own (0 for other lanes).
pub fn match_any(a: &[u64; 32], members: u32) -> [u32; 32] {
    let mut out = [0u32; 32];
    for lane in 0..32 {
        if members & (1 << lane) == 0 {
            continue;
        }
        let mut mask = 0u32;
        for other in 0..32 {
            if members & (1 << other) != 0 && a[other] == a[lane] {
                mask |= 1 << other;
            }
        }
        out[lane] = mask;
    }
    out
}

/// `match.all.sync.b32/.b64 d[|p], a, membermask`: `(members, true)` if every lane of `members`
/// has the same `a`, else `(0, false)`; the same for every lane.
pub fn match_all(a: &[u64; 32], members: u32) -> (u32, bool) {
    if members == 0 {
        return (0, true);
    }
    let first = a[members.trailing_zeros() as usize];
    let all = (0..32).all(|lane| members & (1 << lane) == 0 || a[lane] == first);
    if all { (members, true) } else { (0, false) }
}

/// `redux.sync` operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduxOp {
    Add,
    Min,
    Max,
    And,
    Or,
    Xor,
}

/// `redux.sync.op.{u32,s32,b32} d, a, membermask`: the reduction over the lanes of `members`
/// (`add` wraps; `min`/`max` signed when `signed`). Every member lane receives it.
pub fn redux_sync(op: ReduxOp, signed: bool, a: &[u32; 32], members: u32) -> u32 {
    let mut acc: Option<u32> = None;
    for (lane, &v) in a.iter().enumerate() {
        if members & (1 << lane) == 0 {
            continue;
        }
        acc = Some(match acc {
            None => v,
            Some(x) => match op {
                ReduxOp::Add => x.wrapping_add(v),
                ReduxOp::And => x & v,
                ReduxOp::Or => x | v,
                ReduxOp::Xor => x ^ v,
                ReduxOp::Min if signed => (x as i32).min(v as i32) as u32,
                ReduxOp::Max if signed => (x as i32).max(v as i32) as u32,
                ReduxOp::Min => x.min(v),
                ReduxOp::Max => x.max(v),
            },
        });
    }
    acc.unwrap_or(0)
}
