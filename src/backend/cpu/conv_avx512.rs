//! The AVX-512 micro-kernels of the direct convolution (conv_direct.rs says what they compute and
//! in which order; its scalar twins are the same sums, fused multiply-add for fused multiply-add,
//! and the tests hold the two to the same bits).
//!
//! - `strip`: up to STRIP output pixels × LANES output channels, the accumulators (2 × 14 zmm at
//!   most) held in registers over the whole reduction; each step loads two weight vectors and
//!   broadcasts one input value per pixel (28 FMAs to 16 loads, inside the two load ports' budget).
//! - `weight_block`: KB ≤ 6 dy channels × 64 x channels of the weight gradient (up to 24 zmm),
//!   one output pixel per step: four x vectors, KB dy broadcasts.
use std::arch::x86_64::*;

use super::conv_direct::LANES;

/// Masks of the valid lanes among `lanes` (≤ 16·N) for N vectors.
fn masks<const N: usize>(lanes: usize) -> [__mmask16; N] {
    std::array::from_fn(|v| {
        let valid = lanes.saturating_sub(16 * v).min(16);
        ((1u32 << valid) - 1) as __mmask16
    })
}

/// One strip of the direct convolution, PIX output pixels × LANES output channels:
/// out[j·pixel_stride + o] = relu?(init[o] + Σ_taps Σ_i input[x_tap + offset(j) + i] · weights[w_tap + i·weight_step + o])
/// for j < pixels, o < lanes; the taps in `taps`' order, i ascending, one FMA at a time.
/// offset(j) = j·depth along one row (ROW = 0), or, for a strip that spans rows of ROW pixels,
/// (j mod ROW)·depth + (j div ROW)·row_stride.
/// Every pixel j < PIX is computed (its input must be readable), only `pixels` are stored.
/// `DEPTH` is the reduction depth when not 0 (a constant makes every broadcast's address a fixed
/// displacement from one pointer), else `depth`.
///
/// # Safety
/// The CPU has AVX-512F; every address above (for j < PIX, o < lanes) lies inside its buffer.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn strip<const DEPTH: usize, const PIX: usize, const ROW: usize>(
    input: *const f32,
    depth: usize,
    row_stride: usize,
    taps: &[(isize, isize)],
    weights: *const f32,
    weight_step: usize,
    init: &[f32; LANES],
    lanes: usize,
    out: *mut f32,
    pixels: usize,
    pixel_stride: usize,
    relu: bool,
) {
    let depth = if DEPTH == 0 { depth } else { DEPTH };
    let offset = |j: usize| if ROW == 0 { j * depth } else { j % ROW * depth + j / ROW * row_stride };
    let [m0, m1] = masks::<2>(lanes);
    let (i0, i1) = (_mm512_loadu_ps(init.as_ptr()), _mm512_loadu_ps(init.as_ptr().add(16)));
    let mut acc = [[i0, i1]; PIX];
    for &(x_tap, w_tap) in taps {
        let x = input.offset(x_tap);
        let mut w = weights.offset(w_tap);
        for i in 0..depth {
            let w0 = _mm512_maskz_loadu_ps(m0, w);
            let w1 = _mm512_maskz_loadu_ps(m1, w.wrapping_add(16));
            for (j, pixel) in acc.iter_mut().enumerate() {
                let value = _mm512_set1_ps(*x.add(offset(j) + i));
                pixel[0] = _mm512_fmadd_ps(value, w0, pixel[0]);
                pixel[1] = _mm512_fmadd_ps(value, w1, pixel[1]);
            }
            w = w.add(weight_step);
        }
    }
    let zero = _mm512_setzero_ps();
    // A constant trip count keeps `acc` in registers (a loop to `pixels` would index it at run time).
    for (j, pixel) in acc.iter().enumerate() {
        if j < pixels {
            let (mut a0, mut a1) = (pixel[0], pixel[1]);
            if relu {
                // max(a, 0) gives 0 for NaN, as f32::max(a, 0.0) does.
                a0 = _mm512_max_ps(a0, zero);
                a1 = _mm512_max_ps(a1, zero);
            }
            let target = out.add(j * pixel_stride);
            _mm512_mask_storeu_ps(target, m0, a0);
            _mm512_mask_storeu_ps(target.wrapping_add(16), m1, a1);
        }
    }
}

/// out[f·LANES + lane] = rows[lane·len + f] for f < len, lane < lanes (≤ LANES), 0 for the lanes
/// past them: 16 × 16 tiles transposed in registers (a gather per line was hardly faster than
/// the scalar loop: 15 % against 19 % of the forward at C256@14 N2).
///
/// # Safety
/// The CPU has AVX-512F; `rows` holds lanes·len values, `out` len·LANES.
#[target_feature(enable = "avx512f")]
pub unsafe fn lines_from_rows(rows: *const f32, lanes: usize, len: usize, out: *mut f32) {
    for half in 0..LANES / 16 {
        let valid = lanes.saturating_sub(16 * half).min(16);
        for f0 in (0..len).step_by(16) {
            let count = (len - f0).min(16);
            let mask = ((1u32 << count) - 1) as __mmask16;
            let tile: [__m512; 16] =
                std::array::from_fn(|l| if l < valid { _mm512_maskz_loadu_ps(mask, rows.add((16 * half + l) * len + f0)) } else { _mm512_setzero_ps() });
            for (j, column) in transpose16(tile).iter().enumerate().take(count) {
                _mm512_storeu_ps(out.add((f0 + j) * LANES + 16 * half), *column);
            }
        }
    }
}

/// The 16 × 16 transpose: result[j][l] = rows[l][j].
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // Pairs of rows interleaved: per 128-bit lane k, t[2i] = (a4k b4k a4k+1 b4k+1), t[2i+1] the next two columns.
    let t: [__m512; 16] = std::array::from_fn(|i| if i % 2 == 0 { _mm512_unpacklo_ps(r[i], r[i + 1]) } else { _mm512_unpackhi_ps(r[i - 1], r[i]) });
    // Four rows per 128-bit lane: u[4g + m] holds column 4k + m of rows 4g..4g+4 in lane k.
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (g, m) = (i / 4, i % 4);
        let (x, y) = (t[4 * g + m / 2], t[4 * g + m / 2 + 2]);
        if m % 2 == 0 { _mm512_shuffle_ps::<0x44>(x, y) } else { _mm512_shuffle_ps::<0xEE>(x, y) }
    });
    // v[8h + j] holds columns j and j + 8 of rows 8h..8h+8: lanes (col j rows 0-3, col j+8 rows 0-3, col j rows 4-7, col j+8 rows 4-7).
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let (h, j) = (i / 8, i % 8);
        let (x, y) = (u[8 * h + j % 4], u[8 * h + j % 4 + 4]);
        if j < 4 { _mm512_shuffle_f32x4::<0x88>(x, y) } else { _mm512_shuffle_f32x4::<0xDD>(x, y) }
    });
    std::array::from_fn(|c| if c < 8 { _mm512_shuffle_f32x4::<0x88>(v[c], v[c + 8]) } else { _mm512_shuffle_f32x4::<0xDD>(v[c - 8], v[c]) })
}

/// A run of `count` consecutive output pixels of one weight-gradient tap: x from `x`, dy from
/// `dy` (offsets into the two buffers), advancing x_step and dy_step per pixel.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub x: usize,
    pub dy: usize,
    pub count: usize,
}

/// dw[kk·dw_k_stride + c] = (accumulate ? dw[…] : 0) + Σ_segments Σ_q dy[seg.dy + q·dy_step + kk] · x[seg.x + q·x_step + c]
/// for kk < KB, c < channels (≤ WEIGHT_C), segments in order, q ascending, one FMA at a time.
///
/// # Safety
/// The CPU has AVX-512F; every address above lies inside its buffer.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn weight_block<const KB: usize>(
    x: *const f32,
    dy: *const f32,
    segments: &[Segment],
    x_step: usize,
    dy_step: usize,
    channels: usize,
    dw: *mut f32,
    dw_k_stride: usize,
    accumulate: bool,
) {
    let m = masks::<4>(channels);
    let mut acc = [[_mm512_setzero_ps(); 4]; KB];
    if accumulate {
        for (kk, row) in acc.iter_mut().enumerate() {
            for (v, a) in row.iter_mut().enumerate() {
                *a = _mm512_maskz_loadu_ps(m[v], dw.wrapping_add(kk * dw_k_stride + 16 * v));
            }
        }
    }
    for segment in segments {
        let (mut xp, mut dp) = (x.add(segment.x), dy.add(segment.dy));
        for _ in 0..segment.count {
            let xv: [__m512; 4] = std::array::from_fn(|v| _mm512_maskz_loadu_ps(m[v], xp.wrapping_add(16 * v)));
            for (kk, row) in acc.iter_mut().enumerate() {
                let gradient = _mm512_set1_ps(*dp.add(kk));
                for (a, xv) in row.iter_mut().zip(&xv) {
                    *a = _mm512_fmadd_ps(gradient, *xv, *a);
                }
            }
            xp = xp.add(x_step);
            dp = dp.add(dy_step);
        }
    }
    for (kk, row) in acc.iter().enumerate() {
        for (v, a) in row.iter().enumerate() {
            _mm512_mask_storeu_ps(dw.wrapping_add(kk * dw_k_stride + 16 * v), m[v], *a);
        }
    }
}
