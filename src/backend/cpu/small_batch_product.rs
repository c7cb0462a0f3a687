//! The linear layer's three products at small batches, without the gemm crate's packing.
//!
//! At a batch of 16, VGG16's classifier.0 is x[16, 25088] · Wᵀ with W [4096, 25088] (411 MB): every
//! weight is used 16 times, so the time is reading W. The gemm crate packs its larger operand
//! first (here W: read, written packed, read again), three passes over the weight where one is
//! needed; the two gradient products do the same. The two kernels below read each operand in place,
//! once:
//!
//! - **dot form**, c[i][j] = Σ_p a[i][p]·b[j][p], both operands with p contiguous (x·Wᵀ, the
//!   forward): a tile of 4 rows of a × 4 rows of b keeps 16 accumulators of 16 lanes; lane l sums
//!   p ≡ l (mod 16) in increasing p (fused multiply-adds), and the 16 lanes are added in a fixed tree;
//! - **axpy form**, c[i][·] = Σ_p a[i][p]·b[p][·], b's rows contiguous (g·W for dx with few rows of
//!   g, gᵀ·x for dW with a short batch axis p): a tile of 6 rows × 64 columns of c keeps 24
//!   accumulators; each output is one fused multiply-add chain over p in increasing order.
//!
//! Each output element's sum is thus fixed by the two operands alone (not by tiles, blocks or the
//! thread count), so results are bit-identical on any number of threads, and on AVX-512, AVX2 or
//! neither: the kernels are plain loops over 16-lane arrays with `mul_add` (one rounding, whatever
//! the vector width), compiled per instruction set like the optimisers'.
use rayon::prelude::*;

use super::matmul::Strided;

/// The small dimension (rows of c for both forms, or p for the axpy form) up to which these kernels
/// replace the packed GEMM. Above it the packed GEMM reuses each packed panel enough to win.
pub const SMALL: usize = 64;

const LANES: usize = 16;
/// Dot form: rows of a and rows of b per tile.
const DOT_ROWS: usize = 4;
const DOT_COLS: usize = 4;
/// Dot form: elements of p per pass (a's rows: 64 × 8 KB at most, kept in L2), and rows of b that
/// pass a's chunk before the next chunk is taken.
const DOT_DEPTH: usize = 2048;
const DOT_GROUP: usize = 32;
/// Axpy form: rows of c per tile, and 16-lane vectors of columns (64 columns) per tile.
const AXPY_ROWS: usize = 6;
const AXPY_VECTORS: usize = 4;
const AXPY_COLS: usize = AXPY_VECTORS * LANES;
/// Axpy form: rows of b per pass (256 rows × 64 columns = 64 KB stay in L2 across the row tiles).
const AXPY_DEPTH: usize = 256;
/// Multiply-adds below which a product runs as one task.
const PARALLEL_WORK: usize = 1 << 18;

/// Whether c = a·b (a m×k, b k×n) takes the dot form here: few rows, and p contiguous in both.
pub fn takes_dot_form(m: usize, k: usize, a: &Strided, b: &Strided) -> bool {
    m <= SMALL && k >= LANES && a.col_stride == 1 && b.row_stride == 1
}

/// Whether c = a·b takes the axpy form here: few rows or a short p, and b's rows contiguous.
pub fn takes_axpy_form(m: usize, k: usize, n: usize, b: &Strided) -> bool {
    (m <= SMALL || k <= SMALL) && n >= AXPY_COLS && b.col_stride == 1
}

/// The output's pointer, shared by tasks that write disjoint elements of it.
#[derive(Clone, Copy)]
struct Output(*mut f32);
// SAFETY: every task writes only its own column strip (dot and axpy forms alike), so no two
// threads write one element, and nothing reads c while the tasks run.
unsafe impl Send for Output {}
unsafe impl Sync for Output {}

/// c (m×n, row-major, contiguous) = a·b, dot form (see the module docs).
pub fn dot_form(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, c: &mut [f32]) {
    assert!(c.len() >= m * n);
    check(a, a_at, m, k, "a");
    check(b, b_at, k, n, "b");
    // The rows of a and of bᵀ (b's columns), read in place: no per-call list of row slices.
    let a_rows = Rows { values: a, first: a_at.offset, stride: a_at.row_stride, count: m, len: k };
    let b_rows = Rows { values: b, first: b_at.offset, stride: b_at.col_stride, count: n, len: k };
    let output = Output(c.as_mut_ptr());
    let strips = strips(m * k * n, n, DOT_COLS);
    (0..n.div_ceil(strips)).into_par_iter().for_each(|strip| {
        let columns = strip * strips..((strip + 1) * strips).min(n);
        let _ = &output;
        // SAFETY: see `Output`; the strip's elements (i, j) lie inside c (checked above).
        unsafe { dot_strip(a_rows, b_rows.range(columns.clone()), columns.start, n, output.0) };
    });
}

/// `count` rows of `len` values, row i starting at `first + i·stride` of `values` (rows of a, or
/// columns of b read as rows of bᵀ).
#[derive(Clone, Copy)]
struct Rows<'a> {
    values: &'a [f32],
    first: usize,
    stride: usize,
    count: usize,
    len: usize,
}

impl<'a> Rows<'a> {
    fn row(&self, i: usize) -> &'a [f32] {
        debug_assert!(i < self.count);
        &self.values[self.first + i * self.stride..][..self.len]
    }

    /// Rows `range` of these, renumbered from 0.
    fn range(&self, range: std::ops::Range<usize>) -> Rows<'a> {
        assert!(range.end <= self.count);
        Rows { first: self.first + range.start * self.stride, count: range.len(), ..*self }
    }
}

/// c (m×n, row-major, contiguous) = a·b, axpy form (see the module docs).
pub fn axpy_form(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, c: &mut [f32]) {
    assert!(c.len() >= m * n);
    check(a, a_at, m, k, "a");
    check(b, b_at, k, n, "b");
    let output = Output(c.as_mut_ptr());
    let strip_cols = strips(m * k * n, n, AXPY_COLS);
    (0..n.div_ceil(strip_cols)).into_par_iter().for_each(|strip| {
        let columns = strip * strip_cols..((strip + 1) * strip_cols).min(n);
        let _ = &output;
        // SAFETY: see `Output`; the strip's elements lie inside c, and a and b were checked above.
        unsafe { axpy_strip(m, k, n, a, a_at, b, b_at, columns, output.0) };
    });
}

/// Columns per task: all of them when the product is small, otherwise about eight strips per
/// thread's worth of work, in whole tiles of `unit` columns. (The result does not depend on it.)
fn strips(work: usize, n: usize, unit: usize) -> usize {
    if work < PARALLEL_WORK {
        return n;
    }
    let tasks = 8 * rayon::current_num_threads();
    n.div_ceil(tasks).div_ceil(unit) * unit
}

fn check(values: &[f32], at: Strided, rows: usize, cols: usize, operand: &str) {
    let last = at.offset + (rows - 1) * at.row_stride + (cols - 1) * at.col_stride;
    assert!(last < values.len(), "small-batch product operand {operand} ({rows}×{cols}, {at:?}) reaches index {last} of a slice of {}", values.len());
}

/// # Safety
/// c must hold m·n elements (m = a_rows.count), and no other thread may touch columns
/// first_col..first_col + b_rows.count of it.
unsafe fn dot_strip(a_rows: Rows, b_rows: Rows, first_col: usize, n: usize, c: *mut f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
            return unsafe { dot_strip_avx512(a_rows, b_rows, first_col, n, c) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return unsafe { dot_strip_avx2(a_rows, b_rows, first_col, n, c) };
        }
    }
    unsafe { dot_strip_body(a_rows, b_rows, first_col, n, c, dot_tile_portable) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn dot_strip_avx512(a_rows: Rows, b_rows: Rows, first_col: usize, n: usize, c: *mut f32) {
    unsafe { dot_strip_body(a_rows, b_rows, first_col, n, c, dot_tile_avx512) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_strip_avx2(a_rows: Rows, b_rows: Rows, first_col: usize, n: usize, c: *mut f32) {
    unsafe { dot_strip_body(a_rows, b_rows, first_col, n, c, dot_tile_portable) }
}

type DotTile = [[[f32; LANES]; DOT_COLS]; DOT_ROWS];
/// sum[r][t][l] += Σ a[r][p]·b[t][p] over p ≡ l (mod 16), for the rows' common length.
type DotTileKernel = unsafe fn([&[f32]; DOT_ROWS], [&[f32]; DOT_COLS], &mut DotTile);

/// # Safety
/// None (the portable tile is safe; the type is shared with the AVX-512 one).
unsafe fn dot_tile_portable(a: [&[f32]; DOT_ROWS], b: [&[f32]; DOT_COLS], sum: &mut DotTile) {
    dot_tile(a, b, sum)
}

/// The same tile on AVX-512 registers (16 accumulators, 8 loads per 16 multiply-adds), the short
/// last chunk through the portable tile; `_mm512_fmadd_ps` rounds as `mul_add` does.
///
/// # Safety
/// The CPU has AVX-512F; every row of a and b is as long as a[0].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_tile_avx512(a: [&[f32]; DOT_ROWS], b: [&[f32]; DOT_COLS], sum: &mut DotTile) {
    use std::arch::x86_64::*;
    let len = a[0].len();
    assert!(a.iter().all(|row| row.len() == len) && b.iter().all(|row| row.len() == len));
    let full = len - len % LANES;
    let mut sums = [[_mm512_setzero_ps(); DOT_COLS]; DOT_ROWS];
    for r in 0..DOT_ROWS {
        for t in 0..DOT_COLS {
            sums[r][t] = unsafe { _mm512_loadu_ps(sum[r][t].as_ptr()) };
        }
    }
    for p in (0..full).step_by(LANES) {
        // SAFETY: p + 16 ≤ full ≤ every row's length (asserted above).
        let a_vectors: [__m512; DOT_ROWS] = std::array::from_fn(|r| unsafe { _mm512_loadu_ps(a[r].as_ptr().add(p)) });
        let b_vectors: [__m512; DOT_COLS] = std::array::from_fn(|t| unsafe { _mm512_loadu_ps(b[t].as_ptr().add(p)) });
        for r in 0..DOT_ROWS {
            for t in 0..DOT_COLS {
                sums[r][t] = _mm512_fmadd_ps(a_vectors[r], b_vectors[t], sums[r][t]);
            }
        }
    }
    for r in 0..DOT_ROWS {
        for t in 0..DOT_COLS {
            unsafe { _mm512_storeu_ps(sum[r][t].as_mut_ptr(), sums[r][t]) };
        }
    }
    if full < len {
        dot_tile(a.map(|row| &row[full..]), b.map(|row| &row[full..]), sum);
    }
}

#[inline(always)]
unsafe fn dot_strip_body(a_rows: Rows, b_rows: Rows, first_col: usize, n: usize, c: *mut f32, tile: DotTileKernel) {
    let (m, k) = (a_rows.count, a_rows.len);
    let row_tiles = m.div_ceil(DOT_ROWS);
    // A tile past the last row or column repeats the last one (computed, not stored): each
    // output's sum depends on its own two rows only, so the repeats change nothing.
    let tile_rows = |tile: usize| -> [usize; DOT_ROWS] { std::array::from_fn(|r| (tile * DOT_ROWS + r).min(m - 1)) };
    let mut sums = DOT_SUMS.with(|kept| std::mem::take(&mut *kept.borrow_mut()));
    // Made at the most any call needs (a group's column tiles × SMALL rows' row tiles, 128 KB), so
    // a thread's accumulators never grow on a later step than its first dot-form product.
    sums.clear();
    sums.reserve(DOT_GROUP.div_ceil(DOT_COLS) * SMALL.div_ceil(DOT_ROWS));
    for group in (0..b_rows.count).step_by(DOT_GROUP) {
        let group_rows = b_rows.range(group..(group + DOT_GROUP).min(b_rows.count));
        let col_tiles = group_rows.count.div_ceil(DOT_COLS);
        sums.clear();
        sums.resize(col_tiles * row_tiles, [[[0.0; LANES]; DOT_COLS]; DOT_ROWS]);
        // Depth outermost: a's chunk (all its rows) stays in cache while the group's rows of b
        // stream past it once.
        for depth in (0..k).step_by(DOT_DEPTH) {
            let end = (depth + DOT_DEPTH).min(k);
            for col_tile in 0..col_tiles {
                let b: [&[f32]; DOT_COLS] = std::array::from_fn(|t| &group_rows.row((col_tile * DOT_COLS + t).min(group_rows.count - 1))[depth..end]);
                for row_tile in 0..row_tiles {
                    let rows = tile_rows(row_tile);
                    let a: [&[f32]; DOT_ROWS] = std::array::from_fn(|r| &a_rows.row(rows[r])[depth..end]);
                    unsafe { tile(a, b, &mut sums[col_tile * row_tiles + row_tile]) };
                }
            }
        }
        for col_tile in 0..col_tiles {
            for row_tile in 0..row_tiles {
                let sum = &sums[col_tile * row_tiles + row_tile];
                for r in 0..DOT_ROWS {
                    let i = row_tile * DOT_ROWS + r;
                    for t in 0..DOT_COLS {
                        let j = first_col + group + col_tile * DOT_COLS + t;
                        if i < m && j < first_col + b_rows.count {
                            // SAFETY: i < m, j < n, and column j is this strip's.
                            unsafe { *c.add(i * n + j) = add_lanes(&sum[r][t]) };
                        }
                    }
                }
            }
        }
    }
    DOT_SUMS.with(|kept| *kept.borrow_mut() = sums);
}

thread_local! {
    /// Each thread's tile accumulators, kept between calls: a steady training step allocates no
    /// buffers (tests/steady_state_allocations.rs).
    static DOT_SUMS: std::cell::RefCell<Vec<DotTile>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// sum[r][t][l] += Σ a[r][p]·b[t][p] over p ≡ l (mod 16), p increasing; a short last chunk is
/// zero-padded.
#[inline(always)]
fn dot_tile(a: [&[f32]; DOT_ROWS], b: [&[f32]; DOT_COLS], sum: &mut DotTile) {
    let len = a[0].len();
    let full = len - len % LANES;
    let mut acc = *sum;
    for p in (0..full).step_by(LANES) {
        let a_chunk: [&[f32; LANES]; DOT_ROWS] = std::array::from_fn(|r| a[r][p..p + LANES].try_into().unwrap());
        let b_chunk: [&[f32; LANES]; DOT_COLS] = std::array::from_fn(|t| b[t][p..p + LANES].try_into().unwrap());
        for r in 0..DOT_ROWS {
            for t in 0..DOT_COLS {
                for l in 0..LANES {
                    acc[r][t][l] = a_chunk[r][l].mul_add(b_chunk[t][l], acc[r][t][l]);
                }
            }
        }
    }
    if full < len {
        let pad = |row: &[f32]| -> [f32; LANES] { std::array::from_fn(|l| row.get(full + l).copied().unwrap_or(0.0)) };
        let (a_tail, b_tail): ([[f32; LANES]; DOT_ROWS], [[f32; LANES]; DOT_COLS]) = (std::array::from_fn(|r| pad(a[r])), std::array::from_fn(|t| pad(b[t])));
        for r in 0..DOT_ROWS {
            for t in 0..DOT_COLS {
                for l in 0..LANES {
                    acc[r][t][l] = a_tail[r][l].mul_add(b_tail[t][l], acc[r][t][l]);
                }
            }
        }
    }
    *sum = acc;
}

/// The 16 lanes added pairwise, halves first: a fixed order at every vector width.
#[inline(always)]
fn add_lanes(lanes: &[f32; LANES]) -> f32 {
    let mut v = *lanes;
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            v[l] += v[l + width];
        }
        width /= 2;
    }
    v[0]
}

/// # Safety
/// c must hold m·n elements, and no other thread may touch `columns` of it.
#[allow(clippy::too_many_arguments)]
unsafe fn axpy_strip(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, columns: std::ops::Range<usize>, c: *mut f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
            return unsafe { axpy_strip_avx512(m, k, n, a, a_at, b, b_at, columns, c) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return unsafe { axpy_strip_avx2(m, k, n, a, a_at, b, b_at, columns, c) };
        }
    }
    unsafe { axpy_strip_body(m, k, n, a, a_at, b, b_at, columns, c, axpy_tile_portable) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn axpy_strip_avx512(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, columns: std::ops::Range<usize>, c: *mut f32) {
    unsafe { axpy_strip_body(m, k, n, a, a_at, b, b_at, columns, c, axpy_tile_avx512) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn axpy_strip_avx2(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, columns: std::ops::Range<usize>, c: *mut f32) {
    unsafe { axpy_strip_body(m, k, n, a, a_at, b, b_at, columns, c, axpy_tile_portable) }
}

type AxpyTile = [[[f32; LANES]; AXPY_VECTORS]; AXPY_ROWS];
/// acc[r][·] += Σ_p a(rows[r], p)·b(p, first_col + ·) over a tile's 64 columns.
type AxpyTileKernel = unsafe fn(&mut AxpyTile, &[f32], Strided, [usize; AXPY_ROWS], &[f32], Strided, usize, std::ops::Range<usize>);

/// The portable tile: one fused multiply-add chain per output over p; a short last tile
/// (`width` < 64 columns) reads zeros past its columns.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn axpy_tile(acc: &mut AxpyTile, a: &[f32], a_at: Strided, rows: [usize; AXPY_ROWS], b: &[f32], b_at: Strided, first_col: usize, width: usize, depths: std::ops::Range<usize>) {
    for p in depths {
        let b_row = &b[b_at.offset + p * b_at.row_stride + first_col..][..width];
        let b_vectors: [[f32; LANES]; AXPY_VECTORS] = std::array::from_fn(|v| std::array::from_fn(|l| b_row.get(v * LANES + l).copied().unwrap_or(0.0)));
        let a_values: [f32; AXPY_ROWS] = std::array::from_fn(|r| a[a_at.offset + rows[r] * a_at.row_stride + p * a_at.col_stride]);
        for r in 0..AXPY_ROWS {
            for v in 0..AXPY_VECTORS {
                for l in 0..LANES {
                    acc[r][v][l] = a_values[r].mul_add(b_vectors[v][l], acc[r][v][l]);
                }
            }
        }
    }
}

/// # Safety
/// Every a(rows[r], p) and b(p, first_col..first_col + 64) for p in `depths` lies inside its slice.
#[allow(clippy::too_many_arguments)]
unsafe fn axpy_tile_portable(acc: &mut AxpyTile, a: &[f32], a_at: Strided, rows: [usize; AXPY_ROWS], b: &[f32], b_at: Strided, first_col: usize, depths: std::ops::Range<usize>) {
    axpy_tile(acc, a, a_at, rows, b, b_at, first_col, AXPY_COLS, depths)
}

/// The same tile on AVX-512 registers: 24 accumulators, 4 loads of b and 6 broadcasts of a per p.
/// `_mm512_fmadd_ps` rounds once per lane, as `mul_add`: the portable tile's bits exactly.
///
/// # Safety
/// As [`axpy_tile_portable`], on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn axpy_tile_avx512(acc: &mut AxpyTile, a: &[f32], a_at: Strided, rows: [usize; AXPY_ROWS], b: &[f32], b_at: Strided, first_col: usize, depths: std::ops::Range<usize>) {
    use std::arch::x86_64::*;
    let mut sums = [[_mm512_setzero_ps(); AXPY_VECTORS]; AXPY_ROWS];
    for r in 0..AXPY_ROWS {
        for v in 0..AXPY_VECTORS {
            sums[r][v] = unsafe { _mm512_loadu_ps(acc[r][v].as_ptr()) };
        }
    }
    let a_rows: [*const f32; AXPY_ROWS] = std::array::from_fn(|r| unsafe { a.as_ptr().add(a_at.offset + rows[r] * a_at.row_stride) });
    for p in depths {
        // SAFETY: the caller's bounds: b(p, first_col..+64) and a(rows[r], p) are in their slices.
        let b_row = unsafe { b.as_ptr().add(b_at.offset + p * b_at.row_stride + first_col) };
        let b_vectors: [__m512; AXPY_VECTORS] = std::array::from_fn(|v| unsafe { _mm512_loadu_ps(b_row.add(v * LANES)) });
        for r in 0..AXPY_ROWS {
            let a_value = _mm512_set1_ps(unsafe { *a_rows[r].add(p * a_at.col_stride) });
            for v in 0..AXPY_VECTORS {
                sums[r][v] = _mm512_fmadd_ps(a_value, b_vectors[v], sums[r][v]);
            }
        }
    }
    for r in 0..AXPY_ROWS {
        for v in 0..AXPY_VECTORS {
            unsafe { _mm512_storeu_ps(acc[r][v].as_mut_ptr(), sums[r][v]) };
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn axpy_strip_body(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided, columns: std::ops::Range<usize>, c: *mut f32, full_tile: AxpyTileKernel) {
    for first_col in columns.clone().step_by(AXPY_COLS) {
        let width = AXPY_COLS.min(columns.end - first_col);
        for depth in (0..k).step_by(AXPY_DEPTH) {
            let end = (depth + AXPY_DEPTH).min(k);
            for first_row in (0..m).step_by(AXPY_ROWS) {
                // Rows past m repeat the last row (computed, not stored).
                let rows: [usize; AXPY_ROWS] = std::array::from_fn(|r| (first_row + r).min(m - 1));
                let mut acc: AxpyTile = [[[0.0; LANES]; AXPY_VECTORS]; AXPY_ROWS];
                if depth > 0 {
                    // The chain over p continues from what the previous depth block stored.
                    for (r, &i) in rows.iter().enumerate() {
                        // SAFETY: i < m and first_col + width ≤ n: inside c, and in this strip.
                        let stored = unsafe { std::slice::from_raw_parts(c.add(i * n + first_col), width) };
                        acc[r].as_flattened_mut()[..width].copy_from_slice(stored);
                    }
                }
                if width == AXPY_COLS {
                    full_tile(&mut acc, a, a_at, rows, b, b_at, first_col, depth..end);
                } else {
                    axpy_tile(&mut acc, a, a_at, rows, b, b_at, first_col, width, depth..end);
                }
                for (r, &i) in rows.iter().enumerate().take(m - first_row) {
                    // SAFETY: as above.
                    let out = unsafe { std::slice::from_raw_parts_mut(c.add(i * n + first_col), width) };
                    out.copy_from_slice(&acc[r].as_flattened()[..width]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{axpy_form, dot_form, Strided};
    use crate::util::Rng;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..len).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    /// c = a·b in f64, element (i, p) of a and (p, j) of b read through their strides.
    fn naive(m: usize, k: usize, n: usize, a: &[f32], a_at: Strided, b: &[f32], b_at: Strided) -> Vec<f64> {
        let at = |v: &[f32], s: Strided, r: usize, c: usize| v[s.offset + r * s.row_stride + c * s.col_stride] as f64;
        (0..m * n).map(|index| (0..k).map(|p| at(a, a_at, index / n, p) * at(b, b_at, p, index % n)).sum()).collect()
    }

    fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
    }

    fn assert_close(got: &[f32], want: &[f64], k: usize, what: &str) {
        for (index, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!((g as f64 - w).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + w.abs()), "{what}: element {index}: {g} against {w}");
        }
    }

    #[test]
    fn dot_form_matches_a_naive_product_at_odd_sizes_on_any_thread_count() {
        // Rows and columns not multiples of the 4×4 tile, p not a multiple of 16 nor of the depth
        // block, a starting at an offset inside a wider buffer, b a transposed row-major view.
        for (m, k, n) in [(1, 16, 1), (3, 17, 5), (7, 2049, 37), (16, 4100, 300), (64, 33, 70)] {
            let (a_stride, a_offset) = (k + 3, 2);
            let a = random(a_offset + m * a_stride, 1);
            let b = random(n * k, 2);
            let (a_at, b_at) = (Strided::rows(a_offset, a_stride), Strided::transposed_rows(0, k));
            let product = |threads| {
                on_threads(threads, || {
                    let mut c = vec![f32::NAN; m * n];
                    dot_form(m, k, n, &a, a_at, &b, b_at, &mut c);
                    c
                })
            };
            let one = product(1);
            assert_close(&one, &naive(m, k, n, &a, a_at, &b, b_at), k, &format!("dot {m}×{k}×{n}"));
            assert_eq!(one, product(2), "dot {m}×{k}×{n}: 1 and 2 threads differ");
            assert_eq!(one, product(7), "dot {m}×{k}×{n}: 1 and 7 threads differ");
        }
    }

    #[test]
    fn axpy_form_matches_a_naive_product_at_odd_sizes_on_any_thread_count() {
        // Few rows and a long p (dx = g·W, several depth blocks), many rows and a short p
        // (dW = gᵀ·x, a a transposed view), columns not a multiple of the 64-column tile.
        for (m, k, n, a_transposed) in [(1, 1, 64, false), (5, 300, 130, false), (16, 513, 200, false), (200, 16, 97, true), (70, 64, 64, true)] {
            let a = random(m * k + 1, 3);
            let a_at = if a_transposed { Strided::transposed_rows(1, m) } else { Strided::rows(1, k) };
            let b_stride = n + 5;
            let b = random(k * b_stride, 4);
            let b_at = Strided::rows(0, b_stride);
            let product = |threads| {
                on_threads(threads, || {
                    let mut c = vec![f32::NAN; m * n];
                    axpy_form(m, k, n, &a, a_at, &b, b_at, &mut c);
                    c
                })
            };
            let one = product(1);
            assert_close(&one, &naive(m, k, n, &a, a_at, &b, b_at), k, &format!("axpy {m}×{k}×{n}"));
            assert_eq!(one, product(2), "axpy {m}×{k}×{n}: 1 and 2 threads differ");
            assert_eq!(one, product(7), "axpy {m}×{k}×{n}: 1 and 7 threads differ");
        }
    }
}
