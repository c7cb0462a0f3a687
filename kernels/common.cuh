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

// Storage position of the `linear`-th element (row-major over the shape). The loop runs over all
// MAX_RANK axes, fully unrolled, so every subscript is a constant: a loop bounded by `rank` would
// index the struct at run time and make every thread copy it to local memory first.
__device__ __forceinline__ size_t strided_index(size_t linear, const StridedLayout& layout) {
    size_t position = 0;
#pragma unroll
    for (int d = MAX_RANK - 1; d >= 0; --d) {
        if (d < (int)layout.rank) {
            unsigned int extent = layout.shape[d];
            position += (linear % extent) * layout.strides[d];
            linear /= extent;
        }
    }
    return position;
}

// Where the linear index `i` of a contiguous NHWC tensor [images, height, width, channels] lies.
struct NhwcPosition {
    size_t image;
    int row, col, channel;
};
__device__ __forceinline__ NhwcPosition nhwc_position(size_t i, int height, int width, int channels) {
    const size_t pixel = i / channels;
    return {pixel / ((size_t)width * height), (int)((pixel / width) % height), (int)(pixel % width), (int)(i % channels)};
}

// N elements of T read or written as one unit: a 16-byte Pack is one 128-bit access, where 2-byte
// elements one at a time would use an eighth of each.
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
    T values[N];
};

__device__ __forceinline__ bool is_aligned(const void* p, size_t bytes) { return ((size_t)p & (bytes - 1)) == 0; }

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
enum UnaryOpCode { U_NEG, U_EXP, U_LOG, U_RELU, U_SIGMOID, U_TANH, U_GELU, U_SQRT, U_ABS, U_SIGN, U_POWF, U_AFFINE, U_QUICK_GELU };
enum BinaryOpCode { B_ADD, B_SUB, B_MUL, B_DIV, B_EQUAL, B_RELU_BACKWARD, B_SIGMOID_BACKWARD, B_TANH_BACKWARD, B_GELU_BACKWARD, B_QUICK_GELU_BACKWARD };
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

// ---- Tensor-core building blocks (sm_80+): cp.async, ldmatrix, mma.sync as small inline-PTX helpers ----

// The 32-bit shared-memory address PTX wants for a generic pointer into __shared__.
__device__ __forceinline__ unsigned int shared_address(const void* p) {
    return (unsigned int)__cvta_generic_to_shared(p);
}

// Asynchronous 16-byte copy global → shared that bypasses L1 (.cg). Only `src_bytes` (0..16) are read;
// the rest of the 16 destination bytes are zero-filled, which is how tile edges are padded.
// Both addresses must be 16-byte aligned; with src_bytes == 0 nothing is read.
__device__ __forceinline__ void cp_async_16(void* shared_dst, const void* global_src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared_dst)), "l"(global_src), "r"(src_bytes));
}

// Closes the group of cp.async issued since the last commit.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most `PENDING` committed groups are still in flight (this thread's copies only:
// follow with __syncthreads() before reading what other threads copied).
template <int PENDING>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory"); }

// Loads four 8x8 matrices of 16-bit elements from shared memory. Lanes 8j..8j+7 give the row addresses
// of matrix j (16 contiguous bytes each); afterwards lane l holds, in r[j], row l/4, columns 2(l%4)
// and 2(l%4)+1 of matrix j: exactly an mma fragment register.
__device__ __forceinline__ void ldmatrix_x4(unsigned int (&r)[4], const void* shared_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(shared_row)));
}

// The same, transposing each 8x8 matrix on the way: lane l gets rows 2(l%4), 2(l%4)+1 of column l/4.
// Used when the operand is stored with the other dimension contiguous.
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned int (&r)[4], const void* shared_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(shared_row)));
}

// d += a·b on one 16x8x16 tile with fp32 accumulation. Fragments (g = lane/4, t = lane%4):
//   a[0]: A(g, 2t..2t+1)  a[1]: A(g+8, 2t..)  a[2]: A(g, 2t+8..)  a[3]: A(g+8, 2t+8..)
//   b[0]: B(2t..2t+1, g)  b[1]: B(2t+8.., g)
//   d[0..1]: D(g, 2t..2t+1)  d[2..3]: D(g+8, 2t..2t+1)
template <typename T> __device__ __forceinline__ void mma_16x8x16(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]);

template <> __device__ __forceinline__ void mma_16x8x16<__half>(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <> __device__ __forceinline__ void mma_16x8x16<__nv_bfloat16>(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
