// Data movement: strided copies (contiguous(), writing into views), dtype casts, fill, axpby.
#include "common.cuh"

// Copies by element width: f32/i32 share the 4-byte kernel, f16/bf16 the 2-byte one.
template <typename Word>
__device__ void copy_strided_kernel(size_t n, const Word* src, StridedLayout src_layout, Word* dst,
                                    StridedLayout dst_layout) {
    GRID_STRIDE_LOOP(i, n) { dst[strided_index(i, dst_layout)] = src[strided_index(i, src_layout)]; }
}

extern "C" __global__ void copy_strided_b32(size_t n, const unsigned int* src, StridedLayout src_layout,
                                            unsigned int* dst, StridedLayout dst_layout) {
    copy_strided_kernel(n, src, src_layout, dst, dst_layout);
}
extern "C" __global__ void copy_strided_b16(size_t n, const unsigned short* src, StridedLayout src_layout,
                                            unsigned short* dst, StridedLayout dst_layout) {
    copy_strided_kernel(n, src, src_layout, dst, dst_layout);
}

// Contiguous, aligned input and output move in packs of 8 elements (16 or 32 bytes a side: whole
// 128-bit accesses for every type pair); the rest element by element.
template <typename From, typename To>
__device__ void cast_kernel(size_t n, const From* x, StridedLayout x_layout, int x_contiguous, To* y) {
    constexpr int N = 8;
    using FromPack = Pack<From, N>;
    using ToPack = Pack<To, N>;
    size_t done = 0;
    if (x_contiguous && is_aligned(x, sizeof(FromPack)) && is_aligned(y, sizeof(ToPack))) {
        const FromPack* x_packs = reinterpret_cast<const FromPack*>(x);
        ToPack* y_packs = reinterpret_cast<ToPack*>(y);
        GRID_STRIDE_LOOP(p, n / N) {
            FromPack in = x_packs[p];
            ToPack out;
#pragma unroll
            for (int k = 0; k < N; ++k) out.values[k] = from_float<To>(to_float(in.values[k]));
            y_packs[p] = out;
        }
        done = n / N * N;
    }
    GRID_STRIDE_LOOP(j, n - done) {
        const size_t i = done + j;
        size_t xi = x_contiguous ? i : strided_index(i, x_layout);
        y[i] = from_float<To>(to_float(x[xi]));
    }
}

#define CAST(FROM_SUFFIX, FROM, TO_SUFFIX, TO)                                                              \
    extern "C" __global__ void cast_##FROM_SUFFIX##_##TO_SUFFIX(size_t n, const FROM* x, StridedLayout layout, \
                                                                int contiguous, TO* y) {                    \
        cast_kernel<FROM, TO>(n, x, layout, contiguous, y);                                                 \
    }
#define CAST_FROM(FROM_SUFFIX, FROM)               \
    CAST(FROM_SUFFIX, FROM, f32, float)            \
    CAST(FROM_SUFFIX, FROM, f16, __half)           \
    CAST(FROM_SUFFIX, FROM, bf16, __nv_bfloat16)   \
    CAST(FROM_SUFFIX, FROM, i32, int)
CAST_FROM(f32, float)
CAST_FROM(f16, __half)
CAST_FROM(bf16, __nv_bfloat16)
CAST_FROM(i32, int)

template <typename T>
__device__ void fill_kernel(size_t n, T* y, float value) {
    T v = from_float<T>(value);
    GRID_STRIDE_LOOP(i, n) { y[i] = v; }
}

// y <- alpha * x + beta * y; x may be null (then y <- beta * y). As in BLAS, beta = 0 does not read
// y, so assigning over NaN or uninitialised memory works.
template <typename T>
__device__ void axpby_kernel(size_t n, float alpha, const T* x, float beta, T* y) {
    GRID_STRIDE_LOOP(i, n) {
        float value = beta == 0.0f ? 0.0f : beta * to_float(y[i]);
        if (x != nullptr) value += alpha * to_float(x[i]);
        y[i] = from_float<T>(value);
    }
}

#define FILL_AXPBY(SUFFIX, T)                                                                          \
    extern "C" __global__ void fill_##SUFFIX(size_t n, T* y, float value) { fill_kernel<T>(n, y, value); } \
    extern "C" __global__ void axpby_##SUFFIX(size_t n, float alpha, const T* x, float beta, T* y) {     \
        axpby_kernel<T>(n, alpha, x, beta, y);                                                         \
    }
FILL_AXPBY(f32, float)
FILL_AXPBY(f16, __half)
FILL_AXPBY(bf16, __nv_bfloat16)
FILL_AXPBY(i32, int)
