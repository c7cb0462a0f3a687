//! Convolution and VGG16 inference.
//!
//! GPU (f16, NHWC): 3×3 pad-1 convolutions at VGG16's layer shapes, batch 64: C64@224, C128@112,
//! C256@56, C512@28, C512@14 (C in = K out), and C64@64 px at batch 256; forward and backward
//! (backward-data + backward-weight). Throughput is set to the FLOPs of each pass
//! (2·N·P·Q·K·C·R·S per product), so criterion's "elem/s" reads as FLOP/s (Gelem/s = GFLOP/s,
//! Telem/s = TFLOP/s). Targets: ≥ 50% of cuDNN forward and ≥ 40% backward on every shape;
//! scripts/gpu/torch_conv_reference.py measures cuDNN at the same shapes.
//! Then VGG16 inference at batch 64, 64 px and 224 px, in images/s ("elem/s" = images/s); PyTorch:
//! 27,847 and 7,172 images/s on the H100.
//!
//! CPU (f32): the same kernels' CPU twins at small batches, forward, backward-data and
//! backward-weight each on its own (the GPU times the two backward passes together), and vgg16-small
//! inference; scripts/bench/cpu-vs-torch.sh runs PyTorch's CPU convolutions beside them.
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memefuse::autograd::no_grad;
use memefuse::models::vgg16::{Vgg16, Vgg16Config};
use memefuse::ops::{conv2d_input_gradient, conv2d_weight_gradient, Conv2dOptions, ConvGeometry};
use memefuse::util::Rng;
use memefuse::{DType, Tensor};

/// (label, batch, side, channels).
const GPU_SHAPES: [(&str, usize, usize, usize); 6] =
    [("c64_224_n64", 64, 224, 64), ("c128_112_n64", 64, 112, 128), ("c256_56_n64", 64, 56, 256), ("c512_28_n64", 64, 28, 512), ("c512_14_n64", 64, 14, 512), ("c64_64_n256", 256, 64, 64)];
const CPU_SHAPES: [(&str, usize, usize, usize); 3] = [("c64_56_n1", 1, 56, 64), ("c128_28_n2", 2, 28, 128), ("c256_14_n2", 2, 14, 256)];

fn conv(c: &mut Criterion) {
    let _no_grad = no_grad();
    for (label, device) in common::devices() {
        let (shapes, dtype) = if device.is_cuda() { (&GPU_SHAPES[..], DType::F16) } else { (&CPU_SHAPES[..], DType::F32) };
        let mut group = c.benchmark_group(format!("{label}_conv3x3_{dtype}"));
        group.sample_size(10);
        for &(name, batch, side, channels) in shapes {
            let mut rng = Rng::new(1);
            let x = Tensor::randn(&[batch, side, side, channels], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
            let w = Tensor::randn(&[channels, 3, 3, channels], 0.05, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
            let options = Conv2dOptions::new(1, 1);
            let geometry = ConvGeometry::new(x.shape(), w.shape(), &options).unwrap();
            let dy = Tensor::randn(&geometry.output_shape(), 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
            group.throughput(Throughput::Elements(geometry.flops() as u64));
            group.bench_function(format!("forward_{name}"), |b| b.iter(|| common::run_and_wait(device, || x.conv2d_krsc(&w, None, options))));
            if device.is_cuda() {
                group.throughput(Throughput::Elements(2 * geometry.flops() as u64));
                group.bench_function(format!("backward_{name}"), |b| {
                    b.iter(|| {
                        let dx = conv2d_input_gradient(&dy, &w, &geometry).unwrap();
                        let dw = conv2d_weight_gradient(&x, &dy, &geometry).unwrap();
                        common::synchronize(device);
                        drop((dx, dw));
                    })
                });
            } else {
                // The CPU passes one by one, as scripts/bench/torch_cpu_reference.py measures them.
                group.bench_function(format!("backward_data_{name}"), |b| b.iter(|| common::run_and_wait(device, || conv2d_input_gradient(&dy, &w, &geometry))));
                group.bench_function(format!("backward_weight_{name}"), |b| b.iter(|| common::run_and_wait(device, || conv2d_weight_gradient(&x, &dy, &geometry))));
            }
        }
        group.finish();
    }
}

fn vgg16_inference(c: &mut Criterion) {
    let _no_grad = no_grad();
    for (label, device) in common::devices() {
        // The GPU runs the real network in f16; the CPU the small one in f32.
        let (config, dtype, batch, sides): (Vgg16Config, DType, usize, &[usize]) =
            if device.is_cuda() { (Vgg16Config::full(), DType::F16, 64, &[64, 224]) } else { (Vgg16Config::small(), DType::F32, 8, &[64]) };
        let model = Vgg16::new(config.clone(), &mut Rng::new(2), device).unwrap();
        let mut group = c.benchmark_group(format!("{label}_{}_inference_{dtype}", config.name));
        group.sample_size(10);
        group.throughput(Throughput::Elements(batch as u64));
        for &side in sides {
            let mut rng = Rng::new(3);
            let images = Tensor::randn(&[batch, side, side, 3], 1.0, &mut rng, device).unwrap().to_dtype(dtype).unwrap();
            group.bench_function(format!("batch{batch}_{side}px"), |b| {
                b.iter(|| {
                    let logits = model.forward(&images, false, &mut rng).unwrap();
                    common::synchronize(device);
                    drop(logits);
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, conv, vgg16_inference);
criterion_main!(benches);
