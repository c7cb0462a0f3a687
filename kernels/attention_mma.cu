// Fused scaled dot-product attention on tensor cores, f16 and bf16 (src/backend/cuda/attention.rs
// picks it when head_dim is a multiple of 16, at most 128; attention.cu's SIMT kernels do the rest).
// Same contract as attention.cu: q [B, H, Sq, D], k and v [B, H, Sk, D], contiguous; online softmax
// in f32, no S×S matrix in device memory, the log-sum-exp saved for the backward, the causal and
// key-padding masks, any lengths, Sq ≠ Sk; a query that sees no key outputs zeros, lse −∞.
//
// Every product is mma.sync m16n8k16 with f32 accumulation, operands read from shared memory with
// ldmatrix: a block is 4 warps and owns 64 rows (16 per warp) of one (batch, head); the other side
// streams through shared memory in tiles of 64 rows. Scores stay in the accumulator registers: the
// 16×16 block of probabilities a warp computes is, once rounded to 16 bits, exactly the A operand of
// the next mma (the C fragment of two 8-column tiles is the A fragment of one 16-deep step), so P
// never leaves the registers. Rounding P (and dS in the backward) to the storage dtype before those
// products is the only precision this path gives up against the SIMT one.
//
//   forward   grid (B·H, ⌈Sq/64⌉): S = Q·Kᵀ, online softmax, O += P·V; K and V tiles double as
//             prefetch stages (K of the next tile loads during this tile's softmax and P·V).
//   dq        grid (B·H, ⌈Sq/64⌉): dQ = scale · Σ dS·K with dS = P ∘ (dO·Vᵀ − delta).
//   dk, dv    grid (B·H, ⌈Sk/64⌉): dV = Σ Pᵀ·dO, dK = scale · Σ dSᵀ·Q.
// The backward's delta = rowsum(dO ∘ O) is attention.cu's kernel. Each gradient row is summed by one
// warp in a fixed order: deterministic, no atomics.
//
// Shared tiles are [64][D + 8]: the 8-element (16-byte) pad makes the row stride an odd number of
// 16-byte chunks (D/8 is even), so the 8 rows an ldmatrix phase reads fall in 8 different bank groups
// for every head dim, where an XOR swizzle would need a power-of-two row. One instantiation per head
// dim (16, 32, …, 128), so every fragment loop is unrolled and every accumulator is a register.
// memefuse: sm_90a
#include "common.cuh"
#include "attention_shape.cuh"

namespace attention_mma {
constexpr int WARPS = 4;
constexpr int THREADS = WARPS * 32;
constexpr int ROWS = 64;  // rows a block owns (queries, or keys in dk/dv): 16 per warp
constexpr int TILE = 64;  // rows of the streamed side per step
constexpr int PAD = 8;
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

template <int D> constexpr int STRIDE = D + PAD;
template <int D> constexpr int TILE_ELEMENTS = TILE * STRIDE<D>;

// Two floats as one f16x2 / bf16x2 register, `low` in bits 0..15 (the lower column of a fragment).
template <typename T> __device__ __forceinline__ unsigned int pack_pair(float low, float high);
template <> __device__ __forceinline__ unsigned int pack_pair<__half>(float low, float high) {
    __half2 pair = __floats2half2_rn(low, high);
    return *reinterpret_cast<unsigned int*>(&pair);
}
template <> __device__ __forceinline__ unsigned int pack_pair<__nv_bfloat16>(float low, float high) {
    __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
    return *reinterpret_cast<unsigned int*>(&pair);
}

// Rows first..first+63 of a [rows, D] matrix into a padded tile by 16-byte cp.async; rows past
// `rows` are zero-filled. Every thread of the block takes part (D/16 chunks each).
template <typename T, int D>
__device__ __forceinline__ void load_tile(T* tile, const T* matrix, unsigned int first, unsigned int rows) {
    constexpr int CHUNKS_PER_ROW = D / 8;
#pragma unroll
    for (int i = 0; i < TILE * CHUNKS_PER_ROW / THREADS; ++i) {
        const int chunk_id = threadIdx.x + i * THREADS;
        const int row = chunk_id / CHUNKS_PER_ROW, chunk = chunk_id % CHUNKS_PER_ROW;
        const bool inside = first + row < rows;
        const T* source = inside ? matrix + (size_t)(first + row) * D + chunk * 8 : matrix;
        cp_async_16(tile + row * STRIDE<D> + chunk * 8, source, inside ? 16 : 0);
    }
}

// The A fragment of rows row0..row0+15, columns k0..k0+15 of a row-major tile (common.cuh's layout):
// lanes 0-15 address rows row0.. at column k0, lanes 16-31 the same rows at k0 + 8.
template <typename T, int D>
__device__ __forceinline__ void load_a(unsigned int (&a)[4], const T* tile, int row0, int k0) {
    const int lane = threadIdx.x % 32;
    ldmatrix_x4(a, tile + (row0 + lane % 16) * STRIDE<D> + k0 + (lane / 16) * 8);
}

// B fragments of two neighbouring 8-column tiles (n0.., n0+8..), depth k0..k0+15, for B = tileᵀ: the
// tile holds B's columns as rows (K in S = Q·Kᵀ). b0 is the first tile's, b1 the second's.
template <typename T, int D>
__device__ __forceinline__ void load_b_of_rows(unsigned int (&b0)[2], unsigned int (&b1)[2], const T* tile, int n0, int k0) {
    const int lane = threadIdx.x % 32, quad = lane / 8, row8 = lane % 8;
    unsigned int r[4];
    ldmatrix_x4(r, tile + (n0 + row8 + (quad / 2) * 8) * STRIDE<D> + k0 + (quad % 2) * 8);
    b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

// The same for B = tile itself (V in O = P·V): depth k0.. are tile rows, columns n0.. are tile
// columns, so each 8×8 matrix is transposed on the way.
template <typename T, int D>
__device__ __forceinline__ void load_b_of_columns(unsigned int (&b0)[2], unsigned int (&b1)[2], const T* tile, int k0, int n0) {
    const int lane = threadIdx.x % 32, quad = lane / 8, row8 = lane % 8;
    unsigned int r[4];
    ldmatrix_x4_trans(r, tile + (k0 + row8 + (quad % 2) * 8) * STRIDE<D> + n0 + (quad / 2) * 8);
    b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

// acc (16 × 16: two 8-column tiles) += A (16 × D, fragments in registers) · tile rows n0..n0+15ᵀ.
template <typename T, int D>
__device__ __forceinline__ void multiply_by_rows(float (&acc)[2][4], const unsigned int (&a)[D / 16][4], const T* tile, int n0) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
        unsigned int b0[2], b1[2];
        load_b_of_rows<T, D>(b0, b1, tile, n0, kk * 16);
        mma_16x8x16<T>(acc[0], a[kk], b0);
        mma_16x8x16<T>(acc[1], a[kk], b1);
    }
}

// acc (16 × D) += P (16 × 16, one A fragment) · tile rows k0..k0+15 (16 × D).
template <typename T, int D>
__device__ __forceinline__ void multiply_into_rows(float (&acc)[D / 8][4], const unsigned int (&p)[4], const T* tile, int k0) {
#pragma unroll
    for (int nn = 0; nn < D / 16; ++nn) {
        unsigned int b0[2], b1[2];
        load_b_of_columns<T, D>(b0, b1, tile, k0, nn * 16);
        mma_16x8x16<T>(acc[2 * nn], p, b0);
        mma_16x8x16<T>(acc[2 * nn + 1], p, b1);
    }
}

// The accumulators of a 16 × 16 block (two 8-column tiles) as the A fragment of the next product.
template <typename T>
__device__ __forceinline__ void as_a_fragment(unsigned int (&a)[4], const float (&c)[2][4]) {
    a[0] = pack_pair<T>(c[0][0], c[0][1]);  // row g, columns 2t, 2t+1
    a[1] = pack_pair<T>(c[0][2], c[0][3]);  // row g + 8
    a[2] = pack_pair<T>(c[1][0], c[1][1]);  // row g, columns 8 + 2t..
    a[3] = pack_pair<T>(c[1][2], c[1][3]);  // row g + 8, columns 8 + 2t..
}

// Writes a warp's 16 × D accumulators (× factor[row half]) as rows row0.. of a [rows, D] matrix:
// staged in the warp's own 16 rows of a shared tile, then copied out in 16-byte chunks (a row's
// chunks go to consecutive lanes, so the global stores are coalesced). Rows ≥ rows are not written.
template <typename T, int D>
__device__ __forceinline__ void store_rows(T* matrix, unsigned int row0, unsigned int rows, const float (&acc)[D / 8][4], const float (&factor)[2], T* staging) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
        *reinterpret_cast<unsigned int*>(staging + g * STRIDE<D> + j * 8 + 2 * t) = pack_pair<T>(acc[j][0] * factor[0], acc[j][1] * factor[0]);
        *reinterpret_cast<unsigned int*>(staging + (g + 8) * STRIDE<D> + j * 8 + 2 * t) = pack_pair<T>(acc[j][2] * factor[1], acc[j][3] * factor[1]);
    }
    __syncwarp();
    constexpr int CHUNKS_PER_ROW = D / 8;
#pragma unroll
    for (int i = 0; i < 16 * CHUNKS_PER_ROW / 32; ++i) {
        const int chunk_id = lane + 32 * i, row = chunk_id / CHUNKS_PER_ROW, chunk = chunk_id % CHUNKS_PER_ROW;
        if (row0 + row < rows)
            *reinterpret_cast<uint4*>(matrix + (size_t)(row0 + row) * D + chunk * 8) = *reinterpret_cast<const uint4*>(staging + row * STRIDE<D> + chunk * 8);
    }
}

// 1 where key first + i (i < 64) exists and is not padding, else 0; threads 0..63 write one each.
__device__ __forceinline__ void stage_key_flags(int* flags, const AttentionShape& s, const int* mask, size_t batch, unsigned int first) {
    if (threadIdx.x < TILE) {
        const unsigned int key = first + threadIdx.x;
        flags[threadIdx.x] = key < s.key_len && (mask == nullptr || mask[batch * s.key_len + key] != 0);
    }
}

// How far the keys that queries 0..last_query see reach (the causal mask cuts them at last_query).
__device__ __forceinline__ unsigned int visible_key_end(const AttentionShape& s, unsigned int last_query) {
    return s.causal ? min(s.key_len, last_query + 1) : s.key_len;
}

// ---- Forward --------------------------------------------------------------------------------------

// Dynamic shared memory: Q, K and V tiles, then 64 key flags.
template <typename T, int D>
__device__ void forward(const AttentionShape& s, const T* q, const T* k, const T* v, const int* mask, T* out, float* lse) {
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    T* q_tile = reinterpret_cast<T*>(shared_bytes);
    T* k_tile = q_tile + TILE_ELEMENTS<D>;
    T* v_tile = k_tile + TILE_ELEMENTS<D>;
    int* key_flags = reinterpret_cast<int*>(v_tile + TILE_ELEMENTS<D>);

    const size_t bh = blockIdx.x, batch = bh / s.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const unsigned int first_query = blockIdx.y * ROWS, warp_query = first_query + warp * 16;
    const bool warp_has_rows = warp_query < s.query_len;
    const T* k_bh = k + bh * s.key_len * D;
    const T* v_bh = v + bh * s.key_len * D;
    // Keys the block streams, and the (smaller, under the causal mask) part this warp's rows see.
    const unsigned int key_end = visible_key_end(s, min(first_query + ROWS, s.query_len) - 1);
    const unsigned int warp_key_end = warp_has_rows ? visible_key_end(s, min(warp_query + 16, s.query_len) - 1) : 0;

    // Commit groups: {Q, K0}, {V0}, then per tile {K next}, {V next} (empty past the last tile).
    load_tile<T, D>(q_tile, q + bh * s.query_len * D, first_query, s.query_len);
    if (key_end > 0) {
        load_tile<T, D>(k_tile, k_bh, 0, s.key_len);
        stage_key_flags(key_flags, s, mask, batch, 0);
    }
    cp_async_commit();
    if (key_end > 0) load_tile<T, D>(v_tile, v_bh, 0, s.key_len);
    cp_async_commit();

    unsigned int q_frag[D / 16][4];
    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    // Per row half (rows g and g + 8): the running maximum of the scores in log2 units (scale·log2 e
    // folded in, so exp becomes exp2) and this lane's part of the running sum.
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
    const float scale_log2 = s.scale * LOG2E;

    for (unsigned int tile = 0; tile < key_end; tile += TILE) {
        const bool has_next = tile + TILE < key_end;
        const bool warp_works = tile < warp_key_end;  // warp-uniform
        cp_async_wait<1>();  // {Q,} K of this tile has landed; its V may still be in flight
        __syncthreads();
        if (tile == 0 && warp_has_rows) {
#pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) load_a<T, D>(q_frag[kk], q_tile, warp * 16, kk * 16);
        }
        // [16 keys][8 keys][fragment]: rows g, g + 8 × keys 16jj + 8e + 2t, + 1
        float scores[TILE / 16][2][4] = {};
        if (warp_works) {
#pragma unroll
            for (int jj = 0; jj < TILE / 16; ++jj)
                if (tile + jj * 16 < warp_key_end) multiply_by_rows<T, D>(scores[jj], q_frag, k_tile, jj * 16);
#pragma unroll
            for (int jj = 0; jj < TILE / 16; ++jj)
#pragma unroll
                for (int e = 0; e < 2; ++e)
#pragma unroll
                    for (int r = 0; r < 4; ++r) {
                        const unsigned int query = warp_query + g + 8 * (r / 2), column = jj * 16 + e * 8 + 2 * t + r % 2, key = tile + column;
                        const bool allowed = key_flags[column] && !(s.causal && key > query);
                        scores[jj][e][r] = allowed ? scores[jj][e][r] * scale_log2 : -INFINITY;
                    }
        }
        __syncthreads();  // every warp is done with this K tile and its flags
        if (has_next) {
            load_tile<T, D>(k_tile, k_bh, tile + TILE, s.key_len);
            stage_key_flags(key_flags, s, mask, batch, tile + TILE);
        }
        cp_async_commit();

        unsigned int p_frag[TILE / 16][4];
        if (warp_works) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float tile_max = -INFINITY;
#pragma unroll
                for (int jj = 0; jj < TILE / 16; ++jj)
#pragma unroll
                    for (int e = 0; e < 2; ++e) tile_max = fmaxf(tile_max, fmaxf(scores[jj][e][2 * h], scores[jj][e][2 * h + 1]));
                // The four lanes of a row (t = 0..3) hold its 64 columns.
                tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 1));
                tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, 2));
                const float new_max = fmaxf(row_max[h], tile_max);
                // A row with nothing visible yet keeps max −∞: subtract 0 instead (every p is then 0).
                const float base = new_max == -INFINITY ? 0.0f : new_max;
                const float rescale = exp2f(row_max[h] - base);
                row_max[h] = new_max;
                float sum = 0.0f;
#pragma unroll
                for (int jj = 0; jj < TILE / 16; ++jj)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        float* pair = &scores[jj][e][2 * h];
                        pair[0] = exp2f(pair[0] - base);
                        pair[1] = exp2f(pair[1] - base);
                        sum += pair[0] + pair[1];
                    }
                row_sum[h] = row_sum[h] * rescale + sum;
#pragma unroll
                for (int j = 0; j < D / 8; ++j) o[j][2 * h] *= rescale, o[j][2 * h + 1] *= rescale;
            }
#pragma unroll
            for (int jj = 0; jj < TILE / 16; ++jj) as_a_fragment<T>(p_frag[jj], scores[jj]);
        }
        cp_async_wait<1>();  // V of this tile has landed (the next K may be in flight)
        __syncthreads();
        if (warp_works) {
#pragma unroll
            for (int jj = 0; jj < TILE / 16; ++jj)
                if (tile + jj * 16 < warp_key_end) multiply_into_rows<T, D>(o, p_frag[jj], v_tile, jj * 16);
        }
        __syncthreads();  // every warp is done with this V tile
        if (has_next) load_tile<T, D>(v_tile, v_bh, tile + TILE, s.key_len);
        cp_async_commit();
    }
    cp_async_wait<0>();  // only empty groups are left (or, with no key at all, Q's)
    __syncthreads();     // the Q tile becomes the output's staging area

    float inverse[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        row_sum[h] += __shfl_xor_sync(0xffffffff, row_sum[h], 1);
        row_sum[h] += __shfl_xor_sync(0xffffffff, row_sum[h], 2);
        inverse[h] = row_sum[h] > 0.0f ? 1.0f / row_sum[h] : 0.0f;
    }
    store_rows<T, D>(out + bh * s.query_len * D, warp_query, s.query_len, o, inverse, q_tile + warp * 16 * STRIDE<D>);
    if (t == 0) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const unsigned int query = warp_query + g + 8 * h;
            if (query < s.query_len) lse[bh * s.query_len + query] = row_sum[h] > 0.0f ? (row_max[h] + log2f(row_sum[h])) * LN2 : -INFINITY;
        }
    }
}

// ---- Backward -------------------------------------------------------------------------------------

// p = exp(s − lse) in log2 units for a visible pair whose query saw any key, else 0.
__device__ __forceinline__ float probability(bool allowed, float score_log2, float lse_log2) {
    return allowed && lse_log2 != -INFINITY ? exp2f(score_log2 - lse_log2) : 0.0f;
}

// dQ, query-major. The Q and dO tiles are read into registers once; their shared space then serves
// as the second stage of the K/V stream. Dynamic shared memory: two stages of (K or Q, V or dO)
// tiles, then two stages of 64 key flags.
template <typename T, int D>
__device__ void backward_dq(const AttentionShape& s, const T* q, const T* k, const T* v, const int* mask, const T* d_out, const float* lse,
                            const float* delta, T* dq) {
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    T* tiles = reinterpret_cast<T*>(shared_bytes);  // stage st: tiles + 2·st·TILE_ELEMENTS (first, second)
    int* flags = reinterpret_cast<int*>(tiles + 4 * TILE_ELEMENTS<D>);
    auto first_tile = [&](int stage) { return tiles + 2 * stage * TILE_ELEMENTS<D>; };
    auto second_tile = [&](int stage) { return tiles + (2 * stage + 1) * TILE_ELEMENTS<D>; };

    const size_t bh = blockIdx.x, batch = bh / s.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const unsigned int first_query = blockIdx.y * ROWS, warp_query = first_query + warp * 16;
    const bool warp_has_rows = warp_query < s.query_len;
    const T* k_bh = k + bh * s.key_len * D;
    const T* v_bh = v + bh * s.key_len * D;
    const unsigned int key_end = visible_key_end(s, min(first_query + ROWS, s.query_len) - 1);
    const unsigned int warp_key_end = warp_has_rows ? visible_key_end(s, min(warp_query + 16, s.query_len) - 1) : 0;

    // Stage 0: Q and dO (read once into registers); stage 1: keys 0..63.
    load_tile<T, D>(first_tile(0), q + bh * s.query_len * D, first_query, s.query_len);
    load_tile<T, D>(second_tile(0), d_out + bh * s.query_len * D, first_query, s.query_len);
    if (key_end > 0) {
        load_tile<T, D>(first_tile(1), k_bh, 0, s.key_len);
        load_tile<T, D>(second_tile(1), v_bh, 0, s.key_len);
        stage_key_flags(flags + TILE, s, mask, batch, 0);
    }
    cp_async_commit();
    float row_lse[2], row_delta[2];  // lse in log2 units
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const unsigned int query = warp_query + g + 8 * h;
        row_lse[h] = query < s.query_len ? lse[bh * s.query_len + query] * LOG2E : -INFINITY;
        row_delta[h] = query < s.query_len ? delta[bh * s.query_len + query] : 0.0f;
    }
    cp_async_wait<0>();
    __syncthreads();
    unsigned int q_frag[D / 16][4], do_frag[D / 16][4];
    if (warp_has_rows) {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            load_a<T, D>(q_frag[kk], first_tile(0), warp * 16, kk * 16);
            load_a<T, D>(do_frag[kk], second_tile(0), warp * 16, kk * 16);
        }
    }
    __syncthreads();  // stage 0 is free for the next key tile

    float dq_acc[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) dq_acc[j][0] = dq_acc[j][1] = dq_acc[j][2] = dq_acc[j][3] = 0.0f;
    const float scale_log2 = s.scale * LOG2E;
    int stage = 1;
    for (unsigned int tile = 0; tile < key_end; tile += TILE) {
        if (tile + TILE < key_end) {  // prefetch the next tile into the other stage
            load_tile<T, D>(first_tile(1 - stage), k_bh, tile + TILE, s.key_len);
            load_tile<T, D>(second_tile(1 - stage), v_bh, tile + TILE, s.key_len);
            stage_key_flags(flags + (1 - stage) * TILE, s, mask, batch, tile + TILE);
        }
        cp_async_commit();
        const T* k_tile = first_tile(stage);
        const T* v_tile = second_tile(stage);
        const int* key_flags = flags + stage * TILE;
#pragma unroll
        for (int c = 0; c < TILE / 16; ++c) {
            if (tile + c * 16 >= warp_key_end) continue;  // warp-uniform: nothing visible from here on
            float scores[2][4] = {}, dp[2][4] = {};
            multiply_by_rows<T, D>(scores, q_frag, k_tile, c * 16);
            multiply_by_rows<T, D>(dp, do_frag, v_tile, c * 16);
#pragma unroll
            for (int j = 0; j < 2; ++j)
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int h = r / 2;
                    const unsigned int query = warp_query + g + 8 * h, column = c * 16 + j * 8 + 2 * t + r % 2;
                    const bool allowed = key_flags[column] && !(s.causal && tile + column > query);
                    const float p = probability(allowed, scores[j][r] * scale_log2, row_lse[h]);
                    scores[j][r] = p * (dp[j][r] - row_delta[h]);  // dS (scale applied at the end)
                }
            unsigned int ds_frag[4];
            as_a_fragment<T>(ds_frag, scores);
            multiply_into_rows<T, D>(dq_acc, ds_frag, k_tile, c * 16);
        }
        cp_async_wait<0>();
        __syncthreads();  // the next stage has landed and nobody reads this one any more
        stage = 1 - stage;
    }
    const float factor[2] = {s.scale, s.scale};
    store_rows<T, D>(dq + bh * s.query_len * D, warp_query, s.query_len, dq_acc, factor, first_tile(stage) + warp * 16 * STRIDE<D>);
}

// dK and dV, key-major; the mirror image of backward_dq: K and V go to registers, queries stream
// through two stages of (Q, dO) tiles with their lse and delta. Dynamic shared memory: the four
// tiles, then two stages of 64 lse values and of 64 delta values.
template <typename T, int D>
__device__ void backward_dkdv(const AttentionShape& s, const T* q, const T* k, const T* v, const int* mask, const T* d_out, const float* lse,
                              const float* delta, T* dk, T* dv) {
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    T* tiles = reinterpret_cast<T*>(shared_bytes);
    float* lse_stages = reinterpret_cast<float*>(tiles + 4 * TILE_ELEMENTS<D>);  // [stage][64], log2 units
    float* delta_stages = lse_stages + 2 * TILE;                                 // [stage][64]
    auto first_tile = [&](int stage) { return tiles + 2 * stage * TILE_ELEMENTS<D>; };
    auto second_tile = [&](int stage) { return tiles + (2 * stage + 1) * TILE_ELEMENTS<D>; };

    const size_t bh = blockIdx.x, batch = bh / s.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const unsigned int first_key = blockIdx.y * ROWS, warp_key = first_key + warp * 16;
    const T* q_bh = q + bh * s.query_len * D;
    const T* do_bh = d_out + bh * s.query_len * D;
    // Under the causal mask key j is seen by queries j.. only: the block starts at its first key.
    const unsigned int first_query = s.causal ? first_key : 0;
    auto load_queries = [&](int stage, unsigned int tile) {
        load_tile<T, D>(first_tile(stage), q_bh, tile, s.query_len);
        load_tile<T, D>(second_tile(stage), do_bh, tile, s.query_len);
        if (threadIdx.x < TILE) {
            const unsigned int query = tile + threadIdx.x;
            lse_stages[stage * TILE + threadIdx.x] = query < s.query_len ? lse[bh * s.query_len + query] * LOG2E : -INFINITY;
            delta_stages[stage * TILE + threadIdx.x] = query < s.query_len ? delta[bh * s.query_len + query] : 0.0f;
        }
    };

    // Stage 0: this block's K and V (read once into registers); stage 1: the first query tile.
    load_tile<T, D>(first_tile(0), k + bh * s.key_len * D, first_key, s.key_len);
    load_tile<T, D>(second_tile(0), v + bh * s.key_len * D, first_key, s.key_len);
    if (first_query < s.query_len) load_queries(1, first_query);
    cp_async_commit();
    bool key_visible[2];  // the padding mask of this lane's two key rows
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const unsigned int key = warp_key + g + 8 * h;
        key_visible[h] = key < s.key_len && (mask == nullptr || mask[batch * s.key_len + key] != 0);
    }
    cp_async_wait<0>();
    __syncthreads();
    const bool warp_has_rows = warp_key < s.key_len;
    unsigned int k_frag[D / 16][4], v_frag[D / 16][4];
    if (warp_has_rows) {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            load_a<T, D>(k_frag[kk], first_tile(0), warp * 16, kk * 16);
            load_a<T, D>(v_frag[kk], second_tile(0), warp * 16, kk * 16);
        }
    }
    __syncthreads();  // stage 0 is free for the next query tile

    float dk_acc[D / 8][4], dv_acc[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
        dk_acc[j][0] = dk_acc[j][1] = dk_acc[j][2] = dk_acc[j][3] = 0.0f;
        dv_acc[j][0] = dv_acc[j][1] = dv_acc[j][2] = dv_acc[j][3] = 0.0f;
    }
    const float scale_log2 = s.scale * LOG2E;
    int stage = 1;
    for (unsigned int tile = first_query; tile < s.query_len; tile += TILE) {
        if (tile + TILE < s.query_len) load_queries(1 - stage, tile + TILE);
        cp_async_commit();
        const T* q_tile = first_tile(stage);
        const T* do_tile = second_tile(stage);
        const float* tile_lse = lse_stages + stage * TILE;
        const float* tile_delta = delta_stages + stage * TILE;
#pragma unroll
        for (int c = 0; c < TILE / 16; ++c) {
            // Warp-uniform skips: queries past the end, or (causal) all before this warp's first key.
            if (!warp_has_rows || tile + c * 16 >= s.query_len || (s.causal && tile + c * 16 + 15 < warp_key)) continue;
            float scores[2][4] = {}, dp[2][4] = {};  // transposed: rows are keys, columns queries
            multiply_by_rows<T, D>(scores, k_frag, q_tile, c * 16);
            multiply_by_rows<T, D>(dp, v_frag, do_tile, c * 16);
#pragma unroll
            for (int j = 0; j < 2; ++j)
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int h = r / 2, column = c * 16 + j * 8 + 2 * t + r % 2;
                    const unsigned int key = warp_key + g + 8 * h, query = tile + column;
                    const bool allowed = key_visible[h] && !(s.causal && key > query);
                    const float p = probability(allowed, scores[j][r] * scale_log2, tile_lse[column]);
                    scores[j][r] = p;
                    dp[j][r] = p * (dp[j][r] - tile_delta[column]);  // dSᵀ (scale applied at the end)
                }
            unsigned int p_frag[4], ds_frag[4];
            as_a_fragment<T>(p_frag, scores);
            as_a_fragment<T>(ds_frag, dp);
            multiply_into_rows<T, D>(dv_acc, p_frag, do_tile, c * 16);
            multiply_into_rows<T, D>(dk_acc, ds_frag, q_tile, c * 16);
        }
        cp_async_wait<0>();
        __syncthreads();
        stage = 1 - stage;
    }
    const float unscaled[2] = {1.0f, 1.0f}, scaled[2] = {s.scale, s.scale};
    store_rows<T, D>(dv + bh * s.key_len * D, warp_key, s.key_len, dv_acc, unscaled, first_tile(stage) + warp * 16 * STRIDE<D>);
    store_rows<T, D>(dk + bh * s.key_len * D, warp_key, s.key_len, dk_acc, scaled, second_tile(stage) + warp * 16 * STRIDE<D>);
}
}  // namespace attention_mma

// attention_mma_{forward,backward_dq,backward_dkdv}_<dtype>_d<head dim>.
#define ATTENTION_MMA(SUFFIX, T, D)                                                                                              \
    extern "C" __global__ void __launch_bounds__(attention_mma::THREADS)                                                       \
        attention_mma_forward_##SUFFIX##_d##D(AttentionShape s, const T* q, const T* k, const T* v, const int* mask, T* out,    \
                                              float* lse) {                                                                    \
        attention_mma::forward<T, D>(s, q, k, v, mask, out, lse);                                                              \
    }                                                                                                                          \
    extern "C" __global__ void __launch_bounds__(attention_mma::THREADS)                                                       \
        attention_mma_backward_dq_##SUFFIX##_d##D(AttentionShape s, const T* q, const T* k, const T* v, const int* mask,        \
                                                  const T* d_out, const float* lse, const float* delta, T* dq) {               \
        attention_mma::backward_dq<T, D>(s, q, k, v, mask, d_out, lse, delta, dq);                                             \
    }                                                                                                                          \
    extern "C" __global__ void __launch_bounds__(attention_mma::THREADS)                                                       \
        attention_mma_backward_dkdv_##SUFFIX##_d##D(AttentionShape s, const T* q, const T* k, const T* v, const int* mask,      \
                                                    const T* d_out, const float* lse, const float* delta, T* dk, T* dv) {      \
        attention_mma::backward_dkdv<T, D>(s, q, k, v, mask, d_out, lse, delta, dk, dv);                                       \
    }
#define ATTENTION_MMA_HEAD_DIMS(SUFFIX, T)                                                                \
    ATTENTION_MMA(SUFFIX, T, 16) ATTENTION_MMA(SUFFIX, T, 32) ATTENTION_MMA(SUFFIX, T, 48) ATTENTION_MMA(SUFFIX, T, 64) \
    ATTENTION_MMA(SUFFIX, T, 80) ATTENTION_MMA(SUFFIX, T, 96) ATTENTION_MMA(SUFFIX, T, 112) ATTENTION_MMA(SUFFIX, T, 128)

ATTENTION_MMA_HEAD_DIMS(f16, __half)
ATTENTION_MMA_HEAD_DIMS(bf16, __nv_bfloat16)
