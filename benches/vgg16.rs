//! vgg16-small and the full VGG16 on the CPU at 64 px, batch 16, f32, in images/s: inference (the
//! forward in eval mode, no tape) and one training step as the trainer takes it (forward in training
//! mode with dropout, cross-entropy, backward, and the run's default optimiser: Adam 1e-3, the full
//! VGG16's body at `--image-lr-scale 0.1` as a from-scratch run has it).
//! scripts/bench/cpu-vs-torch.sh runs the same networks in PyTorch (torch_cpu_reference.py) beside
//! them; examples/vgg16_profile.rs runs the same steps for perf and callgrind. The CUDA path has its
//! VGG16 inference bench in benches/conv.rs.
mod vgg16_step;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use vgg16_step::{Vgg16Step, BATCH, SIDE};

fn vgg16(c: &mut Criterion) {
    for (name, group_name) in [("vgg16-small", "cpu_vgg16_small_f32"), ("vgg16", "cpu_vgg16_f32")] {
        let mut step = Vgg16Step::new(name);
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.sample_size(10);
        if name == "vgg16" {
            // A training step of the full network takes about a second: ten samples of one step
            // each, not criterion's 1 + 2 + … + 10 steps.
            group.sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        }
        group.bench_function(format!("forward_{SIDE}px_b{BATCH}"), |b| b.iter(|| drop(step.forward())));
        group.bench_function(format!("train_step_{SIDE}px_b{BATCH}"), |b| b.iter(|| step.train_step()));
        group.finish();
    }
}

criterion_group!(benches, vgg16);
criterion_main!(benches);
