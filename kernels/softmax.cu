// Softmax and log-softmax over the last axis: one block per row.
//
// Forward keeps up to CACHED_PER_THREAD elements per thread in registers, so a row of up to
// CACHED_PER_THREAD * blockDim.x columns is read from memory once: one pass finds the maximum and
// the sum of exponentials together (online softmax), a second writes the result from registers.
// Longer rows re-read their elements (from L2, usually).
#include "common.cuh"

#define CACHED_PER_THREAD 16

template <typename T>
__device__ void softmax_kernel(size_t cols, const T* x, T* y, int log_output) {
    __shared__ float scratch[32];
    const T* row_x = x + blockIdx.x * cols;
    T* row_y = y + blockIdx.x * cols;
    const bool cached = cols <= (size_t)CACHED_PER_THREAD * blockDim.x;
    float values[CACHED_PER_THREAD];

    // Online maximum and sum of exp(v - maximum) over this thread's elements.
    float local_max = -INFINITY, local_sum = 0.0f;
#pragma unroll
    for (int k = 0; k < CACHED_PER_THREAD; ++k) {
        size_t c = threadIdx.x + (size_t)k * blockDim.x;
        values[k] = (cached && c < cols) ? to_float(row_x[c]) : -INFINITY;
    }
    if (cached) {
#pragma unroll
        for (int k = 0; k < CACHED_PER_THREAD; ++k) local_max = fmaxf(local_max, values[k]);
#pragma unroll
        for (int k = 0; k < CACHED_PER_THREAD; ++k) local_sum += values[k] == -INFINITY ? 0.0f : __expf(values[k] - local_max);
    } else {
        for (size_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float v = to_float(row_x[c]);
            if (v > local_max) { local_sum *= __expf(local_max - v); local_max = v; }
            // A masked (−∞) element adds nothing; exp(−∞ − (−∞)) would be NaN while local_max is −∞.
            local_sum += v == -INFINITY ? 0.0f : __expf(v - local_max);
        }
    }
    const float row_max = block_reduce(local_max, scratch, -INFINITY, MaxOp());
    const float rescaled = local_max == -INFINITY ? 0.0f : local_sum * __expf(local_max - row_max);
    const float row_sum = block_reduce(rescaled, scratch, 0.0f, SumOp());
    const float log_sum = logf(row_sum), inverse_sum = 1.0f / row_sum;

    if (cached) {
#pragma unroll
        for (int k = 0; k < CACHED_PER_THREAD; ++k) {
            size_t c = threadIdx.x + (size_t)k * blockDim.x;
            if (c < cols) {
                float shifted = values[k] - row_max;
                row_y[c] = from_float<T>(log_output ? shifted - log_sum : __expf(shifted) * inverse_sum);
            }
        }
    } else {
        for (size_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float shifted = to_float(row_x[c]) - row_max;
            row_y[c] = from_float<T>(log_output ? shifted - log_sum : __expf(shifted) * inverse_sum);
        }
    }
}

// softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g).
template <typename T>
__device__ void softmax_backward_kernel(size_t cols, const T* y, const T* g, T* dx, int log_output) {
    __shared__ float scratch[32];
    const size_t offset = blockIdx.x * cols;
    float local = 0.0f;
    for (size_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float gc = to_float(g[offset + c]);
        local += log_output ? gc : gc * to_float(y[offset + c]);
    }
    const float total = block_reduce(local, scratch, 0.0f, SumOp());
    for (size_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float yc = to_float(y[offset + c]), gc = to_float(g[offset + c]);
        dx[offset + c] = from_float<T>(log_output ? gc - __expf(yc) * total : yc * (gc - total));
    }
}

#define SOFTMAX(SUFFIX, T)                                                                                  \
    extern "C" __global__ void softmax_##SUFFIX(size_t cols, const T* x, T* y, int log_output) {            \
        softmax_kernel<T>(cols, x, y, log_output);                                                          \
    }                                                                                                       \
    extern "C" __global__ void softmax_backward_##SUFFIX(size_t cols, const T* y, const T* g, T* dx, int log_output) { \
        softmax_backward_kernel<T>(cols, y, g, dx, log_output);                                             \
    }

SOFTMAX(f32, float)
SOFTMAX(f16, __half)
SOFTMAX(bf16, __nv_bfloat16)
