// Embedding lookup and its deterministic gradient.
//
// Forward: out[n, d] = table[ids[n], d], a grid-stride copy (out-of-range ids give zeros).
// Backward: grad_table[v, :] = sum of grad[n, :] over positions n with ids[n] == v, in position order.
// No float atomics: one warp owns one vocabulary row. It first reads that row's occurrence count
// (counted with integer atomics, which are exact), writes zeros when it is 0, and otherwise scans the
// ids 32 at a time, finding matches with a ballot and adding their gradient rows in position order;
// it stops as soon as it has seen `count` matches. Each lane accumulates up to COLUMNS_PER_LANE
// columns in registers; wider rows take several passes.
#include "common.cuh"

#define COLUMNS_PER_LANE 8

template <typename T>
__device__ void embedding_forward_kernel(size_t count, unsigned int dim, unsigned int vocab, const T* table, const int* ids, T* out) {
    GRID_STRIDE_LOOP(i, count) {
        const int id = ids[i / dim];
        const unsigned int d = i % dim;
        out[i] = (id >= 0 && (unsigned int)id < vocab) ? table[(size_t)id * dim + d] : from_float<T>(0.0f);
    }
}

// counts[v] = number of positions holding id v (counts zeroed by the caller).
extern "C" __global__ void embedding_count_ids(size_t positions, unsigned int vocab, const int* ids, unsigned int* counts) {
    GRID_STRIDE_LOOP(n, positions) {
        const int id = ids[n];
        if (id >= 0 && (unsigned int)id < vocab) atomicAdd(&counts[id], 1u);
    }
}

template <typename T>
__device__ void embedding_backward_kernel(size_t positions, unsigned int dim, unsigned int vocab, const T* grad, const int* ids, const unsigned int* counts, T* grad_table) {
    const unsigned int lane = threadIdx.x % 32;
    const size_t row = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (row >= vocab) return;  // whole warps leave together: rows are warp-uniform
    const unsigned int occurrences = counts[row];
    T* out_row = grad_table + row * dim;
    for (unsigned int first_column = 0; first_column < dim; first_column += 32 * COLUMNS_PER_LANE) {
        float sums[COLUMNS_PER_LANE];
#pragma unroll
        for (int k = 0; k < COLUMNS_PER_LANE; ++k) sums[k] = 0.0f;
        unsigned int seen = 0;
        for (size_t base = 0; base < positions && seen < occurrences; base += 32) {
            const size_t n = base + lane;
            const bool match = n < positions && ids[n] == (int)row;
            unsigned int matches = __ballot_sync(0xffffffff, match);
            seen += __popc(matches);
            while (matches) {  // lowest position first: a fixed summation order
                const int offset = __ffs(matches) - 1;
                matches &= matches - 1;
                const T* source = grad + (base + offset) * dim;
#pragma unroll
                for (int k = 0; k < COLUMNS_PER_LANE; ++k) {
                    const unsigned int d = first_column + lane + 32 * k;
                    if (d < dim) sums[k] += to_float(source[d]);
                }
            }
        }
#pragma unroll
        for (int k = 0; k < COLUMNS_PER_LANE; ++k) {
            const unsigned int d = first_column + lane + 32 * k;
            if (d < dim) out_row[d] = from_float<T>(sums[k]);
        }
    }
}

#define EMBEDDING(SUFFIX, T)                                                                                          \
    extern "C" __global__ void embedding_forward_##SUFFIX(size_t count, unsigned int dim, unsigned int vocab,          \
                                                          const T* table, const int* ids, T* out) {                    \
        embedding_forward_kernel<T>(count, dim, vocab, table, ids, out);                                               \
    }                                                                                                                  \
    extern "C" __global__ void embedding_backward_##SUFFIX(size_t positions, unsigned int dim, unsigned int vocab,     \
                                                           const T* grad, const int* ids, const unsigned int* counts,  \
                                                           T* grad_table) {                                            \
        embedding_backward_kernel<T>(positions, dim, vocab, grad, ids, counts, grad_table);                           \
    }

EMBEDDING(f32, float)
EMBEDDING(f16, __half)
EMBEDDING(bf16, __nv_bfloat16)
