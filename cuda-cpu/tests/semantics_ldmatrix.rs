//! `ldmatrix` against the ISA's figure: which lanes supply which matrix's row addresses, which
//! elements each lane receives (with and without `.trans`), and that memory errors pass through.

use cuda_cpu::exec::semantics::ldmatrix::*;

/// Shared memory holding 4 matrices whose element (m, r, c) is 0x1000·m + 0x10·r + c, with rows
/// scattered: row r of matrix m lives at `row_address(m, r)`.
fn row_address(m: usize, r: usize) -> u64 {
    // Permuted and padded rows (stride 48 bytes, rows reversed within each matrix).
    0x100 + ((m * 8 + (7 - r)) * 48) as u64
}

fn memory() -> Vec<u8> {
    let mut mem = vec![0u8; 0x100 + 32 * 48 + 64];
    for m in 0..4 {
        for r in 0..8 {
            for c in 0..8 {
                let v = (0x1000 * m + 0x10 * r + c) as u16;
                let at = row_address(m, r) as usize + 2 * c;
                mem[at..at + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    mem
}

fn element(m: usize, r: usize, c: usize) -> u32 {
    (0x1000 * m + 0x10 * r + c) as u32
}

#[test]
fn every_count_with_and_without_trans_follows_the_figure() {
    let mem = memory();
    for count in [LdmatrixCount::X1, LdmatrixCount::X2, LdmatrixCount::X4] {
        for trans in [false, true] {
            // Lane 8·m + r supplies row r of matrix m; other lanes hold garbage addresses.
            let addresses: [u64; 32] = std::array::from_fn(|lane| {
                if lane < 8 * count.matrices() { row_address(lane / 8, lane % 8) } else { 0xdead_0000 }
            });
            let mut reads = Vec::new();
            let out = ldmatrix(count, trans, &addresses, |addr| {
                reads.push(addr);
                let at = addr as usize;
                let mut row = [0u8; 16];
                row.copy_from_slice(mem.get(at..at + 16).ok_or(addr)?);
                Ok::<_, u64>(row)
            })
            .unwrap();
            assert_eq!(reads, addresses[..8 * count.matrices()].to_vec(), "{count:?}: one read per supplied row, in lane order");
            for (lane, regs) in out.iter().enumerate() {
                for (m, &reg) in regs.iter().enumerate() {
                    if m >= count.matrices() {
                        assert_eq!(reg, 0);
                        continue;
                    }
                    // Lane l holds row l/4, columns 2(l%4) and 2(l%4)+1 (lower column in the
                    // low half); with .trans, those of the transposed matrix.
                    let (r, c) = (lane / 4, 2 * (lane % 4));
                    let (lo, hi) = if trans {
                        (element(m, c, r), element(m, c + 1, r))
                    } else {
                        (element(m, r, c), element(m, r, c + 1))
                    };
                    assert_eq!(reg, lo | hi << 16, "{count:?} trans={trans} lane {lane} matrix {m}");
                }
            }
        }
    }
}

#[test]
fn a_read_error_is_returned_unchanged() {
    let addresses: [u64; 32] = std::array::from_fn(|lane| 16 * lane as u64);
    let mut calls = 0;
    let result = ldmatrix(LdmatrixCount::X4, false, &addresses, |addr| {
        calls += 1;
        if addr == 16 * 9 { Err(format!("out of bounds at {addr}")) } else { Ok([0u8; 16]) }
    });
    assert_eq!(result.unwrap_err(), "out of bounds at 144");
    assert_eq!(calls, 10, "stops at the first failing row");
    assert_eq!(LdmatrixCount::X2.address_lanes(), 0xffff);
}
