// Optimiser updates over ALL parameters in one launch (multi-tensor apply): the host uploads a table
// of tensors; each tensor is cut into CHUNK-element chunks, and block b takes chunks b, b + gridDim.x, ...
// A chunk finds its tensor by binary search over the table's cumulative chunk counts.
// Parameters, gradients and moments are f32 (the master copies); see src/optim.
#include "common.cuh"

#define CHUNK 4096

struct AdamTensor {
    float* param;
    const float* grad;
    float* first_moment;
    float* second_moment;
    unsigned long long len;
    unsigned long long first_chunk;  // cumulative chunk count of the tensors before this one
};

struct AdamHyper {
    float learning_rate, beta1, beta2, epsilon, weight_decay;
    float bias_correction1, bias_correction2;  // 1 - beta^t
    float grad_scale;                          // multiplies every gradient first (1/loss scale)
    int decoupled_weight_decay;                // AdamW
};

template <typename Entry>
__device__ __forceinline__ int find_tensor(const Entry* tensors, int count, unsigned long long chunk) {
    int low = 0, high = count - 1;
    while (low < high) {
        int mid = (low + high + 1) / 2;
        if (tensors[mid].first_chunk <= chunk) low = mid; else high = mid - 1;
    }
    return low;
}

extern "C" __global__ void adam_multi(const AdamTensor* tensors, int count, unsigned long long total_chunks, AdamHyper h) {
    for (unsigned long long chunk = blockIdx.x; chunk < total_chunks; chunk += gridDim.x) {
        const AdamTensor t = tensors[find_tensor(tensors, count, chunk)];
        const unsigned long long begin = (chunk - t.first_chunk) * CHUNK;
        const unsigned long long end = min(begin + CHUNK, t.len);
        for (unsigned long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
            float p = t.param[i];
            float g = t.grad[i] * h.grad_scale;
            if (h.weight_decay != 0.0f) {
                if (h.decoupled_weight_decay) p *= 1.0f - h.learning_rate * h.weight_decay;
                else g += h.weight_decay * p;
            }
            float m = h.beta1 * t.first_moment[i] + (1.0f - h.beta1) * g;
            float v = h.beta2 * t.second_moment[i] + (1.0f - h.beta2) * g * g;
            t.first_moment[i] = m;
            t.second_moment[i] = v;
            float denominator = sqrtf(v / h.bias_correction2) + h.epsilon;
            t.param[i] = p - (h.learning_rate / h.bias_correction1) * m / denominator;
        }
    }
}

struct SgdTensor {
    float* param;
    const float* grad;
    float* velocity;  // null without momentum
    unsigned long long len;
    unsigned long long first_chunk;
};

struct SgdHyper {
    float learning_rate, momentum, weight_decay, grad_scale;
};

extern "C" __global__ void sgd_multi(const SgdTensor* tensors, int count, unsigned long long total_chunks, SgdHyper h) {
    for (unsigned long long chunk = blockIdx.x; chunk < total_chunks; chunk += gridDim.x) {
        const SgdTensor t = tensors[find_tensor(tensors, count, chunk)];
        const unsigned long long begin = (chunk - t.first_chunk) * CHUNK;
        const unsigned long long end = min(begin + CHUNK, t.len);
        for (unsigned long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
            float g = t.grad[i] * h.grad_scale + h.weight_decay * t.param[i];
            if (t.velocity != nullptr) {
                // A new velocity is zero, so the first step gives v = g, as PyTorch starts it.
                float v = h.momentum * t.velocity[i] + g;
                t.velocity[i] = v;
                g = v;
            }
            t.param[i] -= h.learning_rate * g;
        }
    }
}

// Sets *found to 1 if any element of any listed tensor is inf or NaN (the fp16 overflow check).
struct CheckedTensor {
    const float* values;
    unsigned long long len;
    unsigned long long first_chunk;
};

extern "C" __global__ void nonfinite_multi(const CheckedTensor* tensors, int count, unsigned long long total_chunks, int* found) {
    for (unsigned long long chunk = blockIdx.x; chunk < total_chunks; chunk += gridDim.x) {
        const CheckedTensor t = tensors[find_tensor(tensors, count, chunk)];
        const unsigned long long begin = (chunk - t.first_chunk) * CHUNK;
        const unsigned long long end = min(begin + CHUNK, t.len);
        bool bad = false;
        for (unsigned long long i = begin + threadIdx.x; i < end; i += blockDim.x) bad |= !isfinite(t.values[i]);
        // Only writers touch the flag, and they all write the same value.
        if (__syncthreads_or(bad) && threadIdx.x == 0) *found = 1;
    }
}
