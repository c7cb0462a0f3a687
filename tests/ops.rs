//! Every op of the foundation: a finite-difference gradient check on the CPU and, when a GPU is
//! present, forward and backward parity against the CPU in f32, f16 and bf16. Shapes are odd on
//! purpose (not multiples of any block or tile size).
#![allow(clippy::cloned_ref_to_slice_refs)] // `&[x.clone()]` reads better than `slice::from_ref(&x)`; a tensor clone copies a handle

mod common;

use common::*;
use memefuse::ops::UnaryOp;
use memefuse::Tensor;

#[test]
fn unary_ops() {
    let any = random(&[3, 17, 5], 1);
    let positive = random_in(&[3, 17, 5], 0.2, 3.0, 2);
    let away_from_zero = random_away_from_zero(&[3, 17, 5], 0.05, 3);
    let cases: Vec<(UnaryOp, &Tensor)> = vec![
        (UnaryOp::Neg, &any),
        (UnaryOp::Exp, &any),
        (UnaryOp::Log, &positive),
        (UnaryOp::Relu, &away_from_zero),
        (UnaryOp::Sigmoid, &any),
        (UnaryOp::Tanh, &any),
        (UnaryOp::Gelu, &any),
        (UnaryOp::QuickGelu, &any),
        (UnaryOp::Sqrt, &positive),
        (UnaryOp::Abs, &away_from_zero),
        (UnaryOp::Powf(3.0), &any),
        (UnaryOp::Powf(-0.5), &positive),
        (UnaryOp::Affine { mul: -1.5, add: 0.25 }, &any),
    ];
    for (op, input) in cases {
        check_op(&format!("{op:?}"), move |x| x[0].unary(op), &[input.clone()]);
    }
}

#[test]
fn unary_ops_follow_their_definitions() {
    let x = Tensor::from_vec(vec![-2.0, -0.5, 0.0, 0.5, 2.0], &[5], memefuse::Device::Cpu).unwrap();
    let relu = x.relu().unwrap().to_vec_f32().unwrap();
    assert_eq!(relu, vec![0.0, 0.0, 0.0, 0.5, 2.0]);
    let gelu = x.gelu().unwrap().to_vec_f32().unwrap();
    // PyTorch: torch.nn.functional.gelu(torch.tensor([-2., -.5, 0., .5, 2.]))
    let expected = [-0.045_500_26, -0.154_268_8, 0.0, 0.345_731_2, 1.954_499_8];
    for (g, e) in gelu.iter().zip(expected) {
        assert!((g - e).abs() < 1e-6, "gelu {g} vs {e}");
    }
    let quick_gelu = x.quick_gelu().unwrap().to_vec_f32().unwrap();
    // transformers.activations.ACT2FN["quick_gelu"](torch.tensor([-2., -.5, 0., .5, 2.]))
    let expected = [-0.064_341_37, -0.149_611_56, 0.0, 0.350_388_44, 1.935_658_6];
    for (g, e) in quick_gelu.iter().zip(expected) {
        assert!((g - e).abs() < 1e-6, "quick_gelu {g} vs {e}");
    }
    let sigmoid = x.sigmoid().unwrap().to_vec_f32().unwrap();
    assert!((sigmoid[2] - 0.5).abs() < 1e-7 && (sigmoid[4] - 0.880_797_1).abs() < 1e-6);
}

#[test]
fn binary_ops_with_broadcasting() {
    // (a shape, b shape): same shape, row vector, column, scalar, leading axes added on either side.
    let shapes: [(&[usize], &[usize]); 6] = [(&[7, 13], &[7, 13]), (&[7, 13], &[13]), (&[7, 13], &[7, 1]), (&[7, 13], &[]), (&[13], &[3, 7, 13]), (&[3, 1, 5], &[4, 1])];
    for (i, (a_shape, b_shape)) in shapes.iter().enumerate() {
        let a = random(a_shape, 10 + i as u64);
        let b = random(b_shape, 20 + i as u64);
        let b_nonzero = random_in(b_shape, 0.5, 2.0, 30 + i as u64);
        check_op(&format!("add {a_shape:?} {b_shape:?}"), |x| x[0].add(&x[1]), &[a.clone(), b.clone()]);
        check_op(&format!("sub {a_shape:?} {b_shape:?}"), |x| x[0].sub(&x[1]), &[a.clone(), b.clone()]);
        check_op(&format!("mul {a_shape:?} {b_shape:?}"), |x| x[0].mul(&x[1]), &[a.clone(), b.clone()]);
        check_op(&format!("div {a_shape:?} {b_shape:?}"), |x| x[0].div(&x[1]), &[a.clone(), b_nonzero]);
    }
}

#[test]
fn a_tensor_used_twice_gets_the_sum_of_its_gradients() {
    check_op("x*x + x", |x| x[0].mul(&x[0])?.add(&x[0]), &[random(&[5, 3], 4)]);
}

#[test]
fn reductions_over_an_axis_and_everything() {
    let x = random(&[4, 37, 9], 5);
    let distinct = random_distinct(&[4, 37, 9], 5);
    for axis in [0isize, 1, 2, -1] {
        for keepdim in [false, true] {
            check_op(&format!("sum axis {axis} keepdim {keepdim}"), move |t| t[0].sum(axis, keepdim), &[x.clone()]);
            check_op(&format!("mean axis {axis} keepdim {keepdim}"), move |t| t[0].mean(axis, keepdim), &[x.clone()]);
            check_op(&format!("max axis {axis} keepdim {keepdim}"), move |t| t[0].max(axis, keepdim), &[distinct.clone()]);
        }
    }
    check_op("sum_all", |t| t[0].sum_all(), &[x.clone()]);
    check_op("mean_all", |t| t[0].mean_all(), &[x.clone()]);
    check_op("max_all", |t| t[0].max_all(), &[distinct.clone()]);
    // A long single row exercises the two-pass row reduction on the GPU.
    check_gpu_parity("sum_all of 100003", &|t: &[Tensor]| t[0].sum_all(), &[random(&[100_003], 6)], &[memefuse::DType::F32]);
    check_gpu_parity("max of 3x70001", &|t: &[Tensor]| t[0].max(1, false), &[random(&[3, 70_001], 7)], &[memefuse::DType::F32]);
    // More rows than a grid's y dimension holds (65535).
    check_gpu_parity("sum of 70001x3 rows", &|t: &[Tensor]| t[0].sum(1, false), &[random(&[70_001, 3], 8)], &[memefuse::DType::F32]);
    // Columns: a long axis over few outputs (a bias gradient) is split into chunks; 70 columns leave
    // a partial tile of 32; 70001 outer slices exceed the grid's z side.
    let all = [memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16];
    check_gpu_parity("sum of 50001x70 over rows", &|t: &[Tensor]| t[0].sum(0, false), &[random(&[50_001, 70], 9)], &all);
    check_gpu_parity("max of 3x20001x5 along 1", &|t: &[Tensor]| t[0].max(1, false), &[random_distinct(&[3, 20_001, 5], 10)], &[memefuse::DType::F32]);
    check_gpu_parity("sum of 70001x3x2 along 1", &|t: &[Tensor]| t[0].sum(1, false), &[random(&[70_001, 3, 2], 11)], &[memefuse::DType::F32]);
}

#[test]
fn reductions_compute_the_right_values() {
    let x = Tensor::from_vec(vec![1.0, 5.0, 3.0, 5.0, -2.0, 0.5], &[2, 3], memefuse::Device::Cpu).unwrap();
    assert_eq!(x.sum(1, false).unwrap().to_vec_f32().unwrap(), vec![9.0, 3.5]);
    assert_eq!(x.sum(0, false).unwrap().to_vec_f32().unwrap(), vec![6.0, 3.0, 3.5]);
    assert!((x.mean_all().unwrap().to_scalar().unwrap() - 12.5 / 6.0).abs() < 1e-6);
    assert_eq!(x.max(1, true).unwrap().shape(), &[2, 1]);
    assert_eq!(x.max(1, false).unwrap().to_vec_f32().unwrap(), vec![5.0, 5.0]);
    // The first of equal maxima wins, as in PyTorch.
    let ties = Tensor::from_vec(vec![2.0, 7.0, 7.0, 1.0], &[4], memefuse::Device::Cpu).unwrap();
    assert_eq!(ties.argmax(0, false).unwrap().to_vec_i32().unwrap(), vec![1]);
    assert_eq!(x.argmax(1, false).unwrap().to_vec_i32().unwrap(), vec![1, 0]);
}

#[test]
fn argmax_matches_on_gpu() {
    let Some(device) = gpu("argmax_matches_on_gpu") else { return };
    let x = random(&[5, 33, 7], 8);
    for axis in 0..3 {
        let cpu = x.argmax(axis, false).unwrap().to_vec_i32().unwrap();
        let on_gpu = x.to_device(device).unwrap().argmax(axis, false).unwrap().to_vec_i32().unwrap();
        assert_eq!(cpu, on_gpu, "argmax along {axis}");
    }
}

#[test]
fn softmax_and_log_softmax() {
    // [2, 5000] still fits the kernel's register cache (16 per thread at 320 threads); rows over
    // 16 × 1024 columns, as [2, 20000], take its re-reading path.
    for shape in [&[1usize, 1][..], &[5, 3], &[3, 7, 129], &[2, 5000], &[2, 20000]] {
        let x = random(shape, 9).scale(3.0).unwrap();
        if shape.iter().product::<usize>() <= 2000 {
            check_op(&format!("softmax {shape:?}"), |t| t[0].softmax_last(), &[x.clone()]);
            check_op(&format!("log_softmax {shape:?}"), |t| t[0].log_softmax_last(), &[x.clone()]);
        } else {
            let all = [memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16];
            check_gpu_parity(&format!("softmax {shape:?}"), &|t: &[Tensor]| t[0].softmax_last(), &[x.clone()], &all);
            check_gpu_parity(&format!("log_softmax {shape:?}"), &|t: &[Tensor]| t[0].log_softmax_last(), &[x.clone()], &all);
        }
    }
}

/// A row with masked (−∞) logits, cached or re-read by the GPU kernel.
fn masked_rows(columns: usize) -> Tensor {
    let mut values = random(&[2, columns], 10).scale(3.0).unwrap().to_vec_f32().unwrap();
    // Every third element masked, the row's first ones included (where a thread's running maximum
    // is still −∞).
    values.iter_mut().step_by(3).for_each(|v| *v = f32::NEG_INFINITY);
    Tensor::from_vec(values, &[2, columns], memefuse::Device::Cpu).unwrap()
}

#[test]
fn softmax_of_masked_rows_ignores_the_masked_logits() {
    for columns in [301, 20000] {
        let x = masked_rows(columns);
        let y = x.softmax_last().unwrap().to_vec_f32().unwrap();
        let logits = x.to_vec_f32().unwrap();
        for (row_y, row_x) in y.chunks(columns).zip(logits.chunks(columns)) {
            // The softmax of the unmasked logits alone, with zeros where the mask is.
            let kept: Vec<f64> = row_x.iter().filter(|v| v.is_finite()).map(|&v| v as f64).collect();
            let max = kept.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = kept.iter().map(|v| (v - max).exp()).sum();
            for (&out, &logit) in row_y.iter().zip(row_x) {
                let expected = if logit.is_finite() { ((logit as f64 - max).exp() / total) as f32 } else { 0.0 };
                assert!((out - expected).abs() < 1e-6, "softmax {out} vs {expected}");
            }
        }
        let all = [memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16];
        check_gpu_parity(&format!("softmax masked [2, {columns}]"), &|t: &[Tensor]| t[0].softmax_last(), &[x], &all);
    }
}

#[test]
fn softmax_is_stable_for_huge_inputs() {
    let x = Tensor::from_vec(vec![1000.0, 1001.0, -1000.0], &[1, 3], memefuse::Device::Cpu).unwrap();
    let y = x.softmax_last().unwrap().to_vec_f32().unwrap();
    assert!((y[0] - 0.268_941_4).abs() < 1e-6 && (y[1] - 0.731_058_6).abs() < 1e-6 && y[2] == 0.0);
    let log_y = x.log_softmax_last().unwrap().to_vec_f32().unwrap();
    assert!(log_y.iter().all(|v| v.is_finite()));
    assert!((log_y[1] + 0.313_261_7).abs() < 1e-5);
}

#[test]
fn matmul_in_every_arrangement() {
    check_op("matmul 1x1x1", |t| t[0].matmul(&t[1]), &[random(&[1, 1], 1), random(&[1, 1], 2)]);
    check_op("matmul 17x33x65", |t| t[0].matmul(&t[1]), &[random(&[17, 33], 3), random(&[33, 65], 4)]);
    check_op("batched matmul", |t| t[0].matmul(&t[1]), &[random(&[3, 5, 7], 5), random(&[3, 7, 4], 6)]);
    check_op("batched × shared matrix", |t| t[0].matmul(&t[1]), &[random(&[2, 3, 5, 7], 7), random(&[7, 4], 8)]);
    check_op("shared matrix × batched", |t| t[0].matmul(&t[1]), &[random(&[5, 7], 9), random(&[3, 7, 4], 10)]);
    // Transposed operands are strided views, used without a copy.
    check_op("aᵀ·b", |t| t[0].t()?.matmul(&t[1]), &[random(&[7, 5], 11), random(&[7, 6], 12)]);
    check_op("a·bᵀ", |t| t[0].matmul(&t[1].t()?), &[random(&[5, 7], 13), random(&[6, 7], 14)]);
    check_op("aᵀ·bᵀ batched", |t| t[0].t()?.matmul(&t[1].t()?), &[random(&[2, 7, 5], 15), random(&[2, 6, 7], 16)]);
}

#[test]
fn matmul_merges_batch_axes_only_when_their_strides_allow() {
    // [1, 3, 2, 5, 7] permuted to [2, 1, 3, 5, 7]: strides [35, 210, 70, 7, 1]. The size-1 axis's stride
    // (210) happens to equal 3·70, but the outer axis (35) does not continue the progression, so the
    // three leading axes are not one batch axis of stride 70 (they were merged that way: wrong values).
    for (lhs_permuted, seed) in [(true, 40), (false, 42)] {
        let permuted = random(&[1, 3, 2, 5, 7], seed).permute(&[2, 0, 1, 3, 4]).unwrap();
        let other = random(&[2, 1, 3, 7, 5], seed + 1);
        let (lhs, rhs) = if lhs_permuted { (permuted.clone(), other.clone()) } else { (other.transpose(3, 4).unwrap().contiguous().unwrap(), permuted.transpose(3, 4).unwrap()) };
        let actual = lhs.matmul(&rhs).unwrap();
        let expected = lhs.contiguous().unwrap().matmul(&rhs.contiguous().unwrap()).unwrap();
        assert_close(&actual, &expected, 1e-6, "matmul of a permuted batch");
        check_op("matmul of a permuted batch", |t| t[0].matmul(&t[1]), &[lhs, rhs]);
    }
}

#[test]
fn matmul_matches_a_naive_product() {
    let (m, k, n) = (9, 11, 13);
    let (a, b) = (random(&[m, k], 17), random(&[k, n], 18));
    let (av, bv) = (a.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
    let c = a.matmul(&b).unwrap().to_vec_f32().unwrap();
    for i in 0..m {
        for j in 0..n {
            let expected: f32 = (0..k).map(|p| av[i * k + p] * bv[p * n + j]).sum();
            assert!((c[i * n + j] - expected).abs() < 1e-4);
        }
    }
}

#[test]
fn views_and_copies() {
    let x = random(&[4, 6, 5], 19);
    check_op("reshape", |t| t[0].reshape(&[6, 20])?.mul(&t[0].reshape(&[6, 20])?), &[x.clone()]);
    check_op("permute", |t| t[0].permute(&[2, 0, 1])?.contiguous(), &[x.clone()]);
    check_op("permute then reshape (copy)", |t| t[0].permute(&[1, 2, 0])?.reshape(&[30, 4]), &[x.clone()]);
    check_op("narrow", |t| t[0].narrow(1, 2, 3), &[x.clone()]);
    check_op("narrow of a transpose", |t| t[0].transpose(0, 2)?.narrow(0, 1, 3)?.contiguous(), &[x.clone()]);
    check_op("broadcast_as", |t| t[0].broadcast_as(&[3, 4, 6, 5])?.contiguous(), &[x.clone()]);
    check_op("unsqueeze/squeeze", |t| t[0].unsqueeze(1)?.squeeze(1)?.exp(), &[x.clone()]);
}

#[test]
fn views_share_storage_and_copies_do_not() {
    let x = random(&[3, 4], 20);
    let t = x.t().unwrap();
    assert!(t.shares_storage_with(&x) && !t.is_contiguous());
    assert_eq!(t.to_vec_f32().unwrap()[1], x.to_vec_f32().unwrap()[4]);
    let c = t.contiguous().unwrap();
    assert!(!c.shares_storage_with(&x) && c.is_contiguous());
    assert!(x.reshape(&[12]).unwrap().shares_storage_with(&x));
    assert!(x.narrow(0, 1, 2).unwrap().shares_storage_with(&x));
}

#[test]
fn casts_round_trip_and_carry_gradients() {
    use memefuse::DType;
    let x = random(&[7, 9], 21);
    for dtype in [DType::F16, DType::BF16] {
        let back = x.to_dtype(dtype).unwrap().to_dtype(DType::F32).unwrap();
        assert!(relative_error(&back.to_vec_f32().unwrap(), &x.to_vec_f32().unwrap()) < tolerance(dtype));
        let leaf = x.with_grad();
        let grads = leaf.to_dtype(dtype).unwrap().scale(2.0).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(&leaf).unwrap();
        assert_eq!(g.dtype(), DType::F32);
        assert!(g.to_vec_f32().unwrap().iter().all(|&v| v == 2.0));
    }
    let ints = Tensor::from_vec(vec![-1.7, 2.9, 0.2], &[3], memefuse::Device::Cpu).unwrap().to_dtype(DType::I32).unwrap();
    assert_eq!(ints.to_vec_i32().unwrap(), vec![-1, 2, 0]);
    if let Some(device) = gpu("casts_round_trip_and_carry_gradients") {
        for from in [DType::F32, DType::F16, DType::BF16] {
            for to in [DType::F32, DType::F16, DType::BF16, DType::I32] {
                let source = x.scale(10.0).unwrap().to_dtype(from).unwrap();
                let cpu = source.to_dtype(to).unwrap().to_vec_f32().unwrap();
                let on_gpu = source.to_device(device).unwrap().t().unwrap().to_dtype(to).unwrap().t().unwrap().to_vec_f32().unwrap();
                assert_eq!(cpu, on_gpu, "cast {from} → {to} (through a strided view)");
            }
        }
    }
}

#[test]
fn fill_scale_and_axpy_update_in_place() {
    use memefuse::{DType, Device};
    let mut devices = vec![Device::Cpu];
    devices.extend(gpu("fill_scale_and_axpy_update_in_place"));
    for device in devices {
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let y = Tensor::zeros(&[1001], dtype, device).unwrap();
            y.fill_(2.0).unwrap();
            let x = random(&[1001], 22).to_dtype(dtype).unwrap().to_device(device).unwrap();
            y.axpy_(0.5, &x).unwrap();
            y.scale_(-2.0).unwrap();
            let xv = x.to_vec_f32().unwrap();
            let expected: Vec<f32> = xv.iter().map(|v| -2.0 * (2.0 + 0.5 * v)).collect();
            let error = relative_error(&y.to_vec_f32().unwrap(), &expected);
            assert!(error < 2.0 * tolerance(dtype), "{device} {dtype}: {error}");
            y.axpby_(1.0, &y, 1.0).unwrap(); // aliasing: y ← 2y
            assert!(relative_error(&y.to_vec_f32().unwrap(), &expected.iter().map(|v| 2.0 * v).collect::<Vec<_>>()) < 2.0 * tolerance(dtype));
        }
    }
    for device in [Device::Cpu].into_iter().chain(gpu("axpby assigns over NaN")) {
        // beta = 0 assigns without reading y (BLAS's convention), even over NaN.
        let y = Tensor::full(&[5], f32::NAN, DType::F32, device).unwrap();
        y.axpby_(2.0, &Tensor::ones(&[5], DType::F32, device).unwrap(), 0.0).unwrap();
        assert_eq!(y.to_vec_f32().unwrap(), vec![2.0; 5], "{device}");
    }
    let view = random(&[4, 4], 1).t().unwrap();
    assert!(view.fill_(1.0).is_err(), "in-place ops refuse strided views");
    let whole = random(&[4, 4], 2);
    let head = whole.narrow(0, 0, 2).unwrap();
    assert!(head.scale_(0.0).is_err(), "in-place ops refuse a contiguous view of part of a storage");
    assert!(whole.to_vec_f32().unwrap().iter().all(|v| *v != 0.0), "a refused update leaves the storage alone");
}

#[test]
fn concatenation_along_any_axis() {
    let (a, b, c) = (random(&[2, 3, 4], 30), random(&[2, 5, 4], 31), random(&[2, 1, 4], 32));
    check_op("cat axis 1", |t| Tensor::cat(&[&t[0], &t[1], &t[2]], 1), &[a.clone(), b, c]);
    check_op("cat axis -1 of views", |t| Tensor::cat(&[&t[0].t()?, &t[1]], -1), &[random(&[4, 3], 33), random(&[3, 2], 34)]);
    let joined = Tensor::cat(&[&a, &a], 0).unwrap();
    assert_eq!(joined.shape(), &[4, 3, 4]);
    assert_eq!(joined.narrow(0, 2, 2).unwrap().to_vec_f32().unwrap(), a.to_vec_f32().unwrap());
    let err = Tensor::cat(&[&a, &random(&[2, 3, 5], 35)], 1).unwrap_err().to_string();
    assert!(err.contains("tensor 1 is [2, 3, 5]") && err.contains("except along axis 1"), "{err}");
}

#[test]
fn reductions_of_empty_tensors() {
    // No rows: nothing to reduce, an empty result. An empty axis: the identity (0 for sums, −∞ for
    // max) and index 0 for argmax, as on the CPU.
    let no_rows = Tensor::zeros(&[0, 5], memefuse::DType::F32, memefuse::Device::Cpu).unwrap();
    assert_eq!(no_rows.sum(1, false).unwrap().shape(), &[0]);
    let empty_axis = Tensor::zeros(&[3, 0], memefuse::DType::F32, memefuse::Device::Cpu).unwrap();
    assert_eq!(empty_axis.sum(1, false).unwrap().to_vec_f32().unwrap(), vec![0.0; 3]);
    assert_eq!(empty_axis.max(1, false).unwrap().to_vec_f32().unwrap(), vec![f32::NEG_INFINITY; 3]);
    assert_eq!(empty_axis.argmax(1, false).unwrap().to_vec_i32().unwrap(), vec![0; 3]);

    let Some(device) = gpu("reductions_of_empty_tensors") else { return };
    for x in [&no_rows, &empty_axis] {
        let on_gpu = x.to_device(device).unwrap();
        for axis in [0isize, 1] {
            let what = format!("{:?} along {axis}", x.shape());
            assert_eq!(on_gpu.sum(axis, false).unwrap().to_vec_f32().unwrap(), x.sum(axis, false).unwrap().to_vec_f32().unwrap(), "sum {what}");
            assert_eq!(on_gpu.max(axis, false).unwrap().to_vec_f32().unwrap(), x.max(axis, false).unwrap().to_vec_f32().unwrap(), "max {what}");
            assert_eq!(on_gpu.argmax(axis, false).unwrap().to_vec_i32().unwrap(), x.argmax(axis, false).unwrap().to_vec_i32().unwrap(), "argmax {what}");
        }
    }
}

#[test]
fn contiguous_operands_of_any_rank_run_on_the_gpu() {
    // The kernels read a contiguous operand directly, so a rank above their strided-layout limit
    // of 8 must still work (only strided views of such ranks are refused).
    let shape = [2, 1, 3, 1, 2, 1, 2, 1, 3];
    let all = [memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16];
    check_gpu_parity("rank-9 exp", &|t: &[Tensor]| t[0].exp(), &[random(&shape, 30)], &all);
    check_gpu_parity("rank-9 mul", &|t: &[Tensor]| t[0].mul(&t[1]), &[random(&shape, 31), random(&shape, 32)], &all);
}

#[test]
fn elementwise_over_views_at_any_alignment() {
    // The elementwise kernels move 16-byte packs when every operand is contiguous and 16-byte aligned, element by
    // element otherwise: views starting 1 and 8 elements in take one path or the other, and 1001 − offset
    // elements leave a tail that fills no whole pack.
    let all = [memefuse::DType::F32, memefuse::DType::F16, memefuse::DType::BF16];
    for offset in [1usize, 8] {
        let count = 1001 - offset;
        let inputs = [random(&[1001], 40), random(&[1001], 41)];
        check_gpu_parity(&format!("gelu from {offset}"), &|t: &[Tensor]| t[0].narrow(0, offset, count)?.gelu(), &inputs[..1], &all);
        check_gpu_parity(&format!("sub from {offset} and 0"), &|t: &[Tensor]| t[0].narrow(0, offset, count)?.sub(&t[1].narrow(0, 0, count)?), &inputs, &all);
        // Casts move packs of 8 elements on the same condition.
        let round_trip = |t: &[Tensor]| t[0].narrow(0, offset, count)?.to_dtype(memefuse::DType::BF16)?.to_dtype(memefuse::DType::F32)?.to_dtype(t[0].dtype());
        check_gpu_parity(&format!("casts from {offset}"), &round_trip, &inputs[..1], &all);
    }
}
