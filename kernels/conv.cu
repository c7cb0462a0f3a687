// memefuse: sm_90a
// 2-D convolution, NHWC activations, KRSC weights ([K, R, S, C]; see src/ops/conv.rs).
//
// Two families:
//
// 1. Tensor-core implicit GEMM (f16/bf16 storage, f32 accumulation), for C and K multiples of 8.
//    No im2col buffer exists anywhere: each 16-byte chunk of an operand tile is gathered straight
//    from the NHWC tensor by cp.async, with the zero-fill form (src-size 0) for padding taps and
//    out-of-range rows, into a 3-stage shared-memory ring; warps read it with ldmatrix and multiply
//    with mma.sync.m16n8k16.
//    - conv_forward_tc:  Y[m=(n,p,q), k] = Σ_{j=(r,s,c)} X[n, p·sh−ph+r, q·sw−pw+s, c] · W[k, j]
//                        (+ bias, ReLU), block tile 128×128×32, 8 warps of 64×32.
//      Backward-data with stride 1 is the same kernel run on dY with the weights flipped and
//      transposed to [C, R, S, K] (conv_flip_weights) and padding R−1−ph: dX = conv(dY, W').
//    - conv_backward_weight_tc: dW[k, j] = Σ_m dY[m, k] · X_im2col[m, j], the reduction over all
//      output pixels split across grid.z and summed with f32 atomics into a zeroed f32 buffer.
//      Both operands are contiguous along their output axis here, so tiles are stored [32][128]
//      (reduction-major) and read with ldmatrix.trans.
//    Shared-memory rows are XOR-swizzled per 16-byte chunk, so ldmatrix's 8 row reads hit 8 distinct
//    bank groups without padding (the ring is exactly 48 KiB).
//
//    A channel count that is not a multiple of 8 (VGG's first layer, C = 3) is zero-padded to one by
//    conv_pad_channels (input and weights; the launcher slices the weight gradient back).
//
// 2. Direct kernels for everything else (f32, stride > 1 backward-data, misaligned pointers):
//    one thread per output element (forward, backward-data); the weight gradient is a tiled SIMT
//    implicit GEMM (64×64 tiles of dW, the pixel reduction split over grid.z, summed in a fixed order).
//    Correct for any shape; slower than the tensor-core kernels.
#include "common.cuh"

struct ConvGeometry {
    int batch, in_h, in_w, in_c;
    int out_c, kernel_h, kernel_w;
    int stride_h, stride_w, pad_h, pad_w;
    int out_h, out_w;
};

// cp.async, ldmatrix and mma.sync helpers come from common.cuh (shared with kernels/gemm.cu).

// ---- tensor-core forward ---------------------------------------------------------------------------

#define TC_BM 128
#define TC_BN 128
#define TC_BK 32
#define TC_STAGES 3
#define TC_THREADS 256

// Tiles of [rows][32] elements = 4 chunks of 16 bytes per row. Chunk c of row r is stored at
// c ^ ((r >> 1) & 3): the 8 rows an ldmatrix reads (64 bytes apart) land in 8 distinct 16-byte slots.
__device__ __forceinline__ int swizzle_k32(int row, int chunk) { return row * TC_BK + ((chunk ^ ((row >> 1) & 3)) << 3); }

template <typename T>
__device__ void conv_forward_tc_kernel(ConvGeometry g, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                       T* __restrict__ y, int relu) {
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    T* a_tiles = reinterpret_cast<T*>(shared_bytes);                  // [STAGES][BM][BK]
    T* b_tiles = a_tiles + TC_STAGES * TC_BM * TC_BK;                 // [STAGES][BN][BK]

    const int M = g.batch * g.out_h * g.out_w;
    const int N = g.out_c;
    const int taps = g.kernel_h * g.kernel_w * g.in_c;
    const int block_m = blockIdx.x * TC_BM, block_n = blockIdx.y * TC_BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp >> 2, warp_n = warp & 3;  // 2 × 4 warps, each 64 (M) × 32 (N)
    // A warp whose sub-tile lies wholly past M or N (N = 64 output channels fills half the block's
    // 128) would only multiply padding zeros: it still helps load, but skips the MMAs.
    const bool warp_has_outputs = block_m + warp_m * 64 < M && block_n + warp_n * 32 < N;

    // Each thread copies 2 chunks of A and 2 of B per stage: rows tid/4 and tid/4 + 64, chunk tid%4.
    // The output pixel of each A row is fixed for the whole reduction, so decode it once.
    const int load_chunk = tid & 3;
    int a_image[2], a_h0[2], a_w0[2];
    bool a_row_valid[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        int m = block_m + (tid >> 2) + i * 64;
        a_row_valid[i] = m < M;
        int mm = a_row_valid[i] ? m : 0;
        int q = mm % g.out_w, p = (mm / g.out_w) % g.out_h;
        a_image[i] = mm / (g.out_w * g.out_h);
        a_h0[i] = p * g.stride_h - g.pad_h;
        a_w0[i] = q * g.stride_w - g.pad_w;
    }

    auto load_stage = [&](int stage, int k_tile) {
        const int j = k_tile * TC_BK + load_chunk * 8;  // C % 8 == 0: a chunk never straddles two taps
        const bool j_valid = j < taps;
        const int jj = j_valid ? j : 0;
        const int c = jj % g.in_c, rs = jj / g.in_c;
        const int r = rs / g.kernel_w, s = rs % g.kernel_w;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int row = (tid >> 2) + i * 64;
            const int ih = a_h0[i] + r, iw = a_w0[i] + s;
            const bool valid = j_valid && a_row_valid[i] && ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
            const T* source = valid ? x + (((long long)a_image[i] * g.in_h + ih) * g.in_w + iw) * g.in_c + c : x;
            cp_async_16(a_tiles + stage * TC_BM * TC_BK + swizzle_k32(row, load_chunk), source, valid ? 16 : 0);
            const int n = block_n + row;
            const bool b_valid = j_valid && n < N;
            cp_async_16(b_tiles + stage * TC_BN * TC_BK + swizzle_k32(row, load_chunk), b_valid ? w + (long long)n * taps + j : w, b_valid ? 16 : 0);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.0f;

    const int k_tiles = (taps + TC_BK - 1) / TC_BK;
#pragma unroll
    for (int stage = 0; stage < TC_STAGES - 1; ++stage) {
        if (stage < k_tiles) load_stage(stage, stage);
        cp_async_commit();
    }

    for (int kt = 0; kt < k_tiles; ++kt) {
        cp_async_wait<TC_STAGES - 2>();  // tile kt has landed (for this thread) ...
        __syncthreads();                 // ... for every thread, and stage (kt-1)%S is free to refill
        if (kt + TC_STAGES - 1 < k_tiles) load_stage((kt + TC_STAGES - 1) % TC_STAGES, kt + TC_STAGES - 1);
        cp_async_commit();

        const T* a_tile = a_tiles + (kt % TC_STAGES) * TC_BM * TC_BK;
        const T* b_tile = b_tiles + (kt % TC_STAGES) * TC_BN * TC_BK;
        if (!warp_has_outputs) continue;  // warp-uniform, and no barrier follows before the next k-tile
#pragma unroll
        for (int k16 = 0; k16 < TC_BK / 16; ++k16) {
            unsigned a_frag[4][4], b_frag[4][2];
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                // Lane l addresses row l%16 of the 16×16 tile, k-half l/16 (matrices a0..a3 in order).
                const int row = warp_m * 64 + mi * 16 + (lane & 15);
                ldmatrix_x4(a_frag[mi], a_tile + swizzle_k32(row, k16 * 2 + (lane >> 4)));
            }
#pragma unroll
            for (int pair = 0; pair < 2; ++pair) {
                // Two n8 tiles per x4: matrices (n0-7,k0-7) (n0-7,k8-15) (n8-15,k0-7) (n8-15,k8-15).
                const int row = warp_n * 32 + pair * 16 + ((lane >> 4) << 3) + (lane & 7);
                unsigned r[4];
                ldmatrix_x4(r, b_tile + swizzle_k32(row, k16 * 2 + ((lane >> 3) & 1)));
                b_frag[pair * 2][0] = r[0];
                b_frag[pair * 2][1] = r[1];
                b_frag[pair * 2 + 1][0] = r[2];
                b_frag[pair * 2 + 1][1] = r[3];
            }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) mma_16x8x16<T>(acc[mi][ni], a_frag[mi], b_frag[ni]);
        }
    }
    cp_async_wait<0>();

    // Accumulator e of tile (mi, ni): row lane/4 (+8 for e ≥ 2), column 2·(lane%4) + e%2.
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int m = block_m + warp_m * 64 + mi * 16 + (lane >> 2) + (e >> 1) * 8;
                const int n = block_n + warp_n * 32 + ni * 8 + (lane & 3) * 2 + (e & 1);
                if (m < M && n < N) {
                    float v = acc[mi][ni][e];
                    if (bias) v += to_float(bias[n]);
                    if (relu) v = fmaxf(v, 0.0f);
                    y[(long long)m * N + n] = from_float<T>(v);
                }
            }
}

// ---- tensor-core backward-weight ------------------------------------------------------------------

// Tiles of [32][128] elements = 16 chunks per row; chunk c of row r is stored at c ^ (r & 7).
__device__ __forceinline__ int swizzle_n128(int row, int chunk) { return row * TC_BM + ((chunk ^ (row & 7)) << 3); }

// dW32[k, j] += Σ over this block's slice of output pixels m of dY[m, k] · X_im2col[m, j].
template <typename T>
__device__ void conv_backward_weight_tc_kernel(ConvGeometry g, const T* __restrict__ x, const T* __restrict__ dy, float* __restrict__ dw,
                                               int k_tiles_per_split) {
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    T* a_tiles = reinterpret_cast<T*>(shared_bytes);   // [STAGES][BK][BM]: dY, rows = pixels m
    T* b_tiles = a_tiles + TC_STAGES * TC_BK * TC_BM;  // [STAGES][BK][BN]: im2col(X), rows = pixels m

    const int pixels = g.batch * g.out_h * g.out_w;  // the reduction
    const int K = g.out_c;                           // GEMM M
    const int taps = g.kernel_h * g.kernel_w * g.in_c;  // GEMM N
    const int block_m = blockIdx.x * TC_BM, block_n = blockIdx.y * TC_BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp >> 2, warp_n = warp & 3;
    // As in the forward: a warp wholly past K (64 output channels) or the taps skips its MMAs.
    const bool warp_has_outputs = block_m + warp_m * 64 < K && block_n + warp_n * 32 < taps;

    // Each thread copies rows tid/16 and tid/16 + 16, chunk tid%16, of both tiles.
    const int load_chunk = tid & 15;
    const int k_out = block_m + load_chunk * 8;  // K % 8 == 0: whole chunk valid or not
    const int j = block_n + load_chunk * 8;      // C % 8 == 0: chunk within one tap
    const bool j_valid = j < taps;
    const int jj = j_valid ? j : 0;
    const int c = jj % g.in_c, rs = jj / g.in_c;
    const int r = rs / g.kernel_w, s = rs % g.kernel_w;

    const int total_tiles = (pixels + TC_BK - 1) / TC_BK;
    const int first_tile = blockIdx.z * k_tiles_per_split;
    const int last_tile = min(total_tiles, first_tile + k_tiles_per_split);
    const int k_tiles = max(0, last_tile - first_tile);

    auto load_stage = [&](int stage, int k_tile) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int row = (tid >> 4) + i * 16;
            const int m = (first_tile + k_tile) * TC_BK + row;
            const bool m_valid = m < pixels;
            const bool a_valid = m_valid && k_out < K;
            cp_async_16(a_tiles + stage * TC_BK * TC_BM + swizzle_n128(row, load_chunk), a_valid ? dy + (long long)m * K + k_out : dy, a_valid ? 16 : 0);
            const int mm = m_valid ? m : 0;
            const int q = mm % g.out_w, p = (mm / g.out_w) % g.out_h, image = mm / (g.out_w * g.out_h);
            const int ih = p * g.stride_h - g.pad_h + r, iw = q * g.stride_w - g.pad_w + s;
            const bool b_valid = m_valid && j_valid && ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
            const T* source = b_valid ? x + (((long long)image * g.in_h + ih) * g.in_w + iw) * g.in_c + c : x;
            cp_async_16(b_tiles + stage * TC_BK * TC_BN + swizzle_n128(row, load_chunk), source, b_valid ? 16 : 0);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.0f;

#pragma unroll
    for (int stage = 0; stage < TC_STAGES - 1; ++stage) {
        if (stage < k_tiles) load_stage(stage, stage);
        cp_async_commit();
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
        cp_async_wait<TC_STAGES - 2>();
        __syncthreads();
        if (kt + TC_STAGES - 1 < k_tiles) load_stage((kt + TC_STAGES - 1) % TC_STAGES, kt + TC_STAGES - 1);
        cp_async_commit();

        const T* a_tile = a_tiles + (kt % TC_STAGES) * TC_BK * TC_BM;
        const T* b_tile = b_tiles + (kt % TC_STAGES) * TC_BK * TC_BN;
        if (!warp_has_outputs) continue;  // warp-uniform, and no barrier follows before the next k-tile
#pragma unroll
        for (int k16 = 0; k16 < TC_BK / 16; ++k16) {
            unsigned a_frag[4][4], b_frag[4][2];
            const int matrix = lane >> 3;
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                // Stored [k][m]; matrix j = (m-half j%2, k-half j/2), lane gives its stored row l%8.
                const int row = k16 * 16 + (matrix >> 1) * 8 + (lane & 7);
                const int chunk = (warp_m * 64 + mi * 16) / 8 + (matrix & 1);
                ldmatrix_x4_trans(a_frag[mi], a_tile + swizzle_n128(row, chunk));
            }
#pragma unroll
            for (int pair = 0; pair < 2; ++pair) {
                // Stored [k][n]; matrices (k0-7,n0-7) (k8-15,n0-7) (k0-7,n8-15) (k8-15,n8-15).
                const int row = k16 * 16 + (matrix & 1) * 8 + (lane & 7);
                const int chunk = (warp_n * 32 + pair * 16) / 8 + (matrix >> 1);
                unsigned q4[4];
                ldmatrix_x4_trans(q4, b_tile + swizzle_n128(row, chunk));
                b_frag[pair * 2][0] = q4[0];
                b_frag[pair * 2][1] = q4[1];
                b_frag[pair * 2 + 1][0] = q4[2];
                b_frag[pair * 2 + 1][1] = q4[3];
            }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) mma_16x8x16<T>(acc[mi][ni], a_frag[mi], b_frag[ni]);
        }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int k = block_m + warp_m * 64 + mi * 16 + (lane >> 2) + (e >> 1) * 8;
                const int n = block_n + warp_n * 32 + ni * 8 + (lane & 3) * 2 + (e & 1);
                if (k < K && n < taps && k_tiles > 0) atomicAdd(dw + (long long)k * taps + n, acc[mi][ni][e]);
            }
}

// W'[c, r', s', k] = W[k, R−1−r', S−1−s', c]: the weights of the transposed convolution that computes
// backward-data with stride 1.
template <typename T>
__device__ void conv_flip_weights_kernel(ConvGeometry g, const T* __restrict__ w, T* __restrict__ flipped) {
    const size_t total = (size_t)g.out_c * g.kernel_h * g.kernel_w * g.in_c;
    GRID_STRIDE_LOOP(i, total) {
        // i indexes flipped [C][R][S][K].
        const int k = i % g.out_c;
        size_t rest = i / g.out_c;
        const int s = rest % g.kernel_w;
        rest /= g.kernel_w;
        const int r = rest % g.kernel_h;
        const int c = rest / g.kernel_h;
        flipped[i] = w[(((size_t)k * g.kernel_h + (g.kernel_h - 1 - r)) * g.kernel_w + (g.kernel_w - 1 - s)) * g.in_c + c];
    }
}

// dst[p, j] = j < channels ? src[p, j] : 0 for p < pixels, j < padded: widens the channel axis to a
// multiple of 8 so that layers like VGG's first (C = 3) can use the tensor-core kernels.
template <typename T>
__device__ void conv_pad_channels_kernel(const T* __restrict__ src, T* __restrict__ dst, size_t pixels, int channels, int padded) {
    GRID_STRIDE_LOOP(i, pixels * padded) {
        const int j = i % padded;
        dst[i] = j < channels ? src[(i / padded) * channels + j] : from_float<T>(0.0f);
    }
}

// ---- direct kernels (any shape, any float type) ----------------------------------------------------

template <typename T>
__device__ void conv_forward_direct_kernel(ConvGeometry g, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                           T* __restrict__ y, int relu) {
    const size_t total = (size_t)g.batch * g.out_h * g.out_w * g.out_c;
    GRID_STRIDE_LOOP(i, total) {
        const auto [image, p, q, k] = nhwc_position(i, g.out_h, g.out_w, g.out_c);
        float acc = bias ? to_float(bias[k]) : 0.0f;
        for (int r = 0; r < g.kernel_h; ++r) {
            const int ih = p * g.stride_h - g.pad_h + r;
            if (ih < 0 || ih >= g.in_h) continue;
            for (int s = 0; s < g.kernel_w; ++s) {
                const int iw = q * g.stride_w - g.pad_w + s;
                if (iw < 0 || iw >= g.in_w) continue;
                const T* xp = x + ((image * g.in_h + ih) * g.in_w + iw) * g.in_c;
                const T* wp = w + (((size_t)k * g.kernel_h + r) * g.kernel_w + s) * g.in_c;
                for (int c = 0; c < g.in_c; ++c) acc += to_float(xp[c]) * to_float(wp[c]);
            }
        }
        y[i] = from_float<T>(relu ? fmaxf(acc, 0.0f) : acc);
    }
}

// dX[n, h, w, c] = Σ_{r,s,k} dY[n, p, q, k] · W[k, r, s, c] over the (p, q) with p·sh − ph + r = h.
template <typename T>
__device__ void conv_backward_data_direct_kernel(ConvGeometry g, const T* __restrict__ dy, const T* __restrict__ w, T* __restrict__ dx) {
    const size_t total = (size_t)g.batch * g.in_h * g.in_w * g.in_c;
    GRID_STRIDE_LOOP(i, total) {
        const auto [image, ih, iw, c] = nhwc_position(i, g.in_h, g.in_w, g.in_c);
        float acc = 0.0f;
        for (int r = 0; r < g.kernel_h; ++r) {
            const int ph = ih + g.pad_h - r;
            if (ph < 0 || ph % g.stride_h != 0 || ph / g.stride_h >= g.out_h) continue;
            const int p = ph / g.stride_h;
            for (int s = 0; s < g.kernel_w; ++s) {
                const int qw = iw + g.pad_w - s;
                if (qw < 0 || qw % g.stride_w != 0 || qw / g.stride_w >= g.out_w) continue;
                const int q = qw / g.stride_w;
                const T* gp = dy + ((image * g.out_h + p) * g.out_w + q) * g.out_c;
                const T* wp = w + ((size_t)r * g.kernel_w + s) * g.in_c + c;
                const size_t k_stride = (size_t)g.kernel_h * g.kernel_w * g.in_c;
                for (int k = 0; k < g.out_c; ++k) acc += to_float(gp[k]) * to_float(wp[k * k_stride]);
            }
        }
        dx[i] = from_float<T>(acc);
    }
}

// Weight gradient of the direct family as a tiled SIMT implicit GEMM:
//   dW[k, j] = Σ_m dY[m, k] · X_im2col[m, j],  m = (n, p, q) over N·P·Q pixels, j = (r, s, c).
// A block owns a 64 (k) × 64 (j) tile of dW, 256 threads of 4 × 4 outputs each, and walks the pixels
// in steps of 16: each step stages dY[16][64] and the gathered X[16][64] in shared memory (zero past
// an edge or in the padding) and does 16 rank-1 updates from registers. The pixel reduction is split
// across grid.z (so that a small K × RSC output still fills the GPU); slice z writes its partial tile
// to partials[z] and conv_weight_gradient_finish sums the slices in slice order: no atomics, so the
// result is bitwise reproducible.
#define WG_TILE 64
#define WG_STEP 16
#define WG_THREADS 256

template <typename T>
__device__ void conv_backward_weight_tiled_kernel(ConvGeometry g, const T* __restrict__ x, const T* __restrict__ dy, float* __restrict__ partials,
                                                  int steps_per_slice) {
    __shared__ __align__(16) float dy_tile[WG_STEP][WG_TILE];
    __shared__ __align__(16) float x_tile[WG_STEP][WG_TILE];
    const int taps = g.kernel_h * g.kernel_w * g.in_c;
    const int pixels = g.batch * g.out_h * g.out_w;
    const int k0 = blockIdx.x * WG_TILE, j0 = blockIdx.y * WG_TILE;
    const int tid = threadIdx.x;
    // Loading: thread t fills column t % 64 of rows t / 64 + 4i of both tiles, so its tap (r, s, c)
    // and its output channel are fixed for the whole reduction.
    const int load_col = tid % WG_TILE, load_row = tid / WG_TILE;
    const int load_k = k0 + load_col, load_j = j0 + load_col;
    const int c = load_j % g.in_c, s = (load_j / g.in_c) % g.kernel_w, r = load_j / (g.in_c * g.kernel_w);
    // Computing: thread t owns k rows 4·(t / 16) + 0..3 and j columns 4·(t % 16) + 0..3.
    const int out_k = (tid / 16) * 4, out_j = (tid % 16) * 4;
    float acc[4][4] = {};
    const int first_step = blockIdx.z * steps_per_slice;
    const int end_step = min(first_step + steps_per_slice, (pixels + WG_STEP - 1) / WG_STEP);
    for (int step = first_step; step < end_step; ++step) {
#pragma unroll
        for (int i = 0; i < WG_STEP / 4; ++i) {
            const int row = load_row + 4 * i;
            const int m = step * WG_STEP + row;
            float dy_value = 0.0f, x_value = 0.0f;
            if (m < pixels) {
                if (load_k < g.out_c) dy_value = to_float(dy[(size_t)m * g.out_c + load_k]);
                const int q = m % g.out_w, p = (m / g.out_w) % g.out_h, image = m / (g.out_w * g.out_h);
                const int ih = p * g.stride_h - g.pad_h + r, iw = q * g.stride_w - g.pad_w + s;
                if (load_j < taps && ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w)
                    x_value = to_float(x[(((size_t)image * g.in_h + ih) * g.in_w + iw) * g.in_c + c]);
            }
            dy_tile[row][load_col] = dy_value;
            x_tile[row][load_col] = x_value;
        }
        __syncthreads();
#pragma unroll
        for (int t = 0; t < WG_STEP; ++t) {
            const float4 a = *reinterpret_cast<const float4*>(&dy_tile[t][out_k]);
            const float4 b = *reinterpret_cast<const float4*>(&x_tile[t][out_j]);
            const float as[4] = {a.x, a.y, a.z, a.w}, bs[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(as[i], bs[j], acc[i][j]);
        }
        __syncthreads();  // the tiles are refilled next step
    }
    float* slice = partials + (size_t)blockIdx.z * g.out_c * taps;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int k = k0 + out_k + i;
        if (k >= g.out_c) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j)
            if (j0 + out_j + j < taps) slice[(size_t)k * taps + j0 + out_j + j] = acc[i][j];
    }
}

// dw[i] = Σ_z partials[z][i], summed in slice order (deterministic), rounded once to T.
template <typename T>
__device__ void conv_weight_gradient_finish_kernel(const float* __restrict__ partials, int slices, size_t weights, T* __restrict__ dw) {
    GRID_STRIDE_LOOP(i, weights) {
        float sum = 0.0f;
        for (int z = 0; z < slices; ++z) sum += partials[(size_t)z * weights + i];
        dw[i] = from_float<T>(sum);
    }
}

#define CONV_ANY(SUFFIX, T)                                                                                               \
    extern "C" __global__ void conv_forward_direct_##SUFFIX(ConvGeometry g, const T* x, const T* w, const T* bias, T* y, int relu) { \
        conv_forward_direct_kernel<T>(g, x, w, bias, y, relu);                                                            \
    }                                                                                                                     \
    extern "C" __global__ void conv_backward_data_direct_##SUFFIX(ConvGeometry g, const T* dy, const T* w, T* dx) {      \
        conv_backward_data_direct_kernel<T>(g, dy, w, dx);                                                                \
    }                                                                                                                     \
    extern "C" __global__ void __launch_bounds__(WG_THREADS) conv_backward_weight_tiled_##SUFFIX(ConvGeometry g, const T* x, \
                                                                                              const T* dy, float* partials, \
                                                                                              int steps_per_slice) {     \
        conv_backward_weight_tiled_kernel<T>(g, x, dy, partials, steps_per_slice);                                        \
    }                                                                                                                     \
    extern "C" __global__ void conv_weight_gradient_finish_##SUFFIX(const float* partials, int slices, size_t weights, T* dw) { \
        conv_weight_gradient_finish_kernel<T>(partials, slices, weights, dw);                                             \
    }                                                                                                                     \
    extern "C" __global__ void conv_flip_weights_##SUFFIX(ConvGeometry g, const T* w, T* flipped) {                      \
        conv_flip_weights_kernel<T>(g, w, flipped);                                                                       \
    }                                                                                                                     \
    extern "C" __global__ void conv_pad_channels_##SUFFIX(const T* src, T* dst, size_t pixels, int channels, int padded) { \
        conv_pad_channels_kernel<T>(src, dst, pixels, channels, padded);                                                  \
    }

#define CONV_TENSOR_CORE(SUFFIX, T)                                                                                       \
    extern "C" __global__ void __launch_bounds__(TC_THREADS) conv_forward_tc_##SUFFIX(ConvGeometry g, const T* x, const T* w, \
                                                                                      const T* bias, T* y, int relu) {   \
        conv_forward_tc_kernel<T>(g, x, w, bias, y, relu);                                                                \
    }                                                                                                                     \
    extern "C" __global__ void __launch_bounds__(TC_THREADS) conv_backward_weight_tc_##SUFFIX(ConvGeometry g, const T* x, \
                                                                                              const T* dy, float* dw,    \
                                                                                              int k_tiles_per_split) {   \
        conv_backward_weight_tc_kernel<T>(g, x, dy, dw, k_tiles_per_split);                                               \
    }

CONV_ANY(f32, float)
CONV_ANY(f16, __half)
CONV_ANY(bf16, __nv_bfloat16)
CONV_TENSOR_CORE(f16, __half)
CONV_TENSOR_CORE(bf16, __nv_bfloat16)
