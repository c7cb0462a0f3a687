//! The direct convolution on AVX-512 CPUs: no im2col matrix, no GEMM packing. The micro-kernels
//! (conv_avx512.rs) read NHWC activations and the weight where they lie, with the accumulators of
//! a whole register block kept over the entire reduction (docs/vgg16.md has the profile that led
//! here: the gemm crate's kernel ran at about 60 % of the cores' FMA peak on these shapes, and
//! im2col, packing and zero-filling took much of the rest).
//!
//! - forward: strips of STRIP output pixels × LANES output channels; the weight is repacked once
//!   per call as [channel block][tap][c][LANES] so that each step reads two whole vectors;
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

/// Output pixels (along a row) per strip call: 14 × 2 accumulators + 2 weights + 1 broadcast
/// fill the 32 zmm registers, and 14 divides the widths of the bench shapes (56, 28, 14).
pub(super) const STRIP: usize = 14;
/// Output channels per strip call (two zmm).
pub(super) const LANES: usize = 32;
/// dy channels per weight-gradient call, at most.
pub(super) const WEIGHT_K: usize = 6;
/// x channels per weight-gradient call (four zmm).
pub(super) const WEIGHT_C: usize = 64;

/// Tasks a pass is cut into, at least: enough for the cores to share, a function of the shape only
/// (the results would not change with it, but the work split is then the same on every run).
const TASKS: usize = 8;

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

impl StripWeights<'_> {
    #[cfg(test)]
    fn at(&self, output: usize, tap: usize, reduced: usize) -> f32 {
        self.base[(output / LANES) * self.block_stride + self.tap_offsets[tap] + reduced * self.step + output % LANES]
    }
}

/// The forward weight repacked: [block of LANES output channels][tap][c][lane], lanes past K zero
/// (the kernel's two vectors per step are then one contiguous 128-byte run).
fn packed_forward_weight(w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (k, filter) = (g.out_c, g.filter_len());
    let block_len = filter * LANES;
    let mut packed = buffer_pool::for_overwrite(k.div_ceil(LANES) * block_len);
    packed.par_chunks_mut(block_len).enumerate().for_each(|(block, target)| {
        let lanes = LANES.min(k - block * LANES);
        if lanes < LANES {
            target.fill(0.0);
        }
        // In tiles of the filter so that the 32 rows read and the lines written stay in L1.
        const TILE: usize = 64;
        for first in (0..filter).step_by(TILE) {
            let len = TILE.min(filter - first);
            for lane in 0..lanes {
                let row = &w[(block * LANES + lane) * filter + first..][..len];
                for (t, &value) in row.iter().enumerate() {
                    target[(first + t) * LANES + lane] = value;
                }
            }
        }
    });
    packed
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
    packed.par_chunks_mut(block_len).enumerate().for_each(|(block, target)| {
        let lanes = LANES.min(c - block * LANES);
        for (run, out) in target.chunks_mut(LANES).enumerate() {
            let (tap, out_k) = (run / k, run % k);
            let source_tap = (kh - 1 - tap / kw) * kw + (kw - 1 - tap % kw);
            out[..lanes].copy_from_slice(&w[(out_k * kh * kw + source_tap) * c + block * LANES..][..lanes]);
            out[lanes..].fill(0.0);
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
    let packed = packed_forward_weight(w, g);
    let out = run_strips(x, g, &packed_weights(&packed, g), bias, relu);
    buffer_pool::give(packed);
    out
}

/// dx for stride 1 (`g.data_gradient_as_forward()` is Some): dy convolved with the flipped weight.
pub fn backward_data(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Option<Vec<f32>> {
    let flipped = g.data_gradient_as_forward()?;
    let packed = packed_data_gradient_weight(w, &flipped);
    let dx = run_strips(dy, &flipped, &packed_weights(&packed, &flipped), None, false);
    buffer_pool::give(packed);
    Some(dx)
}

/// A raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: the tasks given one write disjoint elements, and the buffer outlives them.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

#[cfg(target_arch = "x86_64")]
fn run_strips(input: &[f32], g: &ConvGeometry, weights: &StripWeights, bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    assert!(available() && strips_fit(g));
    let (depth, out_c, kh, kw) = (g.in_c, g.out_c, g.kernel_h, g.kernel_w);
    let mut out = buffer_pool::for_overwrite(g.output_pixels() * out_c);
    let strips: Vec<(usize, usize, usize)> =
        (0..g.batch).flat_map(|n| (0..g.out_h).flat_map(move |p| (0..g.out_w).step_by(STRIP).map(move |q| (n, p, q)))).collect();
    if out.is_empty() || strips.is_empty() {
        return out;
    }
    let blocks = out_c.div_ceil(LANES);
    let groups = TASKS.div_ceil(blocks).min(strips.len());
    // Each tap's input offset from the strip's first input pixel, and its weight offset; in the
    // image itself and in a zero-padded copy of the strip's input (at the borders).
    let patch_w = STRIP + kw - 1;
    let tap_table = |row_len: usize| -> Vec<(isize, isize)> {
        (0..kh * kw).map(|t| (((t / kw * row_len + t % kw) * depth) as isize, weights.tap_offsets[t] as isize)).collect()
    };
    let (image_taps, patch_taps) = (tap_table(g.in_w), tap_table(patch_w));
    let shared = SharedOut(out.as_mut_ptr());
    let kernel_for_depth = match depth {
        64 => kernel::strip::<64>,
        128 => kernel::strip::<128>,
        256 => kernel::strip::<256>,
        512 => kernel::strip::<512>,
        _ => kernel::strip::<0>,
    };
    (0..blocks * groups).into_par_iter().for_each(|task| {
        let shared = shared;
        let (block, group) = (task / groups, task % groups);
        let lanes = LANES.min(out_c - block * LANES);
        let mut init = [0.0f32; LANES];
        if let Some(bias) = bias {
            init[..lanes].copy_from_slice(&bias[block * LANES..][..lanes]);
        }
        let block_weights = &weights.base[block * weights.block_stride..];
        let mut patch = Vec::new();
        for &(n, p, q) in &strips[group * strips.len() / groups..(group + 1) * strips.len() / groups] {
            let (ih0, iw0) = (p as isize - g.pad_h as isize, q as isize - g.pad_w as isize);
            let interior = ih0 >= 0 && ih0 as usize + kh <= g.in_h && iw0 >= 0 && iw0 as usize + patch_w <= g.in_w;
            let (origin, taps) = if interior {
                (&input[((n * g.in_h + ih0 as usize) * g.in_w + iw0 as usize) * depth..], &image_taps)
            } else {
                fill_patch(&mut patch, &input[n * g.in_h * g.in_w * depth..][..g.in_h * g.in_w * depth], g, ih0, iw0, patch_w);
                (&patch[..], &patch_taps)
            };
            // The last input element a strip reads, against the slice it reads from.
            let reach = taps.iter().map(|&(x, _)| x as usize).max().unwrap_or(0) + STRIP * depth;
            assert!(reach <= origin.len());
            let weight_reach = weights.tap_offsets.iter().max().unwrap_or(&0) + depth.saturating_sub(1) * weights.step + lanes;
            assert!(depth == 0 || weight_reach <= block_weights.len());
            let pixels = STRIP.min(g.out_w - q);
            // SAFETY: AVX-512F was detected (run_strips asserts it); the asserts above bound every
            // input and weight read, and the strip's outputs (pixels × lanes at pixel stride out_c)
            // are in the buffer and written by this task alone (its channel block, its strips).
            unsafe {
                let target = shared.0.add(((n * g.out_h + p) * g.out_w + q) * out_c + block * LANES);
                kernel_for_depth(origin.as_ptr(), depth, taps, block_weights.as_ptr(), weights.step, &init, lanes, target, pixels, out_c, relu);
            }
        }
    });
    out
}

#[cfg(not(target_arch = "x86_64"))]
fn run_strips(_: &[f32], _: &ConvGeometry, _: &StripWeights, _: Option<&[f32]>, _: bool) -> Vec<f32> {
    unreachable!("the direct convolution runs only where `available()`")
}

/// The strip's input rows ih0.. (kernel_h of them) and columns iw0.. (patch_w), zero outside the
/// image: NHWC rows patch_w pixels long.
fn fill_patch(patch: &mut Vec<f32>, image: &[f32], g: &ConvGeometry, ih0: isize, iw0: isize, patch_w: usize) {
    let depth = g.in_c;
    patch.clear();
    patch.resize(g.kernel_h * patch_w * depth, 0.0);
    for r in 0..g.kernel_h {
        let ih = ih0 + r as isize;
        if ih < 0 || ih as usize >= g.in_h {
            continue;
        }
        let (first, last) = ((-iw0).max(0) as usize, (g.in_w as isize - iw0).clamp(0, patch_w as isize) as usize);
        if first < last {
            let source = &image[(ih as usize * g.in_w + (iw0 + first as isize) as usize) * depth..][..(last - first) * depth];
            patch[(r * patch_w + first) * depth..][..source.len()].copy_from_slice(source);
        }
    }
}

/// dw = Σ_pixels dyᵀ · (x at each tap): x NHWC, dy NHWC, dw KRSC; any stride and padding.
#[cfg(target_arch = "x86_64")]
pub fn backward_weight(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(available());
    let (k, c, kh, kw) = (g.out_c, g.in_c, g.kernel_h, g.kernel_w);
    let filter = g.filter_len();
    let mut dw = buffer_pool::for_overwrite(k * filter);
    if dw.is_empty() {
        return dw;
    }
    let rows_per_chunk = (WEIGHT_CHUNK_PIXELS / g.out_w.max(1)).clamp(1, g.out_h.max(1));
    let chunks: Vec<(usize, usize)> = (0..g.batch).flat_map(|n| (0..g.out_h).step_by(rows_per_chunk).map(move |p| (n, p))).collect();
    // Tasks own equal ranges of dy channels (their rows of dw). Each streams all of x and dy, so
    // fewer than the strip passes' TASKS.
    let groups = WEIGHT_TASKS.min(k);
    let shared = SharedOut(dw.as_mut_ptr());
    (0..groups).into_par_iter().for_each(|group| {
        let shared = shared;
        let (first_k, end_k) = (group * k / groups, (group + 1) * k / groups);
        // Near-equal blocks of at most WEIGHT_K (16 → 6, 5, 5: no block of 1 or 2, which would
        // leave the FMA pipes waiting on too few accumulators).
        let k_blocks = (end_k - first_k).div_ceil(WEIGHT_K);
        let mut segments = Vec::new();
        // With no pixels at all, one pass over no segments still writes dw's zeros.
        let chunk_list: &[(usize, usize)] = if chunks.is_empty() { &[(0, 0)] } else { &chunks };
        for (chunk, &(n, first_p)) in chunk_list.iter().enumerate() {
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
                            // task's alone.
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

    fn strips(input: &[f32], g: &ConvGeometry, weights: &StripWeights, bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
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
                    acc = x.mul_add(weights.at(o, t, i), acc);
                }
            }
            *value = if relu { acc.max(0.0) } else { acc };
        }
        out
    }

    pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeometry, relu: bool) -> Vec<f32> {
        strips(x, g, &packed_weights(&packed_forward_weight(w, g), g), bias, relu)
    }

    pub fn backward_data(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
        let flipped = g.data_gradient_as_forward().unwrap();
        strips(dy, &flipped, &packed_weights(&packed_data_gradient_weight(w, &flipped), &flipped), None, false)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Conv2dOptions;
    use crate::util::Rng;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..len).map(|_| rng.normal() as f32).collect()
    }

    fn geometry(batch: usize, h: usize, w: usize, c: usize, k: usize, kernel: [usize; 2], stride: usize, pad: usize) -> ConvGeometry {
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
        // The weight gradient at other strides.
        for g in [geometry(1, 9, 11, 20, 13, [3, 3], 2, 1), geometry(2, 8, 8, 16, 7, [1, 1], 2, 0)] {
            let x = random(g.batch * g.in_h * g.in_w * g.in_c, 7);
            let dy = random(g.output_pixels() * g.out_c, 8);
            assert_eq!(backward_weight(&x, &dy, &g), reference::backward_weight(&x, &dy, &g), "backward-weight {g:?}");
        }
    }
}
