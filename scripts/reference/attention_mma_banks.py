#!/usr/bin/env python3
"""Shared-memory bank conflicts of kernels/attention_mma.cu's access patterns, for every head dim.

Each pattern is the kernel's own index expression for the 32 lanes of one request; wavefronts are
counted with the CPU driver's rule (cuda-cpu/src/exec/access.rs, count_memory): lanes are served in
phases of 128 bytes (8 lanes for 16-byte accesses, 32 for 4-byte ones), and a phase costs the largest
number of distinct 4-byte words that fall into one of the 32 banks. A pattern is conflict-free when
every phase costs 1. The patterns of the inner loops (ldmatrix, the staging stores) must be: exit
status 1 if one conflicts. The row copies (cp.async in, 16-byte loads out) walk rows of D/8 chunks
in order, so where D/8 is no multiple of 8 a phase wraps onto the next row and two of its chunks
can share a bank group; they run once per tile and are reported only. `--pad 0` shows what the
unpadded tiles would cost.

    python3 scripts/reference/attention_mma_banks.py [--pad N]
"""
import sys

PAD = int(sys.argv[sys.argv.index("--pad") + 1]) if "--pad" in sys.argv else 8  # elements, attention_mma::PAD
TILE = 64


def wavefronts(addresses, length):
    """Driver rule: per phase of 128 bytes, the most distinct words in one bank; summed."""
    lanes_per_phase = max(1, min(32, 128 // max(length, 4)))
    total = 0
    for phase in range(0, 32, lanes_per_phase):
        words = {w for a in addresses[phase:phase + lanes_per_phase] if a is not None for w in range(a // 4, (a + length + 3) // 4)}
        if words:
            per_bank = [0] * 32
            for w in words:
                per_bank[w % 32] += 1
            total += max(per_bank)
    return total, (32 + lanes_per_phase - 1) // lanes_per_phase


def patterns(d):
    stride = (d + PAD) * 2  # bytes per shared row
    element = lambda row, col: row * stride + col * 2
    for row0 in range(0, TILE, 16):
        for k0 in range(0, d, 16):
            # load_a: lanes 0-15 rows row0.., column k0; lanes 16-31 the same rows at k0 + 8.
            yield "ldmatrix A (Q, dO, K, V fragments)", [element(row0 + l % 16, k0 + (l // 16) * 8) for l in range(32)], 16
            # load_b_of_rows: rows n0 + lane%8 + (quad/2)·8, column k0 + (quad%2)·8.
            yield "ldmatrix B of rows (K, V, Q, dO as Bᵀ)", [element(row0 + l % 8 + (l // 8 // 2) * 8, k0 + (l // 8 % 2) * 8) for l in range(32)], 16
            # load_b_of_columns (.trans): rows k0 + lane%8 + (quad%2)·8, column n0 + (quad/2)·8.
            yield "ldmatrix.trans B of columns (V, dO, Q, K)", [element(row0 + l % 8 + (l // 8 % 2) * 8, k0 + (l // 8 // 2) * 8) for l in range(32)], 16
    for j in range(d // 8):
        for half in (0, 8):
            # store_rows, staging: lane (g, t) writes row g (+8), columns 8j + 2t, 2t + 1.
            yield "staging st.shared.u32", [element(l // 4 + half, j * 8 + 2 * (l % 4)) for l in range(32)], 4
    chunks = d // 8
    for i in range(16 * chunks // 32):
        # store_rows, copy-out: chunk lane + 32i of the warp's 16 rows.
        yield "copy-out ld.shared.v4", [element((l + 32 * i) // chunks, (l + 32 * i) % chunks * 8) for l in range(32)], 16
    for i in range(TILE * chunks // 128):
        for warp in range(4):
            # load_tile (cp.async destinations, not counted by the driver): chunk threadIdx + 128i.
            ids = [warp * 32 + l + 128 * i for l in range(32)]
            yield "cp.async destination", [element(c // chunks, c % chunks * 8) for c in ids], 16


def main():
    worst = {}
    for d in range(16, 129, 16):
        for name, addresses, length in patterns(d):
            cost, phases = wavefronts(addresses, length)
            key = (name, d)
            worst[key] = max(worst.get(key, 0), cost / phases)
    names = list(dict.fromkeys(name for name, _ in worst))
    print("wavefronts per phase (1.00 = conflict-free), worst request of each pattern")
    print(f"{'pattern':45}" + "".join(f"{'d' + str(d):>7}" for d in range(16, 129, 16)))
    bad = False
    for name in names:
        row = [worst[(name, d)] for d in range(16, 129, 16)]
        bad |= name.startswith(("ldmatrix", "staging")) and any(v > 1 for v in row)
        print(f"{name:45}" + "".join(f"{v:7.2f}" for v in row))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
