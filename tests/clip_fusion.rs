//! `clip-fusion` end to end on synthetic memes: from scratch it learns (validation and test AUROC
//! well above 0.5); from a HuggingFace folder (`--init`, the tiny fixture) the encoders are
//! imported, stay fixed under --freeze-encoders, and train slower under --encoder-lr-scale; on the
//! CUDA path (layer norm, attention, conv, GEMM kernels together), from scratch and from the
//! folder, it follows the CPU run.
mod common;
mod trainer_common;

use std::path::Path;

use memefuse::io::clip_weights::load_clip_folder;
use memefuse::train::checkpoint::load_checkpoint;
use memefuse::train::commands::{run_eval, run_train, EvalArgs};
use memefuse::train::history::History;
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::Device;
use trainer_common::{tiny_dataset, train_args};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn from_scratch_clip_fusion_learns_the_synthetic_memes() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let out = dir.path().join("run");
    let mut args = train_args("clip-fusion", &data, &out, 6);
    args.learning_rate = Some(1e-3);
    run_train(args).unwrap();
    let history = History::load(&out).unwrap();
    for r in &history.records {
        eprintln!("clip-fusion epoch {}: train loss {:.4}, val loss {:.4}, val acc {:.3}, val AUROC {:.3}, {:.0} samples/s", r.epoch, r.train_loss, r.val_loss, r.val_accuracy, r.val_auroc, r.samples_per_second);
    }
    let best = history.records.iter().map(|r| r.val_auroc).fold(0.0, f64::max);
    assert!(best > 0.75, "best validation AUROC {best}");
    assert!(history.last().unwrap().train_loss < history.records[0].train_loss * 0.8);
    // The test split, from the best checkpoint, as `memefuse eval` reports it.
    run_eval(EvalArgs { run: out.clone(), split: "test".into(), checkpoint: CheckpointKind::Best, json: true, data: None, device: "cpu".into() }).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(RunDir::new(&out).eval_path("test")).unwrap()).unwrap();
    let test_auroc = report["auroc"].as_f64().unwrap_or_else(|| panic!("no auroc in {report}"));
    eprintln!("clip-fusion from scratch: test AUROC {test_auroc:.3}");
    assert!(test_auroc > 0.75, "test AUROC {test_auroc}");
}

/// The encoder tensors of a run's last checkpoint, by name.
fn checkpoint_tensor(run: &Path, name: &str) -> Vec<f32> {
    let checkpoint = load_checkpoint(&RunDir::new(run).checkpoint_path(CheckpointKind::Last)).unwrap();
    checkpoint.model.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not in the checkpoint")).1.values.clone()
}

#[test]
fn init_from_a_huggingface_folder_frozen_or_fine_tuned_slower() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let pretrained = load_clip_folder(fixture("clip_tiny"), Device::Cpu).unwrap();
    let original: std::collections::HashMap<String, Vec<f32>> = pretrained.parameters().into_iter().map(|(n, t)| (n, t.to_vec_f32().unwrap())).collect();
    let probe = "vision_model.encoder.layers.1.mlp.fc1.weight";
    let change = |run: &Path| {
        let now = checkpoint_tensor(run, probe);
        now.iter().zip(&original[probe]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max)
    };

    let frozen = dir.path().join("frozen");
    let mut args = train_args("clip-fusion", &data, &frozen, 2);
    args.init = Some(fixture("clip_tiny"));
    args.freeze_encoders = true;
    run_train(args).unwrap();
    let config = RunDir::new(&frozen).read_config().unwrap();
    assert_eq!(config.model_config.image_size, 64, "the image size comes from the HF config");
    assert_eq!(config.model_config.clip_fusion.encoders.as_ref(), Some(pretrained.config()));
    for (name, values) in &original {
        assert_eq!(&checkpoint_tensor(&frozen, name), values, "{name} is frozen: it must keep the imported values");
    }

    // Fine-tuned: the encoders move, ten times slower than at the full rate (Adam's first steps
    // move each weight by about the learning rate).
    let full = dir.path().join("full");
    let slow = dir.path().join("slow");
    for (run, scale) in [(&full, None), (&slow, Some(0.1))] {
        let mut args = train_args("clip-fusion", &data, run, 1);
        args.init = Some(fixture("clip_tiny"));
        args.encoder_lr_scale = scale;
        run_train(args).unwrap();
    }
    let (full_change, slow_change) = (change(&full), change(&slow));
    eprintln!("largest change of {probe} after one epoch: lr scale 1 → {full_change:.2e}, lr scale 0.1 → {slow_change:.2e}");
    assert!(slow_change > 0.0 && slow_change < 0.3 * full_change, "{slow_change} vs {full_change}");
}

/// Trains clip-fusion on the CPU and on CUDA from the same seed (`configure` sets the rest) and
/// requires the per-epoch losses to agree. Same seed, data order and dropout masks (drawn on the
/// host): only the order of float additions differs, so the losses agree to 1 % where a wrong
/// kernel moves them far more.
fn clip_fusion_on_cuda_follows_the_cpu(what: &str, configure: impl Fn(&mut memefuse::train::commands::TrainArgs)) {
    let dir = tempfile::tempdir().unwrap();
    // Tiny on the CPU driver (it interprets every kernel): 48 training memes, 12-token captions.
    let data = dir.path().join("data");
    let mut options = memefuse::data::synth::SynthOptions::new(&data);
    (options.train, options.dev, options.test, options.seed) = common::gpu_size((240, 80, 60, 11), (48, 16, 8, 11));
    memefuse::data::synth::generate(&options).unwrap();
    let epochs = common::gpu_size(3, 1);
    let mut histories = Vec::new();
    for device in ["cpu", "cuda"] {
        let out = dir.path().join(device);
        let mut args = train_args("clip-fusion", &data, &out, epochs);
        args.learning_rate = Some(1e-3);
        args.device = device.to_string();
        args.max_len = Some(12);
        configure(&mut args);
        run_train(args).unwrap_or_else(|e| panic!("clip-fusion {what} on {device}: {e:#}"));
        histories.push(History::load(&out).unwrap());
    }
    for (cpu, gpu) in histories[0].records.iter().zip(&histories[1].records) {
        for (loss, c, g) in [("train loss", cpu.train_loss, gpu.train_loss), ("validation loss", cpu.val_loss, gpu.val_loss)] {
            eprintln!("clip-fusion {what} epoch {}: {loss} {c:.5} on the CPU, {g:.5} on the GPU", cpu.epoch);
            assert!((c - g).abs() <= 1e-2 * c.abs().max(1e-3), "clip-fusion {what} epoch {}: {loss} {g} on the GPU, {c} on the CPU", cpu.epoch);
        }
    }
    assert_eq!(histories[1].records.len(), epochs);
}

#[test]
fn clip_fusion_on_the_gpu_follows_the_cpu() {
    if common::gpu("clip-fusion on the GPU").is_none() {
        return;
    }
    // From scratch at 32 px: the 8×8 grid of 4 px patches, 65 image tokens.
    clip_fusion_on_cuda_follows_the_cpu("from scratch", |args| args.image_size = Some(32));
}

#[test]
fn clip_fusion_from_a_huggingface_folder_on_the_gpu_follows_the_cpu() {
    if common::gpu("clip-fusion --init on the GPU").is_none() {
        return;
    }
    // The tiny HF fixture (64 px, its own sizes), fine-tuned whole: the imported encoders'
    // gradients go through every CUDA kernel too.
    clip_fusion_on_cuda_follows_the_cpu("--init clip_tiny", |args| args.init = Some(fixture("clip_tiny")));
}

/// CLIP's InfoNCE in f64, written out: mean of the row-wise and column-wise cross-entropies of
/// exp(s) · normalised image · normalised textᵀ, the diagonal being the targets.
fn reference_info_nce(image: &[f32], text: &[f32], batch: usize, dim: usize, logit_scale: f32) -> f64 {
    let normalise = |x: &[f32]| -> Vec<f64> {
        x.chunks(dim).flat_map(|row| {
            let norm = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            row.iter().map(move |&v| v as f64 / norm)
        }).collect()
    };
    let (image, text) = (normalise(image), normalise(text));
    let logit = |i: usize, j: usize| (logit_scale as f64).exp() * (0..dim).map(|k| image[i * dim + k] * text[j * dim + k]).sum::<f64>();
    let cross_entropy = |row: &dyn Fn(usize) -> f64, target: usize| {
        let max = (0..batch).map(row).fold(f64::NEG_INFINITY, f64::max);
        max + (0..batch).map(|j| (row(j) - max).exp()).sum::<f64>().ln() - row(target)
    };
    let image_to_text: f64 = (0..batch).map(|i| cross_entropy(&|j| logit(i, j), i)).sum::<f64>() / batch as f64;
    let text_to_image: f64 = (0..batch).map(|j| cross_entropy(&|i| logit(i, j), j)).sum::<f64>() / batch as f64;
    (image_to_text + text_to_image) / 2.0
}

#[test]
fn info_nce_matches_its_definition_and_its_gradients_pass_finite_differences() {
    use memefuse::autograd::{check_gradients, GradCheck};
    use memefuse::models::clip::l2_normalize;
    use memefuse::nn::loss::info_nce;
    use memefuse::Tensor;
    let mut rng = memefuse::util::Rng::new(5);
    // Odd sizes: 7 pairs of 5-wide embeddings, and a temperature away from CLIP's initial one.
    let (batch, dim) = (7, 5);
    let mut draw = |n: usize| (0..n).map(|_| rng.uniform_in(-1.0, 1.0)).collect::<Vec<f32>>();
    let (image, text) = (draw(batch * dim), draw(batch * dim));
    let logit_scale = 1.3f32;
    let tensors = [
        Tensor::from_vec(image.clone(), &[batch, dim], Device::Cpu).unwrap(),
        Tensor::from_vec(text.clone(), &[batch, dim], Device::Cpu).unwrap(),
        Tensor::from_vec(vec![logit_scale], &[1], Device::Cpu).unwrap(),
    ];
    let loss = |t: &[Tensor]| info_nce(&l2_normalize(&t[0])?, &l2_normalize(&t[1])?, &t[2]);
    let value = loss(&tensors).unwrap().to_scalar().unwrap() as f64;
    let expected = reference_info_nce(&image, &text, batch, dim, logit_scale);
    assert!((value - expected).abs() < 1e-5, "InfoNCE {value} against {expected}");
    // Through the normalisation and the temperature, as the pre-training phase uses it.
    check_gradients(loss, &tensors, &GradCheck::default()).unwrap();
    // Matching pairs that are identical and far apart from the others give a loss near 0.
    let identity: Vec<f32> = (0..batch * batch).map(|i| if i % (batch + 1) == 0 { 1.0 } else { 0.0 }).collect();
    let eye = Tensor::from_vec(identity, &[batch, batch], Device::Cpu).unwrap();
    let low = info_nce(&eye, &eye, &Tensor::from_vec(vec![4.6], &[1], Device::Cpu).unwrap()).unwrap().to_scalar().unwrap();
    assert!(low < 1e-3, "aligned pairs: {low}");
}

/// A Hateful Memes folder whose pairs are aligned: each image is a plain square of one of eight
/// colours and its caption names that colour. (On `memefuse synth` data the image and text cues
/// are nearly independent, so InfoNCE has almost nothing to align there: docs/clip.md.)
fn colour_pairs_dataset(dir: &Path) -> std::path::PathBuf {
    const COLOURS: [(&str, [u8; 3]); 8] = [
        ("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 220]), ("yellow", [230, 220, 30]),
        ("black", [10, 10, 10]), ("white", [245, 245, 245]), ("purple", [150, 40, 190]), ("orange", [240, 140, 20]),
    ];
    let data = dir.join("colours");
    std::fs::create_dir_all(data.join("img")).unwrap();
    let mut lines = String::new();
    for id in 1..=96usize {
        let (name, rgb) = COLOURS[id % COLOURS.len()];
        image::RgbImage::from_pixel(64, 64, image::Rgb(rgb)).save(data.join(format!("img/{id:05}.png"))).unwrap();
        lines += &format!("{{\"id\":{id},\"img\":\"img/{id:05}.png\",\"label\":{},\"text\":\"a {name} square\"}}\n", id % 2);
    }
    std::fs::write(data.join("train.jsonl"), lines).unwrap();
    data
}

#[test]
fn contrastive_pre_training_aligns_the_training_pairs() {
    use memefuse::data::{prepare_split, BatchLoader, Expect, LoaderOptions, PrepareOptions, PreparedSplit};
    use memefuse::train::contrastive::pretrain;
    let dir = tempfile::tempdir().unwrap();
    let data = colour_pairs_dataset(dir.path());
    let prepared = dir.path().join("train.safetensors");
    prepare_split(&data, "train", &PrepareOptions::new(&prepared)).unwrap();
    let split = std::sync::Arc::new(PreparedSplit::open(&prepared, Expect::default()).unwrap());
    let mut args = train_args("clip-fusion", &data, &dir.path().join("run"), 1);
    args.contrastive_epochs = Some(8);
    args.learning_rate = Some(1e-3);
    let mut config = args.to_config(Device::Cpu).unwrap();
    config.model_config.vocab_size = split.vocab_size();
    let model = memefuse::train::trainer::build_model(&config, Device::Cpu).unwrap();
    let loader = BatchLoader::new(split, LoaderOptions { batch_size: 16, shuffle: true, seed: 0, ..LoaderOptions::default() }).unwrap();
    let epochs = pretrain(model.as_ref(), &loader, &config, memefuse::DType::F32, Device::Cpu).unwrap();
    let losses: Vec<f64> = epochs.iter().map(|e| e.loss).collect();
    let chance = 16f64.ln();
    eprintln!("InfoNCE per contrastive epoch: {losses:?} (chance ln 16 = {chance:.3}); logit scale {:.2}", epochs.last().unwrap().logit_scale);
    assert_eq!(epochs.len(), 8);
    // Two of a batch's 16 pairs share a colour on average, so the floor is about ln 2; random
    // encoders sit at ln 16. Pre-training must get well below chance.
    assert!(losses[7] < 0.6 * chance && losses[7] < losses[0], "{losses:?}");
    assert!((epochs[7].logit_scale - memefuse::models::clip::model::LOGIT_SCALE_INIT.exp() as f64).abs() > 1e-3, "the temperature is learned");

    // Only with clip-fusion, and not with frozen encoders.
    let synth = tiny_dataset(dir.path());
    let mut other = train_args("cnn-lstm", &synth, &dir.path().join("x"), 1);
    other.contrastive_epochs = Some(1);
    assert!(other.to_config(Device::Cpu).unwrap().validate().unwrap_err().to_string().contains("option of --model clip-fusion"));
    let mut frozen = train_args("clip-fusion", &synth, &dir.path().join("y"), 1);
    frozen.contrastive_epochs = Some(1);
    frozen.freeze_encoders = true;
    assert!(frozen.to_config(Device::Cpu).unwrap().validate().unwrap_err().to_string().contains("--freeze-encoders"));
}

#[test]
fn init_from_a_folder_with_a_clip_tokenizer_prepares_the_data_as_clip_was_trained() {
    use memefuse::data::transforms::Normalization;
    use memefuse::data::{Expect, PreparedSplit};
    use memefuse::models::clip::{ClipModel, TextPooling};
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    // A tiny CLIP with OpenAI's vocabulary (49,408 ids, end token 49407) and its BPE file beside
    // the weights, as a HuggingFace folder with open_clip's tokenizer would hold them.
    let mut config = load_clip_folder(fixture("clip_tiny"), Device::Cpu).unwrap().config().clone();
    config.text.vocab_size = 49408;
    config.text.max_position_embeddings = 24;
    config.text.pooling = TextPooling::FirstEos(49407);
    let hf = dir.path().join("hf");
    std::fs::create_dir_all(&hf).unwrap();
    let model = ClipModel::new(&config, &mut memefuse::util::Rng::new(3), Device::Cpu).unwrap();
    memefuse::io::clip_weights::save_clip_folder(&model, &hf).unwrap();
    std::fs::copy(fixture("clip_tokenizer/bpe_simple_vocab_16e6.txt.gz"), hf.join("bpe_simple_vocab_16e6.txt.gz")).unwrap();

    let out = dir.path().join("run");
    let mut args = train_args("clip-fusion", &data, &out, 1);
    args.init = Some(hf.clone());
    args.freeze_encoders = true;
    run_train(args).unwrap();
    let run = RunDir::new(&out);
    let saved = run.read_config().unwrap();
    assert_eq!(saved.clip_vocab.as_deref(), Some(hf.join("bpe_simple_vocab_16e6.txt.gz").as_path()));
    assert_eq!(saved.max_len, Some(24), "CLIP's 77 tokens, cut to the encoder's 24 positions");
    let train = PreparedSplit::open(run.prepared_split_path("train"), Expect::default()).unwrap();
    assert_eq!(train.metadata()["preprocess"], "clip");
    assert_eq!(train.normalization(), Normalization::Clip);
    assert_eq!(train.vocab_size(), 49408);
    let tokenizer = memefuse::data::clip_tokenizer::ClipTokenizer::from_path(fixture("clip_tokenizer/bpe_simple_vocab_16e6.txt.gz")).unwrap();
    for index in [0, 17, 101] {
        let tokens = train.tokens(index);
        assert_eq!(tokens[0], 49406, "record {index} starts with <start_of_text>: {tokens:?}");
        assert!(tokens.contains(&49407), "record {index} holds <end_of_text>: {tokens:?}");
        let expected: Vec<i32> = tokenizer.tokenize(&train_caption(&data, train.id(index)), 24).unwrap().into_iter().map(|id| id as i32).collect();
        assert_eq!(tokens, &expected[..], "record {index}: the ids are CLIP BPE's");
    }
    // The dev split for validation and the test split for eval are prepared the same way.
    run_eval(EvalArgs { run: out.clone(), split: "test".into(), checkpoint: CheckpointKind::Best, json: true, data: None, device: "cpu".into() }).unwrap();
    let test = PreparedSplit::open(run.prepared_split_path("test"), Expect::default()).unwrap();
    assert_eq!((test.metadata()["preprocess"].as_str(), test.normalization()), ("clip", Normalization::Clip));
}

/// The caption of record `id` in the synthetic train split, as written in train.jsonl.
fn train_caption(data: &Path, id: &str) -> String {
    let lines = std::fs::read_to_string(data.join("train.jsonl")).unwrap();
    lines
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|record| record["id"].to_string().trim_matches('"') == id)
        .unwrap_or_else(|| panic!("no record {id}"))["text"]
        .as_str()
        .unwrap()
        .to_string()
}
