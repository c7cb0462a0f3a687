//! The LSTM recurrence's per-step products, c[rows, N] = a[rows, K]·b[K, N] with rows ≤ 16 and b a
//! row-major weight matrix that stays the same for every step (W_hhᵀ forward, W_hh backward).
//! A general GEMM packs b again on every call (and allocates its packing buffer): 64 KB of W_hh
//! copied 64 times per layer and direction, as much work as the multiply itself at these sizes.
//! Here b is read in place, row by row, and the accumulators live in registers.
//!
//! Every output element is Σ_k a[i, k]·b[k, j] accumulated from 0 in ascending k with fused
//! multiply-adds (`f32::mul_add`, exactly rounded on every CPU), whatever the vector width or
//! whether the element falls in a full register tile or an edge: the same bits on every machine
//! and for every split of the batch.

/// Rows of a register tile (each row's accumulators are TILE_COLUMNS wide).
const TILE_ROWS: usize = 4;

/// Where the rows of `a`, `b` or `c` lie in their slice: row i starts at `offset + i·stride`.
#[derive(Clone, Copy, Debug)]
pub struct Rows {
    pub offset: usize,
    pub stride: usize,
}

/// How the product lands in c: replacing it, or added to what c holds (c + a·b, the sum added last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Replace,
    Accumulate,
}

/// c[i, :] (=|+=) a[i, :]·b for i < rows; a rows hold k values, b is [k, n] (its k rows n values
/// each), c rows n.
#[allow(clippy::too_many_arguments)]
pub fn product(rows: usize, k: usize, n: usize, a: &[f32], a_rows: Rows, b: &[f32], b_rows: Rows, c: &mut [f32], c_rows: Rows, output: Output) {
    if rows == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if output == Output::Replace {
            (0..rows).for_each(|i| c[c_rows.offset + i * c_rows.stride..][..n].fill(0.0));
        }
        return;
    }
    assert!(b_rows.offset + (k - 1) * b_rows.stride + n <= b.len(), "b's {k} rows of {n} reach past its {} values", b.len());
    assert!(a_rows.offset + (rows - 1) * a_rows.stride + k <= a.len(), "a's {rows} rows of {k} reach past its {} values", a.len());
    assert!(c_rows.offset + (rows - 1) * c_rows.stride + n <= c.len(), "c's {rows} rows of {n} reach past its {} values", c.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the instructions the function is compiled for.
            return unsafe { product_avx512(rows, k, n, a, a_rows, b, b_rows, c, c_rows, output) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { product_avx2(rows, k, n, a, a_rows, b, b_rows, c, c_rows, output) };
        }
    }
    product_body::<16>(rows, k, n, a, a_rows, b, b_rows, c, c_rows, output)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn product_avx512(rows: usize, k: usize, n: usize, a: &[f32], a_rows: Rows, b: &[f32], b_rows: Rows, c: &mut [f32], c_rows: Rows, output: Output) {
    // 4 rows × 64 columns: 16 zmm accumulators.
    product_body::<64>(rows, k, n, a, a_rows, b, b_rows, c, c_rows, output)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn product_avx2(rows: usize, k: usize, n: usize, a: &[f32], a_rows: Rows, b: &[f32], b_rows: Rows, c: &mut [f32], c_rows: Rows, output: Output) {
    // 4 rows × 24 columns: 12 ymm accumulators, room left for b and the broadcasts.
    product_body::<24>(rows, k, n, a, a_rows, b, b_rows, c, c_rows, output)
}

#[inline(always)]
fn store(c: &mut [f32], values: &[f32], output: Output) {
    match output {
        Output::Replace => c.copy_from_slice(values),
        Output::Accumulate => c.iter_mut().zip(values).for_each(|(c, &v)| *c += v),
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn product_body<const TILE_COLUMNS: usize>(rows: usize, k: usize, n: usize, a: &[f32], a_rows: Rows, b: &[f32], b_rows: Rows, c: &mut [f32], c_rows: Rows, output: Output) {
    let a_row = |i: usize| &a[a_rows.offset + i * a_rows.stride..][..k];
    let full_columns = n - n % TILE_COLUMNS;
    // Row tiles: the first row of each and how many real rows it has. A short last tile computes
    // its missing rows as copies of its last real row; they are dropped on the store.
    let row_tiles = (0..rows).step_by(TILE_ROWS).map(|first_row| (first_row, TILE_ROWS.min(rows - first_row)));
    // Column strips outer, row tiles inner: one strip of b (k × TILE_COLUMNS, 16 KB for the
    // forward's 64×64) is read from L2 once and then served from L1 to every row tile, where
    // the other order streamed all of b (64 KB, more than L1) once per row tile.
    for first_column in (0..full_columns).step_by(TILE_COLUMNS) {
        for (first_row, tile_rows) in row_tiles.clone() {
            let a_tile: [&[f32]; TILE_ROWS] = std::array::from_fn(|r| a_row(first_row + r.min(tile_rows - 1)));
            let mut sums = [[0.0f32; TILE_COLUMNS]; TILE_ROWS];
            for p in 0..k {
                let b_row: &[f32; TILE_COLUMNS] = b[b_rows.offset + p * b_rows.stride + first_column..][..TILE_COLUMNS].try_into().expect("tile width");
                for (row_sums, a_values) in sums.iter_mut().zip(&a_tile) {
                    let a_value = a_values[p];
                    for (sum, &b_value) in row_sums.iter_mut().zip(b_row) {
                        *sum = a_value.mul_add(b_value, *sum);
                    }
                }
            }
            for (r, row_sums) in sums.iter().enumerate().take(tile_rows) {
                let at = c_rows.offset + (first_row + r) * c_rows.stride + first_column;
                store(&mut c[at..at + TILE_COLUMNS], row_sums, output);
            }
        }
    }
    // Columns past the last full strip, one at a time in the same order.
    for i in 0..rows {
        let a_values = a_row(i);
        for j in full_columns..n {
            let mut sum = 0.0f32;
            for (p, &a_value) in a_values.iter().enumerate() {
                sum = a_value.mul_add(b[b_rows.offset + p * b_rows.stride + j], sum);
            }
            let at = c_rows.offset + i * c_rows.stride + j;
            store(&mut c[at..at + 1], &[sum], output);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Σ_k a·b in f64, to compare with.
    fn reference(rows: usize, k: usize, n: usize, a: &[f32], a_rows: Rows, b: &[f32], b_rows: Rows) -> Vec<f64> {
        (0..rows * n).map(|index| (0..k).map(|p| a[a_rows.offset + (index / n) * a_rows.stride + p] as f64 * b[b_rows.offset + p * b_rows.stride + index % n] as f64).sum()).collect()
    }

    #[test]
    fn strided_rows_edges_and_both_outputs() {
        let mut rng = crate::util::Rng::new(7);
        // Short last row tiles, columns past full tiles, n narrower than a tile, k = 1.
        for (rows, k, n) in [(16, 64, 256), (5, 13, 70), (3, 1, 9), (7, 30, 200), (1, 256, 64)] {
            let a_rows = Rows { offset: 3, stride: k + 5 };
            let a: Vec<f32> = (0..3 + rows * (k + 5)).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
            let b_rows = Rows { offset: 1, stride: n + 3 };
            let b: Vec<f32> = (0..1 + k * (n + 3)).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
            let c_rows = Rows { offset: 2, stride: n + 1 };
            let start: Vec<f32> = (0..2 + rows * (n + 1)).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
            let expected = reference(rows, k, n, &a, a_rows, &b, b_rows);
            for output in [Output::Replace, Output::Accumulate] {
                let mut c = start.clone();
                product(rows, k, n, &a, a_rows, &b, b_rows, &mut c, c_rows, output);
                for i in 0..rows {
                    for j in 0..n {
                        let at = c_rows.offset + i * c_rows.stride + j;
                        let want = expected[i * n + j] + if output == Output::Accumulate { start[at] as f64 } else { 0.0 };
                        assert!((c[at] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()), "{rows}×{k}×{n} {output:?} ({i}, {j}): {} vs {want}", c[at]);
                    }
                }
                // Nothing outside the rows' n columns is touched.
                for (at, (&got, &was)) in c.iter().zip(&start).enumerate() {
                    let inside = at >= c_rows.offset && (at - c_rows.offset) % c_rows.stride < n && (at - c_rows.offset) / c_rows.stride < rows;
                    if !inside {
                        assert_eq!(got.to_bits(), was.to_bits(), "{rows}×{k}×{n}: index {at} changed");
                    }
                }
            }
        }
    }

    #[test]
    fn every_element_is_the_same_sum_in_any_tile() {
        // Row i of a 9-row product equals the same row computed alone (a 1-row product, which
        // takes the short-tile and edge paths): one summation order for every element.
        let mut rng = crate::util::Rng::new(8);
        let (rows, k, n) = (9, 40, 150);
        let a: Vec<f32> = (0..rows * k).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
        let mut all = vec![0.0f32; rows * n];
        product(rows, k, n, &a, Rows { offset: 0, stride: k }, &b, Rows { offset: 0, stride: n }, &mut all, Rows { offset: 0, stride: n }, Output::Replace);
        for i in 0..rows {
            let mut one = vec![0.0f32; n];
            product(1, k, n, &a, Rows { offset: i * k, stride: k }, &b, Rows { offset: 0, stride: n }, &mut one, Rows { offset: 0, stride: n }, Output::Replace);
            assert_eq!(one, all[i * n..(i + 1) * n], "row {i}");
            // And each column alone equals the sequential fused sum.
            for j in 0..n {
                let sequential = (0..k).fold(0.0f32, |sum, p| a[i * k + p].mul_add(b[p * n + j], sum));
                assert_eq!(all[i * n + j].to_bits(), sequential.to_bits(), "({i}, {j})");
            }
        }
    }
}
