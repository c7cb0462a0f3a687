// Element-wise unary and binary ops over strided (broadcast) inputs, contiguous output.
// The scalar definitions match src/backend/cpu/elementwise.rs.
#include "common.cuh"

__device__ __forceinline__ float apply_unary(unsigned int op, float x, float p0, float p1) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return expf(x);
        case U_LOG: return logf(x);
        case U_RELU: return fmaxf(x, 0.0f);
        case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
        case U_TANH: return tanhf(x);
        case U_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        case U_SQRT: return sqrtf(x);
        case U_ABS: return fabsf(x);
        case U_SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
        case U_POWF: return powf(x, p0);
        case U_AFFINE: return p0 * x + p1;
        case U_QUICK_GELU: return x / (1.0f + expf(-1.702f * x));
        default: return __int_as_float(0x7fc00000);  // NaN: an unknown op code must not pass silently
    }
}

__device__ __forceinline__ float apply_binary(unsigned int op, float a, float b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_EQUAL: return a == b ? 1.0f : 0.0f;
        case B_RELU_BACKWARD: return a > 0.0f ? b : 0.0f;
        case B_SIGMOID_BACKWARD: return b * a * (1.0f - a);
        case B_TANH_BACKWARD: return b * (1.0f - a * a);
        case B_GELU_BACKWARD: {
            float cdf = 0.5f * (1.0f + erff(a * 0.70710678118654752f));
            float pdf = 0.3989422804014327f * expf(-0.5f * a * a);
            return b * (cdf + a * pdf);
        }
        case B_QUICK_GELU_BACKWARD: {
            float s = 1.0f / (1.0f + expf(-1.702f * a));
            return b * (s + 1.702f * a * s * (1.0f - s));
        }
        default: return __int_as_float(0x7fc00000);
    }
}

template <typename T>
__device__ void unary_kernel(unsigned int op, float p0, float p1, size_t n, const T* x, StridedLayout x_layout,
                             int x_contiguous, T* y) {
    size_t done = 0;
    constexpr int N = 16 / sizeof(T);
    using Pack16 = Pack<T, N>;
    if (x_contiguous && is_aligned(x, 16) && is_aligned(y, 16)) {
        // Whole 16-byte packs first; the tail (less than a pack) falls through to the loop below.
        const Pack16* x_packs = reinterpret_cast<const Pack16*>(x);
        Pack16* y_packs = reinterpret_cast<Pack16*>(y);
        GRID_STRIDE_LOOP(p, n / N) {
            Pack16 in = x_packs[p], result;
#pragma unroll
            for (int k = 0; k < N; ++k) result.values[k] = from_float<T>(apply_unary(op, to_float(in.values[k]), p0, p1));
            y_packs[p] = result;
        }
        done = n / N * N;
    }
    GRID_STRIDE_LOOP(j, n - done) {
        const size_t i = done + j;
        size_t xi = x_contiguous ? i : strided_index(i, x_layout);
        y[i] = from_float<T>(apply_unary(op, to_float(x[xi]), p0, p1));
    }
}

template <typename T>
__device__ void binary_kernel(unsigned int op, size_t n, const T* a, StridedLayout a_layout, int a_contiguous,
                              const T* b, StridedLayout b_layout, int b_contiguous, T* out) {
    size_t done = 0;
    constexpr int N = 16 / sizeof(T);
    using Pack16 = Pack<T, N>;
    if (a_contiguous && b_contiguous && is_aligned(a, 16) && is_aligned(b, 16) && is_aligned(out, 16)) {
        const Pack16* a_packs = reinterpret_cast<const Pack16*>(a);
        const Pack16* b_packs = reinterpret_cast<const Pack16*>(b);
        Pack16* out_packs = reinterpret_cast<Pack16*>(out);
        GRID_STRIDE_LOOP(p, n / N) {
            Pack16 left = a_packs[p], right = b_packs[p], result;
#pragma unroll
            for (int k = 0; k < N; ++k) result.values[k] = from_float<T>(apply_binary(op, to_float(left.values[k]), to_float(right.values[k])));
            out_packs[p] = result;
        }
        done = n / N * N;
    }
    GRID_STRIDE_LOOP(j, n - done) {
        const size_t i = done + j;
        size_t ai = a_contiguous ? i : strided_index(i, a_layout);
        size_t bi = b_contiguous ? i : strided_index(i, b_layout);
        out[i] = from_float<T>(apply_binary(op, to_float(a[ai]), to_float(b[bi])));
    }
}

#define ELEMENTWISE(SUFFIX, T)                                                                              \
    extern "C" __global__ void unary_##SUFFIX(unsigned int op, float p0, float p1, size_t n, const T* x,    \
                                              StridedLayout x_layout, int x_contiguous, T* y) {             \
        unary_kernel<T>(op, p0, p1, n, x, x_layout, x_contiguous, y);                                       \
    }                                                                                                       \
    extern "C" __global__ void binary_##SUFFIX(unsigned int op, size_t n, const T* a, StridedLayout a_layout, \
                                               int a_contiguous, const T* b, StridedLayout b_layout,        \
                                               int b_contiguous, T* out) {                                  \
        binary_kernel<T>(op, n, a, a_layout, a_contiguous, b, b_layout, b_contiguous, out);                 \
    }

ELEMENTWISE(f32, float)
ELEMENTWISE(f16, __half)
ELEMENTWISE(bf16, __nv_bfloat16)
