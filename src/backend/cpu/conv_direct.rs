//! The direct convolution on AVX-512 CPUs: no im2col matrix, no GEMM packing. The micro-kernels
//! (conv_avx512.rs) read NHWC activations and the weight where they lie, with the accumulators of
//! a whole register block kept over the entire reduction (docs/vgg16.md has the profile that led
//! here: the gemm crate's kernel ran at about 60 % of the cores' FMA peak on these shapes, and
//! im2col, packing and zero-filling took much of the rest).
//!
//! - forward: strips of up to STRIP output pixels × LANES output channels (strip_plan: near-equal
//!   strips along a row, or whole rows of a narrow map per strip), read from a zero-padded copy of
//!   the input made once per call (every strip then reads its taps at fixed offsets); the weight
//!   is repacked once per call as [channel block][tap][c][LANES] so that each step reads two whole
//!   vectors;
//! - backward-data (stride 1): the forward convolution of dy with the flipped weight (as in
//!   conv.rs), the same strip kernel, the flipped weight packed the same way (a copy of
//!   contiguous runs of C, no transpose);
//! - backward-weight: WEIGHT_K dy channels × WEIGHT_C x channels per call, summed over all
//!   output pixels in order, chunk by chunk (the accumulators go back to dw between chunks).
//!
//! **Numerics (the contract the tests check).** Every output is one accumulator taken through its
//! whole sum in a fixed order, one fused multiply-add per term:
//! - forward / backward-data: init (bias or 0), then taps (r, s) row-major, then the reduced
//!   channel ascending; a tap in the padding contributes fma(0, w, acc);
//! - backward-weight: 0, then images, output rows and columns ascending; taps in the padding add
//!   nothing.
//!
//! The scalar twins below compute exactly that with `f32::mul_add`, and the tests require the
//! AVX-512 results to equal them bit for bit. Since no sum is split between threads, the results do
//! not depend on the thread count or the task split at all. On a CPU without AVX-512, conv.rs keeps
//! its im2col + GEMM path (the same values to f32 rounding, not to the bit).
use rayon::prelude::*;

use super::buffer_pool;
use crate::ops::ConvGeometry;

#[cfg(target_arch = "x86_64")]
use super::conv_avx512::{self as kernel, Segment};

/// Output pixels per strip call, at most: 14 × 2 accumulators + 2 weights + 1 broadcast fill the
/// 32 zmm registers, and 14 divides the widths of the bench shapes (56, 28, 14).
pub(super) const STRIP: usize = 14;
/// Output channels per strip call (two zmm).
pub(super) const LANES: usize = 32;
/// dy channels per weight-gradient call, at most.
pub(super) const WEIGHT_K: usize = 6;
/// x channels per weight-gradient call (four zmm).
pub(super) const WEIGHT_C: usize = 64;

/// Tasks a strip pass is cut into, at least: a function of the shape only (the results would not
/// change with it, but the work split is then the same on every run). Small, so that the thread
/// that finishes first has little to wait for: a task is 2–4 strips, 8–15 µs at the bench shapes
/// (at 32 tasks it was 30–60 µs, 5–10 % of a 2-thread C64@56 forward).
const TASKS: usize = 128;

/// Tasks of the weight gradient.
#[cfg(target_arch = "x86_64")]
const WEIGHT_TASKS: usize = 4;

/// Output pixels a weight-gradient chunk spans, about: the accumulators are loaded and stored once
/// per chunk, and its x and dy rows stay in cache while every (tap, channel block) goes over them.
#[cfg(target_arch = "x86_64")]
const WEIGHT_CHUNK_PIXELS: usize = 128;

/// Whether this CPU runs the direct convolution (AVX-512F).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Where the strip kernel finds the weight of output channel o (in block o / LANES, lane o % LANES),
/// tap t and reduced channel i: base[block·block_stride + tap_offsets[t] + i·step + lane].
struct StripWeights<'a> {
    base: &'a [f32],
    block_stride: usize,
    tap_offsets: Vec<usize>,
    step: usize,
}

/// The forward weight repacked: [block of LANES output channels][tap][c][lane], lanes past K zero
/// (the kernel's two vectors per step are then one contiguous 128-byte run). Per block it is a
/// LANES × filter → filter × LANES transpose: with AVX-512 in 16 × 16 register tiles
/// (conv_avx512.rs; the scalar transpose took 19 % of the forward at C256@14 N2, perf), else
/// element by element.
fn packed_forward_weight(w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (k, filter) = (g.out_c, g.filter_len());
    let block_len = filter * LANES;
    let mut packed = buffer_pool::for_overwrite(k.div_ceil(LANES) * block_len);
    packed.par_chunks_mut(block_len.max(1)).enumerate().for_each(|(block, target)| {
        let lanes = LANES.min(k - block * LANES);
        let rows = &w[block * LANES * filter..][..lanes * filter];
        #[cfg(target_arch = "x86_64")]
        if available() {
            // SAFETY: AVX-512F was detected; `rows` holds lanes rows of `filter`, `target`
            // filter lines of LANES.
            unsafe { kernel::lines_from_rows(rows.as_ptr(), lanes, filter, target.as_mut_ptr()) };
            return;
        }
        lines_from_rows(rows, lanes, filter, target);
    });
    packed
}

/// out[f·LANES + lane] = rows[lane·len + f] for lane < lanes, 0 for the lanes past them: the
/// portable twin of `kernel::lines_from_rows`, in tiles of the filter so that the rows read and
/// the lines written stay in L1.
fn lines_from_rows(rows: &[f32], lanes: usize, len: usize, out: &mut [f32]) {
    if lanes < LANES {
        out.fill(0.0);
    }
    const TILE: usize = 64;
    for first in (0..len).step_by(TILE) {
        let tile = TILE.min(len - first);
        for lane in 0..lanes {
            for (t, &value) in rows[lane * len + first..][..tile].iter().enumerate() {
                out[(first + t) * LANES + lane] = value;
            }
        }
    }
}

/// Where the strip kernel finds a weight packed as [block][tap][reduced channel][lane], for the
/// convolution `g` (its in_c is the reduced channel count).
fn packed_weights<'a>(packed: &'a [f32], g: &ConvGeometry) -> StripWeights<'a> {
    let taps = g.kernel_h * g.kernel_w;
    StripWeights { base: packed, block_stride: taps * g.in_c * LANES, tap_offsets: (0..taps).map(|t| t * g.in_c * LANES).collect(), step: LANES }
}

/// The data gradient's flipped weight, packed like the forward's: [block of LANES input channels
/// c][tap (r, s) of `flipped`][k][lane] = w[k, R−1−r, S−1−s, c], lanes past C zero. Each
/// (k, tap) run of LANES channels is contiguous in the KRSC weight, so this is a copy of runs;
/// read in place instead, the kernel's two vectors per step came from rows R·S·C apart (11 %
/// slower at C256@14 N2, where the weight is 2.4 MB).
fn packed_data_gradient_weight(w: &[f32], flipped: &ConvGeometry) -> Vec<f32> {
    let (kh, kw, c, k) = (flipped.kernel_h, flipped.kernel_w, flipped.out_c, flipped.in_c);
    let block_len = kh * kw * k * LANES;
    let mut packed = buffer_pool::for_overwrite(c.div_ceil(LANES) * block_len);
    packed.par_chunks_mut(block_len.max(1)).enumerate().for_each(|(block, target)| {
        let lanes = LANES.min(c - block * LANES);
        let taps = kh * kw;
        // In the source's order (k, then its taps: runs C apart, ascending), so that the reads
        // stream; in the target's order they were R·S·C apart, a page or more at C ≥ 128, and
        // every run missed (the copy was 10 % of the backward-data at C256@14 N2, perf).
        for out_k in 0..k {
            for source_tap in 0..taps {
                let tap = taps - 1 - source_tap;
                let source = &w[(out_k * taps + source_tap) * c + block * LANES..];
                let out = &mut target[(tap * k + out_k) * LANES..][..LANES];
                if lanes == LANES {
                    // A fixed-length copy, inlined (not a memmove call per 128 bytes).
                    let out: &mut [f32; LANES] = out.try_into().unwrap();
                    *out = source[..LANES].try_into().unwrap();
                } else {
                    out[..lanes].copy_from_slice(&source[..lanes]);
                    out[lanes..].fill(0.0);
                }
            }
        }
    });
    packed
}

/// Whether the strip kernel serves this geometry (stride 1: a strip's pixels are `depth` apart).
pub fn strips_fit(g: &ConvGeometry) -> bool {
    g.stride_h == 1 && g.stride_w == 1
}

/// y = relu?(conv(x, w) + bias): x NHWC, w KRSC; `strips_fit(g)` must hold.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, relu: bool) -> Vec<f32> {
    on_a_worker(|| run_strips(x, g, || packed_forward_weight(w, g), bias, relu))
}

/// dx for stride 1 (`g.data_gradient_as_forward()` is Some): dy convolved with the flipped weight.
pub fn backward_data(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Option<Vec<f32>> {
    let flipped = g.data_gradient_as_forward()?;
    Some(on_a_worker(|| run_strips(dy, &flipped, || packed_data_gradient_weight(w, &flipped), None, false)))
}

/// Runs a pass on a thread of rayon's pool (inline when already on one). Each parallel region
/// started from outside the pool queues its job and puts the caller to sleep until it is done,
/// and a pass has two or three of them back to back; started from a worker, the regions after the
/// first run on threads that are already awake, and the caller sleeps once per pass.
fn on_a_worker<R: Send>(pass: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| pass())
}

/// A raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: the tasks given one write disjoint elements, and the buffer outlives them.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// How a stride-1 pass cuts its output into strips of `pixels` (the kernel's PIX) output pixels:
/// each strip a run along one row (`span == 0`; `per_row` near-equal strips per row, so that a
/// 16-wide map takes two strips of 8, not 14 + 2), or, on maps at most half a strip wide, `rows`
/// whole rows of `span` = out_w pixels (a 4×4 map: two strips of 8, not four of 4 padded to 14).
#[derive(Clone, Copy, Debug, PartialEq)]
struct StripPlan {
    pixels: usize,
    span: usize,
    per_row: usize,
    rows: usize,
}

/// The kernel for one reduction depth and strip shape: `strip::<DEPTH, PIX, ROW>`, None where no
/// such instance exists (strip_plan then keeps the plain 14-pixel strip).
#[cfg(target_arch = "x86_64")]
type StripKernel = unsafe fn(*const f32, usize, usize, &[(isize, isize)], *const f32, usize, &[f32; LANES], usize, *mut f32, usize, usize, bool);

#[cfg(target_arch = "x86_64")]
fn strip_kernel(depth: usize, pixels: usize, span: usize) -> Option<StripKernel> {
    macro_rules! by_depth {
        ($pix:literal, $row:literal) => {
            match depth {
                64 => kernel::strip::<64, $pix, $row> as StripKernel,
                128 => kernel::strip::<128, $pix, $row>,
                256 => kernel::strip::<256, $pix, $row>,
                512 => kernel::strip::<512, $pix, $row>,
                _ => kernel::strip::<0, $pix, $row>,
            }
        };
    }
    // Under 8 pixels per strip the few broadcast addresses fit in registers without a constant
    // depth: one instance each.
    Some(match (pixels, span) {
        (14, 0) => by_depth!(14, 0),
        (13, 0) => by_depth!(13, 0),
        (12, 0) => by_depth!(12, 0),
        (11, 0) => by_depth!(11, 0),
        (10, 0) => by_depth!(10, 0),
        (9, 0) => by_depth!(9, 0),
        (8, 0) => by_depth!(8, 0),
        (7, 0) => kernel::strip::<0, 7, 0>,
        (6, 0) => kernel::strip::<0, 6, 0>,
        (5, 0) => kernel::strip::<0, 5, 0>,
        (4, 0) => kernel::strip::<0, 4, 0>,
        (3, 0) => kernel::strip::<0, 3, 0>,
        (2, 0) => kernel::strip::<0, 2, 0>,
        (1, 0) => kernel::strip::<0, 1, 0>,
        (8, 4) => by_depth!(8, 4),
        (12, 4) => by_depth!(12, 4),
        (14, 7) => by_depth!(14, 7),
        _ => return None,
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn strip_kernel(_: usize, _: usize, _: usize) -> Option<()> {
    None
}

/// The strips of an out_h × out_w output (a function of the shape only).
fn strip_plan(g: &ConvGeometry) -> StripPlan {
    let (out_h, out_w) = (g.out_h.max(1), g.out_w.max(1));
    if out_w <= STRIP / 2 && out_h > 1 {
        let strips = out_h.div_ceil(STRIP / out_w);
        let rows = out_h.div_ceil(strips);
        let plan = StripPlan { pixels: rows * out_w, span: out_w, per_row: 1, rows };
        if strip_kernel(g.in_c, plan.pixels, plan.span).is_some() {
            return plan;
        }
    }
    let per_row = out_w.div_ceil(STRIP);
    StripPlan { pixels: out_w.div_ceil(per_row), span: 0, per_row, rows: 1 }
}

/// The input of a strip pass with its padding made real, so that every strip reads its taps at
/// fixed offsets (no border cases, no per-strip copy): `batch` images of `rows` × `width` pixels,
/// the input at (pad_h, pad_w), zeros around it and in the `slack` rows after the last image that
/// a spanning strip's unstored pixels read. `width` covers every strip's computed pixels plus the
/// filter's reach.
struct PaddedInput {
    data: Vec<f32>,
    width: usize,
    rows: usize,
}

fn padded_input(input: &[f32], g: &ConvGeometry, plan: &StripPlan) -> PaddedInput {
    let depth = g.in_c;
    let strip_columns = if plan.span > 0 { g.out_w } else { plan.per_row * plan.pixels };
    let (width, rows) = (strip_columns + g.kernel_w - 1, g.out_h + g.kernel_h - 1);
    let slack = plan.rows;
    let mut data = buffer_pool::for_overwrite((g.batch * rows + slack) * width * depth);
    data.par_chunks_mut((width * depth).max(1)).enumerate().for_each(|(row, target)| {
        let (n, ih) = (row / rows, (row % rows) as isize - g.pad_h as isize);
        if n >= g.batch || ih < 0 || ih as usize >= g.in_h {
            target.fill(0.0);
            return;
        }
        let (left, len) = (g.pad_w * depth, g.in_w * depth);
        target[..left].fill(0.0);
        target[left..left + len].copy_from_slice(&input[((n * g.in_h + ih as usize) * g.in_w) * depth..][..len]);
        target[left + len..].fill(0.0);
    });
    PaddedInput { data, width, rows }
}

#[cfg(target_arch = "x86_64")]
fn run_strips(input: &[f32], g: &ConvGeometry, pack_weight: impl FnOnce() -> Vec<f32> + Send, bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    assert!(available() && strips_fit(g));
    let (depth, out_c, kh, kw) = (g.in_c, g.out_c, g.kernel_h, g.kernel_w);
    let mut out = buffer_pool::for_overwrite(g.output_pixels() * out_c);
    let plan = strip_plan(g);
    // The strips in output order, (image, first row, first column) of strip i: `plan.rows` whole
    // rows each when they span rows, else `plan.pixels` of one row. (Computed, not listed: a list
    // was a fresh allocation per call.)
    let (strips_per_row, strip_rows) = if plan.span > 0 { (1, g.out_h.div_ceil(plan.rows)) } else { (g.out_w.div_ceil(plan.pixels), g.out_h) };
    let strips_per_image = strips_per_row * strip_rows;
    let strip_count = g.batch * strips_per_image;
    let strip = |i: usize| {
        let (n, row, column) = (i / strips_per_image, i % strips_per_image / strips_per_row, i % strips_per_row);
        if plan.span > 0 { (n, row * plan.rows, 0) } else { (n, row, column * plan.pixels) }
    };
    if out.is_empty() || strip_count == 0 {
        return out;
    }
    let kernel = strip_kernel(depth, plan.pixels, plan.span).expect("strip_plan picks an existing kernel");
    // The weight's packing and the input's padding are independent: one parallel region for both.
    let (packed, padded) = rayon::join(pack_weight, || padded_input(input, g, &plan));
    let weights = packed_weights(&packed, g);
    let blocks = out_c.div_ceil(LANES);
    let groups = TASKS.div_ceil(blocks).min(strip_count);
    let row_stride = padded.width * depth;
    // Each tap's input offset from the strip's first input pixel, and its weight offset.
    let taps: Vec<(isize, isize)> = (0..kh * kw).map(|t| (((t / kw * padded.width + t % kw) * depth) as isize, weights.tap_offsets[t] as isize)).collect();
    // The last input element a strip reads past its first pixel, and the last weight.
    let last_pixel = if plan.span > 0 { (plan.pixels - 1) % plan.span * depth + (plan.pixels - 1) / plan.span * row_stride } else { (plan.pixels - 1) * depth };
    let reach = taps.iter().map(|&(x, _)| x as usize).max().unwrap_or(0) + last_pixel + depth;
    let shared = SharedOut(out.as_mut_ptr());
    // One rayon job per task (with_max_len), so that a thread that runs out of work can take any
    // task not started, not only halves the adaptive split happened to leave.
    (0..blocks * groups).into_par_iter().with_max_len(1).for_each(|task| {
        let shared = shared;
        let (block, group) = (task / groups, task % groups);
        let lanes = LANES.min(out_c - block * LANES);
        let mut init = [0.0f32; LANES];
        if let Some(bias) = bias {
            init[..lanes].copy_from_slice(&bias[block * LANES..][..lanes]);
        }
        let block_weights = &weights.base[block * weights.block_stride..];
        let weight_reach = weights.tap_offsets.iter().max().unwrap_or(&0) + depth.saturating_sub(1) * weights.step + lanes;
        assert!(depth == 0 || weight_reach <= block_weights.len());
        for (n, p, q) in (group * strip_count / groups..(group + 1) * strip_count / groups).map(strip) {
            // Output (p, q)'s first tap is padded pixel (p, q) of image n.
            let origin = &padded.data[((n * padded.rows + p) * padded.width + q) * depth..];
            assert!(reach <= origin.len());
            let pixels = if plan.span > 0 { plan.rows.min(g.out_h - p) * g.out_w } else { plan.pixels.min(g.out_w - q) };
            // SAFETY: AVX-512F was detected (run_strips asserts it); the asserts above bound every
            // input and weight read, and the strip's outputs (pixels × lanes at pixel stride out_c;
            // a spanning strip's rows are whole, so its pixels are consecutive in NHWC too) are in
            // the buffer and written by this task alone (its channel block, its strips).
            unsafe {
                let target = shared.0.add(((n * g.out_h + p) * g.out_w + q) * out_c + block * LANES);
                kernel(origin.as_ptr(), depth, row_stride, &taps, block_weights.as_ptr(), weights.step, &init, lanes, target, pixels, out_c, relu);
            }
        }
    });
    buffer_pool::give(padded.data);
    buffer_pool::give(packed);
    out
}

#[cfg(not(target_arch = "x86_64"))]
fn run_strips(_: &[f32], _: &ConvGeometry, _: impl FnOnce() -> Vec<f32> + Send, _: Option<&[f32]>, _: bool) -> Vec<f32> {
    unreachable!("the direct convolution runs only where `available()`")
}

/// dw = Σ_pixels dyᵀ · (x at each tap): x NHWC, dy NHWC, dw KRSC; any stride and padding.
#[cfg(target_arch = "x86_64")]
pub fn backward_weight(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    on_a_worker(|| backward_weight_on_pool(x, dy, g))
}

#[cfg(target_arch = "x86_64")]
fn backward_weight_on_pool(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(available());
    let (k, c, kh, kw) = (g.out_c, g.in_c, g.kernel_h, g.kernel_w);
    let filter = g.filter_len();
    let mut dw = buffer_pool::for_overwrite(k * filter);
    if dw.is_empty() {
        return dw;
    }
    let rows_per_chunk = (WEIGHT_CHUNK_PIXELS / g.out_w.max(1)).clamp(1, g.out_h.max(1));
    // Chunk i: image i / chunks_per_image, its rows from (i % chunks_per_image)·rows_per_chunk.
    let chunks_per_image = g.out_h.div_ceil(rows_per_chunk);
    let chunk_count = g.batch * chunks_per_image;
    // Tasks own equal ranges of dy channels (their rows of dw). Each streams all of x and dy, so
    // fewer than the strip passes' TASKS. (Splitting each task by filter row as well, 12 tasks
    // instead of 4, measured 1–10 % slower at C64@56: each task then re-read its dy once per row.)
    let groups = WEIGHT_TASKS.min(k);
    let shared = SharedOut(dw.as_mut_ptr());
    (0..groups).into_par_iter().with_max_len(1).for_each(|group| {
        let shared = shared;
        let (first_k, end_k) = (group * k / groups, (group + 1) * k / groups);
        // Near-equal blocks of at most WEIGHT_K (16 → 6, 5, 5: no block of 1 or 2, which would
        // leave the FMA pipes waiting on too few accumulators).
        let k_blocks = (end_k - first_k).div_ceil(WEIGHT_K);
        let mut segments = Vec::new();
        // With no pixels at all, one pass over no segments still writes dw's zeros.
        for chunk in 0..chunk_count.max(1) {
            let (n, first_p) = if chunk_count == 0 { (0, 0) } else { (chunk / chunks_per_image, chunk % chunks_per_image * rows_per_chunk) };
            let last_p = (first_p + rows_per_chunk).min(g.out_h);
            for r in 0..kh {
                for s in 0..kw {
                    weight_segments(&mut segments, g, n, first_p..last_p, r, s);
                    for k_block in 0..k_blocks {
                        let (k0, kb) = (first_k + k_block * (end_k - first_k) / k_blocks, first_k + (k_block + 1) * (end_k - first_k) / k_blocks);
                        let kb = kb - k0;
                        for c0 in (0..c).step_by(WEIGHT_C) {
                            let channels = WEIGHT_C.min(c - c0);
                            // Every segment's reads lie inside x and dy (weight_segments builds
                            // them from in-range pixels only).
                            let target_at = k0 * filter + (r * kw + s) * c + c0;
                            assert!(target_at + (kb - 1) * filter + channels <= dw.len());
                            let call = match kb {
                                6 => kernel::weight_block::<6>,
                                5 => kernel::weight_block::<5>,
                                4 => kernel::weight_block::<4>,
                                3 => kernel::weight_block::<3>,
                                2 => kernel::weight_block::<2>,
                                _ => kernel::weight_block::<1>,
                            };
                            // SAFETY: AVX-512F was detected; the segments hold in-range pixels and
                            // the target rows k0..k0+kb, columns of tap (r, s) × c0.., are this
                            // task's alone (its dy channels).
                            unsafe {
                                call(x.as_ptr().add(c0), dy.as_ptr().add(k0), &segments, g.stride_w * c, k, channels, shared.0.add(target_at), filter, chunk > 0);
                            }
                        }
                    }
                }
            }
        }
    });
    dw
}

#[cfg(not(target_arch = "x86_64"))]
pub fn backward_weight(_: &[f32], _: &[f32], _: &ConvGeometry) -> Vec<f32> {
    unreachable!("the direct convolution runs only where `available()`")
}

/// The output pixels of image n, rows `rows`, whose tap (r, s) lies inside the image, as runs
/// along each row: x offset of the first tap pixel, dy offset of the first output pixel, count.
#[cfg(target_arch = "x86_64")]
fn weight_segments(segments: &mut Vec<Segment>, g: &ConvGeometry, n: usize, rows: std::ops::Range<usize>, r: usize, s: usize) {
    segments.clear();
    // Output columns q with 0 ≤ q·stride + s − pad < in_w.
    let first_q = g.pad_w.saturating_sub(s).div_ceil(g.stride_w);
    let end_q = if g.in_w + g.pad_w > s { ((g.in_w + g.pad_w - s - 1) / g.stride_w + 1).min(g.out_w) } else { 0 };
    if first_q >= end_q {
        return;
    }
    for p in rows {
        let ih = (p * g.stride_h + r) as isize - g.pad_h as isize;
        if ih < 0 || ih as usize >= g.in_h {
            continue;
        }
        let iw = first_q * g.stride_w + s - g.pad_w;
        segments.push(Segment {
            x: ((n * g.in_h + ih as usize) * g.in_w + iw) * g.in_c,
            dy: ((n * g.out_h + p) * g.out_w + first_q) * g.out_c,
            count: end_q - first_q,
        });
    }
}

/// The scalar twins: the sums of the kernels above, in their order, with `f32::mul_add` (the test
/// oracle of the bit-for-bit contract; too slow to serve).
#[cfg(test)]
mod reference {
    use super::*;

    /// `weight(o, t, i)`: the weight of output channel o, tap t, reduced channel i, read from the
    /// unpacked KRSC weight (so that the packers are checked too).
    fn strips(input: &[f32], g: &ConvGeometry, weight: impl Fn(usize, usize, usize) -> f32, bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
        let (depth, kw) = (g.in_c, g.kernel_w);
        let mut out = vec![0.0f32; g.output_pixels() * g.out_c];
        for (index, value) in out.iter_mut().enumerate() {
            let (o, pixel) = (index % g.out_c, index / g.out_c);
            let (n, p, q) = (pixel / (g.out_h * g.out_w), pixel / g.out_w % g.out_h, pixel % g.out_w);
            let mut acc = bias.map_or(0.0, |b| b[o]);
            for t in 0..g.kernel_h * kw {
                let (ih, iw) = ((p + t / kw) as isize - g.pad_h as isize, (q + t % kw) as isize - g.pad_w as isize);
                let inside = ih >= 0 && (ih as usize) < g.in_h && iw >= 0 && (iw as usize) < g.in_w;
                for i in 0..depth {
                    let x = if inside { input[((n * g.in_h + ih as usize) * g.in_w + iw as usize) * depth + i] } else { 0.0 };
                    acc = x.mul_add(weight(o, t, i), acc);
                }
            }
            *value = if relu { acc.max(0.0) } else { acc };
        }
        out
    }

    pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, relu: bool) -> Vec<f32> {
        strips(x, g, |o, t, i| w[o * g.filter_len() + t * g.in_c + i], bias, relu)
    }

    pub fn backward_data(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
        let flipped = g.data_gradient_as_forward().unwrap();
        // w′[c, t, k] = w[k, R·S−1−t, c]: the tap flipped in both directions.
        let taps = g.kernel_h * g.kernel_w;
        strips(dy, &flipped, |o, t, i| w[(i * taps + taps - 1 - t) * g.in_c + o], None, false)
    }

    pub fn backward_weight(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
        let (c, kw) = (g.in_c, g.kernel_w);
        let mut dw = vec![0.0f32; g.out_c * g.filter_len()];
        for (index, value) in dw.iter_mut().enumerate() {
            let (k, t, channel) = (index / g.filter_len(), index % g.filter_len() / c, index % c);
            let mut acc = 0.0f32;
            for n in 0..g.batch {
                for p in 0..g.out_h {
                    for q in 0..g.out_w {
                        let ih = (p * g.stride_h + t / kw) as isize - g.pad_h as isize;
                        let iw = (q * g.stride_w + t % kw) as isize - g.pad_w as isize;
                        if ih >= 0 && (ih as usize) < g.in_h && iw >= 0 && (iw as usize) < g.in_w {
                            let gradient = dy[((n * g.out_h + p) * g.out_w + q) * g.out_c + k];
                            acc = gradient.mul_add(x[((n * g.in_h + ih as usize) * g.in_w + iw as usize) * c + channel], acc);
                        }
                    }
                }
            }
            *value = acc;
        }
        dw
    }
}

/// Also conv.rs's tests' inputs and shapes.
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ops::Conv2dOptions;
    use crate::util::Rng;

    pub(crate) fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..len).map(|_| rng.normal() as f32).collect()
    }

    pub(crate) fn geometry(batch: usize, h: usize, w: usize, c: usize, k: usize, kernel: [usize; 2], stride: usize, pad: usize) -> ConvGeometry {
        ConvGeometry::new(&[batch, h, w, c], &[k, kernel[0], kernel[1], c], &Conv2dOptions::new(stride, pad)).unwrap()
    }

    /// Odd sizes: channel counts that leave partial vectors and blocks (K = 37, C = 19, 70), widths
    /// with a partial strip and strips that need the zero-padded copy, a 5×3 kernel, pad 0 and 2.
    fn shapes() -> Vec<ConvGeometry> {
        vec![
            geometry(2, 7, 19, 19, 37, [3, 3], 1, 1),
            geometry(1, 9, 30, 70, 33, [5, 3], 1, 2),
            geometry(1, 16, 16, 64, 64, [3, 3], 1, 1),
            geometry(2, 5, 17, 16, 20, [3, 3], 1, 0),
            geometry(1, 1, 1, 24, 17, [3, 3], 1, 1),
            // Strips that span rows: 4-wide maps in strips of 2 rows (8 pixels) and of 3 rows with
            // a partial last one (5 rows), a 7×7 map in strips of 2 rows.
            geometry(3, 4, 4, 20, 40, [3, 3], 1, 1),
            geometry(2, 5, 4, 17, 33, [3, 3], 1, 1),
            geometry(1, 7, 7, 32, 32, [3, 3], 1, 1),
            // Near-equal strips along a row: 2 × 8 on a 16-wide map, 3 × 11 (the last one 10) on
            // 32, and a 5-wide map in 5-pixel strips (no spanning kernel for 2 × 5).
            geometry(2, 6, 16, 48, 20, [3, 3], 1, 1),
            geometry(1, 3, 32, 19, 16, [3, 3], 1, 1),
            geometry(1, 5, 5, 16, 16, [3, 3], 1, 1),
            // An RGB input layer (3 channels in, the forward's depth).
            geometry(2, 9, 12, 3, 16, [3, 3], 1, 1),
        ]
    }

    #[test]
    fn kernels_equal_their_scalar_twins_bit_for_bit() {
        if !available() {
            eprintln!("no AVX-512 on this CPU: the direct convolution is not used here");
            return;
        }
        for (index, g) in shapes().into_iter().enumerate() {
            let seed = index as u64 * 10;
            let x = random(g.batch * g.in_h * g.in_w * g.in_c, seed);
            let w = random(g.out_c * g.filter_len(), seed + 1);
            let bias = random(g.out_c, seed + 2);
            let dy = random(g.output_pixels() * g.out_c, seed + 3);
            assert_eq!(forward(&x, &w, Some(&bias), &g, true), reference::forward(&x, &w, Some(&bias), &g, true), "forward {g:?}");
            assert_eq!(forward(&x, &w, None, &g, false), reference::forward(&x, &w, None, &g, false), "forward {g:?}");
            assert_eq!(backward_data(&dy, &w, &g).unwrap(), reference::backward_data(&dy, &w, &g), "backward-data {g:?}");
            assert_eq!(backward_weight(&x, &dy, &g), reference::backward_weight(&x, &dy, &g), "backward-weight {g:?}");
        }
        // The register-tile packer against its portable twin, partial blocks of lanes included.
        #[cfg(target_arch = "x86_64")]
        for (lanes, len) in [(32, 27), (17, 5), (1, 576), (16, 33)] {
            let rows = random(lanes * len, 9);
            let (mut fast, mut portable) = (vec![f32::NAN; len * LANES], vec![f32::NAN; len * LANES]);
            unsafe { kernel::lines_from_rows(rows.as_ptr(), lanes, len, fast.as_mut_ptr()) };
            lines_from_rows(&rows, lanes, len, &mut portable);
            assert_eq!(fast, portable, "lines_from_rows, {lanes} lanes × {len}");
        }
        // The weight gradient at other strides.
        for g in [geometry(1, 9, 11, 20, 13, [3, 3], 2, 1), geometry(2, 8, 8, 16, 7, [1, 1], 2, 0)] {
            let x = random(g.batch * g.in_h * g.in_w * g.in_c, 7);
            let dy = random(g.output_pixels() * g.out_c, 8);
            assert_eq!(backward_weight(&x, &dy, &g), reference::backward_weight(&x, &dy, &g), "backward-weight {g:?}");
        }
    }
}
