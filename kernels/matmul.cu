// A placeholder batched matrix multiply: 16x16 shared-memory tiles, f32 accumulation, any strides.
// Correct for every shape but far from the tensor-core roofline; the GEMM issue replaces it.
#include "common.cuh"

#define TILE 16

struct MatrixStrides {
    unsigned long long batch, row, col;
};

template <typename T>
__device__ void matmul_kernel(unsigned int m, unsigned int n, unsigned int k, const T* a, MatrixStrides sa,
                              const T* b, MatrixStrides sb, T* c) {
    __shared__ float a_tile[TILE][TILE];
    __shared__ float b_tile[TILE][TILE + 1];  // +1 avoids bank conflicts on the column reads
    const unsigned int batch = blockIdx.z;
    const unsigned int row = blockIdx.y * TILE + threadIdx.y, col = blockIdx.x * TILE + threadIdx.x;
    const T* a_batch = a + batch * sa.batch;
    const T* b_batch = b + batch * sb.batch;
    float acc = 0.0f;
    for (unsigned int k0 = 0; k0 < k; k0 += TILE) {
        unsigned int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        a_tile[threadIdx.y][threadIdx.x] = (row < m && ka < k) ? to_float(a_batch[row * sa.row + ka * sa.col]) : 0.0f;
        b_tile[threadIdx.y][threadIdx.x] = (kb < k && col < n) ? to_float(b_batch[kb * sb.row + col * sb.col]) : 0.0f;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TILE; ++kk) acc += a_tile[threadIdx.y][kk] * b_tile[kk][threadIdx.x];
        __syncthreads();
    }
    if (row < m && col < n) c[(size_t)batch * m * n + (size_t)row * n + col] = from_float<T>(acc);
}

#define MATMUL(SUFFIX, T)                                                                                  \
    extern "C" __global__ void matmul_##SUFFIX(unsigned int m, unsigned int n, unsigned int k, const T* a, \
                                               MatrixStrides sa, const T* b, MatrixStrides sb, T* c) {     \
        matmul_kernel<T>(m, n, k, a, sa, b, sb, c);                                                        \
    }

MATMUL(f32, float)
MATMUL(f16, __half)
MATMUL(bf16, __nv_bfloat16)
