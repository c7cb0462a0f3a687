// Reductions of a contiguous tensor viewed as [outer, reduced, inner] along its middle axis.
//
// inner == 1 (the reduced axis is the last one) runs in two launches so that even a single long row
// fills the GPU: reduce_rows_partial splits every row into `chunks` pieces, one block each, and writes
// f32 partials; reduce_rows_finish combines each row's partials. inner > 1 works the same way on
// tiles of columns (below).
#include "common.cuh"

#define REDUCE_BLOCK 256

__device__ __forceinline__ float reduce_identity(unsigned int op) { return op == R_SUM ? 0.0f : -INFINITY; }
__device__ __forceinline__ float reduce_combine(unsigned int op, float a, float b) { return op == R_SUM ? a + b : fmaxf(a, b); }

// Rows beyond gridDim.y (at most 65535) are taken in turn by the same blocks.
template <typename T>
__device__ void reduce_rows_partial_kernel(unsigned int op, size_t outer, size_t reduced, size_t chunk, const T* x, float* partial) {
    __shared__ float scratch[32];
    const size_t piece = blockIdx.x;
    const size_t begin = piece * chunk, end = min(begin + chunk, reduced);
    for (size_t row = blockIdx.y; row < outer; row += gridDim.y) {
        const T* row_x = x + row * reduced;
        float acc = reduce_identity(op);
        for (size_t r = begin + threadIdx.x; r < end; r += blockDim.x) acc = reduce_combine(op, acc, to_float(row_x[r]));
        acc = op == R_SUM ? block_reduce(acc, scratch, 0.0f, SumOp()) : block_reduce(acc, scratch, -INFINITY, MaxOp());
        if (threadIdx.x == 0) partial[row * gridDim.x + piece] = acc;
    }
}

template <typename T>
__device__ void reduce_rows_finish_kernel(unsigned int op, size_t chunks, const float* partial, T* out) {
    __shared__ float scratch[32];
    const size_t row = blockIdx.x;
    float acc = reduce_identity(op);
    for (size_t c = threadIdx.x; c < chunks; c += blockDim.x) acc = reduce_combine(op, acc, partial[row * chunks + c]);
    acc = op == R_SUM ? block_reduce(acc, scratch, 0.0f, SumOp()) : block_reduce(acc, scratch, -INFINITY, MaxOp());
    if (threadIdx.x == 0) out[row] = from_float<T>(acc);
}

// inner > 1: blocks of 32 columns × COLUMN_ROWS row lanes. Each block reduces one chunk of the
// reduced axis for 32 neighbouring columns (loads coalesced along the columns), combines its row
// lanes in shared memory and writes one f32 partial per column; reduce_columns_finish combines the
// chunks of each output in order. Splitting the reduced axis into chunks is what keeps the GPU busy
// when there are few outputs and a long axis, as in a bias gradient: [N·H·W, C] summed over N·H·W.
#define COLUMN_WIDTH 32
#define COLUMN_ROWS 8

template <typename T>
__device__ void reduce_columns_partial_kernel(unsigned int op, size_t outer, size_t reduced, size_t inner, size_t chunk,
                                              const T* x, float* partial) {
    __shared__ float lanes[COLUMN_ROWS][COLUMN_WIDTH + 1];  // +1: no bank conflicts on the column reads
    const size_t column = (size_t)blockIdx.x * COLUMN_WIDTH + threadIdx.x;
    const size_t chunks = gridDim.y, begin = blockIdx.y * chunk, end = min(begin + chunk, reduced);
    // Outer slices beyond gridDim.z (at most 65535) are taken in turn by the same blocks.
    for (size_t o = blockIdx.z; o < outer; o += gridDim.z) {
        float acc = reduce_identity(op);
        if (column < inner) {
            const T* slice = x + o * reduced * inner + column;
            for (size_t r = begin + threadIdx.y; r < end; r += COLUMN_ROWS) acc = reduce_combine(op, acc, to_float(slice[r * inner]));
        }
        lanes[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && column < inner) {
            for (int lane = 1; lane < COLUMN_ROWS; ++lane) acc = reduce_combine(op, acc, lanes[lane][threadIdx.x]);
            partial[(o * chunks + blockIdx.y) * inner + column] = acc;
        }
        __syncthreads();  // lanes is rewritten for the next slice
    }
}

template <typename T>
__device__ void reduce_columns_finish_kernel(unsigned int op, size_t outer, size_t chunks, size_t inner, const float* partial, T* out) {
    GRID_STRIDE_LOOP(index, outer * inner) {
        const size_t o = index / inner, column = index % inner;
        float acc = reduce_identity(op);
        for (size_t c = 0; c < chunks; ++c) acc = reduce_combine(op, acc, partial[(o * chunks + c) * inner + column]);
        out[index] = from_float<T>(acc);
    }
}

// The first index of the maximum; NaN never wins (matches the CPU reference).
template <typename T>
__device__ void argmax_kernel(size_t outer, size_t reduced, size_t inner, const T* x, int* out) {
    GRID_STRIDE_LOOP(index, outer * inner) {
        const size_t o = index / inner, i = index % inner;
        const T* column = x + o * reduced * inner + i;
        float best = reduced > 0 ? to_float(column[0]) : 0.0f;  // an empty axis answers index 0
        int best_index = 0;
        for (size_t r = 1; r < reduced; ++r) {
            float v = to_float(column[r * inner]);
            if (v > best) { best = v; best_index = (int)r; }
        }
        out[index] = best_index;
    }
}

#define REDUCE(SUFFIX, T)                                                                                   \
    extern "C" __global__ void reduce_rows_partial_##SUFFIX(unsigned int op, size_t outer, size_t reduced,  \
                                                            size_t chunk, const T* x, float* partial) {     \
        reduce_rows_partial_kernel<T>(op, outer, reduced, chunk, x, partial);                               \
    }                                                                                                       \
    extern "C" __global__ void reduce_rows_finish_##SUFFIX(unsigned int op, size_t chunks, const float* partial, \
                                                           T* out) {                                        \
        reduce_rows_finish_kernel<T>(op, chunks, partial, out);                                             \
    }                                                                                                       \
    extern "C" __global__ void reduce_columns_partial_##SUFFIX(unsigned int op, size_t outer, size_t reduced, \
                                                               size_t inner, size_t chunk, const T* x,      \
                                                               float* partial) {                            \
        reduce_columns_partial_kernel<T>(op, outer, reduced, inner, chunk, x, partial);                     \
    }                                                                                                       \
    extern "C" __global__ void reduce_columns_finish_##SUFFIX(unsigned int op, size_t outer, size_t chunks,  \
                                                              size_t inner, const float* partial, T* out) { \
        reduce_columns_finish_kernel<T>(op, outer, chunks, inner, partial, out);                            \
    }                                                                                                       \
    extern "C" __global__ void argmax_##SUFFIX(size_t outer, size_t reduced, size_t inner, const T* x, int* out) { \
        argmax_kernel<T>(outer, reduced, inner, x, out);                                                    \
    }

REDUCE(f32, float)
REDUCE(f16, __half)
REDUCE(bf16, __nv_bfloat16)
