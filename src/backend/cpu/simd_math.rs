//! Math for the memory-bound CPU ops written so that it runs on the widest vectors the CPU has:
//! exp and erf as branch-free f32 arithmetic (FMA, selects, no libm calls), sums in f64 over 16
//! interleaved lanes in a fixed order, and dispatchers that compile a loop for AVX-512 or AVX2+FMA
//! when the CPU has them.
//!
//! Accuracy (tests below, against the f64 functions rounded to f32, over every 4099th f32 bit
//! pattern and a dense sweep of [−6, 6]): `exp_f32` and `erf_f32` are within 1 ulp. `exp` (f64,
//! used by tanh) is within 1e-15 relative of the f64 libm exp. Every op is an IEEE operation (an
//! FMA is one rounding in every body, `mul_add`), so the result is the same at every vector width.
//!
//! The lane sums and the maximum use explicit vector intrinsics: written as plain loops over an
//! array of lanes, LLVM vectorised the loop *around* the lanes instead, with gathers of stride 8
//! or 16 (perf showed `vgatherqps` taking most of softmax's time; see docs/cpu-memory-ops.md).
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Whether the CPU runs the AVX-512 (and FMA) bodies.
#[inline(always)]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the CPU runs the AVX2 (and FMA) bodies.
#[inline(always)]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Defines `fn $name(args) -> R` that runs the `#[inline(always)]` function `$body(args)` compiled
/// for AVX-512 or AVX2 (with FMA) when the CPU has them, else for the baseline: the body's loops (closures
/// included, once inlined) vectorise at that width, and since the arithmetic is the same IEEE
/// operations at every width, so are the bits.
macro_rules! widest_fn {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::backend::cpu::simd_math::has_avx512() {
                    // SAFETY: the CPU has the instructions the function is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::backend::cpu::simd_math::has_avx2() {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use widest_fn;

/// out[i] = f(x[i]), compiled for the widest vectors the CPU has (see `widest_fn`).
#[inline(always)]
pub fn map(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    #[inline(always)]
    fn body(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
        let x = &x[..out.len()];
        for i in 0..out.len() {
            out[i] = f(x[i]);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn avx512(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
            body(x, out, f)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
            body(x, out, f)
        }
        if has_avx512() {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { avx512(x, out, f) };
        }
        if has_avx2() {
            // SAFETY: as above.
            return unsafe { avx2(x, out, f) };
        }
    }
    body(x, out, f)
}

/// out[i] = f(a[i], b[i]), as `map`.
#[inline(always)]
pub fn map2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    #[inline(always)]
    fn body(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
        let (a, b) = (&a[..out.len()], &b[..out.len()]);
        for i in 0..out.len() {
            out[i] = f(a[i], b[i]);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn avx512(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
            body(a, b, out, f)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
            body(a, b, out, f)
        }
        if has_avx512() {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { avx512(a, b, out, f) };
        }
        if has_avx2() {
            // SAFETY: as above.
            return unsafe { avx2(a, b, out, f) };
        }
    }
    body(a, b, out, f)
}

/// ln 2 split so that n·LN2_HI is exact for |n| < 2^11 (Cody–Waite reduction).
const LN2_HI: f64 = 6.931_471_803_691_238_2e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// Adding this rounds an f64 of magnitude < 2^51 to an integer, which its low mantissa bits hold.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52

/// e^x in f64 (relative error below 1e-15 on [−708, 709]). Below −708 it returns e^−708 (3e−308,
/// 0 once rounded to f32); above 709 it returns e^709 (∞ in f32). NaN stays NaN.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = if x < -708.0 { -708.0 } else { x };
    let x = if x > 709.0 { 709.0 } else { x };
    // x = n·ln2 + r, |r| ≤ ln2/2; e^x = 2^n · e^r.
    let shifted = x * std::f64::consts::LOG2_E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor to r^13: the first omitted term is below 4e−18 at |r| = ln2/2.
    let p = polynomial(&INV_FACTORIAL, r);
    let n_bits = shifted.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    p * f64::from_bits(n_bits.wrapping_add(1023) << 52)
}

/// 1/k! for k = 0..=13.
const INV_FACTORIAL: [f64; 14] = {
    let mut table = [1.0; 14];
    let mut k = 1;
    while k < 14 {
        table[k] = table[k - 1] / k as f64;
        k += 1;
    }
    table
};

#[inline(always)]
fn polynomial<const N: usize>(coefficients: &[f64; N], u: f64) -> f64 {
    // Horner from the highest coefficient down (a while loop: it unrolls completely).
    let mut k = N - 1;
    let mut p = coefficients[k];
    while k > 0 {
        k -= 1;
        p = p * u + coefficients[k];
    }
    p
}

/// Σ c[k]·u^k by Horner's rule with one rounding per step (FMA).
#[inline(always)]
fn polynomial_f32<const N: usize>(coefficients: &[f32; N], u: f32) -> f32 {
    let mut k = N - 1;
    let mut p = coefficients[k];
    while k > 0 {
        k -= 1;
        p = p.mul_add(u, coefficients[k]);
    }
    p
}

/// ln 2 in two parts for the f32 reduction (cephes' split: LN2_HI_F32 has 9 significant bits).
const LN2_HI_F32: f32 = 0.693_359_375;
const LN2_LO_F32: f32 = -2.121_944_4e-4;
/// Adding this (by FMA) rounds an f32 of magnitude < 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC_F32: f32 = 12_582_912.0; // 1.5 · 2^23
/// 1/k! for k = 0..=7: the first omitted term, r^8/8!, is below 6e−9 of e^r at |r| = ln2/2.
const EXP_TAYLOR_F32: [f32; 8] = [1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// 2^n as an f32 for n in [−126, 127].
#[inline(always)]
fn power_of_two(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// e^x in f32 arithmetic, within 1 ulp of the correctly rounded value (subnormal results
/// included). x = n·ln2 + r, e^x = 2^n·e^r with 2^n applied as two factors so that subnormal
/// results are rounded once. Below −104 it is 0, above 89 ∞; NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    let shifted = x.mul_add(std::f32::consts::LOG2_E, ROUND_MAGIC_F32);
    let n = shifted - ROUND_MAGIC_F32;
    let r = n.mul_add(-LN2_LO_F32, n.mul_add(-LN2_HI_F32, x));
    let p = polynomial_f32(&EXP_TAYLOR_F32, r);
    let n = shifted.to_bits().wrapping_sub(ROUND_MAGIC_F32.to_bits()) as i32;
    let half = n >> 1;
    p * power_of_two(half) * power_of_two(n - half)
}

/// erf(x) = x + x·R(x²) on |x| ≤ 1 (Chebyshev fit of erf(x)/x − 1 in x², mpmath; error 1.2e−9).
const ERF_SMALL: [f32; 7] = [
    0.128_379_165_848_350_9,
    -0.376_126_266_667_203_3,
    0.112_835_947_151_602_18,
    -0.026_854_212_010_626_41,
    0.005_189_087_423_433_974,
    -0.000_801_686_428_716_587,
    7.875_875_062_685_488e-5,
];

/// erf(t) = P(t − ERF_LARGE_CENTRE) on 1 ≤ t ≤ 3.92: one polynomial of degree 14 (Chebyshev fit
/// of erf itself, reweighted towards minimax by Lawson's iteration, numpy; error 6.6e−9, a tenth of
/// an ulp of its values in [0.84, 1), and P(3.92) rounds to 1). It replaced 1 − e^{L(t)} with
/// L = ln erfc, a degree-8 polynomial and an exp (about 25 vector ops per 16 values, against 16).
const ERF_LARGE_CENTRE: f32 = 2.46;
const ERF_LARGE: [f32; 15] = [
    0.999_496_64,
    0.002_656_240_5,
    -0.006_534_522,
    0.009_832_413,
    -0.009_914_168,
    0.006_799_712_3,
    -0.002_937_226_3,
    0.000_459_061_5,
    0.000_355_984_75,
    -0.000_299_404_67,
    7.576_048e-5,
    2.462_631_9e-5,
    -1.730_688_2e-5,
    1.064_034_4e-7,
    1.090_815_2e-6,
];

/// erf in f32 arithmetic, within 1 ulp of the correctly rounded value: x + x·R(x²) for |x| ≤ 1,
/// else ±P(|x| − 2.46); both are computed and one selected (no branches). Beyond 3.92, erf
/// rounds to ±1 in f32, which P(3.92) does too. NaN stays NaN.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let magnitude = x.abs();
    let small = x.mul_add(polynomial_f32(&ERF_SMALL, x * x), x);
    let t = if magnitude > 3.92 { 3.92 } else { magnitude };
    let large = polynomial_f32(&ERF_LARGE, t - ERF_LARGE_CENTRE);
    if magnitude <= 1.0 {
        small
    } else {
        large.copysign(x)
    }
}

/// Lanes of the sums: element i goes to lane i mod LANES, the lanes are added in a fixed tree at
/// the end, so the order depends on the length alone (never on threads or vector width). 16 lanes
/// are two AVX-512 registers of f64: two independent chains of adds, so a row's sum is not bound
/// by one add's latency per 8 values.
const LANES: usize = 16;

#[inline(always)]
fn combine(lanes: [f64; LANES], tail: f64) -> f64 {
    let half = |l: &[f64]| ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    (half(&lanes[..8]) + half(&lanes[8..])) + tail
}

/// The terms of a lane sum, element by element and 8 consecutive elements at a time (the same f64
/// operations, so the same bits).
trait Terms {
    fn len(&self) -> usize;
    fn at(&self, i: usize) -> f64;
    /// Terms i..i + 8 (i + 8 ≤ len).
    #[cfg(target_arch = "x86_64")]
    unsafe fn avx512(&self, i: usize) -> __m512d;
    /// Terms i..i + 4 and i + 4..i + 8.
    #[cfg(target_arch = "x86_64")]
    unsafe fn avx2(&self, i: usize) -> [__m256d; 2];
}

/// x[i] as f64.
struct Values<'a>(&'a [f32]);
/// x[i]·y[i] in f64 (exact: two 24-bit significands fit in 53 bits).
struct Products<'a>(&'a [f32], &'a [f32]);
/// (x[i] − c)² in f64.
struct SquaredDeviations<'a>(&'a [f32], f64);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn widen8(x: &[f32]) -> __m512d {
    let x: &[f32; 8] = x[..8].try_into().unwrap();
    // SAFETY: x has 8 values.
    _mm512_cvtps_pd(unsafe { _mm256_loadu_ps(x.as_ptr()) })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn widen4x2(x: &[f32]) -> [__m256d; 2] {
    let x: &[f32; 8] = x[..8].try_into().unwrap();
    // SAFETY: x has 8 values.
    unsafe { [_mm256_cvtps_pd(_mm_loadu_ps(x.as_ptr())), _mm256_cvtps_pd(_mm_loadu_ps(x[4..].as_ptr()))] }
}

impl Terms for Values<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn at(&self, i: usize) -> f64 {
        self.0[i] as f64
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(&self, i: usize) -> __m512d {
        widen8(&self.0[i..])
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn avx2(&self, i: usize) -> [__m256d; 2] {
        widen4x2(&self.0[i..])
    }
}

impl Terms for Products<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn at(&self, i: usize) -> f64 {
        self.0[i] as f64 * self.1[i] as f64
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(&self, i: usize) -> __m512d {
        _mm512_mul_pd(widen8(&self.0[i..]), widen8(&self.1[i..]))
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn avx2(&self, i: usize) -> [__m256d; 2] {
        let ([x0, x1], [y0, y1]) = (widen4x2(&self.0[i..]), widen4x2(&self.1[i..]));
        [_mm256_mul_pd(x0, y0), _mm256_mul_pd(x1, y1)]
    }
}

impl Terms for SquaredDeviations<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn at(&self, i: usize) -> f64 {
        let d = self.0[i] as f64 - self.1;
        d * d
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(&self, i: usize) -> __m512d {
        let d = _mm512_sub_pd(widen8(&self.0[i..]), _mm512_set1_pd(self.1));
        _mm512_mul_pd(d, d)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn avx2(&self, i: usize) -> [__m256d; 2] {
        let c = _mm256_set1_pd(self.1);
        let [x0, x1] = widen4x2(&self.0[i..]);
        let (d0, d1) = (_mm256_sub_pd(x0, c), _mm256_sub_pd(x1, c));
        [_mm256_mul_pd(d0, d0), _mm256_mul_pd(d1, d1)]
    }
}

/// Σ of the terms over the lanes: the sums start from −0.0, as `Iterator::sum` does, so a row of
/// −0.0 sums to −0.0.
#[inline(always)]
fn lane_sum(terms: &impl Terms) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { lane_sum_avx512(terms) };
        }
        if has_avx2() {
            // SAFETY: as above.
            return unsafe { lane_sum_avx2(terms) };
        }
    }
    lane_sum_portable(terms)
}

#[inline(always)]
fn lane_sum_portable(terms: &impl Terms) -> f64 {
    let mut lanes = [-0.0f64; LANES];
    let full = terms.len() - terms.len() % LANES;
    for start in (0..full).step_by(LANES) {
        for (k, lane) in lanes.iter_mut().enumerate() {
            *lane += terms.at(start + k);
        }
    }
    finish_sum(terms, lanes, full)
}

/// The lanes added in their tree, plus the tail after the last full group of LANES, in order.
#[inline(always)]
fn finish_sum(terms: &impl Terms, lanes: [f64; LANES], full: usize) -> f64 {
    let mut tail = -0.0;
    for i in full..terms.len() {
        tail += terms.at(i);
    }
    combine(lanes, tail)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn lane_sum_avx512(terms: &impl Terms) -> f64 {
    let full = terms.len() - terms.len() % LANES;
    let (mut low, mut high) = (_mm512_set1_pd(-0.0), _mm512_set1_pd(-0.0));
    for start in (0..full).step_by(LANES) {
        // SAFETY: start + 16 ≤ len.
        unsafe { (low, high) = (_mm512_add_pd(low, terms.avx512(start)), _mm512_add_pd(high, terms.avx512(start + 8))) };
    }
    let mut lanes = [0.0; LANES];
    // SAFETY: lanes holds 16 f64.
    unsafe { (_mm512_storeu_pd(lanes.as_mut_ptr(), low), _mm512_storeu_pd(lanes[8..].as_mut_ptr(), high)) };
    finish_sum(terms, lanes, full)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn lane_sum_avx2(terms: &impl Terms) -> f64 {
    let full = terms.len() - terms.len() % LANES;
    let mut sums = [_mm256_set1_pd(-0.0); 4];
    for start in (0..full).step_by(LANES) {
        // SAFETY: start + 16 ≤ len.
        let ([a, b], [c, d]) = unsafe { (terms.avx2(start), terms.avx2(start + 8)) };
        sums = [_mm256_add_pd(sums[0], a), _mm256_add_pd(sums[1], b), _mm256_add_pd(sums[2], c), _mm256_add_pd(sums[3], d)];
    }
    let mut lanes = [0.0; LANES];
    for (k, sum) in sums.into_iter().enumerate() {
        // SAFETY: lanes holds 16 f64.
        unsafe { _mm256_storeu_pd(lanes[4 * k..].as_mut_ptr(), sum) };
    }
    finish_sum(terms, lanes, full)
}

/// Σ x[i] in f64 over the lanes (see `LANES`).
pub fn sum(x: &[f32]) -> f64 {
    lane_sum(&Values(x))
}

/// Σ x[i]·y[i] in f64 over the lanes (x and y of the same length).
pub fn sum_products(x: &[f32], y: &[f32]) -> f64 {
    assert_eq!(x.len(), y.len());
    lane_sum(&Products(x, y))
}

/// Σ (x[i] − c)² in f64 over the lanes.
pub fn sum_squared_deviations(x: &[f32], c: f64) -> f64 {
    lane_sum(&SquaredDeviations(x, c))
}

/// (Σ x[i], Σ x[i]·y[i]) in one pass: the same bits as (`sum(x)`, `sum_products(x, y)`), with four
/// independent add chains instead of two (a row's two sums are bound by the adds' latency).
pub fn sum_and_sum_products(x: &[f32], y: &[f32]) -> (f64, f64) {
    assert_eq!(x.len(), y.len());
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { sum_and_sum_products_avx512(x, y) };
        }
        if has_avx2() {
            // SAFETY: as above.
            return unsafe { sum_and_sum_products_avx2(x, y) };
        }
    }
    (lane_sum_portable(&Values(x)), lane_sum_portable(&Products(x, y)))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sum_and_sum_products_avx512(x: &[f32], y: &[f32]) -> (f64, f64) {
    let full = x.len() - x.len() % LANES;
    let zero = _mm512_set1_pd(-0.0);
    let (mut sums, mut products) = ([zero; 2], [zero; 2]);
    for start in (0..full).step_by(LANES) {
        for half in 0..2 {
            let (xs, ys) = (widen8(&x[start + 8 * half..]), widen8(&y[start + 8 * half..]));
            sums[half] = _mm512_add_pd(sums[half], xs);
            products[half] = _mm512_add_pd(products[half], _mm512_mul_pd(xs, ys));
        }
    }
    let (mut sum_lanes, mut product_lanes) = ([0.0; LANES], [0.0; LANES]);
    for half in 0..2 {
        // SAFETY: each array holds 16 f64.
        unsafe { (_mm512_storeu_pd(sum_lanes[8 * half..].as_mut_ptr(), sums[half]), _mm512_storeu_pd(product_lanes[8 * half..].as_mut_ptr(), products[half])) };
    }
    (finish_sum(&Values(x), sum_lanes, full), finish_sum(&Products(x, y), product_lanes, full))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_and_sum_products_avx2(x: &[f32], y: &[f32]) -> (f64, f64) {
    let full = x.len() - x.len() % LANES;
    let zero = _mm256_set1_pd(-0.0);
    let (mut sums, mut products) = ([zero; 4], [zero; 4]);
    for start in (0..full).step_by(LANES) {
        for half in 0..2 {
            let (xs, ys) = (widen4x2(&x[start + 8 * half..]), widen4x2(&y[start + 8 * half..]));
            for k in 0..2 {
                sums[2 * half + k] = _mm256_add_pd(sums[2 * half + k], xs[k]);
                products[2 * half + k] = _mm256_add_pd(products[2 * half + k], _mm256_mul_pd(xs[k], ys[k]));
            }
        }
    }
    let (mut sum_lanes, mut product_lanes) = ([0.0; LANES], [0.0; LANES]);
    for k in 0..4 {
        // SAFETY: each array holds 16 f64.
        unsafe { (_mm256_storeu_pd(sum_lanes[4 * k..].as_mut_ptr(), sums[k]), _mm256_storeu_pd(product_lanes[4 * k..].as_mut_ptr(), products[k])) };
    }
    (finish_sum(&Values(x), sum_lanes, full), finish_sum(&Products(x, y), product_lanes, full))
}

/// Lanes of the maximum (one AVX-512 register of f32).
const MAX_LANES: usize = 16;

/// The larger of a lane and a value, NaN skipped: what `vmaxps(value, lane)` computes.
#[inline(always)]
fn max_step(value: f32, lane: f32) -> f32 {
    if value > lane {
        value
    } else {
        lane
    }
}

/// The maximum of `x` (−∞ for an empty slice; NaN is skipped), over 16 lanes.
pub fn max(x: &[f32]) -> f32 {
    let full = x.len() - x.len() % MAX_LANES;
    let mut lanes = [f32::NEG_INFINITY; MAX_LANES];
    #[cfg(target_arch = "x86_64")]
    let done = if has_avx512() {
        // SAFETY: the CPU has the instructions the function is compiled for.
        unsafe { lanes = max_lanes_avx512(&x[..full]) };
        true
    } else if has_avx2() {
        // SAFETY: as above.
        unsafe { lanes = max_lanes_avx2(&x[..full]) };
        true
    } else {
        false
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = false;
    if !done {
        for chunk in x[..full].chunks_exact(MAX_LANES) {
            for (lane, &value) in lanes.iter_mut().zip(chunk) {
                *lane = max_step(value, *lane);
            }
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &value in x[full..].iter().chain(&lanes) {
        max = max_step(value, max);
    }
    max
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn max_lanes_avx512(x: &[f32]) -> [f32; MAX_LANES] {
    let mut lanes = _mm512_set1_ps(f32::NEG_INFINITY);
    for chunk in x.chunks_exact(MAX_LANES) {
        // SAFETY: the chunk holds 16 values.
        lanes = _mm512_max_ps(unsafe { _mm512_loadu_ps(chunk.as_ptr()) }, lanes);
    }
    let mut out = [0.0; MAX_LANES];
    // SAFETY: out holds 16 f32.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), lanes) };
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn max_lanes_avx2(x: &[f32]) -> [f32; MAX_LANES] {
    let (mut low, mut high) = (_mm256_set1_ps(f32::NEG_INFINITY), _mm256_set1_ps(f32::NEG_INFINITY));
    for chunk in x.chunks_exact(MAX_LANES) {
        // SAFETY: the chunk holds 16 values.
        unsafe { (low, high) = (_mm256_max_ps(_mm256_loadu_ps(chunk.as_ptr()), low), _mm256_max_ps(_mm256_loadu_ps(chunk[8..].as_ptr()), high)) };
    }
    let mut out = [0.0; MAX_LANES];
    // SAFETY: out holds 16 f32.
    unsafe { (_mm256_storeu_ps(out.as_mut_ptr(), low), _mm256_storeu_ps(out[8..].as_mut_ptr(), high)) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 values spread over the whole range (every 4099th bit pattern, both signs) and a dense
    /// sweep of [−6, 6].
    fn sample_f32() -> impl Iterator<Item = f32> {
        let spread = (0..u32::MAX / 4099).map(|i| f32::from_bits(i * 4099)).filter(|v| v.is_finite()).flat_map(|v| [v, -v]);
        spread.chain((-600_000..600_000).map(|i| i as f32 * 1e-5))
    }

    fn ulps(a: f32, b: f32) -> u32 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let key = |v: f32| if v.to_bits() >> 31 == 1 { -((v.to_bits() & 0x7fff_ffff) as i64) } else { v.to_bits() as i64 };
        (key(a) - key(b)).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_1e15_of_libm() {
        let mut worst = 0.0f64;
        for x in sample_f32().filter(|v| v.abs() < 700.0) {
            let (mine, reference) = (exp(x as f64), (x as f64).exp());
            if reference > 1e-300 {
                worst = worst.max((mine / reference - 1.0).abs());
            }
        }
        assert!(worst < 1e-15, "relative error {worst}");
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn exp_f32_is_within_one_ulp_of_the_rounded_f64_exp() {
        let (mut worst, mut at) = (0, 0.0);
        for x in sample_f32() {
            let error = ulps(exp_f32(x), (x as f64).exp() as f32);
            if error > worst {
                (worst, at) = (error, x);
            }
        }
        assert!(worst <= 1, "{worst} ulp at {at}");
    }

    #[test]
    fn exp_f32_saturates_and_keeps_nan() {
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(88.7).is_finite());
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn erf_is_within_one_ulp_of_the_rounded_f64_erf() {
        let (mut worst, mut at) = (0, 0.0);
        for x in sample_f32() {
            let error = ulps(erf_f32(x), libm::erf(x as f64) as f32);
            if error > worst {
                (worst, at) = (error, x);
            }
        }
        assert!(worst <= 1, "{worst} ulp at {at}");
        assert!(erf_f32(f32::NAN).is_nan());
        assert_eq!((erf_f32(f32::INFINITY), erf_f32(f32::NEG_INFINITY)), (1.0, -1.0));
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn erf_large_branch_is_within_one_ulp_at_every_f32_from_1_to_4() {
        // The sampled test above sees ~2 % of the one polynomial's range [1, 3.92]; this walks every
        // f32 in it (16.5 M, erf is odd so one sign) and past the clamp to 4, where erf rounds to 1.
        let (mut worst, mut at) = (0, 0.0);
        for bits in 1.0f32.to_bits()..=4.0f32.to_bits() {
            let x = f32::from_bits(bits);
            let error = ulps(erf_f32(x), libm::erf(x as f64) as f32);
            if error > worst {
                (worst, at) = (error, x);
            }
        }
        assert!(worst <= 1, "{worst} ulp at {at}");
    }

    /// The lane order written out plainly: element i into lane i mod 16, the tail after the last
    /// full group separately.
    fn lane_order_sum(len: usize, term: impl Fn(usize) -> f64) -> f64 {
        let mut lanes = [-0.0f64; LANES];
        let full = len - len % LANES;
        for i in 0..full {
            lanes[i % LANES] += term(i);
        }
        let tail = (full..len).map(term).fold(-0.0, |a, b| a + b);
        combine(lanes, tail)
    }

    #[test]
    fn vector_lane_sums_and_maximum_match_the_plain_lane_order_on_odd_lengths() {
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1037] {
            let x: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 * 0.001 - 0.5).collect();
            let y: Vec<f32> = (0..len).map(|i| ((i * 31) % 97) as f32 * 0.01 - 0.3).collect();
            assert_eq!(sum(&x).to_bits(), lane_order_sum(len, |i| x[i] as f64).to_bits(), "length {len}");
            assert_eq!(sum_products(&x, &y).to_bits(), lane_order_sum(len, |i| x[i] as f64 * y[i] as f64).to_bits());
            let deviation = |i: usize| (x[i] as f64 - 0.1) * (x[i] as f64 - 0.1);
            assert_eq!(sum_squared_deviations(&x, 0.1).to_bits(), lane_order_sum(len, deviation).to_bits());
            assert_eq!(max(&x), x.iter().copied().fold(f32::NEG_INFINITY, f32::max));
            let both = (sum(&x).to_bits(), sum_products(&x, &y).to_bits());
            let (s, p) = sum_and_sum_products(&x, &y);
            assert_eq!((s.to_bits(), p.to_bits()), both, "length {len}");
            // Every body, not only the one this CPU dispatches to.
            assert_eq!(lane_sum_portable(&Products(&x, &y)).to_bits(), lane_order_sum(len, |i| x[i] as f64 * y[i] as f64).to_bits());
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: the CPU has AVX2.
                let (sum, max_lanes) = unsafe { (lane_sum_avx2(&SquaredDeviations(&x, 0.1)), max_lanes_avx2(&x[..len - len % MAX_LANES])) };
                assert_eq!(sum.to_bits(), lane_order_sum(len, deviation).to_bits());
                // SAFETY: the CPU has AVX2.
                let (s, p) = unsafe { sum_and_sum_products_avx2(&x, &y) };
                assert_eq!((s.to_bits(), p.to_bits()), both);
                assert_eq!(max_lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max), x[..len - len % MAX_LANES].iter().copied().fold(f32::NEG_INFINITY, f32::max));
            }
        }
        let x: Vec<f32> = (0..1037).map(|i| ((i * 7919) % 1000) as f32 * 0.001).collect();
        let plain: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((sum(&x) - plain).abs() < 1e-12);
        assert_eq!(sum(&[-0.0; 11]).to_bits(), (-0.0f64).to_bits());
        assert_eq!(max(&[]), f32::NEG_INFINITY);
        let mut with_nan = vec![1.0f32; 40];
        (with_nan[3], with_nan[20], with_nan[39]) = (f32::NAN, 5.0, f32::NAN);
        assert_eq!(max(&with_nan), 5.0);
    }
}
