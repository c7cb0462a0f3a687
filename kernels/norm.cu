// Layer norm over the last axis (src/ops/layer_norm.rs; CPU twin src/backend/cpu/layer_norm.rs).
// Statistics are f32 whatever T is. One warp per row: CLIP's rows are 64–1024 wide, so a warp
// covers a row in a few strided passes and no block-wide barrier is needed.
//
// The forward may first add a residual: s = x + r is stored in T and the norm reads the rounded
// sum, exactly what a separate add and norm would compute, in one pass over x and r.
#include "common.cuh"

#define NORM_WARPS_PER_BLOCK 4

// The row's value at column c: x, or round_T(x + r) when a residual is given.
template <typename T>
__device__ __forceinline__ float row_value(const T* x, const T* residual, size_t i) {
    if (residual == nullptr) return to_float(x[i]);
    return to_float(from_float<T>(to_float(x[i]) + to_float(residual[i])));
}

// Two-pass statistics (mean, then Σ(v − mean)²): the rows may sit far from zero (an offset of 300 in
// f16), where Σv² − (Σv)²/n would cancel.
template <typename T>
__device__ void layer_norm_forward_kernel(size_t rows, unsigned int columns, float eps, const T* x, const T* residual, T* sum,
                                          const T* weight, const T* bias, T* y, float* mean_out, float* rstd_out) {
    const size_t row = (size_t)blockIdx.x * NORM_WARPS_PER_BLOCK + threadIdx.x / 32;
    const unsigned int lane = threadIdx.x % 32;
    if (row >= rows) return;  // whole warps only: the shuffles below see full warps
    const size_t base = row * columns;
    float total = 0.0f;
    for (unsigned int c = lane; c < columns; c += 32) {
        const float v = row_value(x, residual, base + c);
        if (sum != nullptr) sum[base + c] = from_float<T>(v);
        total += v;
    }
    const float mean = warp_sum(total) / (float)columns;
    float squares = 0.0f;
    for (unsigned int c = lane; c < columns; c += 32) {
        const float centred = row_value(x, residual, base + c) - mean;
        squares += centred * centred;
    }
    const float rstd = rsqrtf(warp_sum(squares) / (float)columns + eps);
    for (unsigned int c = lane; c < columns; c += 32) {
        const float normed = (row_value(x, residual, base + c) - mean) * rstd;
        y[base + c] = from_float<T>(normed * to_float(weight[c]) + to_float(bias[c]));
    }
    if (lane == 0) {
        mean_out[row] = mean;
        rstd_out[row] = rstd;
    }
}

// dx = rstd · (d − mean(d) − x̂ · mean(d·x̂)) with d = dy·weight, x̂ = (x − mean)·rstd; one warp per row.
template <typename T>
__device__ void layer_norm_backward_input_kernel(size_t rows, unsigned int columns, const T* x, const T* weight, const float* mean_in,
                                                 const float* rstd_in, const T* dy, T* dx) {
    const size_t row = (size_t)blockIdx.x * NORM_WARPS_PER_BLOCK + threadIdx.x / 32;
    const unsigned int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const size_t base = row * columns;
    const float mean = mean_in[row], rstd = rstd_in[row];
    float sum_d = 0.0f, sum_d_xhat = 0.0f;
    for (unsigned int c = lane; c < columns; c += 32) {
        const float d = to_float(dy[base + c]) * to_float(weight[c]);
        sum_d += d;
        sum_d_xhat += d * (to_float(x[base + c]) - mean) * rstd;
    }
    const float mean_d = warp_sum(sum_d) / (float)columns, mean_d_xhat = warp_sum(sum_d_xhat) / (float)columns;
    for (unsigned int c = lane; c < columns; c += 32) {
        const float d = to_float(dy[base + c]) * to_float(weight[c]);
        const float x_hat = (to_float(x[base + c]) - mean) * rstd;
        dx[base + c] = from_float<T>(rstd * (d - mean_d - x_hat * mean_d_xhat));
    }
}

// dweight = Σ_rows dy·x̂ and dbias = Σ_rows dy, deterministically in two launches: block (cx, ry)
// sums NORM_ROWS_PER_PART rows of 32 columns into partial[ry][column] (threads over rows combined
// in a fixed order through shared memory), then one thread per column adds the parts in order.
#define NORM_ROWS_PER_PART 128
#define NORM_PART_THREADS_Y 8

template <typename T>
__device__ void layer_norm_backward_params_partial_kernel(size_t rows, unsigned int columns, const T* x, const float* mean_in,
                                                          const float* rstd_in, const T* dy, float* partial_weight, float* partial_bias) {
    __shared__ float weight_sums[NORM_PART_THREADS_Y][32], bias_sums[NORM_PART_THREADS_Y][32];
    const unsigned int column = blockIdx.x * 32 + threadIdx.x;
    const size_t first_row = (size_t)blockIdx.y * NORM_ROWS_PER_PART;
    const size_t last_row = min(first_row + NORM_ROWS_PER_PART, rows);
    float dw = 0.0f, db = 0.0f;
    if (column < columns) {
        for (size_t row = first_row + threadIdx.y; row < last_row; row += NORM_PART_THREADS_Y) {
            const float g = to_float(dy[row * columns + column]);
            dw += g * (to_float(x[row * columns + column]) - mean_in[row]) * rstd_in[row];
            db += g;
        }
    }
    weight_sums[threadIdx.y][threadIdx.x] = dw;
    bias_sums[threadIdx.y][threadIdx.x] = db;
    __syncthreads();
    if (threadIdx.y == 0 && column < columns) {
        for (int k = 1; k < NORM_PART_THREADS_Y; ++k) {
            dw += weight_sums[k][threadIdx.x];
            db += bias_sums[k][threadIdx.x];
        }
        partial_weight[(size_t)blockIdx.y * columns + column] = dw;
        partial_bias[(size_t)blockIdx.y * columns + column] = db;
    }
}

template <typename T>
__device__ void layer_norm_backward_params_finish_kernel(unsigned int parts, unsigned int columns, const float* partial_weight,
                                                         const float* partial_bias, T* d_weight, T* d_bias) {
    const unsigned int column = blockIdx.x * blockDim.x + threadIdx.x;
    if (column >= columns) return;
    float dw = 0.0f, db = 0.0f;
    for (unsigned int p = 0; p < parts; ++p) {
        dw += partial_weight[(size_t)p * columns + column];
        db += partial_bias[(size_t)p * columns + column];
    }
    d_weight[column] = from_float<T>(dw);
    d_bias[column] = from_float<T>(db);
}

#define LAYER_NORM(SUFFIX, T)                                                                                               \
    extern "C" __global__ void layer_norm_forward_##SUFFIX(size_t rows, unsigned int columns, float eps, const T* x,         \
                                                           const T* residual, T* sum, const T* weight, const T* bias, T* y,  \
                                                           float* mean, float* rstd) {                                       \
        layer_norm_forward_kernel<T>(rows, columns, eps, x, residual, sum, weight, bias, y, mean, rstd);                    \
    }                                                                                                                       \
    extern "C" __global__ void layer_norm_backward_input_##SUFFIX(size_t rows, unsigned int columns, const T* x,             \
                                                                  const T* weight, const float* mean, const float* rstd,     \
                                                                  const T* dy, T* dx) {                                      \
        layer_norm_backward_input_kernel<T>(rows, columns, x, weight, mean, rstd, dy, dx);                                  \
    }                                                                                                                       \
    extern "C" __global__ void layer_norm_backward_params_partial_##SUFFIX(size_t rows, unsigned int columns, const T* x,    \
                                                                           const float* mean, const float* rstd,             \
                                                                           const T* dy, float* partial_weight,               \
                                                                           float* partial_bias) {                            \
        layer_norm_backward_params_partial_kernel<T>(rows, columns, x, mean, rstd, dy, partial_weight, partial_bias);       \
    }                                                                                                                       \
    extern "C" __global__ void layer_norm_backward_params_finish_##SUFFIX(unsigned int parts, unsigned int columns,          \
                                                                          const float* partial_weight,                       \
                                                                          const float* partial_bias, T* d_weight,            \
                                                                          T* d_bias) {                                       \
        layer_norm_backward_params_finish_kernel<T>(parts, columns, partial_weight, partial_bias, d_weight, d_bias);        \
    }

LAYER_NORM(f32, float)
LAYER_NORM(f16, __half)
LAYER_NORM(bf16, __nv_bfloat16)
