//! `ldmatrix.sync.aligned.m8n8{.x1,.x2,.x4}{.trans}{.shared}.b16` (PTX ISA 9.0, "ldmatrix"):
//! loads one, two or four 8×8 matrices of 16-bit elements from shared memory, one 16-byte row per
//! supplied address, into per-lane fragments.
//!
//! Addresses: lanes 0..7 give the rows of matrix 0, lanes 8..15 of matrix 1, 16..23 of matrix 2,
//! 24..31 of matrix 3 (for .x1 only lanes 0..7 are read, for .x2 lanes 0..15). Fragments:
//! register i of lane l holds matrix i's row l/4, columns 2·(l%4) (low half) and 2·(l%4)+1
//! (high half); with `.trans`, the matrix is transposed on the way: the elements at rows
//! 2·(l%4) and 2·(l%4)+1 of column l/4.

/// How many matrices an `ldmatrix` loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LdmatrixCount {
    X1,
    X2,
    X4,
}

impl LdmatrixCount {
    /// Number of matrices (= destination registers per lane).
    pub const fn matrices(self) -> usize {
        match self {
            LdmatrixCount::X1 => 1,
            LdmatrixCount::X2 => 2,
            LdmatrixCount::X4 => 4,
        }
    }

    /// Lanes whose address operand is used (bit per lane).
    pub const fn address_lanes(self) -> u32 {
        match self {
            LdmatrixCount::X1 => 0x0000_00ff,
            LdmatrixCount::X2 => 0x0000_ffff,
            LdmatrixCount::X4 => 0xffff_ffff,
        }
    }
}

/// One `ldmatrix` for the warp. `row_address[lane]` is each lane's address operand; `read_row` is
/// called once per used address, in lane order, and returns the 16 bytes there (little-endian
/// elements) or the engine's error, which is passed straight back. The result is each lane's
/// destination registers (the first `count.matrices()` entries; the rest 0).
pub fn ldmatrix<E>(
    count: LdmatrixCount,
    trans: bool,
    row_address: &[u64; 32],
    read_row: impl FnMut(u64) -> Result<[u8; 16], E>,
) -> Result<[[u32; 4]; 32], E> {
    let mut read_row = read_row;
    let matrices = count.matrices();
    // rows[m][r][col]: element (r, col) of matrix m, as read from lane 8·m + r's address.
    let mut rows = [[[0u16; 8]; 8]; 4];
    for (m, matrix) in rows.iter_mut().enumerate().take(matrices) {
        for (r, row) in matrix.iter_mut().enumerate() {
            let bytes = read_row(row_address[8 * m + r])?;
            for (col, element) in row.iter_mut().enumerate() {
                *element = u16::from_le_bytes([bytes[2 * col], bytes[2 * col + 1]]);
            }
        }
    }
    let mut out = [[0u32; 4]; 32];
    for (lane, regs) in out.iter_mut().enumerate() {
        let (r, c) = (lane / 4, 2 * (lane % 4));
        for (m, reg) in regs.iter_mut().enumerate().take(matrices) {
            let (lo, hi) = if trans {
                (rows[m][c][r], rows[m][c + 1][r])
            } else {
                (rows[m][r][c], rows[m][r][c + 1])
            };
            *reg = lo as u32 | ((hi as u32) << 16);
        }
    }
    Ok(out)
}
