//! `clip-fusion` end to end on synthetic memes: from scratch it learns (validation and test AUROC
//! well above 0.5); from a HuggingFace folder (`--init`, the tiny fixture) the encoders are
//! imported, stay fixed under --freeze-encoders, and train slower under --encoder-lr-scale; on the
//! CUDA path (layer norm, attention, conv, GEMM kernels together) it follows the CPU run.
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

#[test]
fn clip_fusion_on_the_gpu_follows_the_cpu() {
    if common::gpu("clip-fusion on the GPU").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Tiny on the CPU driver (it interprets every kernel): 32 px images (the 8×8 grid of 4 px
    // patches: 65 image tokens), 12-token captions, 48 training memes.
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
        args.image_size = Some(32);
        args.max_len = Some(12);
        run_train(args).unwrap_or_else(|e| panic!("clip-fusion on {device}: {e:#}"));
        histories.push(History::load(&out).unwrap());
    }
    // Same seed, data order and dropout masks (drawn on the host): only the order of float
    // additions differs, so the losses agree to 1 % where a wrong kernel moves them far more.
    for (cpu, gpu) in histories[0].records.iter().zip(&histories[1].records) {
        for (what, c, g) in [("train loss", cpu.train_loss, gpu.train_loss), ("validation loss", cpu.val_loss, gpu.val_loss)] {
            eprintln!("clip-fusion epoch {}: {what} {c:.5} on the CPU, {g:.5} on the GPU", cpu.epoch);
            assert!((c - g).abs() <= 1e-2 * c.abs().max(1e-3), "clip-fusion epoch {}: {what} {g} on the GPU, {c} on the CPU", cpu.epoch);
        }
    }
    assert_eq!(histories[1].records.len(), epochs);
}
