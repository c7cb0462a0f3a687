//! `clip-fusion` end to end on synthetic memes: from scratch it learns (validation and test AUROC
//! well above 0.5); from a HuggingFace folder (`--init`, the tiny fixture) the encoders are
//! imported, stay fixed under --freeze-encoders, and train slower under --encoder-lr-scale.
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
