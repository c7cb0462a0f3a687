#!/usr/bin/env python3
"""A lane-level Python model of kernels/gemm.cu's tensor-core GEMM (and of its host side in
src/backend/cuda/gemm.rs), to check the index math without a GPU.

What is modelled, as literally as practical (numpy vectorises over the 256 threads of a block, but every
index below is the kernel's own expression, evaluated per thread / per lane):

* device memory: buffers at 256-byte aligned base addresses; pointers are byte addresses, as in the
  kernel. Storage positions outside an operand's view hold NaN, and every global read is checked to hit
  an element of the view (an out-of-view read is an error, not just a wrong number);
* the host: plan_operand / kernel_name / grid / the MAX_GRID_Z chunking / GemmParams, mirrored from
  gemm.rs; the chosen kernel is the one simulated (so a host/kernel disagreement shows up);
* load_tile (cp.async with src-size zero fill, or element loads) with the XOR swizzle, into a simulated
  shared memory with a race detector: cp.async writes are "in flight" from issue until the wait_group
  that retires their group, writes become readable only after the next __syncthreads, and a write to
  anything read since the last __syncthreads is reported (so stage-slot reuse is checked, not assumed);
* the 3-stage k-loop (prologue, wait_group STAGES-2, refill, read stage k_tile % STAGES);
* ldmatrix.x4 (.trans) and mma.m16n8k16 with the PTX ISA's fragment layouts, written once below;
* the epilogue (alpha, bias, ReLU / exact GELU, pair stores with their alignment, fp32 or fp16 output),
  block rasterisation (tile_of_block) and batches on gridDim.z. Every output element must be written
  exactly once per launch;
* random strides, offsets and batch strides (0 included) through the host's plan: every cp.async the
  planned kernel issues must have a 16-byte aligned source and read only elements of the view;
* the GemmParams struct: field names, order and types parsed from both files, C layout via ctypes.

Inputs are small integers (exact in fp16, every partial sum exact in fp32: results must match bit for
bit) or fp16-rounded normals (GELU cases, compared at 1e-3). Shared-memory bank conflicts of the 16-byte
accesses are reported per kernel (8 threads per 128-byte wavefront), not checked.

Not modelled: timing and warp scheduling beyond barrier intervals, register allocation, anything the
compiler does (the model is a hand copy of gemm.cu's expressions: keep it in step when the kernel
changes), bf16 rounding (the bf16 kernels are the same template; fp16 output rounding is numpy's
float16), the fp32 SIMT kernel, and the hardware's order of additions inside an mma.

    python3 scripts/reference/simulate_gemm_tc.py          # all cases, one line each; exit 1 on mismatch
    python3 scripts/reference/simulate_gemm_tc.py --quick  # a smaller set
"""
import ctypes
import itertools
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


class SimError(AssertionError):
    """A violated rule of the PTX / CUDA memory model, or an out-of-view access."""


def check(cond, message):
    if not np.all(cond):
        raise SimError(message)


# =====================================================================================================
# Device memory (global): byte-addressed buffers. An operand view marks which elements are readable.
# =====================================================================================================
class Buffer:
    def __init__(self, base, values, readable, element_size):
        self.base, self.values, self.readable, self.size = base, values, readable, element_size
        self.writes = np.zeros(values.size, dtype=np.int64)  # store count per element (outputs)


class DeviceMemory:
    def __init__(self):
        self.buffers, self.next_base = [], 1 << 20

    def alloc(self, values, readable=None, element_size=2):
        base = self.next_base
        self.next_base += (values.size * element_size + 4096) // 256 * 256 + 256
        buf = Buffer(base, values, np.ones(values.size, bool) if readable is None else readable, element_size)
        self.buffers.append(buf)
        return buf

    def _find(self, address, element_size):
        address = np.asarray(address, dtype=np.int64)
        if address.size == 0:
            return None, address
        for buf in self.buffers:
            if buf.base <= address.min() and address.max() < buf.base + buf.values.size * buf.size:
                check(buf.size == element_size, "access with the wrong element size")
                check((address - buf.base) % element_size == 0, "misaligned element access")
                return buf, (address - buf.base) // element_size
        raise SimError(f"global access outside every allocation (addresses {address.min():#x}..{address.max():#x})")

    def load(self, address, element_size):
        """Element loads at byte addresses; each must be an element of the operand's view."""
        buf, index = self._find(address, element_size)
        if buf is None:
            return np.zeros(np.shape(address), np.float32)
        check(buf.readable[index], "global read of an element outside the operand's view")
        return buf.values[index]

    def store_pair(self, address, v0, v1, element_size):
        """One store of two adjacent elements (float2 / 32-bit), which must be aligned to its width."""
        address = np.asarray(address, dtype=np.int64)
        check(address % (2 * element_size) == 0, f"{2 * element_size}-byte paired store at a misaligned address")
        self.store(address, v0, element_size, element_size)
        self.store(address + element_size, v1, element_size, element_size)

    def store(self, address, values, element_size, width_bytes):
        """A store of `width_bytes` (one element or a pair) at each byte address."""
        address = np.asarray(address, dtype=np.int64)
        check(address % width_bytes == 0, f"{width_bytes}-byte store at a misaligned address")
        buf, index = self._find(address, element_size)
        if buf is None:
            return
        buf.values[index] = values
        np.add.at(buf.writes, index, 1)


# =====================================================================================================
# Shared memory with a barrier-interval race detector, and cp.async groups.
# =====================================================================================================
BANK_WAYS = {}       # (kernel, array, access) -> worst n-way bank conflict seen (reported, not checked)
CURRENT_KERNEL = [""]


def note_bank_conflicts(array, access, offsets):
    """16-byte accesses are served 8 threads (one quarter warp, or one ldmatrix matrix of 8 rows) per
    128-byte wavefront: 8 different 16-byte bank groups are conflict-free, k equal ones cost k wavefronts."""
    group = ((array.base + 2 * np.asarray(offsets)) // 16 % 8).reshape(-1, 8)
    ways = int((group[:, :, None] == np.arange(8)).sum(axis=1).max())
    key = (CURRENT_KERNEL[0], array.name, access)
    BANK_WAYS[key] = max(BANK_WAYS.get(key, 0), ways)


class SharedArray:
    """One __shared__ array of 16-bit elements, offsets in elements (2 bytes each)."""

    def __init__(self, elements, name, base_bytes):
        self.name, self.base = name, base_bytes  # base: 128-byte aligned (__align__(128))
        self.data = np.full(elements, np.nan, np.float32)
        self.in_flight = np.zeros(elements, bool)  # target of a cp.async not yet retired by wait_group
        self.written = np.zeros(elements, bool)    # written since the last __syncthreads
        self.read = np.zeros(elements, bool)       # read since the last __syncthreads

    def chunk(self, offset):
        """The 8 element offsets of a 16-byte chunk at element `offset` (which must be 16-byte aligned)."""
        offset = np.asarray(offset, dtype=np.int64)
        check((self.base + 2 * offset) % 16 == 0, f"{self.name}: 16-byte access at a misaligned address")
        check((offset >= 0) & (offset + 8 <= self.data.size), f"{self.name}: access outside the array")
        return offset[..., None] + np.arange(8)

    def store(self, offset, values):  # a plain 16-byte st.shared
        idx = self.chunk(offset)
        note_bank_conflicts(self, "st.shared", offset)
        check(~self.read[idx], f"{self.name}: write to data read since the last __syncthreads (WAR race)")
        check(~self.in_flight[idx], f"{self.name}: write over a cp.async still in flight")
        self.data[idx] = values
        self.written[idx] = True

    def load_rows(self, offset):  # what ldmatrix reads: 16 bytes per lane
        idx = self.chunk(offset)
        note_bank_conflicts(self, "ldmatrix", offset)
        check(~self.in_flight[idx], f"{self.name}: read of a cp.async destination before its wait_group")
        check(~self.written[idx], f"{self.name}: read of data written since the last __syncthreads (RAW race)")
        self.read[idx] = True
        return self.data[idx]

    def syncthreads(self):
        self.written[:] = False
        self.read[:] = False


class AsyncCopies:
    """cp.async groups of the block (all threads issue in lockstep, so one list stands for each
    thread's own list: wait_group then __syncthreads is what the kernel does)."""

    def __init__(self):
        self.open, self.committed = [], []

    def commit(self):  # cp.async.commit_group: closes the (possibly empty) group of copies issued since
        self.committed.append(self.open)
        self.open = []

    def wait(self, pending):  # cp.async.wait_group N: all but the newest N committed groups are complete
        while len(self.committed) > pending:
            for array, idx, values in self.committed.pop(0):
                array.data[idx] = values
                array.in_flight[idx] = False
                array.written[idx] = True  # visible to other threads after the next __syncthreads


# =====================================================================================================
# PTX semantics (PTX ISA 9.0, "Warp Level Matrix Multiply-Accumulate Instructions")
# =====================================================================================================
def cp_async_cg_16(copies, memory, array, dst, src, src_size, element_size):
    """cp.async.cg.shared.global [dst], [src], 16, src_size (PTX ISA §9.7.9.25.3.1): copies src_size
    bytes from global `src` to shared `dst` and fills the remaining 16 - src_size bytes with zeros.
    cp-size 16 requires both addresses 16-byte aligned. The write lands asynchronously: it is only
    guaranteed complete after a cp.async.wait_group that retires its group.
    Vectorised: dst (element offsets), src (byte addresses), src_size (bytes) are arrays over threads."""
    idx = array.chunk(dst)
    note_bank_conflicts(array, "cp.async", dst)
    src = np.asarray(src, dtype=np.int64)
    check(src % 16 == 0, "cp.async source not 16-byte aligned")
    check((src_size >= 0) & (src_size <= 16) & (src_size % element_size == 0), "bad cp.async src-size")
    check(~array.read[idx], f"{array.name}: cp.async into data read since the last __syncthreads (WAR race)")
    check(~array.in_flight[idx], f"{array.name}: two cp.async in flight to the same bytes")
    e = np.arange(8)
    copied = e < (src_size // element_size)[..., None]
    values = np.zeros(idx.shape, np.float32)
    values[copied] = memory.load((src[..., None] + e * element_size)[copied], element_size)
    array.in_flight[idx] = True
    copies.open.append((array, idx, values))


def ldmatrix_x4(array, row_offsets, trans):
    """ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 d, [addr] (PTX ISA §9.7.14.5.15).
    row_offsets[..., lane]: lanes 8j..8j+7 supply the addresses of rows 0..7 of matrix j (8 contiguous
    16-bit elements each). Result d[..., lane, j, e] (register j of lane, its half e):
      without .trans: element (row lane/4, column 2·(lane%4) + e) of matrix j;
      with .trans   : element (row 2·(lane%4) + e, column lane/4) of matrix j (the transpose).
    """
    rows = array.load_rows(row_offsets)                     # [..., 32 lanes, 8 elements]
    matrices = rows.reshape(rows.shape[:-2] + (4, 8, 8))    # [..., matrix j, row, column]
    lane = np.arange(32)
    g, t = lane // 4, lane % 4
    j = np.arange(4)[None, :, None]
    e = np.arange(2)[None, None, :]
    r_idx, c_idx = (g[:, None, None], 2 * t[:, None, None] + e) if not trans else (2 * t[:, None, None] + e, g[:, None, None])
    return matrices[..., j, r_idx, c_idx]                   # [..., 32, 4, 2]


def _mma_fragment_indices():
    """mma.m16n8k16 with .f16/.bf16 inputs (PTX ISA §9.7.14.5.8, figures "MMA .m16n8k16 fragment
    layout"), groupID g = lane / 4, threadID_in_group t = lane % 4, register i, half e:
      A (16×16, row): a0,a1: (g, 2t+e)  a2,a3: (g+8, 2t+e)  a4,a5: (g, 2t+8+e)  a6,a7: (g+8, 2t+8+e)
                      i.e. register i holds row g + 8·(i%2), column 2t + e + 8·(i/2);
      B (16×8, col):  b0,b1: (k = 2t+e, n = g)  b2,b3: (k = 2t+8+e, n = g);
      C/D (16×8, f32): c0,c1: (g, 2t+e)  c2,c3: (g+8, 2t+e)."""
    lane = np.arange(32)[:, None, None]
    g, t = lane // 4, lane % 4
    i = np.arange(4)[None, :, None]
    e = np.arange(2)[None, None, :]
    a_row, a_col = np.broadcast_arrays(g + 8 * (i % 2) + 0 * e, 2 * t + e + 8 * (i // 2))  # [32, 4, 2]
    ib = np.arange(2)[None, :, None]
    b_k, b_n = 2 * t + e + 8 * ib, g + 0 * ib + 0 * e                     # [32, 2, 2]
    ic = np.arange(4)[None, :]
    c_row, c_col = np.broadcast_arrays(np.arange(32)[:, None] // 4 + 8 * (ic // 2), 2 * (np.arange(32)[:, None] % 4) + ic % 2)  # [32, 4]
    # Each fragment covers its matrix exactly once.
    for rows, cols, shape in [(a_row, a_col, (16, 16)), (b_k, b_n, (16, 8)), (c_row, c_col, (16, 8))]:
        cover = np.zeros(shape, int)
        np.add.at(cover, (rows.ravel(), cols.ravel()), 1)
        assert (cover == 1).all()
    return a_row, a_col, b_k, b_n, c_row, c_col


A_ROW, A_COL, B_K, B_N, C_ROW, C_COL = _mma_fragment_indices()


def mma_m16n8k16(d, a, b):
    """mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 d, a, b, d: d[..., lane, 4] += A·B where lane
    holds a[..., lane, 4 registers, 2 halves] and b[..., lane, 2 registers, 2 halves] (layout above).
    fp16 products are exact in fp32; the sum is taken in float64 then rounded (the hardware's internal
    order is unspecified; the test data make every partial sum exact anyway)."""
    A = np.zeros(a.shape[:-3] + (16, 16))
    A[..., A_ROW, A_COL] = a
    B = np.zeros(b.shape[:-3] + (16, 8))
    B[..., B_K, B_N] = b
    D = A @ B
    d += D[..., C_ROW, C_COL].astype(np.float32)


# =====================================================================================================
# kernels/gemm.cu, tensor-core part
# =====================================================================================================
BLOCK_M, BLOCK_N, BLOCK_K = 128, 128, 32
STAGES, THREADS = 3, 256
WARP_M, WARP_N = 64, 32
M_FRAGS, N_FRAGS = WARP_M // 16, WARP_N // 8
TILE_ELEMENTS = BLOCK_M * BLOCK_K
RASTER_GROUP = 8
ACT_NONE, ACT_RELU, ACT_GELU = 0, 1, 2

TID = np.arange(THREADS)  # threadIdx.x of every thread of the block


def swizzled_chunk(COLS, row, chunk):
    assert COLS in (32, 128)
    return chunk ^ ((row >> 1) & 3) if COLS == 32 else chunk ^ (row & 7)


def tile_offset(COLS, row, col):
    check(np.asarray(col) % 8 == 0, "tile_offset: col is not a chunk start")
    return row * COLS + swizzled_chunk(COLS, row, col // 8) * 8


def tile_of_block(block, tiles_m, tiles_n):
    """The kernel's version (unsigned arithmetic)."""
    blocks_per_group = RASTER_GROUP * tiles_n
    first_m = (block // blocks_per_group) * RASTER_GROUP
    group_rows = min(tiles_m - first_m, RASTER_GROUP)
    in_group = block % blocks_per_group
    return first_m + in_group % group_rows, in_group // group_rows


def load_tile(ctx, tile, stage, matrix, row_stride, col_stride, row0, col0, rows, cols, ROWS, COLS, ASYNC):
    """load_tile<T, ROWS, COLS, ASYNC>: `matrix` a byte address, strides in elements; tile = stage's slot."""
    T_SIZE = 2
    CHUNKS_PER_ROW = COLS // 8
    CHUNKS = ROWS * COLS // 8
    assert CHUNKS % THREADS == 0
    base = stage * TILE_ELEMENTS  # a_tiles[stage] within the [STAGES][TILE_ELEMENTS] array
    for i in range(CHUNKS // THREADS):
        chunk_id = TID + i * THREADS
        row, chunk = chunk_id // CHUNKS_PER_ROW, chunk_id % CHUNKS_PER_ROW
        global_row, global_col = row0 + row, col0 + chunk * 8
        dst = base + row * COLS + swizzled_chunk(COLS, row, chunk) * 8
        if ASYNC:
            valid = np.where(global_row < rows, np.maximum(0, np.minimum(8, cols - global_col)), 0)
            src = np.where(valid > 0, matrix + (global_row * row_stride + global_col) * T_SIZE, matrix)
            cp_async_cg_16(ctx.copies, ctx.memory, tile, dst, src, valid * T_SIZE, T_SIZE)
        else:
            e = np.arange(8)
            inside = (global_row < rows)[:, None] & (global_col[:, None] + e < cols)
            address = matrix + (global_row[:, None] * row_stride + (global_col[:, None] + e) * col_stride) * T_SIZE
            values = np.zeros((THREADS, 8), np.float32)
            values[inside] = ctx.memory.load(address[inside], T_SIZE)
            tile.store(dst, values)  # *reinterpret_cast<uint4*>(dst) = ...


class BlockContext:
    def __init__(self, memory):
        self.memory, self.copies = memory, AsyncCopies()


def gemm_tc(p, memory, blockIdx_x, blockIdx_z, A_K_CONTIGUOUS, B_K_CONTIGUOUS, ASYNC):
    """tc::gemm_tc<__half, A_K_CONTIGUOUS, B_K_CONTIGUOUS, ASYNC>(p) for one block."""
    ctx = BlockContext(memory)
    a_tiles = SharedArray(STAGES * TILE_ELEMENTS, "a_tiles", 0)
    b_tiles = SharedArray(STAGES * TILE_ELEMENTS, "b_tiles", STAGES * TILE_ELEMENTS * 2)

    def syncthreads():
        a_tiles.syncthreads()
        b_tiles.syncthreads()

    m, n, k = p["m"], p["n"], p["k"]
    tile_m, tile_n = tile_of_block(blockIdx_x, (m + BLOCK_M - 1) // BLOCK_M, (n + BLOCK_N - 1) // BLOCK_N)
    block_m, block_n = tile_m * BLOCK_M, tile_n * BLOCK_N
    a = p["a"]["pointer"] + blockIdx_z * p["a"]["batch_stride"] * 2
    b = p["b"]["pointer"] + blockIdx_z * p["b"]["batch_stride"] * 2
    pa, pb = p["a"], p["b"]

    warp, lane = TID // 32, TID % 32
    warp_m, warp_n = warp // 4, warp % 4
    # Per-warp views [8 warps, 32 lanes] of the same quantities (ldmatrix is per warp).
    warp_m8, warp_n8 = warp_m.reshape(8, 32), warp_n.reshape(8, 32)
    lane8 = lane.reshape(8, 32)
    # Warps whose 64×32 sub-tile lies wholly past m or n skip their ldmatrix/mma (warp_has_outputs).
    warp_ids = np.arange(8)
    idle_warps = ~((block_m + (warp_ids // 4) * WARP_M < m) & (block_n + (warp_ids % 4) * WARP_N < n))

    written_stage = {}  # k_tile -> stage it was loaded into (to check against the stage it is read from)

    def load_stage(stage, k_tile):
        if k_tile * BLOCK_K >= k:
            return
        written_stage[k_tile] = stage
        k0 = k_tile * BLOCK_K
        if A_K_CONTIGUOUS:
            load_tile(ctx, a_tiles, stage, a, pa["row_stride"], pa["col_stride"], block_m, k0, m, k, BLOCK_M, BLOCK_K, ASYNC)
        else:
            load_tile(ctx, a_tiles, stage, a, pa["col_stride"], pa["row_stride"], k0, block_m, k, m, BLOCK_K, BLOCK_M, ASYNC)
        if B_K_CONTIGUOUS:
            load_tile(ctx, b_tiles, stage, b, pb["col_stride"], pb["row_stride"], block_n, k0, n, k, BLOCK_N, BLOCK_K, ASYNC)
        else:
            load_tile(ctx, b_tiles, stage, b, pb["row_stride"], pb["col_stride"], k0, block_n, k, n, BLOCK_K, BLOCK_N, ASYNC)

    acc = np.zeros((8, M_FRAGS, N_FRAGS, 32, 4), np.float32)  # acc[i][j][r] of every lane of every warp

    for s in range(STAGES - 1):  # prologue
        load_stage(s, s)
        ctx.copies.commit()

    k_tiles = (k + BLOCK_K - 1) // BLOCK_K
    quad, row8 = lane8 // 8, lane8 % 8
    for k_tile in range(k_tiles):
        ctx.copies.wait(STAGES - 2)
        syncthreads()
        load_stage((k_tile + STAGES - 1) % STAGES, k_tile + STAGES - 1)
        ctx.copies.commit()

        stage = k_tile % STAGES
        check(written_stage.get(k_tile) == stage, f"k-tile {k_tile} read from stage {stage}, loaded into {written_stage.get(k_tile)}")
        a_tile, b_tile = stage * TILE_ELEMENTS, stage * TILE_ELEMENTS
        for kk in range(0, BLOCK_K, 16):
            a_frag = np.zeros((8, M_FRAGS, 32, 4, 2), np.float32)
            b_frag = np.zeros((8, N_FRAGS, 32, 2, 2), np.float32)
            for i in range(M_FRAGS):
                m_base = warp_m8 * WARP_M + i * 16
                if A_K_CONTIGUOUS:
                    a_frag[:, i] = ldmatrix_x4(a_tiles, a_tile + tile_offset(BLOCK_K, m_base + lane8 % 16, kk + (lane8 // 16) * 8), trans=False)
                else:
                    a_frag[:, i] = ldmatrix_x4(a_tiles, a_tile + tile_offset(BLOCK_M, kk + row8 + (quad // 2) * 8, m_base + (quad % 2) * 8), trans=True)
            for j in range(0, N_FRAGS, 2):
                n_base = warp_n8 * WARP_N + j * 8
                if B_K_CONTIGUOUS:
                    r = ldmatrix_x4(b_tiles, b_tile + tile_offset(BLOCK_K, n_base + row8 + (quad // 2) * 8, kk + (quad % 2) * 8), trans=False)
                else:
                    r = ldmatrix_x4(b_tiles, b_tile + tile_offset(BLOCK_N, kk + row8 + (quad % 2) * 8, n_base + (quad // 2) * 8), trans=True)
                b_frag[:, j, :, 0], b_frag[:, j, :, 1] = r[:, :, 0], r[:, :, 1]
                b_frag[:, j + 1, :, 0], b_frag[:, j + 1, :, 1] = r[:, :, 2], r[:, :, 3]
            # for i, j: mma_16x8x16(acc[i][j], a_frag[i], b_frag[j])  (all 16 at once), idle warps left alone
            idle_acc = acc[idle_warps].copy()
            mma_m16n8k16(acc, a_frag[:, :, None], b_frag[:, None, :])
            acc[idle_warps] = idle_acc
    ctx.copies.wait(0)
    check(not any(ctx.copies.committed), "copies still in flight at exit")

    c_batch_offset = blockIdx_z * m * n
    g, t = lane8 // 4, lane8 % 4
    for i, j in itertools.product(range(M_FRAGS), range(N_FRAGS)):
        row = block_m + warp_m8 * WARP_M + i * 16 + g
        col = block_n + warp_n8 * WARP_N + j * 8 + 2 * t
        store_pair(p, memory, c_batch_offset, row, col, acc[:, i, j, :, 0], acc[:, i, j, :, 1])
        store_pair(p, memory, c_batch_offset, row + 8, col, acc[:, i, j, :, 2], acc[:, i, j, :, 3])


_erf = np.vectorize(math.erf, otypes=[np.float64])


def apply_activation(v, activation):
    if activation == ACT_RELU:
        return np.maximum(v, np.float32(0))
    if activation == ACT_GELU:
        return (0.5 * v * (1.0 + _erf(v.astype(np.float64) * 0.70710678118654752))).astype(np.float32)
    return v


def store_pair(p, memory, c_batch_offset, row, col, v0, v1):
    """store_pair<__half>, vectorised over lanes: outputs (row, col) and (row, col + 1)."""
    T_SIZE = 2
    keep = (row < p["m"]) & (col < p["n"])  # if (row >= p.m || col >= p.n) return;
    row, col, v0, v1 = row[keep], col[keep], v0[keep], v1[keep]
    second = col + 1 < p["n"]
    if p["bias"]:
        v0 = p["alpha"] * v0 + memory.load(p["bias"] + col * T_SIZE, T_SIZE)
        v1 = np.where(second, p["alpha"] * v1 + memory.load(p["bias"] + np.where(second, col + 1, col) * T_SIZE, T_SIZE), np.float32(0))
    else:
        v0, v1 = v0 * p["alpha"], v1 * p["alpha"]
    v0, v1 = apply_activation(np.float32(v0), p["activation"]), apply_activation(np.float32(v1), p["activation"])
    index = c_batch_offset + row * p["n"] + col
    paired = second & (p["n"] % 2 == 0)
    size = 4 if p["out_is_f32"] else T_SIZE
    out = (lambda v: v.astype(np.float32)) if p["out_is_f32"] else (lambda v: v.astype(np.float16).astype(np.float32))
    address = p["c"] + index * size
    # paired: one 8-byte (float2) or 4-byte (two halves in one unsigned int) store, aligned to its width;
    # otherwise c[index] = v0 and, when second, c[index + 1] = v1 as element stores.
    memory.store_pair(address[paired], out(v0[paired]), out(v1[paired]), size)
    memory.store(address[~paired], out(v0[~paired]), size, size)
    single_second = ~paired & second
    memory.store(address[single_second] + size, out(v1[single_second]), size, size)


# =====================================================================================================
# src/backend/cuda/gemm.rs (host side), mirrored
# =====================================================================================================
MAX_GRID_Z = 65_535


def plan_operand(s, batch, address, element_size):
    aligned = lambda elements: (elements * element_size) % 16 == 0

    def view_as(order):
        if order == "row":
            return s["col_stride"], s["row_stride"], s["cols"], s["rows"]
        return s["row_stride"], s["col_stride"], s["rows"], s["cols"]

    def usable(order):
        contiguous_stride, leading, contiguous_extent, outer_extent = view_as(order)
        return ((contiguous_stride == 1 or contiguous_extent == 1) and (outer_extent == 1 or aligned(leading))
                and (batch <= 1 or s["batch_stride"] == 0 or aligned(s["batch_stride"])) and address % 16 == 0)

    for order in ["row", "col"]:
        if usable(order):
            return order, True
    return ("row" if s["col_stride"] <= s["row_stride"] else "col"), False


def kernel_name(a_plan, b_plan):
    loads = "async" if a_plan[1] and b_plan[1] else "strided"
    return f"gemm_f16_a{a_plan[0]}_b{b_plan[0]}_{loads}"


def grid(m, n, batches):
    tiles = -(-m // BLOCK_M) * -(-n // BLOCK_N)
    assert tiles <= 2**31 - 1 and batches <= MAX_GRID_Z
    return max(tiles, 1), 1, max(batches, 1)


# The instantiations of gemm.cu: GEMM_TC(SUFFIX, T, A_NAME, A_K_CONTIGUOUS, B_NAME, B_K_CONTIGUOUS, ...)
def kernel_table():
    source = (ROOT / "kernels/gemm.cu").read_text()
    table = {}
    for a_name, a_k, b_name, b_k in re.findall(r"GEMM_TC\(SUFFIX, T, (row|col), (true|false), (row|col), (true|false), LOAD_NAME, ASYNC\)", source):
        for load, is_async in re.findall(r"GEMM_TC_LAYOUTS\(f16, __half, (\w+), (\w+)\)", source):
            table[f"gemm_f16_a{a_name}_b{b_name}_{load}"] = (a_k == "true", b_k == "true", is_async == "true")
    assert len(table) == 8, table
    return table


KERNELS = kernel_table()


def launch_gemm(memory, a_buf, b_buf, dims, alpha, bias_buf, activation, out_is_f32, blocks=None, max_grid_z=MAX_GRID_Z):
    """gemm() of gemm.rs: plan, name, params, chunked launches; then every block runs gemm_tc.
    `blocks`: optional subset of blockIdx.x to simulate (edge blocks should be in it)."""
    m, n, k, batch = dims["m"], dims["n"], dims["k"], dims["batch"]
    out_size = 4 if out_is_f32 else 2
    c_buf = memory.alloc(np.full(batch * m * n, np.nan, np.float32), element_size=out_size)
    a_address = a_buf.base + dims["a"]["offset"] * 2
    b_address = b_buf.base + dims["b"]["offset"] * 2
    a_plan, b_plan = plan_operand(dims["a"], batch, a_address, 2), plan_operand(dims["b"], batch, b_address, 2)
    name = kernel_name(a_plan, b_plan)
    A_K, B_K, ASYNC = KERNELS[name]
    CURRENT_KERNEL[0] = name
    operand = lambda addr, s: {"pointer": addr, "batch_stride": s["batch_stride"], "row_stride": s["row_stride"], "col_stride": s["col_stride"]}
    params = {"a": operand(a_address, dims["a"]), "b": operand(b_address, dims["b"]), "c": c_buf.base,
              "bias": 0 if bias_buf is None else bias_buf.base, "m": m, "n": n, "k": k,
              "alpha": np.float32(alpha), "activation": activation, "out_is_f32": int(out_is_f32)}
    first = 0
    while first < batch:
        count = min(batch - first, max_grid_z)
        gx, gy, gz = grid(m, n, count)
        chunk = {**params, "a": dict(params["a"]), "b": dict(params["b"])}
        chunk["a"]["pointer"] += first * dims["a"]["batch_stride"] * 2
        chunk["b"]["pointer"] += first * dims["b"]["batch_stride"] * 2
        chunk["c"] += first * m * n * out_size
        for z in range(gz):
            for x in (range(gx) if blocks is None else [bx for bx in blocks if bx < gx]):
                gemm_tc(chunk, memory, x, z, A_K, B_K, ASYNC)
        first += count
    return name, c_buf


# =====================================================================================================
# Test cases
# =====================================================================================================
def make_operand(memory, values, order, path, rng):
    """Stores values [batch or 1, rows, cols] in a fresh buffer arranged so that plan_operand picks
    (order, path); returns (buffer, MatrixStrides dict). Unused positions hold NaN and are unreadable."""
    nb, rows, cols = values.shape
    contiguous, outer = (cols, rows) if order == "row" else (rows, cols)
    if path == "async":
        step, leading, offset = 1, -(-contiguous // 8) * 8 + 8 * int(rng.integers(0, 2)), 8 * int(rng.integers(0, 2))
    else:  # misaligned start, odd leading dimension, sometimes a non-unit contiguous stride
        step = int(rng.integers(1, 3))
        leading, offset = step * contiguous + 1 + 2 * int(rng.integers(0, 2)), 3
    matrix_size = leading * (outer - 1) + step * (contiguous - 1) + 1
    batch_stride = 0 if nb == 1 else -(-matrix_size // 8) * 8 + (8 if path == "async" else 5)
    size = offset + batch_stride * (nb - 1) + matrix_size + 16
    storage = np.full(size, np.nan, np.float32)
    readable = np.zeros(size, bool)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    row_stride, col_stride = (leading, step) if order == "row" else (step, leading)
    for bi in range(nb):
        pos = offset + bi * batch_stride + r * row_stride + c * col_stride
        storage[pos], readable[pos] = values[bi], True
    s = {"offset": offset, "batch_stride": batch_stride, "row_stride": row_stride, "col_stride": col_stride, "rows": rows, "cols": cols}
    return memory.alloc(storage, readable), s


def reference(a, b, alpha, bias, activation, out_is_f32):
    acc = np.matmul(a.astype(np.float64), b.astype(np.float64))
    v = np.float32(alpha) * acc.astype(np.float32)
    if bias is not None:
        v = v + bias.astype(np.float32)
    if activation == ACT_RELU:
        v = np.maximum(v, 0)
    elif activation == ACT_GELU:
        v = (0.5 * v * (1.0 + _erf(v.astype(np.float64) / math.sqrt(2)))).astype(np.float32)
    return v.astype(np.float32) if out_is_f32 else v.astype(np.float16).astype(np.float32)


def random_operand(memory, nb, rows, cols, broadcast, rng):
    """Any strides (0 included), offsets and batch strides, aligned or not, as views of real tensors can
    have: transposes, slices, expanded axes, vectors with arbitrary strides along their extent-1 axis.
    The logical matrix is gathered from the storage, so aliasing views are fine."""
    def pad(x):  # sometimes round up to a multiple of 8 elements (16 bytes), sometimes not
        return -(-x // 8) * 8 if rng.random() < 0.8 else x
    style = rng.choice(["row", "col", "any", "vector"])
    if style == "row":
        col_stride, row_stride = 1, pad(cols + int(rng.integers(0, 4)))
    elif style == "col":
        row_stride, col_stride = 1, pad(rows + int(rng.integers(0, 4)))
    elif style == "any":
        row_stride, col_stride = (int(x) for x in rng.integers(0, 12, 2))  # 0: an expanded axis
    else:
        row_stride, col_stride = (int(x) for x in rng.integers(0, 40, 2))
    offset = int(rng.choice([0, 0, 8, 16, int(rng.integers(0, 20))]))
    span = row_stride * (rows - 1) + col_stride * (cols - 1) + 1
    batch_stride = 0 if (nb == 1 or broadcast) else pad(span + int(rng.integers(0, 5)))
    size = offset + batch_stride * (nb - 1) + span + 8
    storage = rng.integers(-3, 4, size).astype(np.float32)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    positions = np.array([offset + bi * batch_stride + r * row_stride + c * col_stride for bi in range(nb)])
    readable = np.zeros(size, bool)
    readable[positions] = True
    storage[~readable] = np.nan
    s = {"offset": offset, "batch_stride": batch_stride, "row_stride": row_stride, "col_stride": col_stride, "rows": rows, "cols": cols}
    return memory.alloc(storage, readable), s, storage[positions]


def run_case(rng, m, n, k, a_order=None, b_order=None, path=None, batch=1, broadcast=None, epilogue=(1.0, False, ACT_NONE, False),
             data="int", blocks=None, max_grid_z=MAX_GRID_Z, mixed=False, fuzz=False):
    """Builds A and B (in the arrangement that makes the host pick gemm_f16_a<a_order>_b<b_order>_<path>,
    or random ones with fuzz=True), launches through the host mirror, compares with numpy."""
    alpha, with_bias, activation, out_is_f32 = epilogue
    memory = DeviceMemory()

    def values(shape):
        if data == "int":  # small integers: every product and partial sum is exact in fp16/fp32
            return rng.integers(-3, 4, shape).astype(np.float32)
        return rng.standard_normal(shape).astype(np.float16).astype(np.float32)

    a_batches, b_batches = (1 if broadcast == "a" else batch), (1 if broadcast == "b" else batch)
    if fuzz:
        a_buf, a_s, a = random_operand(memory, a_batches, m, k, broadcast == "a", rng)
        b_buf, b_s, b = random_operand(memory, b_batches, k, n, broadcast == "b", rng)
    else:
        a, b = values((a_batches, m, k)), values((b_batches, k, n))
        a_buf, a_s = make_operand(memory, a, a_order, "async" if mixed else path, rng)
        b_buf, b_s = make_operand(memory, b, b_order, path, rng)
    dims = {"batch": batch, "m": m, "n": n, "k": k, "a": a_s, "b": b_s}
    bias = values(n) if with_bias else None
    bias_buf = None if bias is None else memory.alloc(bias.copy())
    try:
        name, c_buf = launch_gemm(memory, a_buf, b_buf, dims, alpha, bias_buf, activation, out_is_f32, blocks, max_grid_z)
    except SimError as error:
        a_plan = plan_operand(a_s, batch, a_buf.base + a_s["offset"] * 2, 2)
        b_plan = plan_operand(b_s, batch, b_buf.base + b_s["offset"] * 2, 2)
        return kernel_name(a_plan, b_plan), f"MISMATCH: {error} (A {a_s}, B {b_s})"
    want = reference(np.broadcast_to(a, (batch, m, k)), np.broadcast_to(b, (batch, k, n)), alpha, bias, activation, out_is_f32)
    got = c_buf.values.reshape(batch, m, n)
    writes = c_buf.writes.reshape(batch, m, n)
    if blocks is not None:  # only the simulated blocks' tiles are checked
        tiles_m, tiles_n = -(-m // BLOCK_M), -(-n // BLOCK_N)
        mask = np.zeros((m, n), bool)
        for bx in blocks:
            if bx < tiles_m * tiles_n:
                tm, tn = tile_of_block(bx, tiles_m, tiles_n)
                mask[tm * BLOCK_M:(tm + 1) * BLOCK_M, tn * BLOCK_N:(tn + 1) * BLOCK_N] = True
        check((writes[:, ~mask] == 0).all(), "a store outside the simulated blocks' tiles")
        got, want, writes = got[:, mask], want[:, mask], writes[:, mask]
    problems = []
    if not (writes == 1).all():
        problems.append(f"{int((writes == 0).sum())} outputs never written, {int((writes > 1).sum())} written twice")
    exact = data == "int" and activation != ACT_GELU
    if exact:
        ok = np.array_equal(got, want)
    else:
        scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
        ok = np.allclose(got, want, rtol=1e-3, atol=1e-3 * scale) and not np.isnan(got).any()
    if not ok:
        bad = np.argwhere(~np.isclose(got, want, rtol=1e-3, atol=1e-3) | np.isnan(got))
        problems.append(f"{len(bad)} wrong outputs, first at {tuple(int(x) for x in bad[0])}: {got[tuple(bad[0])]} vs {want[tuple(bad[0])]}")
    if problems and fuzz:
        problems.append(f"A {a_s}, B {b_s}")
    return name, ("exact" if exact else "within 1e-3") if not problems else "MISMATCH: " + "; ".join(problems)


def host_checks():
    """Host-side consistency: the parameter struct on both sides, raster order, grid."""
    lines = []
    cu = (ROOT / "kernels/gemm.cu").read_text()
    rs = (ROOT / "src/backend/cuda/gemm.rs").read_text()

    def c_fields(struct):
        body = re.search(r"struct %s \{(.*?)\};" % struct, cu, re.S).group(1)
        fields = []
        for line in body.splitlines():
            line = line.split("//")[0].strip().rstrip(";")
            if line:
                ctype, names = re.match(r"(unsigned long long|unsigned int|float|GemmOperand)\s+(.*)", line).groups()
                fields += [(name.strip(), ctype) for name in names.split(",")]
        return fields

    def rust_fields(struct):
        body = re.search(r"struct %s \{(.*?)\n\}" % struct, rs, re.S).group(1)
        return re.findall(r"(\w+): (\w+),", body)

    c_to_rust = {"unsigned long long": "u64", "unsigned int": "u32", "float": "f32", "GemmOperand": "KernelOperand"}
    for c_struct, r_struct in [("GemmOperand", "KernelOperand"), ("GemmParams", "GemmParams")]:
        cf, rf = c_fields(c_struct), rust_fields(r_struct)
        check([(nm, c_to_rust[t]) for nm, t in cf] == rf, f"{c_struct} fields differ: {cf} vs {rf}")
    ctype = {"u64": ctypes.c_uint64, "u32": ctypes.c_uint32, "f32": ctypes.c_float}

    class Operand(ctypes.Structure):
        _fields_ = [(nm, ctype[t]) for nm, t in rust_fields("KernelOperand")]

    ctype["KernelOperand"] = Operand

    class Params(ctypes.Structure):
        _fields_ = [(nm, ctype[t]) for nm, t in rust_fields("GemmParams")]

    check(ctypes.sizeof(Params) == 104 and ctypes.alignment(Params) == 8, "GemmParams is not 104 bytes, 8-aligned")
    lines.append(f"GemmParams: same fields and types in gemm.cu and gemm.rs, C layout {ctypes.sizeof(Params)} bytes, align {ctypes.alignment(Params)}")
    check(("%d" % RASTER_GROUP) in re.search(r"#define RASTER_GROUP (\d+)", cu).group(0) and "const RASTER_GROUP: usize = 8;" in rs, "RASTER_GROUP differs")
    for tiles_m in range(1, 40):
        for tiles_n in list(range(1, 20)) + [64, 257]:
            seen = np.zeros((tiles_m, tiles_n), int)
            gx = grid(tiles_m * BLOCK_M, tiles_n * BLOCK_N, 1)[0]
            for block in range(gx):
                tm, tn = tile_of_block(block, tiles_m, tiles_n)
                check(tm < tiles_m and tn < tiles_n, f"block {block} maps outside the {tiles_m}×{tiles_n} tiles")
                seen[tm, tn] += 1
            check((seen == 1).all(), f"raster order not a bijection for {tiles_m}×{tiles_n} tiles")
    lines.append("grid × tile_of_block: every tile exactly once for 1..39 × (1..19, 64, 257) tile grids")
    return lines


def main():
    quick = "--quick" in sys.argv
    rng = np.random.default_rng(1)
    started = time.time()
    failures = 0
    for line in host_checks():
        print("host:", line)
    layouts = [("row", "row"), ("row", "col"), ("col", "row"), ("col", "col")]
    epilogues = [(1.0, False, ACT_NONE, False), (2.0, True, ACT_RELU, False), (0.5, True, ACT_GELU, True)]
    shapes = [(1, 1, 1), (17, 33, 65), (129, 63, 257), (128, 128, 32), (5, 4096, 3)]
    cases = []
    for (m, n, k), (ao, bo), path in itertools.product(shapes, layouts, ["async", "strided"]):
        for ei, ep in enumerate(epilogues if not quick else epilogues[1:2]):
            # (5, 4096, 3): 32 blocks along n; simulate the first, some middle and the last ones.
            blocks = [0, 1, 15, 30, 31] if (m, n, k) == (5, 4096, 3) else None
            cases.append(dict(m=m, n=n, k=k, a_order=ao, b_order=bo, path=path, epilogue=ep, blocks=blocks,
                              data="int" if ei < 2 else "float"))
    # Batches: per-batch operands, broadcast A or B, and the MAX_GRID_Z chunking (limit lowered to 2 so
    # that 5 batches take 3 launches with moved pointers).
    for (ao, bo), path in itertools.product(layouts, ["async", "strided"]):
        cases.append(dict(m=33, n=20, k=40, a_order=ao, b_order=bo, path=path, batch=3))
        cases.append(dict(m=9, n=130, k=17, a_order=ao, b_order=bo, path=path, batch=3, broadcast="a", epilogue=(1.0, True, ACT_RELU, True)))
        if not quick:
            cases.append(dict(m=70, n=8, k=33, a_order=ao, b_order=bo, path=path, batch=5, broadcast="b", max_grid_z=2))
    # One operand cp.async-eligible, the other not: the strided kernel with A in its async arrangement.
    for ao, bo in layouts:
        cases.append(dict(m=40, n=24, k=48, a_order=ao, b_order=bo, path="strided", mixed=True))
    # Several tile rows and columns (raster groups of 8 tile rows, a partial last group), k of 3 tiles.
    if not quick:
        for ao, bo in [("row", "col"), ("col", "row")]:
            cases.append(dict(m=9 * 128 + 1, n=2 * 128 + 3, k=96, a_order=ao, b_order=bo, path="async",
                              blocks=[0, 1, 7, 8, 15, 23, 24, 25, 27, 29], data="float"))
    # Random strides / offsets / batch strides: the host's cp.async rules against what the kernel reads
    # (every cp.async source 16-byte aligned, every element read inside the view).
    fuzz_rng = np.random.default_rng(7)
    for _ in range(60 if quick else 300):
        m, n, k = (int(x) for x in fuzz_rng.choice([1, 2, 3, 7, 8, 9, 16, 17, 33, 40, 64, 130], 3))
        batch = int(fuzz_rng.integers(1, 4))
        broadcast = fuzz_rng.choice([None, "a", "b"]) if batch > 1 else None
        cases.append(dict(m=m, n=n, k=k, batch=batch, broadcast=broadcast, fuzz=True,
                          epilogue=(1.0, bool(fuzz_rng.integers(0, 2)), ACT_RELU, bool(fuzz_rng.integers(0, 2)))))
    used, fuzz_kernels = set(), {}
    for case in cases:
        name, verdict = run_case(rng, **case)
        used.add(name)
        ep = case.get("epilogue", (1.0, False, ACT_NONE, False))
        if case.get("fuzz"):
            fuzz_kernels[name] = fuzz_kernels.get(name, 0) + 1
            if verdict.startswith("MISMATCH"):
                print(f"{name:26s} random strides {case['m']}x{case['n']}x{case['k']} batch {case['batch']}: {verdict}")
            failures += verdict.startswith("MISMATCH")
            continue
        desc = (f"{case['m']}x{case['n']}x{case['k']} batch {case.get('batch', 1)}"
                + (f" (broadcast {case['broadcast']})" if case.get("broadcast") else "")
                + f" alpha {ep[0]} bias {int(ep[1])} act {['none', 'relu', 'gelu'][ep[2]]} out {'f32' if ep[3] else 'f16'}"
                + f" {case.get('data', 'int')}" + (" [blocks subset]" if case.get("blocks") else ""))
        print(f"{name:26s} {desc}: {verdict}")
        failures += verdict.startswith("MISMATCH")
    fuzzed = [c for c in cases if c.get("fuzz")]
    print(f"random-stride cases: {len(fuzzed)} (failures listed above, if any), by kernel: "
          + ", ".join(f"{k.removeprefix('gemm_f16_')} {v}" for k, v in sorted(fuzz_kernels.items())))
    for kernel in sorted(KERNELS):
        ways = {key[1:]: v for key, v in BANK_WAYS.items() if key[0] == kernel}
        print(f"bank conflicts {kernel:26s} " + ", ".join(f"{arr} {acc}: {v}-way" for (arr, acc), v in sorted(ways.items())))
    missing = set(KERNELS) - used
    if missing:
        print("kernels never exercised:", sorted(missing))
        failures += 1
    print(f"{len(cases)} cases, {len(used)} of the {len(KERNELS)} f16 kernels exercised, {failures} failing, {time.time() - started:.0f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
