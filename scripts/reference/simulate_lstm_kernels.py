#!/usr/bin/env python3
"""A thread-level Python model of kernels/lstm.cu and kernels/embedding.cu, to check their index math
and barrier placement without a GPU, for the launch configurations src/backend/cuda/{lstm,embedding}.rs
compute (ported below: rows_per_block, the shared-memory byte counts, the persistent/per-step choice,
grid_for).

How a kernel runs here. Every thread of every block of a launch is one lane of a numpy vector and the
kernel body is transcribed statement by statement, so a statement runs for all threads at once
(lockstep); per-thread loops (`for (i = threadIdx.x; i < n; i += blockDim.x)`) run trip by trip with an
active mask, a warp's `__ballot_sync` is computed from its 32 lanes. Lockstep is a faithful model of
the kernel exactly when no two threads of a phase (the code between two `__syncthreads`) touch the
same location with at least one write, and that is what the memory model checks:

* shared memory is one array per block, of exactly the launcher's byte count (dynamic) or of the
  declared shape (static, every subscript checked against its own extent); each location remembers
  which threads read and wrote it in the current phase: a read of a location another thread wrote in
  the same phase, or a write to a location another thread read or wrote, is reported as a race; a
  read of never-written shared memory is reported too;
* global buffers are bounds-checked against their allocation; outputs start as NaN (the allocator
  does not zero) and record their writer: a read of a value another block wrote in the same launch,
  or another thread of the block in the same phase, is a race; each output element must be written
  exactly once per launch (dc_carry aside, which its owner thread rewrites every step);
* `__syncthreads` must be reached by every thread of the block that has not exited.

Arithmetic is f32 as in the kernels (numpy exp/tanh instead of expf/tanhf, no FMA contraction), so
the comparison with the f64 port of src/backend/cpu/lstm.rs is to a tolerance (index bugs give O(1)
errors); the embedding is compared exactly (f32 sums in position order, f16/bf16 rounded to nearest
even, as the CPU reference does). A host-side part parses the kernel signatures and the launchers'
`.arg(..)` chains and compares count, order and sizes.

    python3 scripts/reference/simulate_lstm_kernels.py      # numpy only; a few seconds; exit 1 on a failure
"""
import pathlib
import re
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
F32 = np.float32
THREADS = 256  # lstm.rs THREADS and launch.rs BLOCK
PROBLEMS = []  # every race, out-of-bounds access, uninitialised read or mismatch found


def problem(message):
    if len(PROBLEMS) < 200 and message not in PROBLEMS:
        PROBLEMS.append(message)


# ---------------------------------------------------------------------------------------------
# The machine: a launch of `blocks` × `threads`, lane = block·threads + thread.

class Launch:
    def __init__(self, name, blocks, threads):
        self.name, self.blocks, self.threads = name, blocks, threads
        self.block = np.repeat(np.arange(blocks), threads)
        self.tid = np.tile(np.arange(threads), blocks)
        self.lanes = blocks * threads
        self.exited = np.zeros(self.lanes, bool)
        self.phase = 0
        self.shared = []
        self.globals = []

    def everyone(self):
        return ~self.exited

    def exit(self, mask):
        """`return` for the lanes in mask."""
        self.exited |= mask

    def syncthreads(self, arrived):
        """__syncthreads reached by the lanes in `arrived`: must be every non-exited thread of the block."""
        waiting = self.everyone()
        if not np.array_equal(arrived & waiting, waiting) or np.any(arrived & self.exited):
            problem(f"{self.name}: __syncthreads not reached by every live thread of a block (phase {self.phase})")
        if np.any(self.exited.reshape(self.blocks, -1).any(1) & ~self.exited.reshape(self.blocks, -1).all(1)):
            problem(f"{self.name}: __syncthreads after some threads of the block returned (phase {self.phase})")
        self.phase += 1
        for s in self.shared:
            s.new_phase()


class Tracker:
    """Per-location min/max id of the threads that read and wrote it in the current phase."""
    NONE = np.iinfo(np.int64).max

    def __init__(self, shape):
        self.r_min, self.r_max = np.full(shape, self.NONE), np.full(shape, -1)
        self.w_min, self.w_max = np.full(shape, self.NONE), np.full(shape, -1)

    def reset(self):
        for a, v in ((self.r_min, self.NONE), (self.r_max, -1), (self.w_min, self.NONE), (self.w_max, -1)):
            a.fill(v)

    def read(self, key, who):
        """True where another thread wrote `key` in this phase. Records the read."""
        w_min, w_max = self.w_min[key], self.w_max[key]
        race = (w_max >= 0) & ((w_min != who) | (w_max != who))
        np.minimum.at(self.r_min, key, who)
        np.maximum.at(self.r_max, key, who)
        return race

    def write(self, key, who):
        """True where another thread read or wrote `key` in this phase (or two threads write it now)."""
        race = (self.r_max[key] >= 0) & ((self.r_min[key] != who) | (self.r_max[key] != who))
        race |= (self.w_max[key] >= 0) & ((self.w_min[key] != who) | (self.w_max[key] != who))
        np.minimum.at(self.w_min, key, who)
        np.maximum.at(self.w_max, key, who)
        race |= (self.w_min[key] != who) | (self.w_max[key] != who)
        return race


class Shared:
    """A __shared__ array of `shape` (floats) per block; subscripts are checked one by one."""

    def __init__(self, launch, name, shape):
        self.launch, self.name, self.shape = launch, name, tuple(shape)
        self.size = int(np.prod(self.shape))
        self.data = np.full((launch.blocks, self.size), np.nan, F32)
        self.written = np.zeros((launch.blocks, self.size), bool)
        self.track = Tracker(launch.blocks * self.size)
        self.highest = -1
        launch.shared.append(self)

    def new_phase(self):
        self.track.reset()

    def _flat(self, subscripts, mask):
        if not isinstance(subscripts, tuple):
            subscripts = (subscripts,)
        flat = np.zeros(self.launch.lanes, np.int64)
        ok = mask.copy()
        for s, extent in zip(subscripts, self.shape):
            s = np.broadcast_to(np.asarray(s, np.int64), flat.shape)
            bad = mask & ((s < 0) | (s >= extent))
            if bad.any():
                lane = int(np.argmax(bad))
                problem(f"{self.launch.name}: {self.name} subscript {int(s[lane])} outside [0, {extent}) "
                        f"(block {self.launch.block[lane]}, thread {self.launch.tid[lane]})")
                ok &= ~bad
            flat = flat * extent + np.where(ok, s, 0)
        if ok.any():
            self.highest = max(self.highest, int(flat[ok].max()))
        return flat, ok

    def load(self, subscripts, mask):
        flat, ok = self._flat(subscripts, mask)
        lane_block = self.launch.block[ok]
        if not self.written[lane_block, flat[ok]].all():
            problem(f"{self.launch.name}: read of never-written {self.name} (phase {self.launch.phase})")
        if self.track.read(lane_block * self.size + flat[ok], self.launch.tid[ok]).any():
            problem(f"{self.launch.name}: {self.name} read of a value another thread writes in the same phase "
                    f"(phase {self.launch.phase})")
        out = np.zeros(self.launch.lanes, F32)
        out[ok] = self.data[lane_block, flat[ok]]
        return out

    def store(self, subscripts, values, mask):
        flat, ok = self._flat(subscripts, mask)
        lane_block = self.launch.block[ok]
        if self.track.write(lane_block * self.size + flat[ok], self.launch.tid[ok]).any():
            problem(f"{self.launch.name}: {self.name} written where another thread reads or writes in the same "
                    f"phase (phase {self.launch.phase})")
        self.data[lane_block, flat[ok]] = np.broadcast_to(np.asarray(values, F32), mask.shape)[ok]
        self.written[lane_block, flat[ok]] = True


class Buffer:
    """A global buffer (flat). Outputs track their writers for the launch in progress."""

    def __init__(self, name, values, output=False):
        self.name, self.data, self.output = name, values, output
        self.launch = None

    def attach(self, launch):
        self.launch = launch
        if self.output:
            self.w_block = np.full(self.data.size, -1)
            self.w_tid = np.full(self.data.size, -1)
            self.w_phase = np.full(self.data.size, -1)
            self.writes = np.zeros(self.data.size, np.int64)
        return self

    def _check(self, index, mask):
        index = np.broadcast_to(np.asarray(index, np.int64), mask.shape)
        bad = mask & ((index < 0) | (index >= self.data.size))
        if bad.any():
            lane = int(np.argmax(bad))
            problem(f"{self.launch.name}: {self.name}[{int(index[lane])}] outside its {self.data.size} elements "
                    f"(block {self.launch.block[lane]}, thread {self.launch.tid[lane]})")
        return index, mask & ~bad

    def load(self, index, mask):
        index, ok = self._check(index, mask)
        if self.output:
            i, b, t = index[ok], self.launch.block[ok], self.launch.tid[ok]
            wb = self.w_block[i]
            other_block = (wb >= 0) & (wb != b)
            same_phase = (wb == b) & (self.w_tid[i] != t) & (self.w_phase[i] == self.launch.phase)
            if (other_block | same_phase).any():
                problem(f"{self.launch.name}: {self.name} read of a value another "
                        f"{'block' if other_block.any() else 'thread'} writes in the same launch")
        out = np.zeros(mask.shape, self.data.dtype)
        out[ok] = self.data[index[ok]]
        if np.issubdtype(self.data.dtype, np.floating) and np.isnan(out[ok]).any():
            problem(f"{self.launch.name}: read of an unwritten element of {self.name}")
        return out

    def store(self, index, values, mask):
        index, ok = self._check(index, mask)
        i = index[ok]
        if not self.output:
            problem(f"{self.launch.name}: store into the input {self.name}")
        elif np.unique(i).size != i.size:
            problem(f"{self.launch.name}: two threads store the same element of {self.name} at once")
        else:
            self.w_block[i], self.w_tid[i], self.w_phase[i] = self.launch.block[ok], self.launch.tid[ok], self.launch.phase
            self.writes[i] += 1
        self.data[i] = np.broadcast_to(np.asarray(values).astype(self.data.dtype), mask.shape)[ok]

    def written_once(self, elements=None):
        writes = self.writes if elements is None else self.writes[elements]
        if not np.all(writes == 1):
            problem(f"{self.launch.name}: {self.name}: {int((writes == 0).sum())} elements never written, "
                    f"{int((writes > 1).sum())} written more than once")


def strided_trips(start, bound, stride):
    """Trips of `for (i = start; i < bound; i += stride)` per lane: yields (i, active) until all are done."""
    i = np.asarray(start, np.int64).copy()
    bound = np.broadcast_to(np.asarray(bound, np.int64), i.shape)
    while True:
        active = i < bound
        if not active.any():
            return
        yield i.copy(), active
        i += stride


def sigmoid(x):
    return (F32(1) / (F32(1) + np.exp(-x))).astype(F32)


def tanh(x):
    return np.tanh(x).astype(F32)


# ---------------------------------------------------------------------------------------------
# Host side: src/backend/cuda/lstm.rs and launch.rs, ported.

def rows_per_block(multiprocessors, batch):
    return next((rows for rows in (1, 2, 4) if -(-batch // rows) <= multiprocessors), 4)


def forward_shared_bytes(hidden, rows):
    return 4 * (4 * hidden * hidden + 2 * rows * hidden + rows * 4 * hidden)


def backward_shared_bytes(hidden, rows):
    parts = max(THREADS // max(hidden, 1), 1)
    return 4 * (4 * hidden * hidden + rows * 4 * hidden + 2 * rows * hidden + parts * rows * hidden)


PERSISTENT_SHARED_LIMIT = 96 * 1024


def uses_persistent(multiprocessors, batch, hidden):
    rows = rows_per_block(multiprocessors, batch)
    return max(forward_shared_bytes(hidden, rows), backward_shared_bytes(hidden, rows)) <= PERSISTENT_SHARED_LIMIT


def grid_for(multiprocessors, n):
    return min(max(-(-n // THREADS), 1), multiprocessors * 16)


# ---------------------------------------------------------------------------------------------
# kernels/lstm.cu, persistent kernels (dynamic shared memory of the launcher's byte count).

def lstm_forward_persistent(BB, batch, steps, hidden, x_proj, w_hh, outputs, gates, cells, shared_bytes, grid):
    L = Launch(f"lstm_forward_persistent_b{BB}", grid, THREADS)
    for buf in (x_proj, w_hh, outputs, gates, cells):
        buf.attach(L)
    shared = Shared(L, "dynamic shared", (shared_bytes // 4,))
    tid, all_ = L.tid, L.everyone()
    G = 4 * hidden
    w_t, h_s = 0, hidden * G
    c_s = h_s + BB * hidden
    a_s = c_s + BB * hidden
    first_row = L.block * BB
    rows = np.minimum(BB, (batch - first_row) & 0xFFFFFFFF)

    for i, m in strided_trips(tid, hidden * G, THREADS):
        r, k = i // hidden, i % hidden
        shared.store(w_t + k * G + r, w_hh.load(i, m), m)
    for i, m in strided_trips(tid, BB * hidden, THREADS):
        shared.store(h_s + i, 0.0, m)
        shared.store(c_s + i, 0.0, m)
    L.syncthreads(all_)

    for t in range(steps):
        for r, m in strided_trips(tid, G, THREADS):
            acc = [np.where(m & (b < rows), x_proj.load(((first_row + b) * steps + t) * G + r, m & (b < rows)), F32(0))
                   for b in range(BB)]
            for k in range(hidden):
                w = shared.load(w_t + k * G + r, m)
                for b in range(BB):
                    acc[b] = acc[b] + w * shared.load(h_s + b * hidden + k, m)
            is_cell_gate = r // hidden == 2
            for b in range(BB):
                mb = m & (b < rows)
                v = np.where(is_cell_gate, tanh(acc[b]), sigmoid(acc[b]))
                shared.store(a_s + b * G + r, v, mb)
                gates.store(((first_row + b) * steps + t) * G + r, v, mb)
        L.syncthreads(all_)
        for p, m in strided_trips(tid, rows * hidden, THREADS):
            b, j = p // hidden, p % hidden
            a = a_s + b * G
            c = shared.load(a + hidden + j, m) * shared.load(c_s + p, m) + shared.load(a + j, m) * shared.load(a + 2 * hidden + j, m)
            h = shared.load(a + 3 * hidden + j, m) * tanh(c)
            shared.store(c_s + p, c, m)
            shared.store(h_s + p, h, m)
            position = ((first_row + b) * steps + t) * hidden + j
            outputs.store(position, h, m)
            cells.store(position, c, m)
        L.syncthreads(all_)
    return L, shared


def lstm_backward_persistent(BB, batch, steps, hidden, d_outputs, gates, cells, w_hh, d_gates, shared_bytes, grid):
    L = Launch(f"lstm_backward_persistent_b{BB}", grid, THREADS)
    for buf in (d_outputs, gates, cells, w_hh, d_gates):
        buf.attach(L)
    shared = Shared(L, "dynamic shared", (shared_bytes // 4,))
    tid, all_ = L.tid, L.everyone()
    G = 4 * hidden
    parts = max(1, THREADS // hidden)
    span = (G + parts - 1) // parts
    w_s, da_s = 0, G * hidden
    dh_s = da_s + BB * G
    dc_s = dh_s + BB * hidden
    partial = dc_s + BB * hidden
    first_row = L.block * BB
    rows = np.minimum(BB, (batch - first_row) & 0xFFFFFFFF)

    for i, m in strided_trips(tid, G * hidden, THREADS):
        shared.store(w_s + i, w_hh.load(i, m), m)
    for i, m in strided_trips(tid, BB * G, THREADS):
        shared.store(da_s + i, 0.0, m)
    for i, m in strided_trips(tid, BB * hidden, THREADS):
        shared.store(dh_s + i, 0.0, m)
        shared.store(dc_s + i, 0.0, m)
    L.syncthreads(all_)

    for t in range(steps - 1, -1, -1):
        for p, m in strided_trips(tid, rows * hidden, THREADS):
            b, j = p // hidden, p % hidden
            step_index = (first_row + b) * steps + t
            a = step_index * G
            i, f = gates.load(a + j, m), gates.load(a + hidden + j, m)
            g, o = gates.load(a + 2 * hidden + j, m), gates.load(a + 3 * hidden + j, m)
            c = cells.load(step_index * hidden + j, m)
            c_previous = cells.load((step_index - 1) * hidden + j, m) if t > 0 else np.zeros(L.lanes, F32)
            tanh_c = tanh(c)
            dh = d_outputs.load(step_index * hidden + j, m) + shared.load(dh_s + p, m)
            dc = shared.load(dc_s + p, m) + dh * o * (1 - tanh_c * tanh_c)
            da_i = dc * g * i * (1 - i)
            da_f = dc * c_previous * f * (1 - f)
            da_g = dc * i * (1 - g * g)
            da_o = dh * tanh_c * o * (1 - o)
            shared.store(dc_s + p, dc * f, m)
            da = da_s + b * G
            out = step_index * G
            for gate, v in enumerate((da_i, da_f, da_g, da_o)):
                shared.store(da + gate * hidden + j, v, m)
                d_gates.store(out + gate * hidden + j, v, m)
        L.syncthreads(all_)
        if t == 0:
            break
        for q, m in strided_trips(tid, parts * hidden, THREADS):
            part, k = q // hidden, q % hidden
            acc = [np.zeros(L.lanes, F32) for _ in range(BB)]
            r_end = np.minimum(G, (part + 1) * span)
            for r, mr in strided_trips(np.where(m, part * span, 0), np.where(m, r_end, 0), 1):
                w = shared.load(w_s + r * hidden + k, mr)
                for b in range(BB):
                    acc[b] = np.where(mr, acc[b] + w * shared.load(da_s + b * G + r, mr), acc[b])
            for b in range(BB):
                shared.store(partial + (part * BB + b) * hidden + k, acc[b], m)
        L.syncthreads(all_)
        for p, m in strided_trips(tid, BB * hidden, THREADS):
            b, k = p // hidden, p % hidden
            total = np.zeros(L.lanes, F32)
            for part in range(parts):
                total = total + shared.load(partial + (part * BB + b) * hidden + k, m)
            shared.store(dh_s + p, total, m)
        L.syncthreads(all_)
    return L, shared


# ---------------------------------------------------------------------------------------------
# kernels/lstm.cu, per-step kernels (static shared memory), grid (ceil(H/32), ceil(B/32)).

TILE_ROWS, TILE_UNITS, TILE_K, ROWS_PER_THREAD, ROW_GROUPS = 32, 32, 16, 4, 8
BACKWARD_TILE_K = 64


def step_grid(batch, hidden):
    return -(-hidden // TILE_UNITS), -(-batch // TILE_ROWS)


def lstm_forward_step(batch, steps, hidden, t, x_proj, w_hh, outputs, gates, cells):
    gx, gy = step_grid(batch, hidden)
    L = Launch(f"lstm_forward_step(t={t})", gx * gy, THREADS)
    for buf in (x_proj, w_hh, outputs, gates, cells):
        buf.attach(L)
    h_tile = Shared(L, "h_tile", (TILE_ROWS, TILE_K + 1))
    w_tile = Shared(L, "w_tile", (4, TILE_UNITS, TILE_K + 1))
    tid, all_ = L.tid, L.everyone()
    bx, by = L.block % gx, L.block // gx
    G = 4 * hidden
    unit_in_tile, row_group = tid % TILE_UNITS, tid // TILE_UNITS
    first_unit, first_row = bx * TILE_UNITS, by * TILE_ROWS
    acc = np.zeros((ROWS_PER_THREAD, 4, L.lanes), F32)
    if t > 0:
        for k0 in range(0, hidden, TILE_K):
            for e, m in strided_trips(tid, TILE_ROWS * TILE_K, THREADS):
                row, kk = e // TILE_K, e % TILE_K
                b, k = first_row + row, k0 + kk
                ok = m & (b < batch) & (k < hidden)
                h_tile.store((row, kk), np.where(ok, outputs.load((b * steps + t - 1) * hidden + k, ok), F32(0)), m)
            for e, m in strided_trips(tid, 4 * TILE_UNITS * TILE_K, THREADS):
                gate, rest = e // (TILE_UNITS * TILE_K), e % (TILE_UNITS * TILE_K)
                u, kk = rest // TILE_K, rest % TILE_K
                j, k = first_unit + u, k0 + kk
                ok = m & (j < hidden) & (k < hidden)
                w_tile.store((gate, u, kk), np.where(ok, w_hh.load((gate * hidden + j) * hidden + k, ok), F32(0)), m)
            L.syncthreads(all_)
            for kk in range(TILE_K):
                w = [w_tile.load((gate, unit_in_tile, kk), all_) for gate in range(4)]
                for mm in range(ROWS_PER_THREAD):
                    h = h_tile.load((row_group + ROW_GROUPS * mm, kk), all_)
                    for gate in range(4):
                        acc[mm, gate] += h * w[gate]
            L.syncthreads(all_)
    j = first_unit + unit_in_tile
    L.exit(j >= hidden)
    live = L.everyone()
    for mm in range(ROWS_PER_THREAD):
        b = first_row + row_group + ROW_GROUPS * mm
        m = live & (b < batch)
        step_index = b * steps + t
        x = step_index * G
        i = sigmoid(acc[mm, 0] + x_proj.load(x + j, m))
        f = sigmoid(acc[mm, 1] + x_proj.load(x + hidden + j, m))
        g = tanh(acc[mm, 2] + x_proj.load(x + 2 * hidden + j, m))
        o = sigmoid(acc[mm, 3] + x_proj.load(x + 3 * hidden + j, m))
        c_previous = cells.load((step_index - 1) * hidden + j, m) if t > 0 else np.zeros(L.lanes, F32)
        c = f * c_previous + i * g
        for gate, v in enumerate((i, f, g, o)):
            gates.store(step_index * G + gate * hidden + j, v, m)
        cells.store(step_index * hidden + j, c, m)
        outputs.store(step_index * hidden + j, o * tanh(c), m)
    return L


def lstm_backward_step(batch, steps, hidden, t, d_outputs, gates, cells, w_hh, d_gates, dc_carry):
    gx, gy = step_grid(batch, hidden)
    L = Launch(f"lstm_backward_step(t={t})", gx * gy, THREADS)
    for buf in (d_outputs, gates, cells, w_hh, d_gates, dc_carry):
        buf.attach(L)
    da_tile = Shared(L, "da_tile", (TILE_ROWS, BACKWARD_TILE_K + 1))
    w_tile = Shared(L, "w_tile", (BACKWARD_TILE_K, TILE_UNITS))
    tid, all_ = L.tid, L.everyone()
    bx, by = L.block % gx, L.block // gx
    G = 4 * hidden
    unit_in_tile, row_group = tid % TILE_UNITS, tid // TILE_UNITS
    first_unit, first_row = bx * TILE_UNITS, by * TILE_ROWS
    acc = np.zeros((ROWS_PER_THREAD, L.lanes), F32)
    if t + 1 < steps:
        for r0 in range(0, G, BACKWARD_TILE_K):
            for e, m in strided_trips(tid, TILE_ROWS * BACKWARD_TILE_K, THREADS):
                row, rr = e // BACKWARD_TILE_K, e % BACKWARD_TILE_K
                b, r = first_row + row, r0 + rr
                ok = m & (b < batch) & (r < G)
                da_tile.store((row, rr), np.where(ok, d_gates.load((b * steps + t + 1) * G + r, ok), F32(0)), m)
            for e, m in strided_trips(tid, BACKWARD_TILE_K * TILE_UNITS, THREADS):
                rr, u = e // TILE_UNITS, e % TILE_UNITS
                r, j = r0 + rr, first_unit + u
                ok = m & (r < G) & (j < hidden)
                w_tile.store((rr, u), np.where(ok, w_hh.load(r * hidden + j, ok), F32(0)), m)
            L.syncthreads(all_)
            for rr in range(BACKWARD_TILE_K):
                w = w_tile.load((rr, unit_in_tile), all_)
                for mm in range(ROWS_PER_THREAD):
                    acc[mm] += da_tile.load((row_group + ROW_GROUPS * mm, rr), all_) * w
            L.syncthreads(all_)
    j = first_unit + unit_in_tile
    L.exit(j >= hidden)
    live = L.everyone()
    for mm in range(ROWS_PER_THREAD):
        b = first_row + row_group + ROW_GROUPS * mm
        m = live & (b < batch)
        step_index = b * steps + t
        a = step_index * G
        i, f = gates.load(a + j, m), gates.load(a + hidden + j, m)
        g, o = gates.load(a + 2 * hidden + j, m), gates.load(a + 3 * hidden + j, m)
        c = cells.load(step_index * hidden + j, m)
        c_previous = cells.load((step_index - 1) * hidden + j, m) if t > 0 else np.zeros(L.lanes, F32)
        tanh_c = tanh(c)
        dh = d_outputs.load(step_index * hidden + j, m) + acc[mm]
        dc = dc_carry.load(b * hidden + j, m) + dh * o * (1 - tanh_c * tanh_c)
        for gate, v in enumerate((dc * g * i * (1 - i), dc * c_previous * f * (1 - f), dc * i * (1 - g * g),
                                  dh * tanh_c * o * (1 - o))):
            d_gates.store(a + gate * hidden + j, v, m)
        dc_carry.store(b * hidden + j, dc * f, m)
    return L


# ---------------------------------------------------------------------------------------------
# The launchers (src/backend/cuda/lstm.rs forward/backward), driving the kernels above.

def exact_fit(launch, shared, nbytes):
    """The launcher's byte count should be what the kernel indexes (overruns are caught at the access)."""
    if shared.highest + 1 != nbytes // 4:
        problem(f"{launch.name}: launcher allocates {nbytes} B of shared memory, the kernel uses {4 * (shared.highest + 1)} B")


def cuda_lstm_forward(x_proj, w_hh, batch, steps, hidden, multiprocessors):
    outputs = Buffer("outputs", np.full(batch * steps * hidden, np.nan, F32), output=True)
    gates = Buffer("gates", np.full(batch * steps * 4 * hidden, np.nan, F32), output=True)
    cells = Buffer("cells", np.full(batch * steps * hidden, np.nan, F32), output=True)
    x, w = Buffer("x_proj", x_proj.astype(F32).ravel()), Buffer("w_hh", w_hh.astype(F32).ravel())
    if uses_persistent(multiprocessors, batch, hidden):
        rows = rows_per_block(multiprocessors, batch)
        nbytes = forward_shared_bytes(hidden, rows)
        L, shared = lstm_forward_persistent(rows, batch, steps, hidden, x, w, outputs, gates, cells, nbytes, -(-batch // rows))
        for buf in (outputs, gates, cells):
            buf.written_once()
        exact_fit(L, shared, nbytes)
        kind = f"persistent b{rows} ({-(-batch // rows)} blocks, {nbytes} B shared, highest float used {shared.highest + 1})"
    else:
        for t in range(steps):
            lstm_forward_step(batch, steps, hidden, t, x, w, outputs, gates, cells)
            step_elems = (np.arange(batch)[:, None] * steps + t) * hidden + np.arange(hidden)[None, :]
            for buf, width in ((outputs, hidden), (cells, hidden)):
                buf.written_once(step_elems.ravel())
            gates.written_once(((np.arange(batch)[:, None] * steps + t) * 4 * hidden + np.arange(4 * hidden)[None, :]).ravel())
        kind = "per-step grid %dx%d" % step_grid(batch, hidden)
    shape = (batch, steps)
    return outputs.data.reshape(*shape, hidden), gates.data.reshape(*shape, 4 * hidden), cells.data.reshape(*shape, hidden), kind


def cuda_lstm_backward(d_out, gates, cells, w_hh, batch, steps, hidden, multiprocessors):
    d_gates = Buffer("d_gates", np.full(batch * steps * 4 * hidden, np.nan, F32), output=True)
    ins = [Buffer(n, v.astype(F32).ravel()) for n, v in (("d_outputs", d_out), ("gates", gates), ("cells", cells), ("w_hh", w_hh))]
    if uses_persistent(multiprocessors, batch, hidden):
        rows = rows_per_block(multiprocessors, batch)
        nbytes = backward_shared_bytes(hidden, rows)
        L, shared = lstm_backward_persistent(rows, batch, steps, hidden, *ins, d_gates, nbytes, -(-batch // rows))
        d_gates.written_once()
        exact_fit(L, shared, nbytes)
        kind = f"persistent b{rows} ({-(-batch // rows)} blocks, {nbytes} B shared, highest float used {shared.highest + 1})"
    else:
        dc_carry = Buffer("dc_carry", np.zeros(batch * hidden, F32), output=True)  # fill(0) before the launches
        for t in range(steps - 1, -1, -1):
            lstm_backward_step(batch, steps, hidden, t, *ins, d_gates, dc_carry)
            d_gates.written_once(((np.arange(batch)[:, None] * steps + t) * 4 * hidden + np.arange(4 * hidden)[None, :]).ravel())
            dc_carry.written_once()
        kind = "per-step grid %dx%d" % step_grid(batch, hidden)
    return d_gates.data.reshape(batch, steps, 4 * hidden), kind


# src/backend/cpu/lstm.rs, in f64.

def cpu_lstm_forward(x_proj, w_hh):
    batch, steps, G = x_proj.shape
    H = G // 4
    sig = lambda v: 1 / (1 + np.exp(-v))
    h, c = np.zeros((batch, H)), np.zeros((batch, H))
    outputs, gates, cells = np.zeros((batch, steps, H)), np.zeros((batch, steps, G)), np.zeros((batch, steps, H))
    for t in range(steps):
        a = x_proj[:, t] + h @ w_hh.T
        i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        gates[:, t], outputs[:, t], cells[:, t] = np.concatenate([i, f, g, o], 1), h, c
    return outputs, gates, cells


def cpu_lstm_backward(d_out, gates, cells, w_hh):
    batch, steps, G = gates.shape
    H = G // 4
    d_gates = np.zeros_like(gates)
    dh_rec, dc_next = np.zeros((batch, H)), np.zeros((batch, H))
    for t in range(steps - 1, -1, -1):
        i, f, g, o = (gates[:, t, k * H:(k + 1) * H] for k in range(4))
        c = cells[:, t]
        c_prev = cells[:, t - 1] if t > 0 else np.zeros_like(c)
        tc = np.tanh(c)
        dh = d_out[:, t] + dh_rec
        dc = dc_next + dh * o * (1 - tc * tc)
        d_gates[:, t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)], 1)
        dc_next = dc * f
        dh_rec = d_gates[:, t] @ w_hh
    return d_gates


def check_lstm(rng, batch, steps, hidden, multiprocessors, expect):
    x_proj = rng.standard_normal((batch, steps, 4 * hidden)).astype(F32)
    w_hh = (rng.standard_normal((4 * hidden, hidden)) / np.sqrt(hidden)).astype(F32)
    before = len(PROBLEMS)
    out, gates, cells, kind = cuda_lstm_forward(x_proj, w_hh, batch, steps, hidden, multiprocessors)
    ref = cpu_lstm_forward(x_proj.astype(np.float64), w_hh.astype(np.float64))
    errors = [np.nanmax(np.abs(a - b)) if not np.isnan(a).any() else np.inf for a, b in zip((out, gates, cells), ref)]
    # The backward is fed the reference's saved tensors (f32), as the GPU would get its own.
    d_out = rng.standard_normal((batch, steps, hidden)).astype(F32)
    saved = [r.astype(F32) for r in ref[1:]]
    d_gates, kind_b = cuda_lstm_backward(d_out, *saved, w_hh, batch, steps, hidden, multiprocessors)
    d_ref = cpu_lstm_backward(d_out.astype(np.float64), *[s.astype(np.float64) for s in saved], w_hh.astype(np.float64))
    scale = max(1.0, float(np.abs(d_ref).max()))
    errors.append((np.abs(d_gates - d_ref).max() if not np.isnan(d_gates).any() else np.inf) / scale)
    ok = max(errors) < 2e-5 and len(PROBLEMS) == before and kind.startswith(expect) and kind_b.startswith(expect)
    if not kind.startswith(expect):
        problem(f"lstm B{batch} T{steps} H{hidden} SMs {multiprocessors}: launcher chose {kind}, expected {expect}")
    print(f"lstm B{batch:<3} T{steps} H{hidden:<3} SMs {multiprocessors:<3} fwd {kind}; bwd {kind_b.split(' (')[0]}: "
          f"max |err| out/gates/cells {errors[0]:.1e}/{errors[1]:.1e}/{errors[2]:.1e}, d_gates (rel) {errors[3]:.1e} "
          f"{'ok' if ok else 'FAIL'}")
    return ok


# ---------------------------------------------------------------------------------------------
# kernels/embedding.cu. Storage types: f32, f16 (numpy, round to nearest even), bf16 (u16 bits).

def bf16_round(x):
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


DTYPES = {
    "f32": (F32, lambda v: np.asarray(v, F32), lambda s: s.astype(F32)),
    "f16": (np.float16, lambda v: np.asarray(v, F32).astype(np.float16), lambda s: s.astype(F32)),
    "bf16": (np.uint16, bf16_round, lambda s: (s.astype(np.uint32) << 16).view(F32)),
}
COLUMNS_PER_LANE = 8


def embedding_forward(suffix, count, dim, vocab, table, ids, out, grid):
    storage, from_float, to_float = DTYPES[suffix]
    L = Launch(f"embedding_forward_{suffix}", grid, THREADS)
    for buf in (table, ids, out):
        buf.attach(L)
    for i, m in strided_trips(L.block * THREADS + L.tid, count, THREADS * grid):
        idx = ids.load(i // dim, m).astype(np.int64)
        d = i % dim
        inside = m & (idx >= 0) & (idx < vocab)
        value = np.where(inside, table.load(idx * dim + d, inside), from_float(np.zeros(L.lanes, F32)))
        out.store(i, value, m)


def embedding_count_ids(positions, vocab, ids, counts, grid):
    L = Launch("embedding_count_ids", grid, THREADS)
    ids.attach(L)
    for n, m in strided_trips(L.block * THREADS + L.tid, positions, THREADS * grid):
        idx = ids.load(n, m).astype(np.int64)
        inside = m & (idx >= 0) & (idx < vocab)
        np.add.at(counts.data, idx[inside], 1)  # atomicAdd on unsigned int: exact in any order


def embedding_backward(suffix, positions, dim, vocab, grad, ids, counts, grad_table, grid):
    storage, from_float, to_float = DTYPES[suffix]
    L = Launch(f"embedding_backward_{suffix}", grid, THREADS)
    for buf in (grad, ids, counts, grad_table):
        buf.attach(L)
    lane = L.tid % 32
    row = (L.block * THREADS + L.tid) // 32  # a warp = 32 consecutive threads of a block
    L.exit(row >= vocab)
    live = L.everyone()

    def warp_uniform(values, what):
        v = values.reshape(-1, 32)
        if not (v == v[:, :1]).all():
            problem(f"{L.name}: {what} differs between the lanes of a warp")

    def ballot(predicate, active):
        """__ballot_sync(0xffffffff, predicate) for every warp with active lanes; all 32 must be active."""
        a = active.reshape(-1, 32)
        if not (a.all(1) | ~a.any(1)).all():
            problem(f"{L.name}: __ballot_sync(0xffffffff) with part of the warp inactive")
        bits = (predicate.reshape(-1, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(1)
        return np.repeat(bits, 32)

    occurrences = counts.load(row, live).astype(np.int64)
    for first_column in range(0, dim, 32 * COLUMNS_PER_LANE):
        sums = np.zeros((COLUMNS_PER_LANE, L.lanes), F32)
        seen = np.zeros(L.lanes, np.int64)
        base = np.zeros(L.lanes, np.int64)
        while True:
            in_loop = live & (base < positions) & (seen < occurrences)
            warp_uniform(np.where(live, in_loop, False), "the scan loop's condition")
            if not in_loop.any():
                break
            n = base + lane
            match = in_loop & (n < positions)
            match &= ids.load(n, match) == row
            matches = ballot(match, in_loop)
            seen += np.where(in_loop, np.bitwise_count(matches).astype(np.int64), 0)
            pending = np.where(in_loop, matches, np.uint64(0))
            while (pending != 0).any():
                active = pending != 0
                lowest = pending & (~pending + np.uint64(1))
                offset = np.log2(np.where(active, lowest, 1).astype(np.float64)).astype(np.int64)  # __ffs - 1
                pending = pending & (pending - np.uint64(1))
                source = (base + offset) * dim
                for k in range(COLUMNS_PER_LANE):
                    d = first_column + lane + 32 * k
                    mk = active & (d < dim)
                    sums[k] = np.where(mk, sums[k] + to_float(grad.load(source + d, mk)), sums[k])
            base = np.where(in_loop, base + 32, base)
        for k in range(COLUMNS_PER_LANE):
            d = first_column + lane + 32 * k
            mk = live & (d < dim)
            grad_table.store(row * dim + d, from_float(sums[k]), mk)


def cpu_embedding_backward(grad_f32, ids, vocab, dim):
    out = np.zeros((vocab, dim), F32)
    for position, idx in enumerate(ids):
        if 0 <= idx < vocab:
            out[idx] += grad_f32[position]  # f32 adds in position order, as cpu/embedding.rs
    return out


def check_embedding(rng, suffix, vocab, dim, ids, multiprocessors):
    storage, from_float, to_float = DTYPES[suffix]
    positions = ids.size
    table_bits = from_float(rng.standard_normal((vocab, dim)).astype(F32)).ravel()
    grad_bits = from_float(rng.standard_normal((positions, dim)).astype(F32)).ravel()
    before = len(PROBLEMS)
    nan = from_float(np.full(1, np.nan, F32))[0]
    # Forward (launch.rs grid_for): the table at an offset inside a larger allocation, as a view would be.
    n = positions * dim
    table = Buffer("table", table_bits.copy())
    ids_buf = Buffer("ids", ids.astype(np.int32))
    out = Buffer("out", np.full(n, nan, storage), output=True)
    embedding_forward(suffix, n, dim, vocab, table, ids_buf, out, grid_for(multiprocessors, n))
    out.written_once()
    inside = (ids >= 0) & (ids < vocab)
    ref = np.where(inside[:, None], table_bits.reshape(vocab, dim)[np.clip(ids, 0, vocab - 1)], from_float(np.zeros(1, F32))[0])
    forward_ok = np.array_equal(out.data.reshape(positions, dim).view(storage), ref.view(storage))
    # Backward: counts (I32 storage filled with 0 → unsigned int), then one warp per row.
    counts = Buffer("counts", np.zeros(vocab, np.uint32), output=True)
    if positions > 0:
        embedding_count_ids(positions, vocab, ids_buf, counts, grid_for(multiprocessors, positions))
    grad = Buffer("grad", grad_bits.copy())
    grad_table = Buffer("grad_table", np.full(vocab * dim, nan, storage), output=True)
    embedding_backward(suffix, positions, dim, vocab, grad, ids_buf, counts, grad_table, -(-vocab // (THREADS // 32)))
    grad_table.written_once()
    expected = from_float(cpu_embedding_backward(to_float(grad_bits).reshape(positions, dim), ids, vocab, dim)).ravel()
    backward_ok = np.array_equal(grad_table.data.view(storage), expected.view(storage))
    ok = forward_ok and backward_ok and len(PROBLEMS) == before
    unused = vocab - np.unique(ids[(ids >= 0) & (ids < vocab)]).size
    print(f"embedding {suffix:<4} V{vocab:<3} D{dim:<3} positions {positions:<3} ({unused} unused rows, "
          f"max repeat {np.bincount(ids[ids >= 0]).max()}): forward {'exact' if forward_ok else 'MISMATCH'}, "
          f"backward {'exact' if backward_ok else 'MISMATCH'} {'ok' if ok else 'FAIL'}")
    return ok


# ---------------------------------------------------------------------------------------------
# Host-side consistency: kernel signatures vs the launchers' argument chains.

C_SIZES = {"unsigned int": ("u32", 4), "int": ("i32", 4), "size_t": ("u64", 8)}
# A launcher variable (less _ptr/32/64) → the kernel parameter names it may be passed as; otherwise the
# names must be equal. Catches two same-typed arguments swapped.
ALIASES = {"b": {"batch"}, "t32": {"steps"}, "h": {"hidden"}, "x": {"x_proj"}, "w": {"w_hh"}, "dout": {"d_outputs"},
           "out": {"outputs", "out", "grad_table"}, "dc": {"dc_carry"}}


def same_name(rust, c):
    stem = rust if rust == "t32" else re.sub(r"(_ptr|32|64)$", "", rust)
    return c == stem or c in ALIASES.get(stem, ())


def kernel_signatures():
    sigs = {}
    for unit in ("lstm", "embedding"):
        src = (ROOT / "kernels" / f"{unit}.cu").read_text()
        macros = {m.group(1): (m.group(2).split(","), m.group(3)) for m in
                  re.finditer(r"#define (\w+)\(([\w, ]+)\)((?:.*\\\n)+.*\n)", src)}
        texts = [src]
        for name, (params, body) in macros.items():
            for call in re.finditer(rf"^{name}\(([^)]*)\)", src, re.M):
                text = body.replace("\\\n", "\n")
                for p, v in zip(params, call.group(1).split(",")):
                    text = re.sub(rf"##{p.strip()}\b", v.strip(), text)
                    text = re.sub(rf"\b{p.strip()}\b", v.strip(), text)
                texts.append(text)
        for text in texts:
            for m in re.finditer(r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(([^)]*)\)', text):
                if "##" in m.group(1):
                    continue
                params = []
                for p in m.group(2).split(","):
                    p = " ".join(p.split())
                    ctype = p.rsplit(" ", 1)[0].replace("const ", "")
                    params.append((("ptr", 8) if "*" in p else C_SIZES[ctype]) + (p.rsplit(" ", 1)[1].lstrip("*"),))
                sigs[m.group(1)] = params
    return sigs


def rust_arg_types(src):
    """Name → (kind, bytes) from the launcher's `let` bindings: u32 from u32_dims/fits_u32/0..t32, u64 from
    `as u64`, a device pointer from pointer_at."""
    types = {}

    def expr_type(e):
        if "pointer_at" in e:
            return ("ptr", 8)
        if "as u64" in e:
            return ("u64", 8)
        if "fits_u32" in e or "fits(" in e:
            return ("u32", 4)
        return None

    for m in re.finditer(r"let \(([\w, ]+)\) = (\(.*?\)|u32_dims\(dims\)\?);", src):
        names = [n.strip() for n in m.group(1).split(",")]
        if m.group(2).startswith("u32_dims"):
            types.update({n: ("u32", 4) for n in names})
            continue
        depth, parts, cur = 0, [], ""
        for ch in m.group(2)[1:-1]:
            depth += ch in "(["
            depth -= ch in ")]"
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        types.update({n: expr_type(e) for n, e in zip(names, parts)})
    for m in re.finditer(r"let (\w+) = ([^;]*);", src):
        types.setdefault(m.group(1), expr_type(m.group(2)))
    for m in re.finditer(r"for (\w+) in \(?0\.\.(\w+)\)?", src):
        types[m.group(1)] = types.get(m.group(2))
    return types


def check_host():
    sigs = kernel_signatures()
    ok = True
    # The launchers' arg chains in source order, and the kernels each one launches.
    launched = {
        "lstm": ["lstm_forward_persistent_b{1,2,4}", "lstm_forward_step", "lstm_backward_persistent_b{1,2,4}", "lstm_backward_step"],
        "embedding": ["embedding_forward_{f32,f16,bf16}", "embedding_count_ids", "embedding_backward_{f32,f16,bf16}"],
    }
    for unit, kernels in launched.items():
        src = (ROOT / "src/backend/cuda" / f"{unit}.rs").read_text()
        types = rust_arg_types(src)
        chains = [re.findall(r"\.arg\(&(\w+)\)", m.group(0)) for m in re.finditer(r"launch(?:\.arg\(&\w+\))+;", src)]
        if len(chains) != len(kernels):
            problem(f"{unit}.rs: {len(chains)} launch chains, expected {len(kernels)}")
            ok = False
        for pattern, chain in zip(kernels, chains):
            stem, _, variants = pattern.partition("{")
            names = [stem + v for v in variants.rstrip("}").split(",")] if variants else [stem]
            passed = [types.get(a) for a in chain]
            chain_ok = True
            for name in names:
                expected = sigs.get(name)
                good = expected is not None and [p[1] for p in passed if p] == [e[1] for e in expected] and None not in passed \
                    and all(p[0] == e[0] and same_name(a, e[2]) for a, p, e in zip(chain, passed, expected))
                if not good:
                    problem(f"{unit}.rs → {name}: passes {list(zip(chain, passed))}, kernel takes {expected}")
                    chain_ok = ok = False
            shown = ", ".join(f"{a}:{t[0] if t else '?'}" for a, t in zip(chain, passed))
            print(f"host: {unit}.rs passes ({shown}) "
                  f"to {', '.join(names)}: {'ok' if chain_ok else 'FAIL'}")
    # Per-step kernels: static shared memory within the 48 KB that needs no opt-in.
    static = 4 * (TILE_ROWS * (TILE_K + 1) + 4 * TILE_UNITS * (TILE_K + 1))
    ok &= static <= 48 * 1024
    # The largest hidden size the persistent path accepts, per rows per block.
    largest = {rows: max(h for h in range(1, 200) if max(forward_shared_bytes(h, rows), backward_shared_bytes(h, rows)) <= PERSISTENT_SHARED_LIMIT)
               for rows in (1, 2, 4)}
    print(f"host: per-step static shared {static} B; persistent path up to H = {largest} (rows per block → H)")
    return ok, largest


def main():
    start = time.time()
    rng = np.random.default_rng(0)
    results = []
    host_ok, largest = check_host()
    results.append(host_ok)
    # Persistent: rows per block 1, 2, 4 (a small multiprocessor count forces 2 and 4 with small batches),
    # partial last blocks, H = 5, 64 and the largest accepted for that rows per block; the GPU test's
    # shapes with the H100's 132 SMs.
    for batch, steps, hidden, sms in [(3, 4, 5, 132), (2, 4, 5, 132), (5, 3, 5, 3), (7, 3, 5, 2), (3, 3, 64, 132),
                                      (5, 3, 64, 3), (7, 2, 64, 2), (3, 2, largest[1], 132), (3, 2, largest[2], 2),
                                      (6, 2, largest[4], 2), (64, 3, 64, 132), (299, 3, 8, 132)]:
        results.append(check_lstm(rng, batch, steps, hidden, sms, "persistent"))
    # Per-step: the first hidden sizes past the persistent limit, ragged tiles in both grid dimensions.
    for batch, steps, hidden, sms in [(37, 3, 130, 132), (5, 3, largest[1] + 1, 132), (33, 2, 97, 132), (70, 2, 256, 132)]:
        results.append(check_lstm(rng, batch, steps, hidden, sms, "per-step"))
    # Embedding: repeated ids, unused rows, out-of-range ids (-1, vocab), rows wider than 256 columns,
    # more warps than rows in the last block, a grid-stride loop that wraps (1 SM → 16 blocks).
    for suffix in ("f32", "f16", "bf16"):
        results.append(check_embedding(rng, suffix, 8, 5, rng.integers(0, 8, 12), 132))
    ids = np.concatenate([rng.integers(0, 41, 70), [3, 3, 3, 40, 0]])
    for suffix, dim in (("f32", 300), ("f16", 520), ("bf16", 257)):
        results.append(check_embedding(rng, suffix, 41, dim, ids, 1))
    results.append(check_embedding(rng, "f32", 13, 33, np.array([2] * 40 + [12, 2, 5]), 132))
    results.append(check_embedding(rng, "f32", 9, 16, np.array([-1, 4, 9, 4, 0]), 132))
    for message in PROBLEMS:
        print("PROBLEM:", message)
    ok = all(results) and not PROBLEMS
    print(f"{'all checks pass' if ok else 'FAILURES'} ({time.time() - start:.0f} s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
