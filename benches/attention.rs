//! Fused attention (kernels/attention.cu on CUDA, the CPU twin on the CPU), forward and forward +
//! backward, in TFLOP/s (criterion's "elem/s" counts FLOPs): the forward does 4·B·H·Sq·Sk·D
//! (q·kᵀ and p·v), the backward 2.5 times that (flash attention's convention), no causal mask.
//! Issue 13's shapes on CUDA, in fp16: B256 H12 S50 D64 (CLIP's image tower), B256 H8 S77 D64 (its
//! text tower), B16 H16 S4096 D64; smaller batches on the CPU, in f32. fp16 at D64 runs the
//! tensor-core kernels (kernels/attention_mma.cu, as `kernels_for` picks); MEMEFUSE_ATTENTION=simt
//! times the SIMT kernels (kernels/attention.cu) on the same shapes instead. The SDPA figures of the same
//! shapes come from scripts/gpu/torch_attention_reference.py. Target on the H100: ≥ 2× SDPA at the
//! CLIP shapes, ≥ 0.7× at 4096 (SDPA reached 25, 52 and 476 TFLOP/s forward).
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::ops::attention;
use memefuse::util::Rng;
use memefuse::{DType, Tensor};

fn attention_bench(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let (shapes, dtype): (&[[usize; 4]], DType) = if device.is_cuda() {
            (&[[256, 12, 50, 64], [256, 8, 77, 64], [16, 16, 4096, 64]], DType::F16)
        } else {
            (&[[8, 12, 50, 64], [8, 8, 77, 64], [1, 4, 1024, 64]], DType::F32)
        };
        for &[batch, heads, seq, head_dim] in shapes {
            let shape = [batch, heads, seq, head_dim];
            let make = |seed| Tensor::randn(&shape, 1.0, &mut Rng::new(seed), device).unwrap().to_dtype(dtype).unwrap();
            let (q, k, v, g) = (make(1), make(2), make(3), make(4));
            let forward_flops = (4 * batch * heads * seq * seq * head_dim) as u64;
            let mut group = c.benchmark_group(format!("{label}_attention_{dtype}"));
            group.sample_size(10);
            let name = format!("b{batch}_h{heads}_s{seq}_d{head_dim}");
            group.throughput(Throughput::Elements(forward_flops));
            group.bench_function(format!("forward_{name}"), |b| b.iter(|| common::run_and_wait(device, || attention(&q, &k, &v, false, None))));
            // Forward and backward together, as a training step runs them.
            group.throughput(Throughput::Elements(forward_flops + forward_flops * 5 / 2));
            group.bench_function(format!("forward_backward_{name}"), |b| {
                let (q, k, v) = (q.with_grad(), k.with_grad(), v.with_grad());
                b.iter(|| {
                    let out = attention(&q, &k, &v, false, None).unwrap();
                    let grads = out.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
                    common::synchronize(device);
                    drop(grads)
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, attention_bench);
criterion_main!(benches);
