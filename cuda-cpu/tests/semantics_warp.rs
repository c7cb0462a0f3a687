//! Warp collectives: `shfl.sync` in every mode and segment width against the CUDA width/segment
//! arithmetic (an independent formulation of the ISA's pseudocode), source lanes that are
//! inactive or outside membermask, out-of-range b and c, and vote/match/redux.

use cuda_cpu::exec::semantics::warp::*;

const ALL: u32 = 0xffff_ffff;

fn values() -> [u32; 32] {
    std::array::from_fn(|i| 1000 + i as u32)
}

fn splat(x: u32) -> [u32; 32] {
    [x; 32]
}

/// What `__shfl_*_sync(mask, v, arg, width)` gives lane `lane` (CUDA programming guide), with
/// c encoded as CUDA does: ((32 − width) << 8) | clamp, clamp = 0 for up and 0x1f otherwise.
fn expected(mode: ShflMode, lane: u32, arg: u32, width: u32) -> (u32, bool) {
    let start = lane / width * width;
    let end = start + width - 1;
    let src = match mode {
        ShflMode::Idx => Some(start + arg % width),
        ShflMode::Up => lane.checked_sub(arg).filter(|&j| j >= start),
        ShflMode::Down => Some(lane + arg).filter(|&j| j <= end),
        ShflMode::Bfly => Some(lane ^ arg).filter(|&j| j <= end),
    };
    match src {
        Some(j) => (1000 + j, true),
        None => (1000 + lane, false),
    }
}

fn c_for(mode: ShflMode, width: u32) -> u32 {
    ((32 - width) << 8) | if mode == ShflMode::Up { 0 } else { 0x1f }
}

#[test]
fn every_mode_and_width_matches_the_segment_arithmetic() {
    let a = values();
    for mode in [ShflMode::Idx, ShflMode::Up, ShflMode::Down, ShflMode::Bfly] {
        for width in [1, 2, 4, 8, 16, 32] {
            for arg in 0..32 {
                if mode == ShflMode::Bfly && arg >= width {
                    continue; // CUDA only defines lane masks inside the segment
                }
                let r = shfl_sync(mode, &a, &splat(arg), &splat(c_for(mode, width)), ALL, ALL);
                for lane in 0..32 {
                    let (v, p) = expected(mode, lane, arg, width);
                    assert_eq!(r.value[lane as usize], v, "{mode:?} width {width} arg {arg} lane {lane}");
                    assert_eq!(r.in_range >> lane & 1 == 1, p, "{mode:?} width {width} arg {arg} lane {lane} p");
                }
                assert_eq!(r.undefined, 0);
            }
        }
    }
}

#[test]
fn isa_pseudocode_corner_cases() {
    let a = values();
    // b is read mod 32: bfly 33 = bfly 1, idx 37 = idx 5.
    let r = shfl_sync(ShflMode::Bfly, &a, &splat(33), &splat(0x1f), ALL, ALL);
    assert_eq!(r.value[0], 1001);
    assert_eq!(r.value[1], 1000);
    let r = shfl_sync(ShflMode::Idx, &a, &splat(37), &splat(0x1f), ALL, ALL);
    assert!(r.value.iter().all(|&v| v == 1005));
    // A clamp value below the lane: down with clamp 15 and no segment stops at lane 15.
    let r = shfl_sync(ShflMode::Down, &a, &splat(4), &splat(15), ALL, ALL);
    assert_eq!(r.value[11], 1015);
    assert_eq!(r.value[12], 1012);
    assert_eq!(r.in_range & (1 << 12), 0);
    assert_eq!(r.value[20], 1020); // j = 24 > 15: own value
    // idx with clamp 3: sources above lane 3 are out of range (own value, p = false).
    let r = shfl_sync(ShflMode::Idx, &a, &splat(7), &splat(3), ALL, ALL);
    assert_eq!(r.value[0], 1000);
    assert_eq!(r.in_range, 0);
    // Per-lane b: each lane reads lane (31 − lane).
    let b: [u32; 32] = std::array::from_fn(|i| 31 - i as u32);
    let r = shfl_sync(ShflMode::Idx, &a, &b, &splat(0x1f), ALL, ALL);
    assert_eq!(r.value[0], 1031);
    assert_eq!(r.value[31], 1000);
}

#[test]
fn reading_an_inactive_or_non_member_lane_is_flagged_undefined() {
    let a = values();
    // Half a warp executes with membermask 0x0000ffff: bfly 16 reads lanes 16..31.
    let half = 0x0000_ffff;
    let r = shfl_sync(ShflMode::Bfly, &a, &splat(16), &splat(0x1f), half, half);
    assert_eq!(r.undefined, half);
    assert_eq!(r.value[0], 1016); // the register file's value all the same
    let r = shfl_sync(ShflMode::Bfly, &a, &splat(1), &splat(0x1f), half, half);
    assert_eq!(r.undefined, 0);
    assert_eq!(r.value[0], 1001);
    // Lane 5 left out: only lane 4 (down 1) reads it.
    let without5 = ALL & !(1 << 5);
    let r = shfl_sync(ShflMode::Down, &a, &splat(1), &splat(0x1f), without5, without5);
    assert_eq!(r.undefined, 1 << 4);
    assert_eq!(r.value[6], 1007);
    // Lane 0's up-1 source is out of range: it copies its own value and is not undefined;
    // lane 6 reads the missing lane 5.
    let r = shfl_sync(ShflMode::Up, &a, &splat(1), &splat(0), without5, without5);
    assert_eq!(r.undefined, 1 << 6);
    assert_eq!((r.value[0], r.in_range & 1), (1000, 0));
    // Lanes that do not execute are left alone.
    let r = shfl_sync(ShflMode::Idx, &a, &splat(0), &splat(0x1f), 0xff, 0xff);
    assert_eq!(r.value[8], 1008);
    assert_eq!(r.in_range, 0xff);
}

#[test]
fn vote_match_redux() {
    let members = 0x0000_00ff;
    assert!(vote_all(0x0000_01ff, members));
    assert!(!vote_all(0x0000_007f, members));
    assert!(vote_any(0x0000_0001, members));
    assert!(!vote_any(0xffff_ff00, members)); // only non-members set
    assert!(vote_uni(0xffff_ff00, members));
    assert!(vote_uni(0x0000_00ff, members));
    assert!(!vote_uni(0x0000_0001, members));
    assert_eq!(vote_ballot(0xf0f0_f0f0, members), 0xf0);
    let a: [u64; 32] = std::array::from_fn(|i| (i % 3) as u64);
    let m = match_any(&a, ALL);
    assert_eq!(m[0], 0x4924_9249); // lanes 0, 3, 6, ...
    assert_eq!(m[1], 0x9249_2492);
    let m = match_any(&a, 0b1011);
    assert_eq!(m[0], 0b1001);
    assert_eq!(m[1], 0b0010);
    assert_eq!(m[2], 0);
    assert_eq!(match_all(&a, ALL), (0, false));
    assert_eq!(match_all(&a, 0b1001), (0b1001, true));
    let v: [u32; 32] = std::array::from_fn(|i| i as u32 * 3);
    assert_eq!(redux_sync(ReduxOp::Add, false, &v, ALL), 3 * 496);
    assert_eq!(redux_sync(ReduxOp::Max, false, &v, 0x00ff), 21);
    let neg: [u32; 32] = std::array::from_fn(|i| (i as i32 - 16) as u32);
    assert_eq!(redux_sync(ReduxOp::Min, true, &neg, ALL), (-16i32) as u32);
    assert_eq!(redux_sync(ReduxOp::Min, false, &neg, ALL), 0);
    assert_eq!(redux_sync(ReduxOp::Xor, false, &v, 0b11), 3);
    assert_eq!(redux_sync(ReduxOp::And, false, &splat(6), ALL), 6);
    assert_eq!(redux_sync(ReduxOp::Or, false, &v, 0b110), 3 | 6);
}
