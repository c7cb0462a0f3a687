//! Checkpoint files, --init, and mixed precision.
mod trainer_common;

use memefuse::train::checkpoint::{load_checkpoint, read_safetensors, CHECKPOINT_FORMAT};
use memefuse::train::commands::run_train;
use memefuse::train::config::Precision;
use memefuse::train::history::History;
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use trainer_common::{tiny_dataset, train_args};

#[test]
fn checkpoints_hold_weights_optimiser_state_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("image-mlp", &data, &run, 2)).unwrap();
    let path = RunDir::new(&run).checkpoint_path(CheckpointKind::Last);
    let (metadata, tensors) = read_safetensors(&path).unwrap();
    assert_eq!(metadata["format"], CHECKPOINT_FORMAT);
    assert_eq!(metadata["epoch"], "2");
    let config: serde_json::Value = serde_json::from_str(&metadata["config"]).unwrap();
    assert_eq!(config["model"], "image-mlp");
    let names: Vec<&str> = tensors.iter().map(|(name, _)| name.as_str()).collect();
    for expected in ["model.image.hidden.weight", "model.image.hidden.bias", "model.head.weight", "model.head.bias", "optimizer.adam.step", "optimizer.adam.m.head.weight", "optimizer.adam.v.head.weight"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let head = &tensors.iter().find(|(n, _)| n == "model.head.weight").unwrap().1;
    assert_eq!(head.shape, vec![2, 32], "PyTorch layout [out, in]");
    let step = &tensors.iter().find(|(n, _)| n == "optimizer.adam.step").unwrap().1;
    assert_eq!(step.values, vec![16.0], "two epochs of 240/32 → 8 batches");
}

#[test]
fn init_from_a_checkpoint_starts_where_it_left_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let first = dir.path().join("first");
    run_train(train_args("text-bow", &data, &first, 3)).unwrap();
    let checkpoint = RunDir::new(&first).checkpoint_path(CheckpointKind::Last);

    let second = dir.path().join("second");
    let mut args = train_args("text-bow", &data, &second, 1);
    args.init = Some(checkpoint.clone());
    run_train(args).unwrap();
    let fresh = History::load(&first).unwrap().records[0].train_loss;
    let initialised = History::load(&second).unwrap().records[0].train_loss;
    assert!(initialised < fresh, "initialised run's first loss {initialised} is not below a fresh run's {fresh}");

    // Weights of another model do not fit: the error names the tensor.
    let mut args = train_args("image-mlp", &data, &dir.path().join("third"), 1);
    args.init = Some(checkpoint);
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("text.hidden.weight") && error.contains("match no parameter"), "{error}");
}

#[test]
fn mixed_precision_runs_train_and_save_the_loss_scale() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    for precision in [Precision::Fp16, Precision::Bf16] {
        let run = dir.path().join(format!("{precision:?}"));
        let mut args = train_args("fusion-mlp", &data, &run, 3);
        args.precision = Some(precision);
        run_train(args).unwrap();
        let history = History::load(&run).unwrap();
        let (first, last) = (&history.records[0], history.last().unwrap());
        assert!(last.train_loss < first.train_loss, "{precision:?}: loss {} → {}", first.train_loss, last.train_loss);
        let checkpoint = load_checkpoint(&RunDir::new(&run).checkpoint_path(CheckpointKind::Last)).unwrap();
        assert_eq!(checkpoint.config.precision, precision);
        assert_eq!(!checkpoint.loss_scaler.is_empty(), precision == Precision::Fp16, "only fp16 keeps a loss scale");
    }
}
