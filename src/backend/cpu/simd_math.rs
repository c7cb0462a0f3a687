//! Math for the memory-bound CPU ops written so that the compiler vectorises it: exp and erf as
//! plain f64 arithmetic (no libm calls, no branches, only selects), sums in f64 over interleaved
//! lanes, and dispatchers that compile a loop for AVX-512 or AVX2 when the CPU has them.
//!
//! Accuracy (tests below): `exp` is within 1e-15 relative of the f64 libm exp over the whole f32
//! range, so `exp(x as f64) as f32` is the correctly rounded expf except where the true value lies
//! within ~1e-15 of a rounding boundary; `erf_f32` is within 1e-11 relative of erf, so it is the
//! correctly rounded erff except at such boundaries (libm's erff is within 1 ulp). Every op is IEEE
//! f64 (Rust never contracts to FMA), so the result is the same at every vector width.

/// Defines `fn $name(args) -> R` that runs the `#[inline(always)]` function `$body(args)` compiled
/// for AVX-512 or AVX2 when the CPU has them, else for the baseline: the body's loops (closures
/// included, once inlined) vectorise at that width, and since the arithmetic is the same IEEE
/// operations at every width, so are the bits.
macro_rules! widest_fn {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the instructions the function is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
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
        #[target_feature(enable = "avx512f")]
        fn avx512(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
            body(x, out, f)
        }
        #[target_feature(enable = "avx2")]
        fn avx2(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
            body(x, out, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { avx512(x, out, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
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
        #[target_feature(enable = "avx512f")]
        fn avx512(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
            body(a, b, out, f)
        }
        #[target_feature(enable = "avx2")]
        fn avx2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
            body(a, b, out, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { avx512(a, b, out, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
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
/// 0 once rounded to f32, and nothing next to the 1 a softmax row's maximum contributes); above 709
/// it returns e^709 (∞ in f32). NaN stays NaN.
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

/// e^x for an f32 (see `exp`).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp(x as f64) as f32
}

/// erf(x)/x = P(2x² − 1) on |x| ≤ 1 (Chebyshev fit; relative error 2e−14).
const ERF_SMALL: [f64; 10] = [
    0.965_468_738_669_885_7,
    -0.140_536_089_022_721_33,
    0.019_852_496_688_084_992,
    -0.002_285_485_561_064_726_7,
    0.000_217_517_163_231_335_7,
    -1.753_716_988_351_974_6e-5,
    1.223_362_613_434_421_2e-6,
    -7.511_467_348_643_407e-8,
    4.138_780_803_696_382e-9,
    -2.045_551_625_244_297_2e-10,
];

/// e^{x²}·erfc(x) = G((x − 2.5)/1.5) on 1 ≤ x ≤ 4 (Chebyshev fit; relative error 7e−12).
const ERFC_SCALED: [f64; 17] = [
    0.210_806_364_061_327_47,
    -0.111_521_020_165_980_63,
    0.056_110_493_415_389_08,
    -0.027_005_297_556_107_078,
    0.012_489_374_662_668_192,
    -0.005_570_693_815_526_054_5,
    0.002_403_639_721_949_325_4,
    -0.001_005_908_192_352_808_8,
    0.000_409_125_277_689_894_5,
    -0.000_161_760_333_598_082_83,
    6.246_463_311_348_15e-5,
    -2.407_277_639_160_413_7e-5,
    8.900_871_416_821_812e-6,
    -2.669_422_489_805_992_5e-6,
    9.346_581_641_328_023e-7,
    -6.370_017_606_086_21e-7,
    2.195_885_220_432_809_8e-7,
];

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

/// erf of an f32, evaluated in f64 (both branches computed, one selected) and rounded to f32.
/// Beyond |x| = 4, erf rounds to ±1 in f32.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let x = x as f64;
    let a = x.abs();
    let small = x * polynomial(&ERF_SMALL, 2.0 * x * x - 1.0);
    let clamped = if a > 4.0 { 4.0 } else { a };
    let complement = exp(-clamped * clamped) * polynomial(&ERFC_SCALED, (clamped - 2.5) / 1.5);
    let large = if a >= 4.0 { 1.0 } else { 1.0 - complement };
    let result = if a <= 1.0 { small } else { large.copysign(x) };
    // NaN fails both comparisons above and would come out as ±1.
    (if x.is_nan() { x } else { result }) as f32
}

/// Lanes of the interleaved sums: element i goes to lane i mod LANES, the lanes are added in a fixed
/// tree at the end, so the order depends on the length alone (never on threads or vector width).
const LANES: usize = 8;

#[inline(always)]
fn combine(lanes: [f64; LANES], tail: f64) -> f64 {
    (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + tail
}

/// Σ term(x[i]) in f64 over interleaved lanes (see `LANES`). The sums start from −0.0, as
/// `Iterator::sum` does, so a row of −0.0 sums to −0.0. (Index loops here and in the callers'
/// kernels: iterator adapters are not always inlined into the vector-compiled caller.)
#[inline(always)]
pub fn lane_sum(x: &[f32], term: impl Fn(f32) -> f64) -> f64 {
    lane_sum_indexed(x.len(), #[inline(always)] |i| term(x[i]))
}

/// Σ term(x[i], y[i]) in f64 over interleaved lanes (as `lane_sum`).
#[inline(always)]
pub fn lane_sum2(x: &[f32], y: &[f32], term: impl Fn(f32, f32) -> f64) -> f64 {
    let y = &y[..x.len()];
    lane_sum_indexed(x.len(), #[inline(always)] |i| term(x[i], y[i]))
}

/// Σ term(i) for i in 0..len in f64 over interleaved lanes (as `lane_sum`).
#[inline(always)]
pub fn lane_sum_indexed(len: usize, term: impl Fn(usize) -> f64) -> f64 {
    let mut lanes = [-0.0f64; LANES];
    let full = len - len % LANES;
    let mut start = 0;
    while start < full {
        for k in 0..LANES {
            lanes[k] += term(start + k);
        }
        start += LANES;
    }
    let mut tail = -0.0;
    for i in full..len {
        tail += term(i);
    }
    combine(lanes, tail)
}

/// The maximum of `x` (−∞ for an empty slice; NaN is skipped, as by `f32::max`), over lanes.
#[inline(always)]
pub fn lane_max(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let full = x.len() - x.len() % 16;
    let mut start = 0;
    while start < full {
        for k in 0..16 {
            lanes[k] = lanes[k].max(x[start + k]);
        }
        start += 16;
    }
    let mut max = f32::NEG_INFINITY;
    for i in full..x.len() {
        max = max.max(x[i]);
    }
    for lane in lanes {
        max = max.max(lane);
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 values spread over the whole range (every 4099th bit pattern), both signs.
    fn sample_f32() -> impl Iterator<Item = f32> {
        (0..u32::MAX / 4099).map(|i| f32::from_bits(i * 4099)).filter(|v| v.is_finite()).flat_map(|v| [v, -v])
    }

    fn ulps(a: f32, b: f32) -> u32 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let key = |v: f32| if v.to_bits() >> 31 == 1 { -((v.to_bits() & 0x7fff_ffff) as i64) } else { v.to_bits() as i64 };
        (key(a) - key(b)).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_1e15_of_libm_and_rounds_to_the_f64_libm_value() {
        let mut worst = 0.0f64;
        let mut rounding_differences = 0;
        for x in sample_f32().filter(|v| v.abs() < 700.0) {
            let (mine, reference) = (exp(x as f64), (x as f64).exp());
            if reference > 1e-300 {
                worst = worst.max((mine / reference - 1.0).abs());
            }
            rounding_differences += ulps(mine as f32, reference as f32);
        }
        assert!(worst < 1e-15, "relative error {worst}");
        assert!(rounding_differences <= 2, "{rounding_differences} f32 results differ");
    }

    #[test]
    fn exp_saturates_and_keeps_nan() {
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn erf_is_within_one_ulp_of_libm_erff_and_rounds_like_the_f64_erf() {
        let (mut worst_against_erff, mut rounding_differences, mut count) = (0, 0, 0);
        for x in sample_f32().chain((-6000..6000).map(|i| i as f32 * 1e-3)) {
            let mine = erf_f32(x);
            worst_against_erff = worst_against_erff.max(ulps(mine, libm::erff(x)));
            rounding_differences += (ulps(mine, libm::erf(x as f64) as f32) > 0) as u32;
            count += 1;
        }
        assert!(worst_against_erff <= 1, "{worst_against_erff} ulp from libm's erff");
        assert!(rounding_differences * 100_000 < count, "{rounding_differences} of {count} differ from the rounded f64 erf");
        assert!(erf_f32(f32::NAN).is_nan());
        assert_eq!((erf_f32(f32::INFINITY), erf_f32(f32::NEG_INFINITY)), (1.0, -1.0));
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn lane_sums_match_a_plain_sum_closely_and_depend_on_the_length_only() {
        let x: Vec<f32> = (0..1037).map(|i| ((i * 7919) % 1000) as f32 * 0.001 - 0.5).collect();
        let plain: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((lane_sum(&x, |v| v as f64) - plain).abs() < 1e-12);
        assert_eq!(lane_sum2(&x, &x, |a, b| a as f64 * b as f64), lane_sum(&x, |v| (v as f64) * (v as f64)));
        assert_eq!(lane_sum(&[-0.0; 11], |v| v as f64).to_bits(), (-0.0f64).to_bits());
        assert_eq!(lane_max(&x), x.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        assert_eq!(lane_max(&[]), f32::NEG_INFINITY);
    }
}
