// The LSTM recurrence (PyTorch gate order i, f, g, o; zero initial states), f32.
// src/backend/cpu/lstm.rs is the reference and states the equations; x_proj already holds
// x·W_ihᵀ + b_ih + b_hh for every step, so only the recurrent part runs here.
//
// Two strategies, chosen by the launcher from the size of W_hh:
//
// * Persistent (small hidden sizes, W_hh fits in shared memory: 64 KB for H = 64). Batch rows are
//   independent in the recurrence, so one block owns a slice of BB batch rows and loops over all time
//   steps itself, with W_hh loaded into shared memory once: no grid-wide synchronisation and one launch
//   for the whole sequence. Each step is two phases separated by __syncthreads: the gate matmul
//   (thread r owns gate row r, reusing each weight for the BB rows) and the pointwise cell update.
// * Per step (large hidden sizes): one launch per time step, a 32 batch rows × 32 hidden units tile
//   per block that computes the recurrent matmul for all four gates of its units and then, in the
//   same kernel, the pointwise update of exactly those units (all four gates of a unit are in the
//   tile, so no other block's result is needed). Backward likewise fuses W_hhᵀ·da[t+1] with the
//   pointwise rule of step t.
//
// Layouts: x_proj, gates, d_gates [B, T, 4H]; outputs, cells, d_outputs [B, T, H]; w_hh [4H, H].
#include "common.cuh"

__device__ __forceinline__ float sigmoidf_accurate(float x) { return 1.0f / (1.0f + expf(-x)); }

// ---------------------------------------------------------------------------------------------
// Persistent kernels. Dynamic shared memory (floats), see the launcher for the byte counts.

template <int BB>
__device__ void lstm_forward_persistent_kernel(unsigned int batch, unsigned int steps, unsigned int hidden,
                                               const float* x_proj, const float* w_hh,
                                               float* outputs, float* gates, float* cells) {
    extern __shared__ float shared[];
    const unsigned int G = 4 * hidden;
    float* w_t = shared;                        // [H][4H], transposed so gate row r is a column
    float* h_s = w_t + (size_t)hidden * G;      // [BB][H]
    float* c_s = h_s + BB * hidden;             // [BB][H]
    float* a_s = c_s + BB * hidden;             // [BB][4H] gate activations of the current step
    const unsigned int first_row = blockIdx.x * BB;
    const unsigned int rows = min((unsigned int)BB, batch - first_row);

    for (unsigned int i = threadIdx.x; i < hidden * G; i += blockDim.x) {
        const unsigned int r = i / hidden, k = i % hidden;
        w_t[(size_t)k * G + r] = w_hh[i];
    }
    for (unsigned int i = threadIdx.x; i < BB * hidden; i += blockDim.x) {
        h_s[i] = 0.0f;
        c_s[i] = 0.0f;
    }
    __syncthreads();

    for (unsigned int t = 0; t < steps; ++t) {
        // Phase 1: a[b, r] = x_proj[b, t, r] + Σ_k W_hh[r, k]·h[b, k], then the gate's nonlinearity.
        for (unsigned int r = threadIdx.x; r < G; r += blockDim.x) {
            float acc[BB];
#pragma unroll
            for (int b = 0; b < BB; ++b)
                acc[b] = b < (int)rows ? x_proj[((size_t)(first_row + b) * steps + t) * G + r] : 0.0f;
            for (unsigned int k = 0; k < hidden; ++k) {
                const float w = w_t[(size_t)k * G + r];  // consecutive r: conflict-free
#pragma unroll
                for (int b = 0; b < BB; ++b) acc[b] += w * h_s[b * hidden + k];  // broadcast
            }
            const bool is_cell_gate = r / hidden == 2;
#pragma unroll
            for (int b = 0; b < BB; ++b) {
                if (b < (int)rows) {
                    const float v = is_cell_gate ? tanhf(acc[b]) : sigmoidf_accurate(acc[b]);
                    a_s[b * G + r] = v;
                    gates[((size_t)(first_row + b) * steps + t) * G + r] = v;
                }
            }
        }
        __syncthreads();
        // Phase 2: c = f·c + i·g, h = o·tanh(c) for each (row, unit).
        for (unsigned int p = threadIdx.x; p < rows * hidden; p += blockDim.x) {
            const unsigned int b = p / hidden, j = p % hidden;
            const float* a = a_s + b * G;
            const float c = a[hidden + j] * c_s[p] + a[j] * a[2 * hidden + j];
            const float h = a[3 * hidden + j] * tanhf(c);
            c_s[p] = c;
            h_s[p] = h;
            const size_t position = ((size_t)(first_row + b) * steps + t) * hidden + j;
            outputs[position] = h;
            cells[position] = c;
        }
        __syncthreads();
    }
}

template <int BB>
__device__ void lstm_backward_persistent_kernel(unsigned int batch, unsigned int steps, unsigned int hidden,
                                                const float* d_outputs, const float* gates, const float* cells,
                                                const float* w_hh, float* d_gates) {
    extern __shared__ float shared[];
    const unsigned int G = 4 * hidden;
    // W_hhᵀ·da is split over `parts` groups of gate rows so every thread works when H < blockDim.
    const unsigned int parts = max(1u, blockDim.x / hidden);
    const unsigned int span = (G + parts - 1) / parts;
    float* w_s = shared;                        // [4H][H], as stored
    float* da_s = w_s + (size_t)G * hidden;     // [BB][4H] da of the current step
    float* dh_s = da_s + BB * G;                // [BB][H] W_hhᵀ·da of the step after
    float* dc_s = dh_s + BB * hidden;           // [BB][H] dc carried to the step before
    float* partial = dc_s + BB * hidden;        // [parts][BB][H]
    const unsigned int first_row = blockIdx.x * BB;
    const unsigned int rows = min((unsigned int)BB, batch - first_row);

    for (unsigned int i = threadIdx.x; i < G * hidden; i += blockDim.x) w_s[i] = w_hh[i];
    for (unsigned int i = threadIdx.x; i < BB * G; i += blockDim.x) da_s[i] = 0.0f;
    for (unsigned int i = threadIdx.x; i < BB * hidden; i += blockDim.x) {
        dh_s[i] = 0.0f;
        dc_s[i] = 0.0f;
    }
    __syncthreads();

    for (int t = (int)steps - 1; t >= 0; --t) {
        // Phase 1: the pointwise rule of step t for each (row, unit).
        for (unsigned int p = threadIdx.x; p < rows * hidden; p += blockDim.x) {
            const unsigned int b = p / hidden, j = p % hidden;
            const size_t step_index = (size_t)(first_row + b) * steps + t;
            const float* a = gates + step_index * G;
            const float i = a[j], f = a[hidden + j], g = a[2 * hidden + j], o = a[3 * hidden + j];
            const float c = cells[step_index * hidden + j];
            const float c_previous = t > 0 ? cells[(step_index - 1) * hidden + j] : 0.0f;
            const float tanh_c = tanhf(c);
            const float dh = d_outputs[step_index * hidden + j] + dh_s[p];
            const float dc = dc_s[p] + dh * o * (1.0f - tanh_c * tanh_c);
            const float da_i = dc * g * i * (1.0f - i);
            const float da_f = dc * c_previous * f * (1.0f - f);
            const float da_g = dc * i * (1.0f - g * g);
            const float da_o = dh * tanh_c * o * (1.0f - o);
            dc_s[p] = dc * f;
            float* da = da_s + b * G;
            da[j] = da_i;
            da[hidden + j] = da_f;
            da[2 * hidden + j] = da_g;
            da[3 * hidden + j] = da_o;
            float* out = d_gates + step_index * G;
            out[j] = da_i;
            out[hidden + j] = da_f;
            out[2 * hidden + j] = da_g;
            out[3 * hidden + j] = da_o;
        }
        __syncthreads();
        if (t == 0) break;
        // Phase 2: dh_rec[b, k] = Σ_r da[b, r]·W_hh[r, k], partial sums over gate-row ranges, then
        // summed in a fixed order.
        for (unsigned int q = threadIdx.x; q < parts * hidden; q += blockDim.x) {
            const unsigned int part = q / hidden, k = q % hidden;
            float acc[BB];
#pragma unroll
            for (int b = 0; b < BB; ++b) acc[b] = 0.0f;
            const unsigned int r_end = min(G, (part + 1) * span);
            for (unsigned int r = part * span; r < r_end; ++r) {
                const float w = w_s[(size_t)r * hidden + k];  // consecutive k: conflict-free
#pragma unroll
                for (int b = 0; b < BB; ++b) acc[b] += w * da_s[b * G + r];
            }
#pragma unroll
            for (int b = 0; b < BB; ++b) partial[(part * BB + b) * hidden + k] = acc[b];
        }
        __syncthreads();
        for (unsigned int p = threadIdx.x; p < BB * hidden; p += blockDim.x) {
            const unsigned int b = p / hidden, k = p % hidden;
            float sum = 0.0f;
            for (unsigned int part = 0; part < parts; ++part) sum += partial[(part * BB + b) * hidden + k];
            dh_s[p] = sum;
        }
        __syncthreads();
    }
}

#define LSTM_PERSISTENT(BB)                                                                                          \
    extern "C" __global__ void lstm_forward_persistent_b##BB(unsigned int batch, unsigned int steps, unsigned int hidden, \
                                                             const float* x_proj, const float* w_hh, float* outputs,  \
                                                             float* gates, float* cells) {                            \
        lstm_forward_persistent_kernel<BB>(batch, steps, hidden, x_proj, w_hh, outputs, gates, cells);               \
    }                                                                                                                \
    extern "C" __global__ void lstm_backward_persistent_b##BB(unsigned int batch, unsigned int steps, unsigned int hidden, \
                                                              const float* d_outputs, const float* gates,            \
                                                              const float* cells, const float* w_hh, float* d_gates) { \
        lstm_backward_persistent_kernel<BB>(batch, steps, hidden, d_outputs, gates, cells, w_hh, d_gates);          \
    }

LSTM_PERSISTENT(1)
LSTM_PERSISTENT(2)
LSTM_PERSISTENT(4)

// ---------------------------------------------------------------------------------------------
// Per-step kernels: a block computes TILE_ROWS batch rows × TILE_UNITS hidden units with 256 threads;
// thread (row group, unit) accumulates ROWS_PER_THREAD rows for its unit.

#define TILE_ROWS 32
#define TILE_UNITS 32
#define TILE_K 16            // forward: 4 gates × 4 rows = 16 FMAs per thread per k between barriers
#define BACKWARD_TILE_K 64   // backward: 4 rows per k, so a longer slice of W_hh per barrier pair
#define ROWS_PER_THREAD 4   // TILE_ROWS / (256 / TILE_UNITS)
#define ROW_GROUPS 8        // 256 / TILE_UNITS

// Step t: a = x_proj[:, t] + h[:, t−1]·W_hhᵀ for the four gates of the tile's units, then the
// pointwise update of those units. h[:, t−1] = outputs[:, t−1] (zero at t = 0).
extern "C" __global__ void __launch_bounds__(256) lstm_forward_step(unsigned int batch, unsigned int steps, unsigned int hidden, unsigned int t,
                                                                    const float* x_proj, const float* w_hh,
                                                                    float* outputs, float* gates, float* cells) {
    __shared__ float h_tile[TILE_ROWS][TILE_K + 1];
    __shared__ float w_tile[4][TILE_UNITS][TILE_K + 1];
    const unsigned int G = 4 * hidden;
    const unsigned int unit_in_tile = threadIdx.x % TILE_UNITS, row_group = threadIdx.x / TILE_UNITS;
    const unsigned int first_unit = blockIdx.x * TILE_UNITS, first_row = blockIdx.y * TILE_ROWS;
    float acc[ROWS_PER_THREAD][4];
#pragma unroll
    for (int m = 0; m < ROWS_PER_THREAD; ++m)
#pragma unroll
        for (int gate = 0; gate < 4; ++gate) acc[m][gate] = 0.0f;

    if (t > 0) {  // uniform across the block
        for (unsigned int k0 = 0; k0 < hidden; k0 += TILE_K) {
            for (unsigned int e = threadIdx.x; e < TILE_ROWS * TILE_K; e += blockDim.x) {
                const unsigned int row = e / TILE_K, kk = e % TILE_K;
                const unsigned int b = first_row + row, k = k0 + kk;
                h_tile[row][kk] = (b < batch && k < hidden) ? outputs[((size_t)b * steps + t - 1) * hidden + k] : 0.0f;
            }
            for (unsigned int e = threadIdx.x; e < 4 * TILE_UNITS * TILE_K; e += blockDim.x) {
                const unsigned int gate = e / (TILE_UNITS * TILE_K), rest = e % (TILE_UNITS * TILE_K);
                const unsigned int u = rest / TILE_K, kk = rest % TILE_K;
                const unsigned int j = first_unit + u, k = k0 + kk;
                w_tile[gate][u][kk] = (j < hidden && k < hidden) ? w_hh[((size_t)gate * hidden + j) * hidden + k] : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < TILE_K; ++kk) {
                float w[4];
#pragma unroll
                for (int gate = 0; gate < 4; ++gate) w[gate] = w_tile[gate][unit_in_tile][kk];
#pragma unroll
                for (int m = 0; m < ROWS_PER_THREAD; ++m) {
                    const float h = h_tile[row_group + ROW_GROUPS * m][kk];
#pragma unroll
                    for (int gate = 0; gate < 4; ++gate) acc[m][gate] += h * w[gate];
                }
            }
            __syncthreads();
        }
    }

    const unsigned int j = first_unit + unit_in_tile;
    if (j >= hidden) return;
#pragma unroll
    for (int m = 0; m < ROWS_PER_THREAD; ++m) {
        const unsigned int b = first_row + row_group + ROW_GROUPS * m;
        if (b >= batch) continue;
        const size_t step_index = (size_t)b * steps + t;
        const float* x = x_proj + step_index * G;
        const float i = sigmoidf_accurate(acc[m][0] + x[j]);
        const float f = sigmoidf_accurate(acc[m][1] + x[hidden + j]);
        const float g = tanhf(acc[m][2] + x[2 * hidden + j]);
        const float o = sigmoidf_accurate(acc[m][3] + x[3 * hidden + j]);
        const float c_previous = t > 0 ? cells[(step_index - 1) * hidden + j] : 0.0f;
        const float c = f * c_previous + i * g;
        float* a = gates + step_index * G;
        a[j] = i;
        a[hidden + j] = f;
        a[2 * hidden + j] = g;
        a[3 * hidden + j] = o;
        cells[step_index * hidden + j] = c;
        outputs[step_index * hidden + j] = o * tanhf(c);
    }
}

// Step t of BPTT: dh_rec = da[:, t+1]·W_hh (zero at the last step) for the tile's units, then the
// pointwise rule of step t. dc_carry [B, H] holds dc·f from step t+1 (zeroed before the first launch)
// and is read and rewritten only by the thread that owns (b, j).
extern "C" __global__ void __launch_bounds__(256) lstm_backward_step(unsigned int batch, unsigned int steps, unsigned int hidden, unsigned int t,
                                                                     const float* d_outputs, const float* gates, const float* cells,
                                                                     const float* w_hh, float* d_gates, float* dc_carry) {
    __shared__ float da_tile[TILE_ROWS][BACKWARD_TILE_K + 1];
    __shared__ float w_tile[BACKWARD_TILE_K][TILE_UNITS];
    const unsigned int G = 4 * hidden;
    const unsigned int unit_in_tile = threadIdx.x % TILE_UNITS, row_group = threadIdx.x / TILE_UNITS;
    const unsigned int first_unit = blockIdx.x * TILE_UNITS, first_row = blockIdx.y * TILE_ROWS;
    float acc[ROWS_PER_THREAD];
#pragma unroll
    for (int m = 0; m < ROWS_PER_THREAD; ++m) acc[m] = 0.0f;

    if (t + 1 < steps) {  // uniform across the block
        for (unsigned int r0 = 0; r0 < G; r0 += BACKWARD_TILE_K) {
            for (unsigned int e = threadIdx.x; e < TILE_ROWS * BACKWARD_TILE_K; e += blockDim.x) {
                const unsigned int row = e / BACKWARD_TILE_K, rr = e % BACKWARD_TILE_K;
                const unsigned int b = first_row + row, r = r0 + rr;
                da_tile[row][rr] = (b < batch && r < G) ? d_gates[((size_t)b * steps + t + 1) * G + r] : 0.0f;
            }
            for (unsigned int e = threadIdx.x; e < BACKWARD_TILE_K * TILE_UNITS; e += blockDim.x) {
                const unsigned int rr = e / TILE_UNITS, u = e % TILE_UNITS;
                const unsigned int r = r0 + rr, j = first_unit + u;
                w_tile[rr][u] = (r < G && j < hidden) ? w_hh[(size_t)r * hidden + j] : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int rr = 0; rr < BACKWARD_TILE_K; ++rr) {
                const float w = w_tile[rr][unit_in_tile];
#pragma unroll
                for (int m = 0; m < ROWS_PER_THREAD; ++m) acc[m] += da_tile[row_group + ROW_GROUPS * m][rr] * w;
            }
            __syncthreads();
        }
    }

    const unsigned int j = first_unit + unit_in_tile;
    if (j >= hidden) return;
#pragma unroll
    for (int m = 0; m < ROWS_PER_THREAD; ++m) {
        const unsigned int b = first_row + row_group + ROW_GROUPS * m;
        if (b >= batch) continue;
        const size_t step_index = (size_t)b * steps + t;
        const float* a = gates + step_index * G;
        const float i = a[j], f = a[hidden + j], g = a[2 * hidden + j], o = a[3 * hidden + j];
        const float c = cells[step_index * hidden + j];
        const float c_previous = t > 0 ? cells[(step_index - 1) * hidden + j] : 0.0f;
        const float tanh_c = tanhf(c);
        const float dh = d_outputs[step_index * hidden + j] + acc[m];
        const float dc = dc_carry[(size_t)b * hidden + j] + dh * o * (1.0f - tanh_c * tanh_c);
        float* da = d_gates + step_index * G;
        da[j] = dc * g * i * (1.0f - i);
        da[hidden + j] = dc * c_previous * f * (1.0f - f);
        da[2 * hidden + j] = dc * i * (1.0f - g * g);
        da[3 * hidden + j] = dh * tanh_c * o * (1.0f - o);
        dc_carry[(size_t)b * hidden + j] = dc * f;
    }
}
