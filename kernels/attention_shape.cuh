// The launch arguments and mask rule shared by the SIMT attention kernels (attention.cu) and the
// tensor-core ones (attention_mma.cu); mirrored by `AttentionShape` in src/backend/cuda/attention.rs.
#pragma once

struct AttentionShape {
    unsigned int heads, query_len, key_len, head_dim;
    int causal;
    float scale;
};

// Query i sees key j when j < Sk, !(causal && j > i) and mask[b][j] != 0 (mask may be null).
__device__ __forceinline__ bool attention_allowed(const AttentionShape& s, const int* mask, size_t batch, unsigned int i, unsigned int j) {
    return j < s.key_len && !(s.causal && j > i) && (mask == nullptr || mask[batch * s.key_len + j] != 0);
}
