// GEMM with a fused epilogue: C[batch] = act(alpha · A[batch]·B[batch] + bias), C row-major m×n.
//
// * fp16 / bf16 inputs: tensor cores (mma.sync m16n8k16, fp32 accumulation), 128×128×32 block tiles,
//   8 warps of 64×32, a 3-stage cp.async pipeline, XOR-swizzled shared memory read with ldmatrix.
//   One kernel per (dtype, A layout, B layout, load path): the layout decides how a tile sits in shared
//   memory (the operand's contiguous dimension stays contiguous there), the load path is
//     async  — 16-byte cp.async, zero-filling edges; needs a contiguous dimension, 16-byte aligned rows;
//     strided — plain element loads with any strides and alignment (the host picks it when async can't).
// * fp32: a SIMT kernel (128×128×8 tiles, 8×8 outputs per thread, plain FMA: no TF32, so results match
//   the CPU to ~1e-6).
//
// Epilogue (all kernels): v = alpha·acc; v += bias[col] when bias != 0 (bias has the *input* dtype, n
// elements, shared by every batch); then none / ReLU / exact GELU (erf). Stored as fp32 or as the input
// dtype (out_is_f32). docs/gemm.md has the design and the reasoning behind each choice.
// memefuse: sm_90a
#include "common.cuh"

// ---- Arguments (mirrored by GemmParams in src/backend/cuda/gemm.rs; keep in step) ----

// Element (batch, i, j) of an operand is at pointer[batch·batch_stride + i·row_stride + j·col_stride].
struct GemmOperand {
    unsigned long long pointer;
    unsigned long long batch_stride, row_stride, col_stride;
};

enum Activation : unsigned int { ACT_NONE = 0, ACT_RELU = 1, ACT_GELU = 2 };

struct GemmParams {
    GemmOperand a, b;             // a: m×k, b: k×n
    unsigned long long c;         // m×n per batch, row-major, batch stride m·n
    unsigned long long bias;      // 0 or n elements of the input dtype
    unsigned int m, n, k;
    float alpha;
    unsigned int activation;      // enum Activation
    unsigned int out_is_f32;      // 1: C is fp32; 0: C has the input dtype
};

// ---- Block scheduling shared by all kernels ----

// Blocks are numbered along gridDim.x; consecutive blocks walk down a group of RASTER_GROUP tile rows
// before moving right, so the blocks resident together reuse the same A rows and B columns from L2.
// (Mirrored by `tile_of_block` in gemm.rs, whose unit test checks it is a bijection.)
#define RASTER_GROUP 8
__device__ __forceinline__ void tile_of_block(unsigned int block, unsigned int tiles_m, unsigned int tiles_n, unsigned int& tile_m, unsigned int& tile_n) {
    const unsigned int blocks_per_group = RASTER_GROUP * tiles_n;
    const unsigned int first_m = (block / blocks_per_group) * RASTER_GROUP;
    const unsigned int group_rows = min(tiles_m - first_m, (unsigned int)RASTER_GROUP);
    const unsigned int in_group = block % blocks_per_group;
    tile_m = first_m + in_group % group_rows;
    tile_n = in_group / group_rows;
}

__device__ __forceinline__ float apply_activation(float v, unsigned int activation) {
    if (activation == ACT_RELU) return fmaxf(v, 0.0f);
    if (activation == ACT_GELU) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    return v;
}

// Writes two horizontally adjacent outputs (row, col) and (row, col+1) after the epilogue.
template <typename T>
__device__ __forceinline__ void store_pair(const GemmParams& p, size_t c_batch_offset, unsigned int row, unsigned int col, float v0, float v1) {
    if (row >= p.m || col >= p.n) return;
    const bool second = col + 1 < p.n;
    if (p.bias) {
        const T* bias = reinterpret_cast<const T*>(p.bias);
        v0 = p.alpha * v0 + to_float(bias[col]);
        v1 = second ? p.alpha * v1 + to_float(bias[col + 1]) : 0.0f;
    } else {
        v0 *= p.alpha;
        v1 *= p.alpha;
    }
    v0 = apply_activation(v0, p.activation);
    v1 = apply_activation(v1, p.activation);
    const size_t index = c_batch_offset + (size_t)row * p.n + col;
    // With n even, index is even, so a pair is 8-byte (fp32) or 4-byte (16-bit) aligned: one store.
    const bool paired = second && (p.n % 2 == 0);
    if (p.out_is_f32 || sizeof(T) == 4) {  // the fp32 kernel always writes fp32
        float* c = reinterpret_cast<float*>(p.c);
        if (paired) *reinterpret_cast<float2*>(c + index) = make_float2(v0, v1);
        else { c[index] = v0; if (second) c[index + 1] = v1; }
    } else {
        T* c = reinterpret_cast<T*>(p.c);
        if (paired && sizeof(T) == 2) {
            T pair[2] = {from_float<T>(v0), from_float<T>(v1)};
            *reinterpret_cast<unsigned int*>(c + index) = *reinterpret_cast<unsigned int*>(pair);
        } else {
            c[index] = from_float<T>(v0);
            if (second) c[index + 1] = from_float<T>(v1);
        }
    }
}

// =====================================================================================================
// Tensor-core kernel (fp16, bf16)
// =====================================================================================================
namespace tc {
constexpr int BLOCK_M = 128, BLOCK_N = 128, BLOCK_K = 32;
constexpr int STAGES = 3;                       // 3 × (8 KB A + 8 KB B) = 48 KB: the static shared-memory limit
constexpr int THREADS = 256;                    // 8 warps: 2 along m × 4 along n
constexpr int WARP_M = 64, WARP_N = 32;
constexpr int M_FRAGS = WARP_M / 16;            // 4 mma tiles of 16 rows
constexpr int N_FRAGS = WARP_N / 8;             // 4 mma tiles of 8 columns
constexpr int TILE_ELEMENTS = BLOCK_M * BLOCK_K;  // = BLOCK_N × BLOCK_K: one operand's tile per stage
static_assert(BLOCK_M == BLOCK_N, "one tile size serves both operands");

// A shared tile is ROWS × COLS elements with COLS contiguous, in 16-byte chunks of 8 elements. ldmatrix
// reads 8 rows at the same chunk column; unswizzled, those rows would share banks (a 64-byte row puts 2
// rows in each 128-byte bank line, a 256-byte row puts every row on the same banks). XOR-ing the chunk
// index with bits of the row spreads those 8 reads over all 8 16-byte bank groups.
template <int COLS>
__device__ __forceinline__ int swizzled_chunk(int row, int chunk) {
    static_assert(COLS == 32 || COLS == 128, "tiles are 32 or 128 elements wide");
    if constexpr (COLS == 32) return chunk ^ ((row >> 1) & 3);  // rows 2r, 2r+1 share a bank line
    else return chunk ^ (row & 7);
}

// Offset of element (row, col) of a swizzled tile; col must be a multiple of 8 (a chunk start).
template <int COLS>
__device__ __forceinline__ int tile_offset(int row, int col) {
    return row * COLS + swizzled_chunk<COLS>(row, col / 8) * 8;
}

// Loads the ROWS × COLS tile whose first element is (row0, col0) of a matrix `rows` × `cols` stored at
// matrix[r·row_stride + c·col_stride]; elements outside the matrix become zero. Each thread moves two
// chunks of 8 elements. ASYNC: cp.async with col_stride == 1 and 16-byte aligned rows (host-checked).
template <typename T, int ROWS, int COLS, bool ASYNC>
__device__ __forceinline__ void load_tile(T* tile, const T* matrix, size_t row_stride, size_t col_stride, int row0, int col0, int rows, int cols) {
    constexpr int CHUNKS_PER_ROW = COLS / 8;
    constexpr int CHUNKS = ROWS * COLS / 8;
    static_assert(CHUNKS % THREADS == 0, "whole chunks per thread");
#pragma unroll
    for (int i = 0; i < CHUNKS / THREADS; ++i) {
        const int chunk_id = threadIdx.x + i * THREADS;
        const int row = chunk_id / CHUNKS_PER_ROW, chunk = chunk_id % CHUNKS_PER_ROW;
        const int global_row = row0 + row, global_col = col0 + chunk * 8;
        T* dst = tile + row * COLS + swizzled_chunk<COLS>(row, chunk) * 8;
        if constexpr (ASYNC) {
            // Copy the chunk's in-bounds prefix (0..8 elements), zero-fill the rest.
            const int valid = global_row < rows ? max(0, min(8, cols - global_col)) : 0;
            const T* src = valid > 0 ? matrix + (size_t)global_row * row_stride + global_col : matrix;
            cp_async_16(dst, src, valid * (int)sizeof(T));
        } else {
            alignas(16) T values[8];
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                const bool inside = global_row < rows && global_col + e < cols;
                values[e] = inside ? matrix[(size_t)global_row * row_stride + (size_t)(global_col + e) * col_stride] : from_float<T>(0.0f);
            }
            *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(values);
        }
    }
}

// A_K_CONTIGUOUS: A is row-major (k contiguous), its tile is [m][k]; otherwise [k][m] (column-major A).
// B_K_CONTIGUOUS: B is column-major (k contiguous), its tile is [n][k]; otherwise [k][n] (row-major B).
template <typename T, bool A_K_CONTIGUOUS, bool B_K_CONTIGUOUS, bool ASYNC>
__device__ __forceinline__ void gemm_tc(const GemmParams& p) {
    // [stage][tile]; 128-byte alignment keeps every 16-byte chunk aligned for cp.async and ldmatrix.
    __shared__ __align__(128) T a_tiles[STAGES][TILE_ELEMENTS];
    __shared__ __align__(128) T b_tiles[STAGES][TILE_ELEMENTS];

    const int m = p.m, n = p.n, k = p.k;
    unsigned int tile_m, tile_n;
    tile_of_block(blockIdx.x, (p.m + BLOCK_M - 1) / BLOCK_M, (p.n + BLOCK_N - 1) / BLOCK_N, tile_m, tile_n);
    const int block_m = tile_m * BLOCK_M, block_n = tile_n * BLOCK_N;
    const T* a = reinterpret_cast<const T*>(p.a.pointer) + (size_t)blockIdx.z * p.a.batch_stride;
    const T* b = reinterpret_cast<const T*>(p.b.pointer) + (size_t)blockIdx.z * p.b.batch_stride;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int warp_m = warp / 4, warp_n = warp % 4;  // 2 × 4 warps
    // A warp whose 64×32 sub-tile lies wholly past m or n (m = 64 at batch 64, say) would only
    // multiply the zeros its tile was padded with: it still helps load, but skips the MMAs.
    const bool warp_has_outputs = block_m + warp_m * WARP_M < m && block_n + warp_n * WARP_N < n;

    // Issues the loads of k-tile `k_tile` into stage `stage` (nothing past the last k-tile).
    auto load_stage = [&](int stage, int k_tile) {
        if (k_tile * BLOCK_K >= k) return;
        const int k0 = k_tile * BLOCK_K;
        if constexpr (A_K_CONTIGUOUS) load_tile<T, BLOCK_M, BLOCK_K, ASYNC>(a_tiles[stage], a, p.a.row_stride, p.a.col_stride, block_m, k0, m, k);
        else load_tile<T, BLOCK_K, BLOCK_M, ASYNC>(a_tiles[stage], a, p.a.col_stride, p.a.row_stride, k0, block_m, k, m);
        if constexpr (B_K_CONTIGUOUS) load_tile<T, BLOCK_N, BLOCK_K, ASYNC>(b_tiles[stage], b, p.b.col_stride, p.b.row_stride, block_n, k0, n, k);
        else load_tile<T, BLOCK_K, BLOCK_N, ASYNC>(b_tiles[stage], b, p.b.row_stride, p.b.col_stride, k0, block_n, k, n);
    };

    float acc[M_FRAGS][N_FRAGS][4];
#pragma unroll
    for (int i = 0; i < M_FRAGS; ++i)
#pragma unroll
        for (int j = 0; j < N_FRAGS; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

    // Prologue: the first STAGES-1 k-tiles in flight, one commit group each (possibly empty).
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        load_stage(s, s);
        cp_async_commit();
    }

    const int k_tiles = (k + BLOCK_K - 1) / BLOCK_K;
    // ldmatrix lane roles: `quad` picks which of the four 8×8 matrices this lane addresses, `row8` the row in it.
    const int quad = lane / 8, row8 = lane % 8;
    for (int k_tile = 0; k_tile < k_tiles; ++k_tile) {
        // Groups committed so far: STAGES-1 + k_tile; leaving STAGES-2 pending completes group k_tile.
        cp_async_wait<STAGES - 2>();
        __syncthreads();  // k-tile visible to all threads; and everyone is done with the stage refilled next
        load_stage((k_tile + STAGES - 1) % STAGES, k_tile + STAGES - 1);
        cp_async_commit();

        const T* a_tile = a_tiles[k_tile % STAGES];
        const T* b_tile = b_tiles[k_tile % STAGES];
        if (!warp_has_outputs) continue;  // warp-uniform, and no barrier follows before the next k-tile
#pragma unroll
        for (int kk = 0; kk < BLOCK_K; kk += 16) {
            unsigned int a_frag[M_FRAGS][4], b_frag[N_FRAGS][2];
#pragma unroll
            for (int i = 0; i < M_FRAGS; ++i) {
                const int m_base = warp_m * WARP_M + i * 16;
                if constexpr (A_K_CONTIGUOUS) {
                    // matrices: (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15)
                    ldmatrix_x4(a_frag[i], a_tile + tile_offset<BLOCK_K>(m_base + lane % 16, kk + (lane / 16) * 8));
                } else {
                    // tile is [k][m]: matrix j covers k rows kk + 8(j/2).., m columns m_base + 8(j%2)..
                    ldmatrix_x4_trans(a_frag[i], a_tile + tile_offset<BLOCK_M>(kk + row8 + (quad / 2) * 8, m_base + (quad % 2) * 8));
                }
            }
#pragma unroll
            for (int j = 0; j < N_FRAGS; j += 2) {
                // One x4 load gives b[0], b[1] of two neighbouring 8-column tiles:
                // matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15).
                const int n_base = warp_n * WARP_N + j * 8;
                unsigned int r[4];
                if constexpr (B_K_CONTIGUOUS) ldmatrix_x4(r, b_tile + tile_offset<BLOCK_K>(n_base + row8 + (quad / 2) * 8, kk + (quad % 2) * 8));
                else ldmatrix_x4_trans(r, b_tile + tile_offset<BLOCK_N>(kk + row8 + (quad % 2) * 8, n_base + (quad / 2) * 8));
                b_frag[j][0] = r[0];
                b_frag[j][1] = r[1];
                b_frag[j + 1][0] = r[2];
                b_frag[j + 1][1] = r[3];
            }
#pragma unroll
            for (int i = 0; i < M_FRAGS; ++i)
#pragma unroll
                for (int j = 0; j < N_FRAGS; ++j) mma_16x8x16<T>(acc[i][j], a_frag[i], b_frag[j]);
        }
    }
    cp_async_wait<0>();  // only empty groups remain; leave nothing in flight

    const size_t c_batch_offset = (size_t)blockIdx.z * p.m * p.n;
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int i = 0; i < M_FRAGS; ++i)
#pragma unroll
        for (int j = 0; j < N_FRAGS; ++j) {
            const unsigned int row = block_m + warp_m * WARP_M + i * 16 + g;
            const unsigned int col = block_n + warp_n * WARP_N + j * 8 + 2 * t;
            store_pair<T>(p, c_batch_offset, row, col, acc[i][j][0], acc[i][j][1]);
            store_pair<T>(p, c_batch_offset, row + 8, col, acc[i][j][2], acc[i][j][3]);
        }
}
}  // namespace tc

// gemm_<dtype>_a<row|col>_b<row|col>_<async|strided>: "row" = row-major (col_stride 1), "col" = column-major.
#define GEMM_TC(SUFFIX, T, A_NAME, A_K_CONTIGUOUS, B_NAME, B_K_CONTIGUOUS, LOAD_NAME, ASYNC)                     \
    extern "C" __global__ void __launch_bounds__(tc::THREADS) gemm_##SUFFIX##_a##A_NAME##_b##B_NAME##_##LOAD_NAME(GemmParams p) { \
        tc::gemm_tc<T, A_K_CONTIGUOUS, B_K_CONTIGUOUS, ASYNC>(p);                                                \
    }
#define GEMM_TC_LAYOUTS(SUFFIX, T, LOAD_NAME, ASYNC)                  \
    GEMM_TC(SUFFIX, T, row, true, row, false, LOAD_NAME, ASYNC)       \
    GEMM_TC(SUFFIX, T, row, true, col, true, LOAD_NAME, ASYNC)        \
    GEMM_TC(SUFFIX, T, col, false, row, false, LOAD_NAME, ASYNC)      \
    GEMM_TC(SUFFIX, T, col, false, col, true, LOAD_NAME, ASYNC)

GEMM_TC_LAYOUTS(f16, __half, async, true)
GEMM_TC_LAYOUTS(f16, __half, strided, false)
GEMM_TC_LAYOUTS(bf16, __nv_bfloat16, async, true)
GEMM_TC_LAYOUTS(bf16, __nv_bfloat16, strided, false)

// =====================================================================================================
// fp32 SIMT kernel: any strides, plain FMA
// =====================================================================================================
namespace simt {
constexpr int BLOCK_M = 128, BLOCK_N = 128, BLOCK_K = 8, THREADS = 256;
constexpr int PAD = 4;  // keeps float4 alignment and spreads the transposing stores of a k-contiguous A over banks
}

// Thread (ty, tx) of a 16×16 grid owns rows {4ty..4ty+3, 64+4ty..} and columns {4tx.., 64+4tx..}: the
// two halves make the shared reads float4 broadcasts without bank conflicts.
extern "C" __global__ void __launch_bounds__(simt::THREADS) gemm_f32(GemmParams p) {
    using namespace simt;
    __shared__ __align__(16) float a_tile[BLOCK_K][BLOCK_M + PAD];  // [k][m]
    __shared__ __align__(16) float b_tile[BLOCK_K][BLOCK_N + PAD];  // [k][n]
    unsigned int tile_m, tile_n;
    tile_of_block(blockIdx.x, (p.m + BLOCK_M - 1) / BLOCK_M, (p.n + BLOCK_N - 1) / BLOCK_N, tile_m, tile_n);
    const unsigned int block_m = tile_m * BLOCK_M, block_n = tile_n * BLOCK_N;
    const float* a = reinterpret_cast<const float*>(p.a.pointer) + (size_t)blockIdx.z * p.a.batch_stride;
    const float* b = reinterpret_cast<const float*>(p.b.pointer) + (size_t)blockIdx.z * p.b.batch_stride;
    // Neighbouring threads load along each operand's contiguous dimension (coalesced).
    const bool a_k_contiguous = p.a.col_stride == 1, b_n_contiguous = p.b.col_stride == 1;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

    for (unsigned int k0 = 0; k0 < p.k; k0 += BLOCK_K) {
#pragma unroll
        for (int e = threadIdx.x; e < BLOCK_M * BLOCK_K; e += THREADS) {
            const int mm = a_k_contiguous ? e / BLOCK_K : e % BLOCK_M, kk = a_k_contiguous ? e % BLOCK_K : e / BLOCK_M;
            const unsigned int gm = block_m + mm, gk = k0 + kk;
            a_tile[kk][mm] = (gm < p.m && gk < p.k) ? a[(size_t)gm * p.a.row_stride + (size_t)gk * p.a.col_stride] : 0.0f;
            const int nn = b_n_contiguous ? e % BLOCK_N : e / BLOCK_K, kb = b_n_contiguous ? e / BLOCK_N : e % BLOCK_K;
            const unsigned int gn = block_n + nn, gkb = k0 + kb;
            b_tile[kb][nn] = (gkb < p.k && gn < p.n) ? b[(size_t)gkb * p.b.row_stride + (size_t)gn * p.b.col_stride] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BLOCK_K; ++kk) {
            float av[8], bv[8];
            *reinterpret_cast<float4*>(av) = *reinterpret_cast<const float4*>(&a_tile[kk][4 * ty]);
            *reinterpret_cast<float4*>(av + 4) = *reinterpret_cast<const float4*>(&a_tile[kk][64 + 4 * ty]);
            *reinterpret_cast<float4*>(bv) = *reinterpret_cast<const float4*>(&b_tile[kk][4 * tx]);
            *reinterpret_cast<float4*>(bv + 4) = *reinterpret_cast<const float4*>(&b_tile[kk][64 + 4 * tx]);
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }

    const size_t c_batch_offset = (size_t)blockIdx.z * p.m * p.n;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const unsigned int row = block_m + (i < 4 ? 4 * ty + i : 64 + 4 * ty + (i - 4));
#pragma unroll
        for (int j = 0; j < 8; j += 2) {
            const unsigned int col = block_n + (j < 4 ? 4 * tx + j : 64 + 4 * tx + (j - 4));
            store_pair<float>(p, c_batch_offset, row, col, acc[i][j], acc[i][j + 1]);
        }
    }
}

// =====================================================================================================
// Split-K finish: the host cut k into `splits` slices whose products (alpha applied, no bias, no
// activation) sit in fp32 `partials` [splits, m, n]; this sums them in slice order, so the result does
// not depend on scheduling, then adds the bias and applies the activation: the same epilogue as
// store_pair, once per output.
// =====================================================================================================
template <typename In, typename Out>
__device__ void split_k_finish(unsigned int splits, unsigned long long outputs, unsigned int n, const float* partials,
                               unsigned long long bias, unsigned int activation, Out* c) {
    GRID_STRIDE_LOOP(i, outputs) {
        float v = 0.0f;
        for (unsigned int s = 0; s < splits; ++s) v += partials[s * outputs + i];
        if (bias) v += to_float(reinterpret_cast<const In*>(bias)[i % n]);
        c[i] = from_float<Out>(apply_activation(v, activation));
    }
}

// gemm_split_k_finish_<input dtype>_<output dtype>: the output is the inputs' dtype or fp32.
#define SPLIT_K_FINISH(IN_SUFFIX, IN, OUT_SUFFIX, OUT)                                                           \
    extern "C" __global__ void gemm_split_k_finish_##IN_SUFFIX##_##OUT_SUFFIX(                                   \
        unsigned int splits, unsigned long long outputs, unsigned int n, const float* partials,                \
        unsigned long long bias, unsigned int activation, OUT* c) {                                            \
        split_k_finish<IN, OUT>(splits, outputs, n, partials, bias, activation, c);                            \
    }
SPLIT_K_FINISH(f32, float, f32, float)
SPLIT_K_FINISH(f16, __half, f16, __half)
SPLIT_K_FINISH(f16, __half, f32, float)
SPLIT_K_FINISH(bf16, __nv_bfloat16, bf16, __nv_bfloat16)
SPLIT_K_FINISH(bf16, __nv_bfloat16, f32, float)
