// Pooling on contiguous NHWC tensors. Every kernel computes one element of its output per thread
// (grid-stride), so each output element is written exactly once and no atomics are needed.
#include "common.cuh"

struct PoolShape {
    int batch, in_h, in_w, channels, out_h, out_w;
};

// 2×2 windows, stride 2; argmax = flat input index of the maximum (first one on ties; NaN wins).
template <typename T>
__device__ void max_pool2x2_kernel(PoolShape g, const T* __restrict__ x, T* __restrict__ y, int* __restrict__ argmax) {
    const size_t total = (size_t)g.batch * g.out_h * g.out_w * g.channels;
    GRID_STRIDE_LOOP(i, total) {
        const auto [image, p, q, c] = nhwc_position(i, g.out_h, g.out_w, g.channels);
        size_t best_index = ((image * g.in_h + 2 * p) * g.in_w + 2 * q) * g.channels + c;
        float best = to_float(x[best_index]);
#pragma unroll
        for (int window = 1; window < 4; ++window) {
            const size_t index = ((image * g.in_h + 2 * p + (window >> 1)) * g.in_w + 2 * q + (window & 1)) * g.channels + c;
            const float v = to_float(x[index]);
            if (v > best || (isnan(v) && !isnan(best))) {
                best = v;
                best_index = index;
            }
        }
        y[i] = x[best_index];
        argmax[i] = (int)best_index;
    }
}

// One thread per input element: it receives dy of its window if it was that window's argmax.
template <typename T>
__device__ void max_pool2x2_backward_kernel(PoolShape g, const T* __restrict__ dy, const int* __restrict__ argmax, T* __restrict__ dx) {
    const size_t total = (size_t)g.batch * g.in_h * g.in_w * g.channels;
    GRID_STRIDE_LOOP(i, total) {
        const auto [image, h, w, c] = nhwc_position(i, g.in_h, g.in_w, g.channels);
        const int p = h / 2, q = w / 2;
        float value = 0.0f;
        if (p < g.out_h && q < g.out_w) {
            const size_t o = ((image * g.out_h + p) * g.out_w + q) * g.channels + c;
            if ((size_t)argmax[o] == i) value = to_float(dy[o]);
        }
        dx[i] = from_float<T>(value);
    }
}

// PyTorch's adaptive bins: floor(i·size/bins) .. ceil((i+1)·size/bins).
__device__ __forceinline__ int bin_start(int i, int bins, int size) { return (i * size) / bins; }
__device__ __forceinline__ int bin_end(int i, int bins, int size) { return ((i + 1) * size + bins - 1) / bins; }

template <typename T>
__device__ void adaptive_avg_pool_kernel(PoolShape g, const T* __restrict__ x, T* __restrict__ y) {
    const size_t total = (size_t)g.batch * g.out_h * g.out_w * g.channels;
    GRID_STRIDE_LOOP(i, total) {
        const auto [image, oi, oj, c] = nhwc_position(i, g.out_h, g.out_w, g.channels);
        const int h0 = bin_start(oi, g.out_h, g.in_h), h1 = bin_end(oi, g.out_h, g.in_h);
        const int w0 = bin_start(oj, g.out_w, g.in_w), w1 = bin_end(oj, g.out_w, g.in_w);
        float sum = 0.0f;
        for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w) sum += to_float(x[((image * g.in_h + h) * g.in_w + w) * g.channels + c]);
        y[i] = from_float<T>(sum / (float)((h1 - h0) * (w1 - w0)));
    }
}

// One thread per input element: the sum over the bins containing it of dy / bin size.
template <typename T>
__device__ void adaptive_avg_pool_backward_kernel(PoolShape g, const T* __restrict__ dy, T* __restrict__ dx) {
    const size_t total = (size_t)g.batch * g.in_h * g.in_w * g.channels;
    GRID_STRIDE_LOOP(i, total) {
        const auto [image, h, w, c] = nhwc_position(i, g.in_h, g.in_w, g.channels);
        float sum = 0.0f;
        for (int oi = 0; oi < g.out_h; ++oi) {
            const int h0 = bin_start(oi, g.out_h, g.in_h), h1 = bin_end(oi, g.out_h, g.in_h);
            if (h < h0 || h >= h1) continue;
            for (int oj = 0; oj < g.out_w; ++oj) {
                const int w0 = bin_start(oj, g.out_w, g.in_w), w1 = bin_end(oj, g.out_w, g.in_w);
                if (w < w0 || w >= w1) continue;
                sum += to_float(dy[((image * g.out_h + oi) * g.out_w + oj) * g.channels + c]) / (float)((h1 - h0) * (w1 - w0));
            }
        }
        dx[i] = from_float<T>(sum);
    }
}

#define POOL(SUFFIX, T)                                                                                           \
    extern "C" __global__ void max_pool2x2_##SUFFIX(PoolShape g, const T* x, T* y, int* argmax) {                \
        max_pool2x2_kernel<T>(g, x, y, argmax);                                                                   \
    }                                                                                                             \
    extern "C" __global__ void max_pool2x2_backward_##SUFFIX(PoolShape g, const T* dy, const int* argmax, T* dx) { \
        max_pool2x2_backward_kernel<T>(g, dy, argmax, dx);                                                        \
    }                                                                                                             \
    extern "C" __global__ void adaptive_avg_pool_##SUFFIX(PoolShape g, const T* x, T* y) {                       \
        adaptive_avg_pool_kernel<T>(g, x, y);                                                                     \
    }                                                                                                             \
    extern "C" __global__ void adaptive_avg_pool_backward_##SUFFIX(PoolShape g, const T* dy, T* dx) {            \
        adaptive_avg_pool_backward_kernel<T>(g, dy, dx);                                                          \
    }

POOL(f32, float)
POOL(f16, __half)
POOL(bf16, __nv_bfloat16)
