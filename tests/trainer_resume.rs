//! A run stopped after some epochs and resumed computes exactly what an uninterrupted run computes.
mod trainer_common;

use memefuse::train::checkpoint::load_checkpoint;
use memefuse::train::commands::{run_train, TrainArgs};
use memefuse::train::history::{EpochRecord, History};
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use trainer_common::{tiny_dataset, train_args};

/// The numbers of an epoch that do not depend on timing.
fn computed(record: &EpochRecord) -> [f64; 7] {
    [record.epoch as f64, record.train_loss, record.train_accuracy, record.val_loss, record.val_accuracy, record.val_auroc, record.learning_rate]
}

fn resume_args(run: &std::path::Path, epochs: Option<usize>) -> TrainArgs {
    TrainArgs { resume: Some(run.to_path_buf()), epochs, device: "cpu".into(), ..TrainArgs::default() }
}

#[test]
fn resumed_run_matches_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let whole = dir.path().join("whole");
    let interrupted = dir.path().join("interrupted");
    // fusion-mlp with dropout: the data order and the dropout masks must both be reproduced.
    run_train(train_args("fusion-mlp", &data, &whole, 4)).unwrap();
    let mut first_part = train_args("fusion-mlp", &data, &interrupted, 4);
    first_part.stop_after_epochs = Some(2);
    run_train(first_part).unwrap();
    assert_eq!(History::load(&interrupted).unwrap().len(), 2, "the stopped run has two epochs");

    run_train(resume_args(&interrupted, None)).unwrap();
    let expected: Vec<_> = History::load(&whole).unwrap().records.iter().map(computed).collect();
    let resumed: Vec<_> = History::load(&interrupted).unwrap().records.iter().map(computed).collect();
    assert_eq!(resumed, expected);

    let weights = |run: &std::path::Path| load_checkpoint(&RunDir::new(run).checkpoint_path(CheckpointKind::Last)).unwrap().model;
    assert_eq!(weights(&interrupted), weights(&whole), "final weights differ");
}

#[test]
fn resume_extends_epochs_and_repairs_history_ahead_of_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let whole = dir.path().join("whole");
    let run = dir.path().join("run");
    run_train(train_args("text-bow", &data, &whole, 3)).unwrap();
    run_train(train_args("text-bow", &data, &run, 2)).unwrap();

    // A crash after epoch 3's history line but before its checkpoint: the line is stale, and a
    // half-written line follows it.
    let history_path = RunDir::new(&run).history_path();
    let mut text = std::fs::read_to_string(&history_path).unwrap();
    let mut stale = History::load(&whole).unwrap().records[2].clone();
    stale.train_loss = 123.0;
    text += &(serde_json::to_string(&stale).unwrap() + "\n{\"epoch\": 4, \"train_lo");
    std::fs::write(&history_path, text).unwrap();

    run_train(resume_args(&run, Some(3))).unwrap();
    let history = History::load(&run).unwrap();
    assert!(history.truncated_tail.is_none());
    let expected: Vec<_> = History::load(&whole).unwrap().records.iter().map(computed).collect();
    assert_eq!(history.records.iter().map(computed).collect::<Vec<_>>(), expected);
}

#[test]
fn resume_rejects_config_changes_and_missing_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();
    let mut change = resume_args(&run, Some(2));
    change.learning_rate = Some(0.5);
    let error = run_train(change).unwrap_err().to_string();
    assert!(error.contains("--lr cannot change when resuming"), "{error}");

    std::fs::remove_file(RunDir::new(&run).checkpoint_path(CheckpointKind::Last)).unwrap();
    let error = run_train(resume_args(&run, Some(2))).unwrap_err().to_string();
    assert!(error.contains("last.safetensors is missing"), "{error}");
    let error = run_train(resume_args(&dir.path().join("nowhere"), None)).unwrap_err().to_string();
    assert!(error.contains("is not a run folder"), "{error}");
}

#[test]
fn early_stopping_ends_a_run_after_patience_epochs_without_a_better_validation_auroc() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    // The fusion baselines stop after 3 epochs without improvement by default; the others never.
    let config = |model: &str| train_args(model, &data, &dir.path().join(model), 10).to_config(memefuse::Device::Cpu).unwrap();
    assert_eq!(config("cnn-lstm").patience, Some(3));
    assert_eq!(config("vgg16-small-lstm").patience, Some(3));
    assert_eq!(config("lstm").patience, None);
    let mut off = train_args("cnn-lstm", &data, dir.path(), 10);
    off.patience = Some(0);
    assert_eq!(off.to_config(memefuse::Device::Cpu).unwrap().patience, None, "--patience 0 trains every epoch");

    // A learning rate so small that the weights cannot move in f32: the validation AUROC stays
    // put after epoch 1, so the run must stop at epoch 1 + patience.
    let run = dir.path().join("stalled");
    let mut args = train_args("text-bow", &data, &run, 10);
    args.learning_rate = Some(1e-12);
    args.patience = Some(2);
    run_train(args).unwrap();
    let history = History::load(&run).unwrap();
    let aurocs: Vec<f64> = history.records.iter().map(|r| r.val_auroc).collect();
    // The rule, replayed on the history: the first epoch that is `patience` epochs past the best so far.
    let mut best = (0, f64::NEG_INFINITY);
    let mut expected_stop = 10;
    for (index, &auroc) in aurocs.iter().enumerate() {
        if auroc > best.1 {
            best = (index + 1, auroc);
        }
        if index + 1 - best.0 >= 2 {
            expected_stop = index + 1;
            break;
        }
    }
    assert!(expected_stop < 10, "the validation AUROC kept improving: {aurocs:?}");
    assert_eq!(history.len(), expected_stop, "{aurocs:?}");
    let best_checkpoint = load_checkpoint(&RunDir::new(&run).checkpoint_path(CheckpointKind::Best)).unwrap();
    assert_eq!(best_checkpoint.progress.best_epoch, Some(best.0), "best keeps the peak epoch");

    // Resuming a run that stopped early trains nothing more.
    run_train(resume_args(&run, None)).unwrap();
    assert_eq!(History::load(&run).unwrap().len(), expected_stop);
}
