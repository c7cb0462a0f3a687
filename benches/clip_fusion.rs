//! One training step of `clip-fusion` built from scratch at CLIP ViT-B/32's sizes (vision: width
//! 768, 12 layers × 12 heads, MLP 3072, 32 px patches of 224 px images; text: width 512, 12 layers
//! × 8 heads, MLP 2048, 77 tokens, 49,408 ids; projection 512; quick_gelu), batch 64, in samples/s:
//! forward, the f32 cross-entropy, backward, AdamW, under mixed precision as the trainer runs it
//! (fp16 compute copies of f32 master weights with the dynamic loss scale; bf16 without one).
//!
//! The sizes come from scripts/gpu/clip_fusion_sizes.json, which
//! scripts/gpu/torch_clip_fusion_reference.py reads too: it times the same model on
//! transformers.CLIPModel, eager and under torch.compile (PyTorch reached 680 and 1,807 samples/s on
//! an H100). Both run in scripts/gpu/run-on-gpu.sh.
//!
//! On CUDA: `vit_b32` in fp16. On the CPU: the `tiny` sizes (width 64, 2 layers, 32 px images,
//! 16 tokens, batch 8) in f32, so that `cargo bench --bench clip_fusion` runs anywhere.
//! Overrides: MEMEFUSE_CLIP_BENCH_SIZE=vit_b32|tiny, MEMEFUSE_CLIP_BENCH_PRECISION=fp32|fp16|bf16,
//! MEMEFUSE_CLIP_BENCH_BATCH=N.
mod common;

use clap::ValueEnum;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use memefuse::models::clip::{ClipConfig, TextPooling};
use memefuse::models::{self, ClipFusionOptions, ModelConfig, ModelInput, TokenIds};
use memefuse::nn::loss::cross_entropy;
use memefuse::optim::{Adam, AdamConfig, LossScaler, Optimizer};
use memefuse::train::config::Precision;
use memefuse::train::optimizer_choice::INITIAL_LOSS_SCALE;
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};

const SIZES: &str = include_str!("../scripts/gpu/clip_fusion_sizes.json");

struct BenchSize {
    name: String,
    batch: usize,
    encoders: ClipConfig,
    hidden: usize,
    dropout: f32,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// One entry of clip_fusion_sizes.json, its encoders read by the HF config.json parser.
fn bench_size(name: &str) -> BenchSize {
    let sizes: serde_json::Value = serde_json::from_str(SIZES).expect("clip_fusion_sizes.json is JSON");
    let entry = sizes.get(name).unwrap_or_else(|| panic!("MEMEFUSE_CLIP_BENCH_SIZE={name}: clip_fusion_sizes.json has vit_b32 and tiny"));
    let encoders = ClipConfig::from_hf_json(&entry.to_string()).expect("the bench's sizes are a valid CLIP config");
    let batch = match env("MEMEFUSE_CLIP_BENCH_BATCH") {
        Some(batch) => batch.parse().expect("MEMEFUSE_CLIP_BENCH_BATCH is a number"),
        None => entry["batch"].as_u64().expect("batch") as usize,
    };
    let hidden = entry["head"]["hidden"].as_u64().expect("head.hidden") as usize;
    let dropout = entry["head"]["dropout"].as_f64().expect("head.dropout") as f32;
    BenchSize { name: name.to_string(), batch, encoders, hidden, dropout }
}

/// `[bos, random ids, eos, 0 …]` per caption, content lengths spread over 1..=context−2.
fn captions(batch: usize, context: usize, bos: i32, eos: i32, rng: &mut Rng) -> Vec<i32> {
    let mut ids = vec![0; batch * context];
    for (row, caption) in ids.chunks_mut(context).enumerate() {
        let length = 1 + (row * 7) % (context - 2);
        caption[0] = bos;
        for id in &mut caption[1..=length] {
            *id = 1 + rng.below(bos as usize - 1) as i32;
        }
        caption[length + 1] = eos;
    }
    ids
}

fn clip_fusion_train_step(c: &mut Criterion) {
    for (label, device) in common::devices() {
        let size = bench_size(&env("MEMEFUSE_CLIP_BENCH_SIZE").unwrap_or_else(|| if device.is_cuda() { "vit_b32" } else { "tiny" }.into()));
        let precision = match env("MEMEFUSE_CLIP_BENCH_PRECISION") {
            Some(name) => Precision::from_str(&name, true).expect("MEMEFUSE_CLIP_BENCH_PRECISION is fp32, fp16 or bf16"),
            None => Precision::default_for(device),
        };
        let dtype = precision.compute_dtype();
        let (text, vision) = (&size.encoders.text, &size.encoders.vision);
        let config = ModelConfig {
            image_size: vision.image_size,
            vocab_size: text.vocab_size,
            hidden: size.hidden,
            dropout: size.dropout,
            clip_fusion: ClipFusionOptions { encoders: Some(size.encoders.clone()), ..ClipFusionOptions::default() },
            ..ModelConfig::default()
        };
        let model = models::build("clip-fusion", &config, &mut Rng::new(1), device).unwrap();
        let parameters = model.parameters();
        // HF's CLIPModel at ViT-B/32 has 151,277,313; the fusion head adds 393,986.
        let count: usize = parameters.iter().map(|(_, p)| p.elem_count()).sum();
        eprintln!("{label} clip-fusion {}: {count} parameters, {precision:?}, batch {}", size.name, size.batch);

        // Inputs stay on the device, as in the PyTorch reference; the trainer's per-batch cast to
        // the compute dtype is part of the step.
        let mut rng = Rng::new(2);
        let side = vision.image_size;
        let images = Tensor::randn(&[size.batch, side, side, 3], 1.0, &mut rng, device).unwrap();
        let bos = text.bos_token_id.expect("bos_token_id") as i32;
        let eos = match text.pooling {
            TextPooling::FirstEos(eos) => eos,
            other => panic!("the bench's captions end in an eos token, not {other:?}"),
        };
        let context = text.max_position_embeddings;
        let ids = captions(size.batch, context, bos, eos, &mut rng);
        let targets: Vec<u32> = (0..size.batch as u32).map(|i| i % 2).collect();

        // The trainer's optimiser for `--optimizer adamw` (PyTorch's AdamW defaults), and its loss scaler.
        let mut optimizer = Adam::new(AdamConfig { weight_decay: 0.01, decoupled_weight_decay: true, ..AdamConfig::default() });
        let mut loss_scaler = precision.uses_loss_scaling().then(|| LossScaler::new(INITIAL_LOSS_SCALE));
        let mut dropout_rng = Rng::new(3);

        let mut group = c.benchmark_group(format!("{label}_clip_fusion_{dtype}"));
        // A ViT-B/32 step takes tens of milliseconds or more: every sample times the same number
        // of steps (one at the least), not criterion's linear ramp of at least 1 + 2 + … + 10.
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(size.batch as u64));
        group.bench_function(format!("train_step_{}_b{}", size.name, size.batch), |b| {
            b.iter(|| {
                let input = ModelInput {
                    batch_size: size.batch,
                    images: Some(images.to_dtype(dtype).unwrap()),
                    tokens: Some(TokenIds { ids: ids.clone(), max_len: context }),
                    dtype,
                    device,
                };
                let logits = model.forward(&input, true, &mut dropout_rng).unwrap().to_dtype(DType::F32).unwrap();
                let loss = cross_entropy(&logits, &targets).unwrap();
                train_step_update(&parameters, &loss, &mut optimizer, loss_scaler.as_mut(), device);
            })
        });
        group.finish();
    }
}

/// Backward and the optimiser step exactly as the trainer's `apply_gradients` (no clipping).
fn train_step_update(parameters: &[(String, Tensor)], loss: &Tensor, optimizer: &mut Adam, loss_scaler: Option<&mut LossScaler>, device: Device) {
    let scaled = match &loss_scaler {
        Some(scaler) => loss.scale(scaler.scale()).unwrap(),
        None => loss.clone(),
    };
    let mut gradients = scaled.backward().unwrap();
    let finite = match &loss_scaler {
        Some(scaler) => scaler.unscale_and_check(parameters, &mut gradients).unwrap(),
        None => true,
    };
    if finite {
        optimizer.step(parameters, &gradients).unwrap();
    }
    if let Some(scaler) = loss_scaler {
        scaler.update(finite);
    }
    common::synchronize(device);
}

criterion_group!(benches, clip_fusion_train_step);
criterion_main!(benches);
