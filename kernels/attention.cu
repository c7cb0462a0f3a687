// Fused scaled dot-product attention, flash style (src/ops/attention.rs; CPU twin
// src/backend/cpu/attention.rs): q [B, H, Sq, D], k and v [B, H, Sk, D], contiguous, any T, f32
// arithmetic. These SIMT kernels serve f32, head dims that are no multiple of 16 and unaligned
// operands; f16 and bf16 otherwise run on tensor cores (attention_mma.cu), which reuses the delta
// kernel below. No S×S matrix ever reaches device memory: the forward streams key tiles through
// shared memory with an online softmax and saves each query's log-sum-exp; the backward recomputes
// the probabilities from it, one kernel for dq (query-major) and one for dk and dv (key-major), so
// every gradient element is written by one warp in a fixed order (deterministic, no atomics).
//
// SIMT layout, shared by the three kernels: a block holds ATTN_WARPS warps, one row (query or key)
// each; the other side streams through shared memory in tiles of 32 rows, where lane j of a warp
// computes the dot products of tile row j, and the D-wide accumulators are spread over the lanes
// (element d on lane d % 32). Head dims up to ATTN_MAX_D; tails in either length are masked.
//
// Masks (attention_shape.cuh): query i sees key j when j < Sk, !(causal && j > i) and mask[b][j] != 0
// (mask may be null). A query that sees no key outputs zeros and has log-sum-exp −∞.
#include "common.cuh"
#include "attention_shape.cuh"

#define ATTN_WARPS 8
#define ATTN_TILE 32
#define ATTN_MAX_D 128
#define ATTN_PER_LANE (ATTN_MAX_D / 32)
// Tiles read one row per lane are padded by one float: lane j reads element (j, d), and a row
// stride of D + 1 puts the 32 lanes in 32 different banks.
#define ATTN_PAD 1


// Rows first..first+count of a [rows, D] matrix into shared memory as f32 (zeros past `rows`),
// row stride `stride`. Every thread of the block takes part.
template <typename T>
__device__ __forceinline__ void load_rows(float* tile, unsigned int stride, const T* source, unsigned int first, unsigned int count, unsigned int rows, unsigned int d) {
    const unsigned int threads = blockDim.x;
    for (unsigned int e = threadIdx.x; e < count * d; e += threads) {
        const unsigned int r = e / d, c = e % d;
        tile[r * stride + c] = first + r < rows ? to_float(source[(size_t)(first + r) * d + c]) : 0.0f;
    }
}

// Grid (B·H, ceil(Sq / ATTN_WARPS)); warp w owns query blockIdx.y·ATTN_WARPS + w.
template <typename T>
__device__ void attention_forward_kernel(AttentionShape s, const T* q, const T* k, const T* v, const int* mask, T* out, float* lse) {
    __shared__ float queries[ATTN_WARPS][ATTN_MAX_D];
    __shared__ float keys[ATTN_TILE * (ATTN_MAX_D + ATTN_PAD)];
    __shared__ float values[ATTN_TILE * ATTN_MAX_D];
    const unsigned int d = s.head_dim, key_stride = d + ATTN_PAD;
    const size_t bh = blockIdx.x, batch = bh / s.heads;
    const unsigned int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const unsigned int first_query = blockIdx.y * ATTN_WARPS, query = first_query + warp;
    const bool active = query < s.query_len;
    const T* q_bh = q + bh * s.query_len * d;
    const T* k_bh = k + bh * s.key_len * d;
    const T* v_bh = v + bh * s.key_len * d;
    for (unsigned int c = lane; c < d; c += 32) queries[warp][c] = active ? to_float(q_bh[(size_t)query * d + c]) : 0.0f;

    float accumulator[ATTN_PER_LANE] = {};
    float running_max = -INFINITY, running_sum = 0.0f;
    // Under the causal mask no query of this block sees past its last query.
    const unsigned int last_query = min(first_query + ATTN_WARPS, s.query_len) - 1;
    const unsigned int key_end = s.causal ? min(s.key_len, last_query + 1) : s.key_len;
    for (unsigned int tile = 0; tile < key_end; tile += ATTN_TILE) {
        __syncthreads();  // the previous tile has been read by every warp (and queries are written)
        load_rows(keys, key_stride, k_bh, tile, ATTN_TILE, s.key_len, d);
        load_rows(values, d, v_bh, tile, ATTN_TILE, s.key_len, d);
        __syncthreads();
        if (!active) continue;
        const unsigned int key = tile + lane;
        float score = -INFINITY;
        if (attention_allowed(s, mask, batch, query, key)) {
            float dot = 0.0f;
            for (unsigned int c = 0; c < d; ++c) dot += queries[warp][c] * keys[lane * key_stride + c];
            score = dot * s.scale;
        }
        const float tile_max = warp_max(score);
        if (tile_max == -INFINITY) continue;  // nothing visible in this tile (uniform over the warp)
        const float new_max = fmaxf(running_max, tile_max);
        const float rescale = __expf(running_max - new_max);  // 0 while running_max is −∞
        const float p = score == -INFINITY ? 0.0f : __expf(score - new_max);
        running_sum = running_sum * rescale + warp_sum(p);
        running_max = new_max;
#pragma unroll
        for (int t = 0; t < ATTN_PER_LANE; ++t) accumulator[t] *= rescale;
        for (int j = 0; j < ATTN_TILE; ++j) {
            const float pj = __shfl_sync(0xffffffff, p, j);
            if (pj == 0.0f) continue;  // uniform: every lane holds the same pj
#pragma unroll
            for (int t = 0; t < ATTN_PER_LANE; ++t) {
                const unsigned int c = lane + 32 * t;
                if (c < d) accumulator[t] += pj * values[j * d + c];
            }
        }
    }
    if (!active) return;
    const size_t row = bh * s.query_len + query;
    const float inverse = running_sum > 0.0f ? 1.0f / running_sum : 0.0f;
#pragma unroll
    for (int t = 0; t < ATTN_PER_LANE; ++t) {
        const unsigned int c = lane + 32 * t;
        if (c < d) out[row * d + c] = from_float<T>(accumulator[t] * inverse);
    }
    if (lane == 0) lse[row] = running_sum > 0.0f ? running_max + logf(running_sum) : -INFINITY;
}

// delta_i = do_i · o_i, the row term of the softmax backward; one warp per query row.
template <typename T>
__device__ void attention_backward_delta_kernel(size_t rows, unsigned int d, const T* out, const T* d_out, float* delta) {
    const size_t row = (size_t)blockIdx.x * ATTN_WARPS + threadIdx.x / 32;
    const unsigned int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float dot = 0.0f;
    for (unsigned int c = lane; c < d; c += 32) dot += to_float(d_out[row * d + c]) * to_float(out[row * d + c]);
    dot = warp_sum(dot);
    if (lane == 0) delta[row] = dot;
}

// p_ij = exp(s_ij − lse_i) for a visible key of a query that saw any, else 0.
__device__ __forceinline__ float attention_probability(bool allowed, float score, float lse) {
    return allowed && lse != -INFINITY ? __expf(score - lse) : 0.0f;
}

// dq_i = scale · Σ_j p_ij (do_i·v_j − delta_i) k_j. Grid as the forward; warp w owns query w.
template <typename T>
__device__ void attention_backward_dq_kernel(AttentionShape s, const T* q, const T* k, const T* v, const int* mask, const T* d_out,
                                             const float* lse, const float* delta, T* dq) {
    __shared__ float queries[ATTN_WARPS][ATTN_MAX_D];
    __shared__ float output_grads[ATTN_WARPS][ATTN_MAX_D];
    __shared__ float keys[ATTN_TILE * (ATTN_MAX_D + ATTN_PAD)];
    __shared__ float values[ATTN_TILE * (ATTN_MAX_D + ATTN_PAD)];
    const unsigned int d = s.head_dim, stride = d + ATTN_PAD;
    const size_t bh = blockIdx.x, batch = bh / s.heads;
    const unsigned int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const unsigned int first_query = blockIdx.y * ATTN_WARPS, query = first_query + warp;
    const bool active = query < s.query_len;
    const size_t row = bh * s.query_len + query;
    for (unsigned int c = lane; c < d; c += 32) {
        queries[warp][c] = active ? to_float(q[row * d + c]) : 0.0f;
        output_grads[warp][c] = active ? to_float(d_out[row * d + c]) : 0.0f;
    }
    const float row_lse = active ? lse[row] : -INFINITY, row_delta = active ? delta[row] : 0.0f;
    const T* k_bh = k + bh * s.key_len * d;
    const T* v_bh = v + bh * s.key_len * d;

    float accumulator[ATTN_PER_LANE] = {};
    const unsigned int last_query = min(first_query + ATTN_WARPS, s.query_len) - 1;
    const unsigned int key_end = s.causal ? min(s.key_len, last_query + 1) : s.key_len;
    for (unsigned int tile = 0; tile < key_end; tile += ATTN_TILE) {
        __syncthreads();
        load_rows(keys, stride, k_bh, tile, ATTN_TILE, s.key_len, d);
        load_rows(values, stride, v_bh, tile, ATTN_TILE, s.key_len, d);
        __syncthreads();
        if (!active || row_lse == -INFINITY) continue;
        const unsigned int key = tile + lane;
        const bool allowed = attention_allowed(s, mask, batch, query, key);
        float ds = 0.0f;
        if (allowed) {
            float score = 0.0f, dp = 0.0f;
            for (unsigned int c = 0; c < d; ++c) {
                score += queries[warp][c] * keys[lane * stride + c];
                dp += output_grads[warp][c] * values[lane * stride + c];
            }
            ds = attention_probability(true, score * s.scale, row_lse) * (dp - row_delta) * s.scale;
        }
        for (int j = 0; j < ATTN_TILE; ++j) {
            const float dsj = __shfl_sync(0xffffffff, ds, j);
            if (dsj == 0.0f) continue;
#pragma unroll
            for (int t = 0; t < ATTN_PER_LANE; ++t) {
                const unsigned int c = lane + 32 * t;
                if (c < d) accumulator[t] += dsj * keys[j * stride + c];
            }
        }
    }
    if (!active) return;
#pragma unroll
    for (int t = 0; t < ATTN_PER_LANE; ++t) {
        const unsigned int c = lane + 32 * t;
        if (c < d) dq[row * d + c] = from_float<T>(accumulator[t]);
    }
}

// dv_j = Σ_i p_ij do_i and dk_j = scale · Σ_i p_ij (do_i·v_j − delta_i) q_i.
// Grid (B·H, ceil(Sk / ATTN_WARPS)); warp w owns key w; query tiles stream through shared memory.
template <typename T>
__device__ void attention_backward_dkdv_kernel(AttentionShape s, const T* q, const T* k, const T* v, const int* mask, const T* d_out,
                                               const float* lse, const float* delta, T* dk, T* dv) {
    __shared__ float keys[ATTN_WARPS][ATTN_MAX_D];
    __shared__ float values[ATTN_WARPS][ATTN_MAX_D];
    __shared__ float queries[ATTN_TILE * (ATTN_MAX_D + ATTN_PAD)];
    __shared__ float output_grads[ATTN_TILE * (ATTN_MAX_D + ATTN_PAD)];
    __shared__ float tile_lse[ATTN_TILE], tile_delta[ATTN_TILE];
    const unsigned int d = s.head_dim, stride = d + ATTN_PAD;
    const size_t bh = blockIdx.x, batch = bh / s.heads;
    const unsigned int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const unsigned int first_key = blockIdx.y * ATTN_WARPS, key = first_key + warp;
    const bool active = key < s.key_len;
    const size_t key_row = bh * s.key_len + key;
    for (unsigned int c = lane; c < d; c += 32) {
        keys[warp][c] = active ? to_float(k[key_row * d + c]) : 0.0f;
        values[warp][c] = active ? to_float(v[key_row * d + c]) : 0.0f;
    }
    const T* q_bh = q + bh * s.query_len * d;
    const T* do_bh = d_out + bh * s.query_len * d;

    float dk_accumulator[ATTN_PER_LANE] = {}, dv_accumulator[ATTN_PER_LANE] = {};
    // Under the causal mask key j is seen by queries j.. only.
    const unsigned int first_tile = s.causal ? first_key / ATTN_TILE * ATTN_TILE : 0;
    for (unsigned int tile = first_tile; tile < s.query_len; tile += ATTN_TILE) {
        __syncthreads();
        load_rows(queries, stride, q_bh, tile, ATTN_TILE, s.query_len, d);
        load_rows(output_grads, stride, do_bh, tile, ATTN_TILE, s.query_len, d);
        if (threadIdx.x < ATTN_TILE) {
            const unsigned int i = tile + threadIdx.x;
            tile_lse[threadIdx.x] = i < s.query_len ? lse[bh * s.query_len + i] : -INFINITY;
            tile_delta[threadIdx.x] = i < s.query_len ? delta[bh * s.query_len + i] : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        const unsigned int query = tile + lane;
        const bool allowed = query < s.query_len && attention_allowed(s, mask, batch, query, key);
        float p = 0.0f, ds = 0.0f;
        if (allowed) {
            float score = 0.0f, dp = 0.0f;
            for (unsigned int c = 0; c < d; ++c) {
                score += queries[lane * stride + c] * keys[warp][c];
                dp += output_grads[lane * stride + c] * values[warp][c];
            }
            p = attention_probability(true, score * s.scale, tile_lse[lane]);
            ds = p * (dp - tile_delta[lane]) * s.scale;
        }
        for (int i = 0; i < ATTN_TILE; ++i) {
            const float pi = __shfl_sync(0xffffffff, p, i), dsi = __shfl_sync(0xffffffff, ds, i);
            if (pi == 0.0f && dsi == 0.0f) continue;
#pragma unroll
            for (int t = 0; t < ATTN_PER_LANE; ++t) {
                const unsigned int c = lane + 32 * t;
                if (c < d) {
                    dv_accumulator[t] += pi * output_grads[i * stride + c];
                    dk_accumulator[t] += dsi * queries[i * stride + c];
                }
            }
        }
    }
    if (!active) return;
#pragma unroll
    for (int t = 0; t < ATTN_PER_LANE; ++t) {
        const unsigned int c = lane + 32 * t;
        if (c < d) {
            dk[key_row * d + c] = from_float<T>(dk_accumulator[t]);
            dv[key_row * d + c] = from_float<T>(dv_accumulator[t]);
        }
    }
}

#define ATTENTION(SUFFIX, T)                                                                                                  \
    extern "C" __global__ void __launch_bounds__(ATTN_WARPS * 32)                                                             \
        attention_forward_##SUFFIX(AttentionShape s, const T* q, const T* k, const T* v, const int* mask, T* out, float* lse) { \
        attention_forward_kernel<T>(s, q, k, v, mask, out, lse);                                                              \
    }                                                                                                                         \
    extern "C" __global__ void attention_backward_delta_##SUFFIX(size_t rows, unsigned int d, const T* out, const T* d_out,   \
                                                                 float* delta) {                                              \
        attention_backward_delta_kernel<T>(rows, d, out, d_out, delta);                                                       \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(ATTN_WARPS * 32)                                                             \
        attention_backward_dq_##SUFFIX(AttentionShape s, const T* q, const T* k, const T* v, const int* mask, const T* d_out,  \
                                       const float* lse, const float* delta, T* dq) {                                         \
        attention_backward_dq_kernel<T>(s, q, k, v, mask, d_out, lse, delta, dq);                                             \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(ATTN_WARPS * 32)                                                             \
        attention_backward_dkdv_##SUFFIX(AttentionShape s, const T* q, const T* k, const T* v, const int* mask,                \
                                         const T* d_out, const float* lse, const float* delta, T* dk, T* dv) {                \
        attention_backward_dkdv_kernel<T>(s, q, k, v, mask, d_out, lse, delta, dk, dv);                                       \
    }

ATTENTION(f32, float)
ATTENTION(f16, __half)
ATTENTION(bf16, __nv_bfloat16)
