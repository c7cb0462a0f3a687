#!/usr/bin/env python3
"""A lane-by-lane Python model of kernels/conv.cu's tensor-core kernels, to check their index math
without a GPU: the same load addresses (with the XOR swizzle) into a simulated shared memory, the
same ldmatrix addresses per lane (with PTX's fragment semantics, .trans included), mma.m16n8k16's
fragment layout, and the same epilogue indices, compared with a direct convolution in numpy.
(It does not model timing: the cp.async ring is replaced by load-then-compute per k-tile.)

    python3 scripts/reference/simulate_conv_tc.py      # needs numpy; prints one line per case
"""
import itertools
import sys

import numpy as np

BM, BN, BK = 128, 128, 32


def conv_reference(x, w, stride, pad):
    n, h, wd, c = x.shape
    k, r, s, _ = w.shape
    p, q = (h + 2 * pad[0] - r) // stride[0] + 1, (wd + 2 * pad[1] - s) // stride[1] + 1
    xp = np.zeros((n, h + 2 * pad[0], wd + 2 * pad[1], c))
    xp[:, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    y = np.zeros((n, p, q, k))
    for i, j in itertools.product(range(p), range(q)):
        patch = xp[:, i * stride[0]:i * stride[0] + r, j * stride[1]:j * stride[1] + s, :]
        y[:, i, j, :] = np.einsum("nrsc,krsc->nk", patch, w)
    return y


def ldmatrix(smem, addresses, trans):
    """addresses[lane] = element offset of the 8-element row lane supplies (matrix lane//8, row lane%8).
    Returns regs[lane][j] = the 2 elements thread `lane` receives from matrix j."""
    regs = [[None] * 4 for _ in range(32)]
    for j in range(4):
        m = np.array([smem[addresses[j * 8 + i]:addresses[j * 8 + i] + 8] for i in range(8)])
        for t in range(32):
            regs[t][j] = (m[t // 4, 2 * (t % 4)], m[t // 4, 2 * (t % 4) + 1]) if not trans else (m[2 * (t % 4), t // 4], m[2 * (t % 4) + 1, t // 4])
    return regs


def mma(acc, a, b0, b1):
    """acc[lane][4] += A·B with PTX's m16n8k16 fragments: a[lane][0..3], b0[lane], b1[lane] (pairs)."""
    A, B = np.zeros((16, 16)), np.zeros((16, 8))
    for t in range(32):
        g, q = t // 4, t % 4
        for e in range(2):
            A[g, 2 * q + e], A[g + 8, 2 * q + e] = a[t][0][e], a[t][1][e]
            A[g, 2 * q + 8 + e], A[g + 8, 2 * q + 8 + e] = a[t][2][e], a[t][3][e]
            B[2 * q + e, g], B[2 * q + 8 + e, g] = b0[t][e], b1[t][e]
    D = A @ B
    for t in range(32):
        g, q = t // 4, t % 4
        acc[t][0] += D[g, 2 * q]; acc[t][1] += D[g, 2 * q + 1]
        acc[t][2] += D[g + 8, 2 * q]; acc[t][3] += D[g + 8, 2 * q + 1]


def swizzle_k32(row, chunk):
    return row * BK + ((chunk ^ ((row >> 1) & 3)) << 3)


def swizzle_n128(row, chunk):
    return row * BM + ((chunk ^ (row & 7)) << 3)


def forward_tc(x, w, stride, pad, out_hw):
    """conv_forward_tc_kernel (no bias, no ReLU): x NHWC flat, w KRSC flat."""
    n, h, wd, c = x.shape
    k, r, s, _ = w.shape
    P, Q = out_hw
    M, N, taps = n * P * Q, k, r * s * c
    xf, wf = x.reshape(-1), w.reshape(-1)
    y = np.full(M * N, np.nan)
    for bx, by in itertools.product(range((M + BM - 1) // BM), range((N + BN - 1) // BN)):
        block_m, block_n = bx * BM, by * BN
        acc = {(warp, lane): np.zeros((4, 4, 4)) for warp in range(8) for lane in range(32)}
        for kt in range((taps + BK - 1) // BK):
            a_s, b_s = np.full(BM * BK, np.nan), np.full(BN * BK, np.nan)
            for tid in range(256):
                chunk = tid & 3
                j = kt * BK + chunk * 8
                jv = j < taps
                jj = j if jv else 0
                cc, rs = jj % c, jj // c
                rr, ss = rs // s, rs % s
                for i in range(2):
                    row = (tid >> 2) + i * 64
                    m = block_m + row
                    mm = m if m < M else 0
                    q, p, img = mm % Q, (mm // Q) % P, mm // (Q * P)
                    ih, iw = p * stride[0] - pad[0] + rr, q * stride[1] - pad[1] + ss
                    valid = jv and m < M and 0 <= ih < h and 0 <= iw < wd
                    src = ((img * h + ih) * wd + iw) * c + cc
                    a_s[swizzle_k32(row, chunk):swizzle_k32(row, chunk) + 8] = xf[src:src + 8] if valid else 0
                    nn_ = block_n + row
                    bv = jv and nn_ < N
                    b_s[swizzle_k32(row, chunk):swizzle_k32(row, chunk) + 8] = wf[nn_ * taps + j:nn_ * taps + j + 8] if bv else 0
            for warp in range(8):
                wm, wn = warp >> 2, warp & 3
                if not (block_m + wm * 64 < M and block_n + wn * 32 < N):
                    continue  # warp_has_outputs: a warp wholly past M or N skips its MMAs
                for k16 in range(BK // 16):
                    a_frag = [ldmatrix(a_s, [swizzle_k32(wm * 64 + mi * 16 + (l & 15), k16 * 2 + (l >> 4)) for l in range(32)], False) for mi in range(4)]
                    b_frag = {}
                    for pair in range(2):
                        regs = ldmatrix(b_s, [swizzle_k32(wn * 32 + pair * 16 + ((l >> 4) << 3) + (l & 7), k16 * 2 + ((l >> 3) & 1)) for l in range(32)], False)
                        b_frag[pair * 2] = ([regs[t][0] for t in range(32)], [regs[t][1] for t in range(32)])
                        b_frag[pair * 2 + 1] = ([regs[t][2] for t in range(32)], [regs[t][3] for t in range(32)])
                    for mi, ni in itertools.product(range(4), range(4)):
                        tile = [acc[(warp, t)][mi, ni] for t in range(32)]
                        mma(tile, a_frag[mi], *b_frag[ni])
            # (accumulators were updated in place through the views)
        for (warp, lane), a in acc.items():
            wm, wn = warp >> 2, warp & 3
            for mi, ni, e in itertools.product(range(4), range(4), range(4)):
                m = block_m + wm * 64 + mi * 16 + (lane >> 2) + (e >> 1) * 8
                col = block_n + wn * 32 + ni * 8 + (lane & 3) * 2 + (e & 1)
                if m < M and col < N:
                    y[m * N + col] = a[mi, ni, e]
    return y.reshape(n, P, Q, k)


def backward_weight(x, dy, kernel, stride, pad, tiles_per_split):
    """conv_backward_weight_tc_kernel: dW[K, R·S·C], the pixel reduction split over grid.z."""
    n, h, wd, c = x.shape
    _, P, Q, K = dy.shape
    r, s = kernel
    pixels, taps = n * P * Q, r * s * c
    xf, dyf = x.reshape(-1), dy.reshape(-1)
    dw = np.zeros(K * taps)
    total_tiles = (pixels + BK - 1) // BK
    splits = (total_tiles + tiles_per_split - 1) // tiles_per_split
    for bx, by, bz in itertools.product(range((K + BM - 1) // BM), range((taps + BN - 1) // BN), range(splits)):
        block_m, block_n = bx * BM, by * BN
        first, last = bz * tiles_per_split, min(total_tiles, bz * tiles_per_split + tiles_per_split)
        acc = {(warp, lane): np.zeros((4, 4, 4)) for warp in range(8) for lane in range(32)}
        for kt in range(max(0, last - first)):
            a_s, b_s = np.full(BK * BM, np.nan), np.full(BK * BN, np.nan)
            for tid in range(256):
                chunk = tid & 15
                k_out, j = block_m + chunk * 8, block_n + chunk * 8
                jv = j < taps
                jj = j if jv else 0
                cc, rs = jj % c, jj // c
                rr, ss = rs // s, rs % s
                for i in range(2):
                    row = (tid >> 4) + i * 16
                    m = (first + kt) * BK + row
                    mv = m < pixels
                    av = mv and k_out < K
                    a_s[swizzle_n128(row, chunk):swizzle_n128(row, chunk) + 8] = dyf[m * K + k_out:m * K + k_out + 8] if av else 0
                    mm = m if mv else 0
                    q, p, img = mm % Q, (mm // Q) % P, mm // (Q * P)
                    ih, iw = p * stride[0] - pad[0] + rr, q * stride[1] - pad[1] + ss
                    bv = mv and jv and 0 <= ih < h and 0 <= iw < wd
                    src = ((img * h + ih) * wd + iw) * c + cc
                    b_s[swizzle_n128(row, chunk):swizzle_n128(row, chunk) + 8] = xf[src:src + 8] if bv else 0
            for warp in range(8):
                wm, wn = warp >> 2, warp & 3
                if not (block_m + wm * 64 < K and block_n + wn * 32 < taps):
                    continue  # warp_has_outputs: a warp wholly past K or the taps skips its MMAs
                for k16 in range(BK // 16):
                    a_frag = []
                    for mi in range(4):
                        addrs = []
                        for l in range(32):
                            matrix = l >> 3
                            row = k16 * 16 + (matrix >> 1) * 8 + (l & 7)
                            chunk = (wm * 64 + mi * 16) // 8 + (matrix & 1)
                            addrs.append(swizzle_n128(row, chunk))
                        a_frag.append(ldmatrix(a_s, addrs, True))
                    b_frag = {}
                    for pair in range(2):
                        addrs = []
                        for l in range(32):
                            matrix = l >> 3
                            row = k16 * 16 + (matrix & 1) * 8 + (l & 7)
                            chunk = (wn * 32 + pair * 16) // 8 + (matrix >> 1)
                            addrs.append(swizzle_n128(row, chunk))
                        regs = ldmatrix(b_s, addrs, True)
                        b_frag[pair * 2] = ([regs[t][0] for t in range(32)], [regs[t][1] for t in range(32)])
                        b_frag[pair * 2 + 1] = ([regs[t][2] for t in range(32)], [regs[t][3] for t in range(32)])
                    for mi, ni in itertools.product(range(4), range(4)):
                        tile = [acc[(warp, t)][mi, ni] for t in range(32)]
                        mma(tile, a_frag[mi], *b_frag[ni])
        for (warp, lane), a in acc.items():
            wm, wn = warp >> 2, warp & 3
            for mi, ni, e in itertools.product(range(4), range(4), range(4)):
                k = block_m + wm * 64 + mi * 16 + (lane >> 2) + (e >> 1) * 8
                col = block_n + wn * 32 + ni * 8 + (lane & 3) * 2 + (e & 1)
                if k < K and col < taps:
                    dw[k * taps + col] += a[mi, ni, e]
    return dw.reshape(K, r, s, c)


def main():
    rng = np.random.default_rng(0)
    failures = 0
    # (N, H, W, C, K, R, S, stride, pad): C, K multiples of 8 as the kernels require; odd sizes.
    cases = [(2, 5, 6, 8, 24, 3, 3, 1, 1), (1, 9, 7, 16, 8, 5, 5, 2, 2), (3, 4, 4, 8, 136, 3, 3, 1, 1), (1, 3, 5, 40, 16, 1, 1, 1, 0)]
    for n, h, wd, c, k, r, s, st, pd in cases:
        x = rng.integers(-3, 4, (n, h, wd, c)).astype(float)
        w = rng.integers(-3, 4, (k, r, s, c)).astype(float)
        y = conv_reference(x, w, (st, st), (pd, pd))
        got = forward_tc(x, w, (st, st), (pd, pd), y.shape[1:3])
        ok = np.array_equal(got, y)
        print(f"forward        N{n} {h}x{wd} C{c} K{k} {r}x{s} s{st} p{pd}: {'exact' if ok else 'MISMATCH'}")
        failures += not ok
        dy = rng.integers(-3, 4, y.shape).astype(float)
        dw_ref = np.zeros_like(w)
        P, Q = y.shape[1:3]
        xp = np.zeros((n, h + 2 * pd, wd + 2 * pd, c)); xp[:, pd:pd + h, pd:pd + wd] = x
        for i, j in itertools.product(range(P), range(Q)):
            dw_ref += np.einsum("nk,nrsc->krsc", dy[:, i, j, :], xp[:, i * st:i * st + r, j * st:j * st + s, :])
        got = backward_weight(x, dy, (r, s), (st, st), (pd, pd), tiles_per_split=1)
        ok = np.array_equal(got, dw_ref)
        print(f"backward-weight N{n} {h}x{wd} C{c} K{k} {r}x{s} s{st} p{pd}: {'exact' if ok else 'MISMATCH'}")
        failures += not ok
        if st == 1 and pd < r and k % 8 == 0:
            # backward-data as the forward on dY with flipped, transposed weights and padding R-1-pad.
            flipped = np.transpose(w[:, ::-1, ::-1, :], (3, 1, 2, 0)).copy()  # [C, R, S, K]
            dx = forward_tc(dy, flipped, (1, 1), (r - 1 - pd, s - 1 - pd), (h, wd))
            dx_ref = np.zeros_like(xp)
            for i, j in itertools.product(range(P), range(Q)):
                dx_ref[:, i:i + r, j:j + s, :] += np.einsum("nk,krsc->nrsc", dy[:, i, j, :], w)
            ok = np.array_equal(dx, dx_ref[:, pd:pd + h, pd:pd + wd])
            print(f"backward-data   N{n} {h}x{wd} C{c} K{k} {r}x{s} s{st} p{pd}: {'exact' if ok else 'MISMATCH'}")
            failures += not ok
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
