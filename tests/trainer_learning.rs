//! End to end on tiny synthetic data: every model learns, and a run folder holds what docs/trainer.md says.
mod trainer_common;

use memefuse::train::checkpoint::load_checkpoint;
use memefuse::train::commands::run_train;
use memefuse::train::history::History;
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use trainer_common::{read_json_lines, tiny_dataset, train_args};

/// Share of the majority class in the dev split: what a constant guess scores.
fn majority_rate(data: &std::path::Path) -> f64 {
    let labels: Vec<i64> = read_json_lines(&data.join("dev_seen.jsonl")).iter().map(|r| r["label"].as_i64().unwrap()).collect();
    let positives = labels.iter().filter(|&&l| l == 1).count() as f64;
    (positives.max(labels.len() as f64 - positives)) / labels.len() as f64
}

#[test]
fn fusion_model_learns_and_the_run_folder_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let out = dir.path().join("run");
    run_train(train_args("fusion-mlp", &data, &out, 6)).unwrap();

    let history = History::load(&out).unwrap();
    assert_eq!(history.len(), 6);
    let (first, last) = (&history.records[0], history.last().unwrap());
    assert!(last.train_loss < first.train_loss * 0.9, "training loss did not fall: {} → {}", first.train_loss, last.train_loss);
    let chance = majority_rate(&data);
    let best_accuracy = history.records.iter().map(|r| r.val_accuracy).fold(0.0, f64::max);
    assert!(best_accuracy > chance + 0.05, "validation accuracy {best_accuracy} is not above chance {chance}");
    assert!(last.val_auroc > 0.8, "validation AUROC {}", last.val_auroc);
    assert!(history.records.iter().all(|r| r.samples_per_second > 0.0 && r.learning_rate > 0.0));

    let run = RunDir::new(&out);
    let config = run.read_config().unwrap();
    assert_eq!(config.model, "fusion-mlp");
    assert!(config.max_len.is_some() && config.model_config.vocab_size > 4, "max_len and vocab_size resolved from the data");
    assert!(run.prepared_split_path("train").is_file() && run.prepared_split_path("dev").is_file());
    let last_checkpoint = load_checkpoint(&run.checkpoint_path(CheckpointKind::Last)).unwrap();
    assert_eq!(last_checkpoint.progress.epoch, 6);
    assert_eq!(last_checkpoint.config, config);
    assert!(!last_checkpoint.optimizer.is_empty(), "optimiser state is saved");
    let best = load_checkpoint(&run.checkpoint_path(CheckpointKind::Best)).unwrap();
    let best_epoch = best.progress.best_epoch.unwrap();
    let best_auroc = history.records.iter().map(|r| r.val_auroc).fold(f64::MIN, f64::max);
    assert_eq!(best.progress.epoch, best_epoch);
    assert_eq!(history.records[best_epoch - 1].val_auroc, best_auroc, "best is the epoch with the highest validation AUROC");
    for curve in [run.loss_curve_path(), run.accuracy_curve_path()] {
        let image = image::open(&curve).unwrap_or_else(|e| panic!("{}: {e}", curve.display())).to_rgb8();
        let drawn = image.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(drawn > 5_000, "{} looks blank ({drawn} non-white pixels)", curve.display());
    }
}

#[test]
fn single_modality_models_learn_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    for model in ["image-mlp", "text-bow"] {
        let out = dir.path().join(model);
        run_train(train_args(model, &data, &out, 5)).unwrap();
        let history = History::load(&out).unwrap();
        let (first, last) = (&history.records[0], history.last().unwrap());
        assert!(last.train_loss < first.train_loss, "{model}: training loss did not fall: {} → {}", first.train_loss, last.train_loss);
        // One cue alone separates part of the classes: better than a coin, short of the fusion model.
        assert!(last.val_auroc > 0.6, "{model}: validation AUROC {}", last.val_auroc);
    }
}

#[test]
fn a_new_run_refuses_an_existing_run_folder_and_unknown_models() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let out = dir.path().join("run");
    let error = run_train(train_args("resnet-9000", &data, &out, 1)).unwrap_err().to_string();
    assert!(error.contains("unknown model \"resnet-9000\"") && error.contains("fusion-mlp"), "{error}");
    run_train(train_args("text-bow", &data, &out, 1)).unwrap();
    let error = run_train(train_args("text-bow", &data, &out, 1)).unwrap_err().to_string();
    assert!(error.contains("already holds a run") && error.contains("--resume"), "{error}");
}

#[test]
fn every_optimiser_trains_with_gradient_clipping() {
    use memefuse::train::config::OptimizerKind;
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    for optimizer in [OptimizerKind::Adamw, OptimizerKind::Sgd] {
        let out = dir.path().join(format!("{optimizer:?}"));
        let mut args = train_args("text-bow", &data, &out, 4);
        args.optimizer = Some(optimizer);
        args.learning_rate = None; // the optimiser's own default
        args.clip_grad_norm = Some(1.0);
        run_train(args).unwrap();
        let config = RunDir::new(&out).read_config().unwrap();
        assert_eq!(config.learning_rate, optimizer.default_learning_rate());
        assert_eq!(config.weight_decay, optimizer.default_weight_decay());
        let history = History::load(&out).unwrap();
        let (first, last) = (&history.records[0], history.last().unwrap());
        assert!(last.train_loss < first.train_loss, "{optimizer:?}: loss {} → {}", first.train_loss, last.train_loss);
    }
}

#[test]
fn augmentation_is_on_by_default_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let out = dir.path().join("augmented");
    let mut args = train_args("image-mlp", &data, &out, 1);
    args.brightness = Some(0.2);
    run_train(args).unwrap();
    let config = RunDir::new(&out).read_config().unwrap();
    assert_eq!(config.augmentation.rotation_degrees, 2.0, "the seed work's ±2° rotation by default");
    assert_eq!(config.augmentation.brightness, 0.2);
    assert!(config.augmentation.loader_options().is_some());

    let mut args = train_args("image-mlp", &data, &dir.path().join("bad"), 1);
    args.hue = Some(0.7);
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("--hue must be between 0 and 0.5"), "{error}");
    let mut args = memefuse::train::commands::TrainArgs { resume: Some(out), rotation: Some(5.0), device: "cpu".into(), ..Default::default() };
    args.epochs = Some(2);
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("--rotation cannot change when resuming"), "{error}");
}
