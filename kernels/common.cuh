// Shared by every kernel: element types, op codes (mirrored by src/ops/mod.rs), strided indexing,
// warp and block reductions. Every kernel computes in f32 whatever its storage type.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define MAX_RANK 8

// A view's shape and strides (in elements); the view's offset is folded into the pointer on the host.
struct StridedLayout {
    unsigned int rank;
    unsigned int shape[MAX_RANK];
    unsigned int strides[MAX_RANK];
};

// Storage position of the `linear`-th element (row-major over the shape).
__device__ __forceinline__ size_t strided_index(size_t linear, const StridedLayout& layout) {
    size_t position = 0;
    for (int d = (int)layout.rank - 1; d >= 0; --d) {
        unsigned int extent = layout.shape[d];
        position += (linear % extent) * layout.strides[d];
        linear /= extent;
    }
    return position;
}

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(int x) { return (float)x; }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ int from_float<int>(float x) { return (int)x; }

// Op codes: keep in step with UnaryOp::code, BinaryOp and ReduceOp in src/ops/mod.rs.
enum UnaryOpCode { U_NEG, U_EXP, U_LOG, U_RELU, U_SIGMOID, U_TANH, U_GELU, U_SQRT, U_ABS, U_SIGN, U_POWF, U_AFFINE };
enum BinaryOpCode { B_ADD, B_SUB, B_MUL, B_DIV, B_EQUAL, B_RELU_BACKWARD, B_SIGMOID_BACKWARD, B_TANH_BACKWARD, B_GELU_BACKWARD };
enum ReduceOpCode { R_SUM, R_MAX };

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffff, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, offset));
    return v;
}

// Reduces one value per thread across the block; every thread gets the result.
// `scratch` must hold 32 floats; the block size must be a multiple of 32.
template <typename Combine>
__device__ __forceinline__ float block_reduce(float v, float* scratch, float identity, Combine combine) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, __shfl_xor_sync(0xffffffff, v, offset));
    __syncthreads();  // scratch may still be read by a previous reduction
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : identity;
    for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, __shfl_xor_sync(0xffffffff, v, offset));
    return v;
}

struct SumOp { __device__ float operator()(float a, float b) const { return a + b; } };
struct MaxOp { __device__ float operator()(float a, float b) const { return fmaxf(a, b); } };

#define GRID_STRIDE_LOOP(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)blockDim.x * gridDim.x)
