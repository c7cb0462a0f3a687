//! Convolution: values against a naive loop over PyTorch-layout weights, finite-difference gradient
//! checks on odd small shapes (3 channels, 1×1 images, stride 2, no padding, 5×5 kernels, non-square
//! images), and GPU parity (f32, f16, bf16) at those shapes and at VGG16's layer shapes.
mod common;

use common::*;
use memefuse::autograd::{check_gradients, GradCheck};
use memefuse::ops::Conv2dOptions;
use memefuse::{DType, Result, Tensor};

/// y[n, p, q, k] = b[k] + Σ x[n, p·s−pad+r, q·s−pad+t, c] · w[k, c, r, t], straight from the definition.
fn naive_conv(x: &Tensor, w: &Tensor, b: &Tensor, options: Conv2dOptions) -> Vec<f32> {
    let (xs, ws, bs) = (x.to_vec_f32().unwrap(), w.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
    let [n, h, wi, c] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let [k, _, kh, kw] = [w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]];
    let ([sh, sw], [ph, pw]) = (options.stride, options.padding);
    let (p, q) = ((h + 2 * ph - kh) / sh + 1, (wi + 2 * pw - kw) / sw + 1);
    let mut out = Vec::new();
    for img in 0..n {
        for i in 0..p {
            for j in 0..q {
                for f in 0..k {
                    let mut acc = bs[f] as f64;
                    for r in 0..kh {
                        for t in 0..kw {
                            let (y, x_) = ((i * sh + r) as isize - ph as isize, (j * sw + t) as isize - pw as isize);
                            if y < 0 || x_ < 0 || y as usize >= h || x_ as usize >= wi {
                                continue;
                            }
                            for ch in 0..c {
                                acc += xs[((img * h + y as usize) * wi + x_ as usize) * c + ch] as f64 * ws[((f * c + ch) * kh + r) * kw + t] as f64;
                            }
                        }
                    }
                    out.push(if options.relu { acc.max(0.0) } else { acc } as f32);
                }
            }
        }
    }
    out
}

/// (name, input NHWC, weight KCRS, stride, padding).
type Case = (&'static str, [usize; 4], [usize; 4], usize, usize);

/// Cases with odd sizes.
fn odd_cases() -> Vec<Case> {
    vec![
        ("3 channels, 3x3, pad 1, non-square", [2, 5, 6, 3], [4, 3, 3, 3], 1, 1),
        ("5x5 kernel, stride 2, no padding", [1, 9, 11, 2], [3, 2, 5, 5], 2, 0),
        ("1x1 images, 3x3, pad 1", [3, 1, 1, 8], [5, 8, 3, 3], 1, 1),
        ("1x1 kernel, stride 2", [2, 5, 4, 3], [6, 3, 1, 1], 2, 0),
        ("3x3 stride 2 pad 1, even size", [1, 6, 6, 4], [2, 4, 3, 3], 2, 1),
    ]
}

#[test]
fn forward_matches_the_definition() {
    for (i, (name, x_shape, w_shape, stride, padding)) in odd_cases().into_iter().enumerate() {
        let (x, w, b) = (random(&x_shape, 10 + i as u64), random(&w_shape, 20 + i as u64), random(&[w_shape[0]], 30 + i as u64));
        for relu in [false, true] {
            let options = Conv2dOptions::new(stride, padding).with_relu(relu);
            let y = x.conv2d(&w, Some(&b), options).unwrap();
            let expected = naive_conv(&x, &w, &b, options);
            let error = relative_error(&y.to_vec_f32().unwrap(), &expected);
            assert!(error < 1e-6, "{name} relu {relu}: relative error {error:.2e}");
        }
    }
}

#[test]
fn rectangular_stride_and_padding() {
    let (x, w, b) = (random(&[1, 7, 8, 3], 1), random(&[2, 3, 3, 2], 2), random(&[2], 3));
    let options = Conv2dOptions { stride: [2, 1], padding: [0, 1], relu: false };
    let y = x.conv2d(&w, Some(&b), options).unwrap();
    assert_eq!(y.shape(), &[1, 3, 9, 2]);
    assert!(relative_error(&y.to_vec_f32().unwrap(), &naive_conv(&x, &w, &b, options)) < 1e-6);
    check_op("conv2d rectangular", move |t| t[0].conv2d(&t[1], Some(&t[2]), options), &[x, w, b]);
}

#[test]
fn gradients_at_odd_shapes() {
    for (i, (name, x_shape, w_shape, stride, padding)) in odd_cases().into_iter().enumerate() {
        let (x, w, b) = (random(&x_shape, 40 + i as u64), random(&w_shape, 50 + i as u64), random(&[w_shape[0]], 60 + i as u64));
        let options = Conv2dOptions::new(stride, padding);
        check_op(&format!("conv2d {name}"), move |t| t[0].conv2d(&t[1], Some(&t[2]), options), &[x.clone(), w.clone(), b]);
        check_op(&format!("conv2d {name}, no bias"), move |t| t[0].conv2d(&t[1], None, options), &[x, w]);
    }
}

#[test]
fn fused_relu_has_the_gradient_of_a_separate_relu() {
    let (x, w, b) = (random(&[2, 6, 5, 4], 7), random(&[5, 4, 3, 3], 8), random(&[5], 9));
    let fused = |t: &[Tensor]| t[0].conv2d(&t[1], Some(&t[2]), Conv2dOptions::new(1, 1).with_relu(true));
    let separate = |t: &[Tensor]| t[0].conv2d(&t[1], Some(&t[2]), Conv2dOptions::new(1, 1))?.relu();
    let gradients = |f: &dyn Fn(&[Tensor]) -> Result<Tensor>| {
        let leaves = [x.with_grad(), w.with_grad(), b.with_grad()];
        let y = f(&leaves).unwrap();
        let grads = y.mul(&random(y.shape(), 11)).unwrap().sum_all().unwrap().backward().unwrap();
        (y.to_vec_f32().unwrap(), leaves.iter().map(|l| grads.get(l).unwrap().to_vec_f32().unwrap()).collect::<Vec<_>>())
    };
    let (fused_y, fused_grads) = gradients(&fused);
    let (separate_y, separate_grads) = gradients(&separate);
    assert_eq!(fused_y, separate_y);
    for (a, b) in fused_grads.iter().zip(&separate_grads) {
        assert!(relative_error(a, b) < 1e-6);
    }
    check_gpu_parity("conv2d fused relu", &fused, &[x, w, b], &[DType::F32, DType::F16, DType::BF16]);
}

#[test]
fn shape_and_dtype_errors_name_the_problem() {
    let x = random(&[1, 4, 4, 3], 1);
    let err = x.conv2d(&random(&[2, 4, 3, 3], 2), None, Conv2dOptions::new(1, 1)).unwrap_err().to_string();
    assert!(err.contains("3 channels") && err.contains("expects 4"), "{err}");
    let err = x.conv2d(&random(&[2, 3, 7, 7], 2), None, Conv2dOptions::new(1, 0)).unwrap_err().to_string();
    assert!(err.contains("does not fit"), "{err}");
    let err = x.conv2d(&random(&[2, 3, 3, 3], 2), Some(&random(&[3], 3)), Conv2dOptions::new(1, 1)).unwrap_err().to_string();
    assert!(err.contains("bias must be [2]"), "{err}");
    let half = x.to_dtype(DType::F16).unwrap();
    assert!(half.conv2d(&random(&[2, 3, 3, 3], 2), None, Conv2dOptions::new(1, 1)).is_err());
}

/// Shapes the tensor-core kernels take (C, K multiples of 8) but not multiples of their 128×128×32
/// tiles, so every edge predicate is exercised; and stride 2, where backward-data uses the direct kernel.
#[test]
fn gpu_parity_tensor_core_edges() {
    let cases: [([usize; 4], [usize; 4], usize, usize); 4] =
        [([3, 13, 11, 8], [24, 8, 3, 3], 1, 1), ([2, 9, 9, 40], [136, 40, 3, 3], 1, 1), ([2, 10, 7, 16], [8, 16, 5, 5], 2, 2), ([1, 12, 12, 24], [16, 24, 1, 1], 1, 0)];
    for (i, (x_shape, w_shape, stride, padding)) in cases.into_iter().enumerate() {
        let (x, w, b) = (random(&x_shape, 70 + i as u64), random(&w_shape, 80 + i as u64).scale(0.2).unwrap(), random(&[w_shape[0]], 90 + i as u64));
        let options = Conv2dOptions::new(stride, padding).with_relu(i % 2 == 0);
        check_gpu_parity(&format!("conv2d tensor-core edges {x_shape:?} {w_shape:?}"), &move |t| t[0].conv2d(&t[1], Some(&t[2]), options), &[x, w, b], &[DType::F32, DType::F16, DType::BF16]);
    }
}

/// VGG16's layer shapes (too big for finite differences): GPU parity only, batch 1-2 to keep the
/// CPU reference quick. (C, K, H) = every distinct conv of configuration D at 224 px, and the
/// first layer's C = 3. On the CPU driver the channel counts stay for f16/bf16 (they decide the
/// tensor-core tiling along N and the reduction) and the images shrink to about 9.4M multiply-adds
/// per layer, batch 1; f32 (direct kernels, whose weight gradient costs a block per weight) also caps
/// the channels at 64.
#[test]
fn gpu_parity_vgg16_layer_shapes() {
    let Some(_) = gpu("conv2d VGG16 shapes") else { return };
    let layers: [(usize, usize, usize, usize); 9] =
        [(3, 64, 224, 1), (64, 64, 224, 1), (64, 128, 112, 2), (128, 128, 112, 1), (128, 256, 56, 2), (256, 256, 56, 2), (256, 512, 28, 2), (512, 512, 28, 2), (512, 512, 14, 2)];
    for (i, (c, k, size, batch)) in layers.into_iter().enumerate() {
        let (size, batch) = gpu_size((size, batch), ((16 * 64 / c.max(k)).max(2), 1));
        let f32_channels = gpu_size((c, k), (c.min(64), k.min(64)));
        let options = Conv2dOptions::new(1, 1).with_relu(true);
        let mut runs = vec![((c, k), vec![DType::F16, DType::BF16])];
        if f32_channels == (c, k) {
            runs[0].1.insert(0, DType::F32);
        } else {
            runs.push((f32_channels, vec![DType::F32]));
        }
        for ((c, k), dtypes) in runs {
            let x = random(&[batch, size, size, c], 100 + i as u64);
            let scale = (1.0 / (9.0 * c as f32)).sqrt();
            let w = random(&[k, c, 3, 3], 200 + i as u64).scale(scale).unwrap();
            let b = random(&[k], 300 + i as u64);
            check_gpu_parity(&format!("conv2d VGG16 C{c} K{k} @{size}"), &move |t| t[0].conv2d(&t[1], Some(&t[2]), options), &[x, w, b], &dtypes);
        }
    }
}

#[test]
fn gradient_check_default_is_used_for_conv_without_bias_at_tiny_size() {
    // A smoke test of the gradient checker itself on the smallest conv (1 pixel, 1 channel).
    let (x, w) = (random(&[1, 1, 1, 1], 1), random(&[1, 1, 1, 1], 2));
    check_gradients(|t| t[0].conv2d(&t[1], None, Conv2dOptions::new(1, 0)), &[x, w], &GradCheck::default()).unwrap();
}

/// The CPU convolution splits its work into blocks and groups that depend on the shape alone and
/// sums the weight gradient's partial results in a fixed order, so the output and both gradients
/// are reproducible to the last bit whatever the thread count (training resume depends on it).
/// Stride 1 (backward-data as a flipped-weight forward) and stride 2 (the col2im path).
#[test]
fn forward_and_gradients_are_bitwise_reproducible_across_thread_counts() {
    for (stride, pad) in [(1, 1), (2, 0)] {
        let options = Conv2dOptions::new(stride, pad);
        let (x, w, b) = (random(&[3, 40, 40, 8], 41), random(&[16, 8, 3, 3], 42), random(&[16], 44));
        let out_side = (40 + 2 * pad - 3) / stride + 1;
        let weights = random(&[3, out_side, out_side, 16], 43);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let (x_leaf, w_leaf) = (x.with_grad(), w.with_grad());
                let y = x_leaf.conv2d(&w_leaf, Some(&b), options).unwrap();
                let grads = y.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
                [y.to_vec_f32().unwrap(), grads.get(&x_leaf).unwrap().to_vec_f32().unwrap(), grads.get(&w_leaf).unwrap().to_vec_f32().unwrap()]
            })
        };
        let single = run(1);
        for threads in [2, 3, 8] {
            let other = run(threads);
            for (what, (a, b)) in ["output", "input gradient", "weight gradient"].iter().zip(single.iter().zip(&other)) {
                assert!(a == b, "stride {stride}: the {what} differs between 1 and {threads} threads");
            }
        }
    }
}
