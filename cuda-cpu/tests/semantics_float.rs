//! Float instruction semantics against values worked out from the PTX ISA: correctly rounded
//! add/sub/mul/fma in all four modes (checked against an exact big-integer oracle), the special
//! values, `.ftz`/`.sat`, division, square root, the approximate functions within the ISA's error
//! bounds, min/max NaN rules, copysign's operand order and every comparison operator.

use cuda_cpu::exec::semantics::float::*;
use cuda_cpu::exec::semantics::{setp_outputs, BoolOp, HalfType, Rounding};

const MODES: [Rounding; 4] = [Rounding::Nearest, Rounding::Zero, Rounding::Down, Rounding::Up];

fn mode(rounding: Rounding) -> FloatMode {
    FloatMode { rounding, ftz: false, sat: false }
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A finite f32 with exponent in [lo, hi] and a random sign and significand.
    fn f32_in(&mut self, lo: i32, hi: i32) -> f32 {
        let r = self.next();
        let exp = lo + (r % (hi - lo + 1) as u64) as i32;
        let frac = ((r >> 8) as u32) & 0x7f_ffff;
        let sign = ((r >> 40) as u32 & 1) << 31;
        f32::from_bits(sign | (((exp + 127) as u32) << 23) | frac)
    }
}

/// An exact value m·2^e with m an i128.
#[derive(Clone, Copy, Debug)]
struct Exact {
    m: i128,
    e: i32,
}

fn exact_f32(x: f32) -> Exact {
    let bits = x.to_bits();
    let field = ((bits >> 23) & 0xff) as i32;
    let frac = (bits & 0x7f_ffff) as i128;
    let (m, e) = if field == 0 { (frac, -149) } else { (frac | 1 << 23, field - 150) };
    Exact { m: if bits >> 31 != 0 { -m } else { m }, e }
}

/// x·y exactly (i128 is wide enough for two f32 significands).
fn exact_mul(x: Exact, y: Exact) -> Exact {
    Exact { m: x.m * y.m, e: x.e + y.e }
}

/// x + y exactly, or None when the aligned sum would not fit in 125 bits.
fn exact_add(x: Exact, y: Exact) -> Option<Exact> {
    let e = x.e.min(y.e);
    let shift = |v: Exact| -> Option<i128> {
        let s = (v.e - e) as u32;
        let bits = 128 - v.m.unsigned_abs().leading_zeros();
        if v.m == 0 { Some(0) } else if bits + s > 125 { None } else { Some(v.m << s) }
    };
    Some(Exact { m: shift(x)? + shift(y)?, e })
}

/// Compares exact values: a vs b.
fn cmp_exact(a: Exact, b: Exact) -> std::cmp::Ordering {
    match exact_add(a, Exact { m: -b.m, e: b.e }) {
        Some(d) => d.m.cmp(&0),
        // Too far apart to align in an i128: then their f64 approximations decide.
        None => {
            let approx = |v: Exact| v.m as f64 * 2f64.powi(v.e);
            approx(a).partial_cmp(&approx(b)).unwrap()
        }
    }
}

/// The f32 result of rounding `v` in `mode`, found by walking the f32 neighbours of v.
fn oracle_round(v: Exact, mode: Rounding) -> f32 {
    if v.m == 0 {
        return 0.0;
    }
    let approx = v.m as f64 * 2f64.powi(v.e);
    let mut lo = approx as f32;
    // lo := the largest f32 ≤ v (±max-finite bounds handled by the callers' ranges).
    while lo.is_infinite() || cmp_exact(exact_f32(lo), v).is_gt() {
        lo = if lo.is_infinite() && lo > 0.0 { f32::MAX } else { lo.next_down() };
    }
    while cmp_exact(exact_f32(lo.next_up()), v).is_le() {
        lo = lo.next_up();
    }
    let hi = lo.next_up();
    if cmp_exact(exact_f32(lo), v).is_eq() {
        return lo;
    }
    let negative = v.m < 0;
    match mode {
        Rounding::Down => lo,
        Rounding::Up => hi,
        Rounding::Zero => if negative { hi } else { lo },
        Rounding::Nearest => {
            // Compare 2v with lo + hi.
            let twice = Exact { m: v.m, e: v.e + 1 };
            let sum = exact_add(exact_f32(lo), exact_f32(hi)).unwrap();
            match cmp_exact(twice, sum) {
                std::cmp::Ordering::Less => lo,
                std::cmp::Ordering::Greater => hi,
                std::cmp::Ordering::Equal => if lo.to_bits() & 1 == 0 { lo } else { hi },
            }
        }
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn add_sub_mul_fma_are_correctly_rounded_in_every_mode() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut checked = 0;
    for _ in 0..40_000 {
        // Exponents spread so that some sums cancel, some operands are far apart, and some
        // results are subnormal.
        let a = rng.f32_in(-126, 40);
        let b = if rng.next().is_multiple_of(4) { -a * (1.0 + rng.f32_in(-30, -1).abs()) } else { rng.f32_in(-126, 40) };
        let c = rng.f32_in(-126, 60);
        for &m in &MODES {
            if let Some(sum) = exact_add(exact_f32(a), exact_f32(b)) {
                if sum.m != 0 {
                    let want = oracle_round(sum, m);
                    assert!(same(add_f32(a, b, mode(m)), want), "add {a:e} {b:e} {m:?}: {} want {}", add_f32(a, b, mode(m)), want);
                    let nb = -b;
                    assert!(same(sub_f32(a, nb, mode(m)), want), "sub {a:e} {nb:e} {m:?}");
                    checked += 1;
                }
            }
            let p = exact_mul(exact_f32(a), exact_f32(b));
            let scaled = p.m as f64 * 2f64.powi(p.e);
            if scaled.abs() < 3.0e38 {
                assert!(same(mul_f32(a, b, mode(m)), oracle_round(p, m)), "mul {a:e} {b:e} {m:?}");
            }
            if let Some(f) = exact_add(p, exact_f32(c)) {
                let scaled = f.m as f64 * 2f64.powi(f.e);
                if f.m != 0 && scaled.abs() < 3.0e38 {
                    assert!(same(fma_f32(a, b, c, mode(m)), oracle_round(f, m)), "fma {a:e} {b:e} {c:e} {m:?}");
                }
            }
        }
    }
    assert!(checked > 100_000, "only {checked} sums checked");
}

#[test]
fn hand_worked_rounding_cases() {
    let one = 1.0f32;
    let half_ulp = 2f32.powi(-24); // 1 + 2^-24 is the midpoint between 1 and 1 + 2^-23
    assert_eq!(add_f32(one, half_ulp, mode(Rounding::Nearest)), 1.0); // tie to even
    assert_eq!(add_f32(one, half_ulp, mode(Rounding::Up)), 1.0 + 2f32.powi(-23));
    assert_eq!(add_f32(one, half_ulp, mode(Rounding::Zero)), 1.0);
    assert_eq!(add_f32(-one, -half_ulp, mode(Rounding::Down)), -(1.0 + 2f32.powi(-23)));
    assert_eq!(add_f32(-one, -half_ulp, mode(Rounding::Zero)), -1.0);
    let odd = 1.0 + 2f32.powi(-23);
    assert_eq!(add_f32(odd, half_ulp, mode(Rounding::Nearest)), 1.0 + 2f32.powi(-22)); // tie to even, up
    // A far smaller addend still moves a directed result by one ulp.
    assert_eq!(add_f32(one, 1e-30, mode(Rounding::Up)), 1.0 + 2f32.powi(-23));
    assert_eq!(add_f32(one, -1e-30, mode(Rounding::Zero)), 1.0f32.next_down());
    // fma rounds once: (1 + 2^-12)² = 1 + 2^-11 + 2^-24 is a tie under mul, but fma with
    // c = -1 is exact.
    let x = 1.0 + 2f32.powi(-12);
    assert_eq!(mul_f32(x, x, mode(Rounding::Nearest)), 1.0 + 2f32.powi(-11));
    assert_eq!(fma_f32(x, x, -1.0, mode(Rounding::Nearest)), 2f32.powi(-11) + 2f32.powi(-24));
    // x² is an f32 midpoint; a far smaller c decides which way it rounds (a double-rounding trap
    // for any fma computed as f64 then rounded to f32).
    let mid = 1.0 + 2f32.powi(-11);
    assert_eq!(fma_f32(x, x, 2f32.powi(-60), mode(Rounding::Nearest)), mid + 2f32.powi(-23));
    assert_eq!(fma_f32(x, x, -(2f32.powi(-60)), mode(Rounding::Nearest)), mid);
    assert_eq!(fma_f32(x, x, 0.0, mode(Rounding::Nearest)), mid); // the exact tie goes to even
    assert_eq!(fma_f32(-x, x, 2f32.powi(-60), mode(Rounding::Nearest)), -mid);
    // Overflow: to ∞ in .rn/.rp, to max-finite in .rz/.rm (positive).
    assert_eq!(mul_f32(f32::MAX, 2.0, mode(Rounding::Nearest)), f32::INFINITY);
    assert_eq!(mul_f32(f32::MAX, 2.0, mode(Rounding::Zero)), f32::MAX);
    assert_eq!(mul_f32(f32::MAX, 2.0, mode(Rounding::Down)), f32::MAX);
    assert_eq!(mul_f32(-f32::MAX, 2.0, mode(Rounding::Up)), -f32::MAX);
    assert_eq!(mul_f32(-f32::MAX, 2.0, mode(Rounding::Down)), f32::NEG_INFINITY);
    // Underflow into subnormals and to zero.
    let tiny = f32::from_bits(1); // 2^-149
    assert_eq!(mul_f32(tiny, 0.5, mode(Rounding::Nearest)).to_bits(), 0); // tie to even (0)
    assert_eq!(mul_f32(tiny, 0.75, mode(Rounding::Nearest)).to_bits(), 1);
    assert_eq!(mul_f32(tiny, 0.25, mode(Rounding::Up)).to_bits(), 1);
    assert_eq!(mul_f32(-tiny, 0.25, mode(Rounding::Down)).to_bits(), 0x8000_0001);
    assert_eq!(mul_f32(-tiny, 0.25, mode(Rounding::Nearest)).to_bits(), 0x8000_0000);
}

#[test]
fn signed_zeros_nan_and_infinities() {
    let rn = mode(Rounding::Nearest);
    assert_eq!(add_f32(3.0, -3.0, rn).to_bits(), 0); // +0
    assert_eq!(add_f32(3.0, -3.0, mode(Rounding::Down)).to_bits(), 0x8000_0000); // −0 in .rm
    assert_eq!(add_f32(-0.0, -0.0, rn).to_bits(), 0x8000_0000);
    assert_eq!(add_f32(-0.0, 0.0, rn).to_bits(), 0);
    assert_eq!(sub_f32(-0.0, 0.0, rn).to_bits(), 0x8000_0000);
    assert_eq!(mul_f32(-0.0, 5.0, rn).to_bits(), 0x8000_0000);
    assert_eq!(fma_f32(-0.0, 5.0, -0.0, rn).to_bits(), 0x8000_0000);
    assert_eq!(fma_f32(2.0, 3.0, -6.0, mode(Rounding::Down)).to_bits(), 0x8000_0000);
    assert_eq!(add_f32(f32::INFINITY, -f32::INFINITY, rn).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(mul_f32(0.0, f32::INFINITY, rn).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(fma_f32(f32::INFINITY, 1.0, f32::NEG_INFINITY, rn).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(add_f32(f32::from_bits(0x7fc0_1234), 1.0, rn).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(add_f32(f32::INFINITY, 1e30, rn), f32::INFINITY);
    assert_eq!(fma_f32(1e30, 1e30, 1.0, mode(Rounding::Zero)), f32::MAX);
}

#[test]
fn ftz_flushes_inputs_and_results_keeping_the_sign_and_sat_clamps() {
    let sub = f32::from_bits(0x0040_0000); // 2^-127, subnormal
    let ftz = FloatMode { rounding: Rounding::Nearest, ftz: true, sat: false };
    assert_eq!(add_f32(sub, sub, mode(Rounding::Nearest)), 2f32.powi(-126));
    assert_eq!(add_f32(sub, sub, ftz).to_bits(), 0);
    assert_eq!(add_f32(-sub, -sub, ftz).to_bits(), 0x8000_0000);
    assert_eq!(mul_f32(sub, 4.0, ftz).to_bits(), 0); // the input is flushed first
    // A normal·normal product with a subnormal result is flushed, sign kept.
    assert_eq!(mul_f32(2f32.powi(-100), -2f32.powi(-30), mode(Rounding::Nearest)), -f32::from_bits(0x0008_0000)); // -2^-130 (powi(-130) underflows through 1/2^130 = 1/inf)
    assert_eq!(mul_f32(2f32.powi(-100), -2f32.powi(-30), ftz).to_bits(), 0x8000_0000);
    assert_eq!(fma_f32(sub, 1.0, 1.0, ftz), 1.0);
    let sat = FloatMode { rounding: Rounding::Nearest, ftz: false, sat: true };
    assert_eq!(add_f32(0.7, 0.6, sat), 1.0);
    assert_eq!(add_f32(-0.7, 0.2, sat).to_bits(), 0);
    assert_eq!(mul_f32(-0.0, 1.0, sat).to_bits(), 0);
    assert_eq!(add_f32(f32::INFINITY, -f32::INFINITY, sat).to_bits(), 0); // NaN → +0
    assert_eq!(fma_f32(0.25, 2.0, 0.125, sat), 0.625);
    assert_eq!(flush_f32_public(sub), 0.0);
}

fn flush_f32_public(x: f32) -> f32 {
    abs_f32(x, true)
}

#[test]
fn division_reciprocal_and_sqrt() {
    let mut rng = Rng(99);
    for _ in 0..20_000 {
        let a = rng.f32_in(-100, 100);
        let b = rng.f32_in(-100, 100);
        let q = a as f64 / b as f64;
        // .rn agrees with the exact quotient rounded once; the directed results bracket it.
        let rn = div_f32(a, b, DivKind::Rounded(Rounding::Nearest), false);
        let down = div_f32(a, b, DivKind::Rounded(Rounding::Down), false);
        let up = div_f32(a, b, DivKind::Rounded(Rounding::Up), false);
        let zero = div_f32(a, b, DivKind::Rounded(Rounding::Zero), false);
        assert_eq!(rn, q as f32);
        // Exact check of the bracket: down·b ≤ a ≤ up·b in exact arithmetic (sign of b aware).
        let (lo, hi) = if b > 0.0 { (down, up) } else { (up, down) };
        assert!((lo as f64 * b as f64) <= a as f64 && (hi as f64 * b as f64) >= a as f64, "{a} / {b}");
        if down != up {
            assert_eq!(down.next_up(), up, "{a} / {b}");
        }
        assert_eq!(zero, if q > 0.0 { down } else { up });
        assert_eq!(div_f32(a, b, DivKind::Full, false), rn);
        let approx = div_f32(a, b, DivKind::Approx, false);
        let normal = q.abs() < f32::MAX as f64 && q.abs() > 2f64.powi(-126);
        assert!(!normal || ((approx as f64 - q) / q).abs() <= 2.0 * 2f64.powi(-23), "div.approx {a} / {b}"); // 2 ulp
        let s = a.abs();
        let root = sqrt_f32(s, ApproxOr::Rounded(Rounding::Nearest), false);
        assert_eq!(root, (s as f64).sqrt() as f32);
        let r_down = sqrt_f32(s, ApproxOr::Rounded(Rounding::Down), false);
        let r_up = sqrt_f32(s, ApproxOr::Rounded(Rounding::Up), false);
        assert!((r_down as f64).powi(2) <= s as f64 && (r_up as f64).powi(2) >= s as f64);
        assert_eq!(rcp_f32(b, ApproxOr::Rounded(Rounding::Nearest), false), (1.0 / b as f64) as f32);
    }
    assert_eq!(div_f32(1.0, 0.0, DivKind::Rounded(Rounding::Nearest), false), f32::INFINITY);
    assert_eq!(div_f32(-1.0, 0.0, DivKind::Full, false), f32::NEG_INFINITY);
    assert_eq!(div_f32(0.0, 0.0, DivKind::Rounded(Rounding::Nearest), false).to_bits(), CANONICAL_NAN_F32);
    // div.approx: for 2^126 < |b| < 2^128 the result is 0, or NaN when a is infinite.
    assert_eq!(div_f32(1.0, 2f32.powi(127), DivKind::Approx, false), 0.0);
    assert!(div_f32(f32::INFINITY, 2f32.powi(127), DivKind::Approx, false).is_nan());
    assert_eq!(div_f32(1.0, 2f32.powi(127), DivKind::Full, false), 2f32.powi(-127));
    let sub = f32::from_bits(0x0000_1000);
    assert_eq!(rcp_f32(sub, ApproxOr::Approx, true), f32::INFINITY); // flushed to +0
    assert_eq!(rcp_f32(-0.0, ApproxOr::Approx, false), f32::NEG_INFINITY);
    assert_eq!(rcp_f32(f32::INFINITY, ApproxOr::Rounded(Rounding::Nearest), false), 0.0);
    assert_eq!(sqrt_f32(-0.0, ApproxOr::Approx, false).to_bits(), 0x8000_0000);
    assert!(sqrt_f32(-1.0, ApproxOr::Rounded(Rounding::Nearest), false).is_nan());
    assert_eq!(sqrt_f32(f32::INFINITY, ApproxOr::Approx, false), f32::INFINITY);
    assert_eq!(sqrt_f32(2.0, ApproxOr::Rounded(Rounding::Zero), false), 2f32.sqrt().min(2f32.sqrt().next_down().next_up()));
    assert_eq!(div_rn_f64(1.0, 3.0), 1.0 / 3.0);
    assert_eq!(sqrt_rn_f64(2.0), 2f64.sqrt());
    assert_eq!(rcp_rn_f64(4.0), 0.25);
}

/// Samples every 97th f32 in [lo, hi] (both signs when asked) for the approximate functions.
fn samples(lo: f32, hi: f32) -> impl Iterator<Item = f32> {
    let (a, b) = (lo.to_bits(), hi.to_bits());
    (a..=b).step_by(9973).map(f32::from_bits)
}

#[test]
fn approximate_functions_are_within_the_isa_error_bounds() {
    for x in samples(1e-6, 120.0).flat_map(|x| [x, -x]) {
        let e = ex2_approx_f32(x, false) as f64;
        let want = (x as f64).exp2();
        if want > 1e-37 && want < 3e38 {
            assert!(((e - want) / want).abs() <= 2f64.powi(-22), "ex2 {x}");
        }
    }
    for x in samples(1e-30, 3e38) {
        let l = lg2_approx_f32(x, false) as f64;
        assert!((l - (x as f64).log2()).abs() <= 2f64.powi(-22) * (x as f64).log2().abs().max(1.0), "lg2 {x}");
        let r = rsqrt_approx_f32(x, false) as f64;
        let want = 1.0 / (x as f64).sqrt();
        assert!(((r - want) / want).abs() <= 2f64.powi(-22), "rsqrt {x}");
    }
    for x in samples(1e-6, 100.0 * std::f32::consts::PI).flat_map(|x| [x, -x]) {
        assert!((sin_approx_f32(x, false) as f64 - (x as f64).sin()).abs() <= 2f64.powi(-20), "sin {x}");
        assert!((cos_approx_f32(x, false) as f64 - (x as f64).cos()).abs() <= 2f64.powi(-20), "cos {x}");
    }
    for x in samples(1e-30, 50.0).flat_map(|x| [x, -x]) {
        let t = tanh_approx_f32(x) as f64;
        let want = (x as f64).tanh();
        assert!(((t - want) / want).abs() <= 2f64.powi(-11), "tanh {x}");
    }
    // Special values from the ISA's tables.
    assert_eq!(ex2_approx_f32(f32::NEG_INFINITY, false), 0.0);
    assert_eq!(ex2_approx_f32(f32::INFINITY, true), f32::INFINITY);
    assert_eq!(ex2_approx_f32(-0.0, true), 1.0);
    assert_eq!(ex2_approx_f32(f32::from_bits(0x8000_0001), true), 1.0);
    assert_eq!(ex2_approx_f32(-140.0, true).to_bits(), 0); // subnormal result flushed
    assert!(ex2_approx_f32(-140.0, false) > 0.0);
    assert_eq!(lg2_approx_f32(0.0, false), f32::NEG_INFINITY);
    assert_eq!(lg2_approx_f32(f32::from_bits(1), true), f32::NEG_INFINITY);
    assert!(lg2_approx_f32(-1.0, false).is_nan());
    assert_eq!(lg2_approx_f32(f32::INFINITY, false), f32::INFINITY);
    assert_eq!(rsqrt_approx_f32(0.0, false), f32::INFINITY);
    assert_eq!(rsqrt_approx_f32(-0.0, false), f32::NEG_INFINITY);
    assert_eq!(rsqrt_approx_f32(f32::INFINITY, false), 0.0);
    assert!(rsqrt_approx_f32(-4.0, false).is_nan());
    assert!(sin_approx_f32(f32::INFINITY, false).is_nan());
    assert_eq!(sin_approx_f32(-0.0, false).to_bits(), 0x8000_0000);
    assert_eq!(tanh_approx_f32(f32::INFINITY), 1.0);
    assert_eq!(tanh_approx_f32(f32::NEG_INFINITY), -1.0);
    assert_eq!(tanh_approx_f32(-0.0).to_bits(), 0x8000_0000);
}

#[test]
fn min_max_follow_ptx_nan_and_zero_rules() {
    let plain = MinMaxMode::default();
    let nan_mode = MinMaxMode { ftz: false, nan: true };
    let nan = f32::NAN;
    assert_eq!(min_f32(nan, 2.0, plain), 2.0);
    assert_eq!(max_f32(2.0, nan, plain), 2.0);
    assert_eq!(min_f32(nan, nan, plain).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(min_f32(nan, 2.0, nan_mode).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(max_f32(2.0, nan, nan_mode).to_bits(), CANONICAL_NAN_F32);
    assert_eq!(min_f32(-0.0, 0.0, plain).to_bits(), 0x8000_0000);
    assert_eq!(min_f32(0.0, -0.0, plain).to_bits(), 0x8000_0000);
    assert_eq!(max_f32(-0.0, 0.0, plain).to_bits(), 0);
    assert_eq!(max_f32(0.0, -0.0, plain).to_bits(), 0);
    assert_eq!(min_f32(-3.0, 2.0, plain), -3.0);
    assert_eq!(max_f32(-3.0, f32::INFINITY, plain), f32::INFINITY);
    let sub = f32::from_bits(5);
    assert_eq!(max_f32(sub, 0.0, MinMaxMode { ftz: true, nan: false }).to_bits(), 0);
    assert_eq!(max_f32(sub, 0.0, plain), sub);
    assert_eq!(min_f64(f64::NAN, 1.0), 1.0);
    assert_eq!(max_f64(-1.0, -2.0), -1.0);
}

#[test]
fn abs_neg_copysign() {
    assert_eq!(abs_f32(-2.5, false), 2.5);
    assert_eq!(abs_f32(-0.0, false).to_bits(), 0);
    assert_eq!(neg_f32(0.0, false).to_bits(), 0x8000_0000);
    assert_eq!(neg_f32(f32::from_bits(0x8000_0003), true).to_bits(), 0); // −sub → flushed −0 → +0
    assert_eq!(neg_f32(f32::NEG_INFINITY, false), f32::INFINITY);
    // copysign.f32 d, a, b: the sign comes from a, the magnitude from b.
    assert_eq!(copysign_f32(-1.0, 2.0), -2.0);
    assert_eq!(copysign_f32(2.0, -3.0), 3.0);
    assert_eq!(copysign_f32(-0.0, 7.0), -7.0);
    assert_eq!(copysign_f64(1.0, -9.0), 9.0);
}

#[test]
fn every_comparison_operator_with_nan() {
    use FloatCmp::*;
    // (op, 1<2, 2<1, 1==1, with NaN)
    let table = [
        (Eq, false, false, true, false),
        (Ne, true, true, false, false),
        (Lt, true, false, false, false),
        (Le, true, false, true, false),
        (Gt, false, true, false, false),
        (Ge, false, true, true, false),
        (Equ, false, false, true, true),
        (Neu, true, true, false, true),
        (Ltu, true, false, false, true),
        (Leu, true, false, true, true),
        (Gtu, false, true, false, true),
        (Geu, false, true, true, true),
        (Num, true, true, true, false),
        (Nan, false, false, false, true),
    ];
    for (op, lt, gt, eq, nan) in table {
        assert_eq!(compare_f32(op, 1.0, 2.0, false), lt, "{op:?} 1 2");
        assert_eq!(compare_f32(op, 2.0, 1.0, false), gt, "{op:?} 2 1");
        assert_eq!(compare_f32(op, 1.0, 1.0, false), eq, "{op:?} 1 1");
        assert_eq!(compare_f32(op, f32::NAN, 1.0, false), nan, "{op:?} NaN 1");
        assert_eq!(compare_f32(op, 1.0, f32::NAN, false), nan, "{op:?} 1 NaN");
        assert_eq!(compare_f64(op, 1.0, 2.0), lt);
        assert_eq!(compare_f64(op, f64::NAN, f64::NAN), nan);
    }
    assert!(compare_f32(Eq, -0.0, 0.0, false));
    let sub = f32::from_bits(1);
    assert!(!compare_f32(Eq, sub, 0.0, false));
    assert!(compare_f32(Eq, sub, 0.0, true));
    assert!(compare_f32(Lt, f32::NEG_INFINITY, -f32::MAX, false));
    // setp's two outputs with a BoolOp.
    assert_eq!(setp_outputs(true, None, false), (true, false));
    assert_eq!(setp_outputs(true, Some(BoolOp::And), false), (false, false));
    assert_eq!(setp_outputs(false, Some(BoolOp::Or), false), (false, true));
    assert_eq!(setp_outputs(true, Some(BoolOp::Xor), true), (false, true));
}

#[test]
fn testp_classes() {
    assert!(testp_f32(TestpOp::Subnormal, f32::from_bits(1)));
    assert!(!testp_f32(TestpOp::Normal, 0.0));
    assert!(testp_f32(TestpOp::Infinite, f32::NEG_INFINITY));
    assert!(testp_f32(TestpOp::NotANumber, f32::NAN));
    assert!(!testp_f64(TestpOp::Finite, f64::NAN));
}

#[test]
fn f64_directed_add_and_mul() {
    let one = 1.0f64;
    let tiny = 2f64.powi(-60);
    assert_eq!(add_f64(one, tiny, Rounding::Nearest), 1.0);
    assert_eq!(add_f64(one, tiny, Rounding::Up), 1.0f64.next_up());
    assert_eq!(add_f64(one, -tiny, Rounding::Zero), 1.0f64.next_down());
    assert_eq!(sub_f64(one, tiny, Rounding::Down), 1.0f64.next_down());
    assert_eq!(add_f64(f64::MAX, f64::MAX, Rounding::Zero), f64::MAX);
    assert_eq!(add_f64(2.0, -2.0, Rounding::Down).to_bits(), 0x8000_0000_0000_0000);
    let x = 1.0 + 2f64.powi(-30);
    assert_eq!(mul_f64(x, x, Rounding::Nearest), 1.0 + 2f64.powi(-29));
    assert_eq!(mul_f64(x, x, Rounding::Up), (1.0 + 2f64.powi(-29)).next_up());
    assert_eq!(mul_f64(-x, x, Rounding::Zero), -(1.0 + 2f64.powi(-29)));
    // Products in the subnormal range: 2^-1074 · 0.75 rounds up to 2^-1074, ·0.25 only in .rp.
    let min = f64::from_bits(1);
    assert_eq!(mul_f64(min, 0.25, Rounding::Up).to_bits(), 1);
    assert_eq!(mul_f64(min, 0.25, Rounding::Nearest).to_bits(), 0);
    assert_eq!(mul_f64(-min, 0.25, Rounding::Down).to_bits(), 0x8000_0000_0000_0001);
    assert_eq!(mul_f64(3.0 * min, 0.5, Rounding::Zero).to_bits(), 1);
    assert_eq!(fma_rn_f64(x, x, -1.0), 2f64.powi(-29) + 2f64.powi(-60));
}

#[test]
fn f16_and_bf16_arithmetic_round_once_to_nearest() {
    let rn = FloatMode::RN;
    let mut rng = Rng(7);
    for _ in 0..50_000 {
        let r = rng.next();
        let (a, b) = (r as u16 & 0x7fff | (r >> 20) as u16 & 0x8000, (r >> 32) as u16);
        let (x, y) = (half::f16::from_bits(a), half::f16::from_bits(b));
        if x.is_nan() || y.is_nan() {
            continue;
        }
        // f16 sums and products are exact in f64, so rounding the f64 result once is the answer.
        let want = half::f16::from_f64(x.to_f64() + y.to_f64());
        let got = half::f16::from_bits(add_half(HalfType::F16, a, b, rn));
        assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()) || (want.to_f64() == 0.0 && got.to_f64() == 0.0), "f16 {x} + {y}: {got} want {want}");
        let want = half::f16::from_f64(x.to_f64() * y.to_f64());
        let got = half::f16::from_bits(mul_half(HalfType::F16, a, b, rn));
        assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "f16 {x} * {y}: {got} want {want}");
        // bf16 in a moderate range, where the f64 sum is exact.
        let (p, q) = (0x3000 | (a & 0x8fff), 0x3000 | (b & 0x8fff));
        let (u, v) = (half::bf16::from_bits(p), half::bf16::from_bits(q));
        let want = half::bf16::from_f64(u.to_f64() + v.to_f64());
        let got = half::bf16::from_bits(add_half(HalfType::BF16, p, q, rn));
        assert!(got.to_bits() == want.to_bits() || (want.to_f64() == 0.0 && got.to_f64() == 0.0), "bf16 {u} + {v}: {got} want {want}");
    }
    // Hand-worked: 1 + 1 = 2; 2048 + 1 = 2048 in f16 (tie to even, spacing 2); 2048 + 3 = 2052.
    assert_eq!(add_half(HalfType::F16, 0x3c00, 0x3c00, rn), 0x4000);
    assert_eq!(add_half(HalfType::F16, 0x6800, 0x3c00, rn), 0x6800);
    assert_eq!(add_half(HalfType::F16, 0x6800, 0x4200, rn), 0x6802); // 2051: tie → 2052
    assert_eq!(sub_half(HalfType::F16, 0x3c00, 0x3c00, rn), 0x0000);
    // (1 + 2^-10)² − 1 = 2^-9·(1 + 2^-11): a tie between 2^-9 and 2^-9·(1 + 2^-10) → 2^-9.
    let one_plus = 0x3c01u16; // 1 + 2^-10
    assert_eq!(fma_half(HalfType::F16, one_plus, one_plus, 0xbc00, rn), 0x1800);
    // (1 + 2^-10)² − (1 + 2^-9) = 2^-20 exactly: only a single rounding keeps it.
    assert_eq!(fma_half(HalfType::F16, one_plus, one_plus, 0xbc02, rn), half::f16::from_f64(2f64.powi(-20)).to_bits());
    assert_eq!(sub_half(HalfType::F16, mul_half(HalfType::F16, one_plus, one_plus, rn), 0x3c02, rn), 0x0000);
    assert_eq!(mul_half(HalfType::F16, 0x7bff, 0x4000, rn), 0x7c00); // overflow → ∞
    let sat = FloatMode { rounding: Rounding::Nearest, ftz: false, sat: true };
    assert_eq!(add_half(HalfType::F16, 0x3c00, 0x3c00, sat), 0x3c00);
    assert_eq!(min_half(HalfType::F16, 0x7e00, 0x3c00, MinMaxMode::default()), 0x3c00);
    assert_eq!(max_half(HalfType::BF16, 0x8000, 0x0000, MinMaxMode::default()), 0x0000);
    assert_eq!(packed2(0x4000_3c00, 0x3c00_3c00, |x, y| add_half(HalfType::F16, x, y, rn)), 0x4200_4000);
}
