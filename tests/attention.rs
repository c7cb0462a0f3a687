//! Attention (`ops::attention`): gradient checks with and without the causal mask and with a
//! key-padding mask, at lengths that are no multiple of any tile and head dims 32, 64 and 80; the
//! fused op against attention composed of matmul and softmax; f16/bf16 storage with f32
//! accumulation; GPU parity of the flash kernels in f32, f16 and bf16 at CLIP's lengths and odd
//! ones (tails in both tiles), head dims 32, 64 and 80, causal and padded: f16 and bf16 at these
//! head dims run the tensor-core kernels (kernels/attention_mma.cu), f32 and head dims that are no
//! multiple of 16 the SIMT ones (kernels/attention.cu).
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use memefuse::autograd::{check_gradients, GradCheck};
use memefuse::ops::attention;
use memefuse::{DType, Device, Tensor};

/// 1 for real keys, 0 for the padded tail: batch element b keeps `lengths[b]` keys.
fn padding_mask(lengths: &[usize], key_len: usize) -> Tensor {
    let values = lengths.iter().flat_map(|&n| (0..key_len).map(move |j| i32::from(j < n))).collect();
    Tensor::from_i32(values, &[lengths.len(), key_len], Device::Cpu).unwrap()
}

/// softmax(q·kᵀ/√d + mask) · v from the basic ops: the independent oracle for the fused op.
fn composed_attention(q: &Tensor, k: &Tensor, v: &Tensor, causal: bool, mask: Option<&Tensor>) -> memefuse::Result<Tensor> {
    let (batch, query_len, key_len, head_dim) = (q.shape()[0], q.shape()[2], k.shape()[2], q.shape()[3]);
    let scores = q.matmul(&k.t()?)?.scale(1.0 / (head_dim as f32).sqrt())?;
    let mut bias = vec![0.0f32; batch * query_len * key_len];
    let mask_values = mask.map(|m| m.to_vec_i32().unwrap());
    for b in 0..batch {
        for i in 0..query_len {
            for j in 0..key_len {
                let hidden = (causal && j > i) || mask_values.as_ref().is_some_and(|m| m[b * key_len + j] == 0);
                if hidden {
                    bias[(b * query_len + i) * key_len + j] = -1e9;
                }
            }
        }
    }
    let bias = Tensor::from_vec(bias, &[batch, 1, query_len, key_len], Device::Cpu)?;
    scores.add(&bias)?.softmax_last()?.matmul(v)
}

fn qkv(batch: usize, heads: usize, query_len: usize, key_len: usize, head_dim: usize, seed: u64) -> [Tensor; 3] {
    [random(&[batch, heads, query_len, head_dim], seed), random(&[batch, heads, key_len, head_dim], seed + 1), random(&[batch, heads, key_len, head_dim], seed + 2)]
}

#[test]
fn gradients_with_and_without_masks_at_head_dims_32_64_80() {
    // (batch, heads, seq, head_dim): lengths 5, 7 and 9 fit no tile.
    for (case, &(batch, heads, seq, head_dim)) in [(2, 2, 7, 32), (1, 2, 5, 64), (2, 1, 9, 80)].iter().enumerate() {
        let inputs = qkv(batch, heads, seq, seq, head_dim, 10 * case as u64);
        let mask = padding_mask(&[seq, seq - 2][..batch], seq);
        for causal in [false, true] {
            for masked in [false, true] {
                let name = format!("attention b{batch} h{heads} s{seq} d{head_dim} causal {causal} padding {masked}");
                let mask = masked.then_some(&mask);
                check_gradients(|t| attention(&t[0], &t[1], &t[2], causal, mask), &inputs, &GradCheck::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

#[test]
fn cross_attention_lengths_differ() {
    let inputs = qkv(2, 3, 6, 11, 32, 40);
    let mask = padding_mask(&[11, 4], 11);
    check_gradients(|t| attention(&t[0], &t[1], &t[2], false, Some(&mask)), &inputs, &GradCheck::default()).unwrap();
}

#[test]
fn fused_attention_matches_the_composed_ops() {
    for &(causal, masked) in &[(false, false), (true, false), (false, true), (true, true)] {
        let [q, k, v] = qkv(3, 4, 13, 13, 64, 50);
        let mask = padding_mask(&[13, 9, 1], 13);
        let mask = masked.then_some(&mask);
        let leaves: Vec<Tensor> = [&q, &k, &v].iter().map(|t| t.with_grad()).collect();
        let fused = attention(&leaves[0], &leaves[1], &leaves[2], causal, mask).unwrap();
        let weights = random(fused.shape(), 7);
        let fused_grads = fused.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
        let leaves2: Vec<Tensor> = [&q, &k, &v].iter().map(|t| t.with_grad()).collect();
        let composed = composed_attention(&leaves2[0], &leaves2[1], &leaves2[2], causal, mask).unwrap();
        let composed_grads = composed.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
        let what = format!("causal {causal} padding {masked}");
        assert_close(&fused, &composed, 1e-5, &format!("forward, {what}"));
        for (i, (a, b)) in leaves.iter().zip(&leaves2).enumerate() {
            assert_close(fused_grads.get(a).unwrap(), composed_grads.get(b).unwrap(), 1e-5, &format!("gradient of input {i}, {what}"));
        }
    }
}

#[test]
fn a_query_that_sees_no_key_outputs_zero_and_gets_no_gradient() {
    let [q, k, v] = qkv(2, 2, 4, 4, 32, 60);
    let mask = padding_mask(&[4, 0], 4);
    let q = q.with_grad();
    let out = attention(&q, &k, &v, false, Some(&mask)).unwrap();
    let values = out.to_vec_f32().unwrap();
    let per_batch = values.len() / 2;
    assert!(values[per_batch..].iter().all(|&x| x == 0.0), "fully masked batch element must output zeros");
    let grads = out.sum_all().unwrap().backward().unwrap();
    let dq = grads.get(&q).unwrap().to_vec_f32().unwrap();
    assert!(dq.iter().all(|x| x.is_finite()) && dq[per_batch..].iter().all(|&x| x == 0.0));
}

#[test]
fn half_precision_storage_accumulates_in_f32() {
    let [q, k, v] = qkv(2, 3, 50, 50, 64, 70);
    for dtype in [DType::F16, DType::BF16] {
        let rounded: Vec<Tensor> = [&q, &k, &v].iter().map(|t| t.to_dtype(dtype).unwrap()).collect();
        let widened: Vec<Tensor> = rounded.iter().map(|t| t.to_dtype(DType::F32).unwrap()).collect();
        let reference = attention(&widened[0], &widened[1], &widened[2], true, None).unwrap();
        let out = attention(&rounded[0], &rounded[1], &rounded[2], true, None).unwrap();
        assert_eq!(out.dtype(), dtype);
        assert_close(&out, &reference, tolerance(dtype), &format!("attention in {dtype}"));
    }
}

#[test]
fn bad_shapes_and_masks_are_refused() {
    let [q, k, v] = qkv(2, 2, 5, 6, 32, 80);
    let error = attention(&q, &k, &v.narrow(2, 0, 5).unwrap(), false, None).unwrap_err().to_string();
    assert!(error.contains("attention"), "{error}");
    let bad_mask = padding_mask(&[5, 5], 5);
    let error = attention(&q, &k, &v, false, Some(&bad_mask)).unwrap_err().to_string();
    assert!(error.contains("key_padding_mask") && error.contains("[2, 6]"), "{error}");
}

#[test]
fn multi_head_attention_layer_gradients() {
    use memefuse::nn::MultiHeadAttention;
    let layer = MultiHeadAttention::new("self_attn", 12, 3, &mut memefuse::util::Rng::new(5), Device::Cpu).unwrap();
    let names: Vec<String> = layer.parameters().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"self_attn.q_proj.weight".to_string()) && names.contains(&"self_attn.out_proj.bias".to_string()), "{names:?}");
    let x = random(&[2, 5, 12], 90);
    let mask = padding_mask(&[5, 3], 5);
    check_gradients(|t| layer.forward(&t[0], true, Some(&mask)), &[x], &GradCheck::default()).unwrap();
}

const ALL_DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

#[test]
fn gpu_parity_at_odd_lengths_and_head_dims() {
    // (batch, heads, seq, head_dim): 50 and 77 are CLIP's image and text lengths, 13 fits in one
    // key tile with a tail, 77 spans three; at 33 the last query block ends on a tile's first key
    // (the causal loop bound's edge).
    let cases = gpu_size(vec![(2, 3, 50, 64), (2, 2, 77, 64), (3, 2, 13, 80), (2, 2, 77, 32), (1, 1, 33, 32)], vec![(1, 2, 50, 64), (2, 1, 77, 32), (3, 1, 13, 80), (1, 1, 33, 32)]);
    for (case, &(batch, heads, seq, head_dim)) in cases.iter().enumerate() {
        let inputs = qkv(batch, heads, seq, seq, head_dim, 100 + 10 * case as u64);
        let lengths = [seq, seq / 2 + 1, 0];
        let mask = padding_mask(&lengths[..batch], seq);
        for (causal, masked) in [(false, false), (true, false), (false, true), (true, true)] {
            let name = format!("attention b{batch} h{heads} s{seq} d{head_dim} causal {causal} padding {masked}");
            let mask = masked.then_some(&mask);
            check_gpu_parity(&name, &|t: &[Tensor]| attention(&t[0], &t[1], &t[2], causal, mask), &inputs, &ALL_DTYPES);
        }
    }
}

#[test]
fn gpu_parity_of_cross_attention_and_a_fully_masked_element() {
    // 11 queries over 40 keys (two key tiles, the second a tail); batch element 1 sees no key.
    let inputs = qkv(2, 2, 11, 40, 32, 200);
    let mask = padding_mask(&[33, 0], 40);
    for causal in [false, true] {
        check_gpu_parity(&format!("cross attention 11x40 causal {causal}"), &|t: &[Tensor]| attention(&t[0], &t[1], &t[2], causal, Some(&mask)), &inputs, &ALL_DTYPES);
    }
    // More queries than keys under the causal mask: queries past the last key still see them all.
    let inputs = qkv(1, 2, 41, 9, 64, 210);
    check_gpu_parity("cross attention 41x9 causal", &|t: &[Tensor]| attention(&t[0], &t[1], &t[2], true, None), &inputs, &ALL_DTYPES);
}

#[test]
fn gpu_parity_of_cross_attention_over_several_tiles_both_ways() {
    // 70 queries over 130 keys: the query-major kernels stream three key tiles (the last holding
    // 2 keys), the key-major one two query tiles (the second holding 6 queries); head dim 80 is
    // five 16-deep steps. Padding leaves batch element 1 with 67 keys (a tile edge plus 3).
    let inputs = qkv(2, 1, 70, 130, 80, 220);
    let mask = padding_mask(&[130, 67], 130);
    for causal in [false, true] {
        check_gpu_parity(&format!("cross attention 70x130 d80 causal {causal}"), &|t: &[Tensor]| attention(&t[0], &t[1], &t[2], causal, Some(&mask)), &inputs, &ALL_DTYPES);
    }
}

#[test]
fn gpu_half_types_at_head_dims_no_multiple_of_16_use_the_simt_kernels() {
    use memefuse::backend::cuda::attention::{kernels_for, AttentionKernels};
    // Multiples of 8 but not of 16: refused by the tensor-core kernels, served by the SIMT ones.
    for head_dim in [40, 72] {
        assert_eq!(kernels_for(DType::F16, head_dim), AttentionKernels::Simt);
        let inputs = qkv(2, 1, 21, 21, head_dim, 230 + head_dim as u64);
        let mask = padding_mask(&[21, 12], 21);
        for causal in [false, true] {
            let name = format!("attention d{head_dim} causal {causal}");
            check_gpu_parity(&name, &|t: &[Tensor]| attention(&t[0], &t[1], &t[2], causal, Some(&mask)), &inputs, &[DType::F16, DType::BF16]);
        }
    }
    assert_eq!(kernels_for(DType::F16, 64), AttentionKernels::TensorCores);
}

#[test]
fn gpu_operands_off_a_16_byte_boundary_use_the_simt_kernels() {
    // q starts one element into its buffer: contiguous, but the tensor-core kernels' 16-byte
    // loads cannot read it, so the call takes the SIMT kernels and still agrees with the CPU.
    let Some(device) = gpu("gpu_operands_off_a_16_byte_boundary_use_the_simt_kernels") else { return };
    let [q, k, v] = qkv(1, 2, 19, 19, 32, 240);
    let shifted = |t: &Tensor| {
        let flat = Tensor::cat(&[&Tensor::zeros(&[1], DType::F32, Device::Cpu).unwrap(), &t.reshape(&[t.elem_count()]).unwrap()], 0).unwrap();
        flat.to_dtype(DType::F16).unwrap().to_device(device).unwrap().narrow(0, 1, t.elem_count()).unwrap().reshape(t.shape()).unwrap()
    };
    let gpu_q = shifted(&q);
    assert!(gpu_q.layout().offset() == 1 && gpu_q.is_contiguous());
    let to_gpu = |t: &Tensor| t.to_dtype(DType::F16).unwrap().to_device(device).unwrap();
    let out = attention(&gpu_q, &to_gpu(&k), &to_gpu(&v), true, None).unwrap();
    let round = |t: &Tensor| t.to_dtype(DType::F16).unwrap().to_dtype(DType::F32).unwrap();
    let reference = attention(&round(&q), &round(&k), &round(&v), true, None).unwrap();
    assert_close(&out, &reference, tolerance(DType::F16), "attention with q off a 16-byte boundary");
}

#[test]
fn gpu_gradients_are_deterministic() {
    // No atomics: every gradient element is summed by one warp in a fixed order, so two runs agree
    // bit for bit (tensor-core kernels in f16, SIMT in f32).
    let Some(device) = gpu("gpu_gradients_are_deterministic") else { return };
    let inputs = qkv(1, 2, 77, 77, 64, 250);
    let mask = padding_mask(&[60], 77);
    for dtype in [DType::F16, DType::F32] {
        let run = || {
            let leaves: Vec<Tensor> = inputs.iter().map(|t| t.to_dtype(dtype).unwrap().to_device(device).unwrap().with_grad()).collect();
            let out = attention(&leaves[0], &leaves[1], &leaves[2], true, Some(&mask)).unwrap();
            let weights = random(out.shape(), 9).to_dtype(dtype).unwrap().to_device(device).unwrap();
            let grads = out.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
            leaves.iter().map(|l| grads.get(l).unwrap().to_vec_f32().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<u32>>()).collect::<Vec<_>>()
        };
        assert!(run() == run(), "{dtype} attention gradients differ between two runs");
    }
}

#[test]
fn gpu_head_dim_limit_is_an_error() {
    let Some(device) = gpu("gpu_head_dim_limit_is_an_error") else { return };
    let [q, k, v] = qkv(1, 1, 3, 3, 136, 300).map(|t| t.to_device(device).unwrap());
    let error = attention(&q, &k, &v, false, None).unwrap_err().to_string();
    assert!(error.contains("head_dim 136") && error.contains("128"), "{error}");
}
