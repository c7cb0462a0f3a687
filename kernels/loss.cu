// Fused losses: one pass computes each row's (or element's) loss and its gradient, so backward is
// only a scale by the incoming gradient.
#include "common.cuh"

// Softmax cross-entropy, one block per row: loss[row] = logsumexp(x) - x[target];
// grad[row, c] = (softmax(x)[c] - [c == target]) * grad_scale (grad_scale = 1/B for a mean).
template <typename T>
__device__ void cross_entropy_kernel(size_t cols, const T* logits, const int* targets, float* row_loss, T* grad,
                                     float grad_scale) {
    __shared__ float scratch[32];
    const size_t row = blockIdx.x;
    const T* x = logits + row * cols;
    float local_max = -INFINITY;
    for (size_t c = threadIdx.x; c < cols; c += blockDim.x) local_max = fmaxf(local_max, to_float(x[c]));
    const float row_max = block_reduce(local_max, scratch, -INFINITY, MaxOp());
    float local_sum = 0.0f;
    for (size_t c = threadIdx.x; c < cols; c += blockDim.x) local_sum += expf(to_float(x[c]) - row_max);
    const float row_sum = block_reduce(local_sum, scratch, 0.0f, SumOp());
    const float log_sum = logf(row_sum) + row_max;
    const int target = targets[row];
    for (size_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float p = expf(to_float(x[c]) - log_sum);
        grad[row * cols + c] = from_float<T>((p - (c == (size_t)target ? 1.0f : 0.0f)) * grad_scale);
    }
    if (threadIdx.x == 0) row_loss[row] = log_sum - to_float(x[target]);
}

// Binary cross-entropy on logits, element-wise: loss = max(x,0) - x*t + log(1 + exp(-|x|));
// grad = (sigmoid(x) - t) * grad_scale.
template <typename T>
__device__ void bce_with_logits_kernel(size_t n, const T* logits, const T* targets, float* loss, T* grad, float grad_scale) {
    GRID_STRIDE_LOOP(i, n) {
        float x = to_float(logits[i]), t = to_float(targets[i]);
        loss[i] = fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
        grad[i] = from_float<T>((1.0f / (1.0f + expf(-x)) - t) * grad_scale);
    }
}

#define LOSSES(SUFFIX, T)                                                                                    \
    extern "C" __global__ void cross_entropy_##SUFFIX(size_t cols, const T* logits, const int* targets,      \
                                                      float* row_loss, T* grad, float grad_scale) {          \
        cross_entropy_kernel<T>(cols, logits, targets, row_loss, grad, grad_scale);                          \
    }                                                                                                        \
    extern "C" __global__ void bce_with_logits_##SUFFIX(size_t n, const T* logits, const T* targets, float* loss, \
                                                        T* grad, float grad_scale) {                         \
        bce_with_logits_kernel<T>(n, logits, targets, loss, grad, grad_scale);                               \
    }

LOSSES(f32, float)
LOSSES(f16, __half)
LOSSES(bf16, __nv_bfloat16)
