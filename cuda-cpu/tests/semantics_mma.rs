//! `mma.sync` m16n8k16 / m16n8k8 against a plain matrix multiply: fragments are built from whole
//! matrices with the ISA's fragment-layout formulas (written out here case by case, as the ISA's
//! tables give them), the warp-level function runs, and D is gathered back the same way.

use cuda_cpu::exec::semantics::mma::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A small multiple of 1/8 in [-2, 2]: products and sums of 16 of them are exact in f32.
    fn small(&mut self) -> f32 {
        (self.next() % 33) as f32 / 8.0 - 2.0
    }
    fn uniform(&mut self) -> f32 {
        (self.next() % 1_000_001) as f32 / 500_000.0 - 1.0
    }
}

fn encode(input: MmaInput, x: f32) -> u16 {
    match input {
        MmaInput::F16 => half::f16::from_f32(x).to_bits(),
        MmaInput::BF16 => half::bf16::from_f32(x).to_bits(),
    }
}

fn decode(input: MmaInput, h: u16) -> f32 {
    match input {
        MmaInput::F16 => half::f16::from_bits(h).to_f32(),
        MmaInput::BF16 => half::bf16::from_bits(h).to_f32(),
    }
}

/// (row, col) of A's element a_i held by `lane` (ISA "Matrix fragments for mma.m16n8k16 /
/// m16n8k8 with floating point type", fragment A).
fn a_position(k16: bool, lane: usize, i: usize) -> (usize, usize) {
    let (group, tig) = (lane >> 2, lane % 4);
    let row = match i {
        0 | 1 | 4 | 5 => group,
        _ => group + 8,
    };
    let col = if i < 4 { tig * 2 + (i & 1) } else { tig * 2 + (i & 1) + 8 };
    assert!(k16 || i < 4);
    (row, col)
}

/// (row, col) of B's element b_i held by `lane` (fragment B).
fn b_position(k16: bool, lane: usize, i: usize) -> (usize, usize) {
    let (group, tig) = (lane >> 2, lane % 4);
    let row = if k16 {
        if i < 2 { tig * 2 + (i & 1) } else { tig * 2 + (i & 1) + 8 }
    } else {
        tig * 2 + i
    };
    (row, group)
}

/// (row, col) of C/D's element c_i held by `lane`.
fn c_position(lane: usize, i: usize) -> (usize, usize) {
    let (group, tig) = (lane >> 2, lane % 4);
    let row = if i < 2 { group } else { group + 8 };
    (row, tig * 2 + (i & 1))
}

struct Case {
    k: usize,
    a: Vec<[f32; 16]>, // 16 rows of k used columns
    b: Vec<[f32; 8]>,  // k rows of 8
    c: [[f32; 8]; 16],
}

fn run(case: &Case, input: MmaInput, d_type: MmaAccum, c_type: MmaAccum) -> [[f32; 8]; 16] {
    let k16 = case.k == 16;
    let shape = if k16 { MmaShape::M16N8K16 } else { MmaShape::M16N8K8 };
    let mut a = [[0u32; 4]; 32];
    let mut b = [[0u32; 2]; 32];
    let mut c = [[0u32; 4]; 32];
    for lane in 0..32 {
        for i in 0..(if k16 { 8 } else { 4 }) {
            let (r, col) = a_position(k16, lane, i);
            // Two elements per .b32 register; the lower-numbered one in the low half.
            a[lane][i / 2] |= (encode(input, case.a[r][col]) as u32) << (16 * (i % 2));
        }
        for i in 0..(if k16 { 4 } else { 2 }) {
            let (r, col) = b_position(k16, lane, i);
            b[lane][i / 2] |= (encode(input, case.b[r][col]) as u32) << (16 * (i % 2));
        }
        for i in 0..4 {
            let (r, col) = c_position(lane, i);
            match c_type {
                MmaAccum::F32 => c[lane][i] = case.c[r][col].to_bits(),
                MmaAccum::F16 => c[lane][i / 2] |= (half::f16::from_f32(case.c[r][col]).to_bits() as u32) << (16 * (i % 2)),
            }
        }
    }
    let d = mma_sync(shape, input, d_type, c_type, &a, &b, &c);
    let mut out = [[f32::NAN; 8]; 16];
    for (lane, d_regs) in d.iter().enumerate() {
        for i in 0..4 {
            let (r, col) = c_position(lane, i);
            out[r][col] = match d_type {
                MmaAccum::F32 => f32::from_bits(d_regs[i]),
                MmaAccum::F16 => half::f16::from_bits((d_regs[i / 2] >> (16 * (i % 2))) as u16).to_f32(),
            };
        }
        if d_type == MmaAccum::F16 {
            assert_eq!(d_regs[2..], [0, 0], "an f16 D uses two registers");
        }
    }
    out
}

fn reference(case: &Case, input: MmaInput) -> [[f64; 8]; 16] {
    let mut d = [[0f64; 8]; 16];
    for (r, row) in d.iter_mut().enumerate() {
        for (col, v) in row.iter_mut().enumerate() {
            let mut acc = case.c[r][col] as f64;
            for k in 0..case.k {
                let x = decode(input, encode(input, case.a[r][k])) as f64;
                let y = decode(input, encode(input, case.b[k][col])) as f64;
                acc += x * y;
            }
            *v = acc;
        }
    }
    d
}

fn random_case(rng: &mut Rng, k: usize, exact: bool) -> Case {
    let gen = |rng: &mut Rng| if exact { rng.small() } else { rng.uniform() };
    let mut a = vec![[0f32; 16]; 16];
    for row in a.iter_mut() {
        for v in row.iter_mut().take(k) {
            *v = gen(rng);
        }
    }
    let mut b = vec![[0f32; 8]; k];
    for row in b.iter_mut() {
        for v in row.iter_mut() {
            *v = gen(rng);
        }
    }
    let mut c = [[0f32; 8]; 16];
    for row in c.iter_mut() {
        for v in row.iter_mut() {
            *v = gen(rng);
        }
    }
    Case { k, a, b, c }
}

#[test]
fn fragment_layouts_give_the_plain_matrix_product_exactly() {
    let mut rng = Rng(0x51ed_2701);
    for k in [16, 8] {
        for input in [MmaInput::F16, MmaInput::BF16] {
            for _ in 0..50 {
                let case = random_case(&mut rng, k, true);
                let got = run(&case, input, MmaAccum::F32, MmaAccum::F32);
                let want = reference(&case, input);
                for r in 0..16 {
                    for col in 0..8 {
                        assert_eq!(got[r][col] as f64, want[r][col], "k{k} {input:?} D[{r}][{col}]");
                    }
                }
                if input == MmaInput::F16 {
                    // f16 accumulators: C and D packed two per register; the exact sums here
                    // (multiples of 1/64 below 2^6) are representable in f16.
                    let got = run(&case, input, MmaAccum::F16, MmaAccum::F16);
                    let got_mixed = run(&case, input, MmaAccum::F32, MmaAccum::F16);
                    for r in 0..16 {
                        for col in 0..8 {
                            let c16 = half::f16::from_f32(case.c[r][col]).to_f32() as f64;
                            let w = want[r][col] - case.c[r][col] as f64 + c16;
                            assert_eq!(got_mixed[r][col] as f64, w, "k{k} f32.f16 D[{r}][{col}]");
                            assert_eq!(got[r][col] as f64, half::f16::from_f64(w).to_f64(), "k{k} f16 D[{r}][{col}]");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn inexact_inputs_stay_within_f32_accumulation_error() {
    let mut rng = Rng(77);
    for k in [16, 8] {
        for input in [MmaInput::F16, MmaInput::BF16] {
            let case = random_case(&mut rng, k, false);
            let got = run(&case, input, MmaAccum::F32, MmaAccum::F32);
            let want = reference(&case, input);
            for r in 0..16 {
                for col in 0..8 {
                    // k + 1 roundings of partial sums bounded by (k + 1)·max|term|.
                    let bound = (k as f64 + 1.0) * (k as f64 + 1.0) * 2f64.powi(-24);
                    assert!((got[r][col] as f64 - want[r][col]).abs() <= bound, "k{k} {input:?} D[{r}][{col}]");
                }
            }
        }
    }
}

#[test]
fn one_hot_operands_locate_each_fragment_element() {
    // A = e_{r,k}, B = e_{k,c}: D has a single 1 at (r, c). Sweeps every (r, k, c).
    for k_dim in [16usize, 8] {
        for r in 0..16 {
            for k in 0..k_dim {
                let c = (r + k) % 8;
                let mut case = Case { k: k_dim, a: vec![[0.0; 16]; 16], b: vec![[0.0; 8]; k_dim], c: [[0.0; 8]; 16] };
                case.a[r][k] = 1.0;
                case.b[k][c] = 1.0;
                let d = run(&case, MmaInput::F16, MmaAccum::F32, MmaAccum::F32);
                for (rr, row) in d.iter().enumerate() {
                    for (cc, &v) in row.iter().enumerate() {
                        assert_eq!(v, if (rr, cc) == (r, c) { 1.0 } else { 0.0 }, "k{k_dim} a({r},{k}) b({k},{c}) → D({rr},{cc})");
                    }
                }
            }
        }
    }
}

#[test]
fn a_bf16_product_beyond_f32_range_is_still_fused() {
    // 2^64 · 2^64 = 2^128 overflows f32 on its own, but fused with C = −MAX it is 2^104.
    let mut case = Case { k: 16, a: vec![[0.0; 16]; 16], b: vec![[0.0; 8]; 16], c: [[0.0; 8]; 16] };
    case.a[3][5] = 2f32.powi(64);
    case.b[5][2] = 2f32.powi(64);
    case.c[3][2] = -f32::MAX;
    let d = run(&case, MmaInput::BF16, MmaAccum::F32, MmaAccum::F32);
    assert_eq!(d[3][2], 2f32.powi(104));
    assert_eq!(d[0][0], 0.0);
}
