//! Run folders stay trustworthy (issue 11): one writer at a time, a failed start leaves a folder
//! that train accepts again, resume messages say what is wrong.
mod trainer_common;

use std::path::Path;
use std::process::{Command, Output};

use memefuse::train::checkpoint::load_checkpoint;
use memefuse::train::commands::{run_train, TrainArgs};
use memefuse::train::history::History;
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::train::run_lock::RunLock;
use trainer_common::{tiny_dataset, train_args};

fn memefuse(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memefuse"));
    command.args(args);
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn resume_args(run: &Path, epochs: Option<usize>) -> TrainArgs {
    TrainArgs { resume: Some(run.to_path_buf()), epochs, device: "cpu".into(), ..TrainArgs::default() }
}

/// The run's config, its `last` checkpoint and its history describe one and the same run.
fn assert_run_is_intact(run: &Path, model: &str, epochs: usize) {
    let dir = RunDir::new(run);
    let config = dir.read_config().unwrap();
    assert_eq!(config.model, model, "config.json");
    let checkpoint = load_checkpoint(&dir.checkpoint_path(CheckpointKind::Last)).unwrap();
    assert_eq!(checkpoint.config.model, model, "the checkpoint's config");
    assert_eq!(checkpoint.progress.epoch, epochs);
    let history = History::load(run).unwrap();
    let numbers: Vec<usize> = history.records.iter().map(|r| r.epoch).collect();
    assert_eq!(numbers, (1..=epochs).collect::<Vec<_>>(), "history epochs, each once");
}

#[test]
fn a_second_writer_of_a_locked_run_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let held = RunLock::acquire(&run, "test").unwrap();
    let error = run_train(train_args("text-bow", &data, &run, 1)).unwrap_err().to_string();
    assert!(error.contains("is in use") && error.contains("memefuse test"), "{error}");
    assert!(!RunDir::new(&run).config_path().exists(), "the refused train wrote nothing");
    drop(held);
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();
    assert_run_is_intact(&run, "text-bow", 1);

    // Resume is a writer too.
    let held = RunLock::acquire(&run, "test").unwrap();
    let error = run_train(resume_args(&run, Some(2))).unwrap_err().to_string();
    assert!(error.contains("is in use"), "{error}");
    drop(held);
    assert_run_is_intact(&run, "text-bow", 1);
}

#[test]
fn two_concurrent_trains_into_one_folder_leave_one_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    let (data, run_arg) = (data.to_str().unwrap(), run.to_str().unwrap());
    let common = ["train", "--data", data, "--out", run_arg, "--epochs", "4", "--hidden", "16", "--device", "cpu"];
    let first = memefuse(&[&common[..], &["--model", "text-bow"]].concat()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = memefuse(&[&common[..], &["--model", "image-mlp"]].concat()).output().unwrap();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "the first train: {}", stderr(&first));
    assert!(!second.status.success(), "the second train must fail");
    let message = stderr(&second);
    assert!(message.contains("is in use") || message.contains("already holds a run"), "{message}");
    assert_run_is_intact(&run, "text-bow", 4);

    // Two resumes at once: one trains epochs 5 and 6, the other fails; no epoch is written twice.
    let resume = ["train", "--resume", run_arg, "--epochs", "6", "--device", "cpu"];
    let a = memefuse(&resume).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let b = memefuse(&resume).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    // The one that came second either found the folder locked, or (had the first already finished)
    // nothing left to do; never a second epoch 5.
    let outcome = |output: &Output| (output.status.success(), stderr(output).contains("is in use"), stderr(output).contains("nothing to do"));
    let outcomes = [outcome(&a), outcome(&b)];
    assert!(
        outcomes.contains(&(true, false, false)) && (outcomes.contains(&(false, true, false)) || outcomes.contains(&(true, false, true))),
        "{outcomes:?}: {} / {}",
        stderr(&a),
        stderr(&b)
    );
    assert_run_is_intact(&run, "text-bow", 6);
}

#[test]
fn a_train_that_failed_before_its_first_epoch_can_be_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    // A missing validation split is caught before the folder is made.
    let mut missing_dev = train_args("text-bow", &data, &run, 1);
    missing_dev.val_split = Some("dev_unseen".into());
    let error = run_train(missing_dev).unwrap_err().to_string();
    assert!(error.contains("validation split") && error.contains("dev_unseen"), "{error}");
    assert!(!run.exists(), "nothing was created for a run that could not start");

    // A failure after preparation (here: --init with weights of another model) leaves a folder with
    // a config but no epoch; train accepts it again, resume says no epoch finished.
    let other = dir.path().join("other");
    run_train(train_args("image-mlp", &data, &other, 1)).unwrap();
    let mut bad_init = train_args("text-bow", &data, &run, 1);
    bad_init.init = Some(RunDir::new(&other).checkpoint_path(CheckpointKind::Last));
    assert!(run_train(bad_init).is_err());
    assert!(RunDir::new(&run).config_path().exists(), "the failed attempt got as far as its config");
    let error = run_train(resume_args(&run, None)).unwrap_err().to_string();
    assert!(error.contains("no epoch finished yet") && error.contains("memefuse train --out"), "{error}");
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();
    assert_run_is_intact(&run, "text-bow", 1);
}

#[test]
fn resume_says_what_is_wrong_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("text-bow", &data, &run, 3)).unwrap();
    let last = RunDir::new(&run).checkpoint_path(CheckpointKind::Last);

    // Fewer epochs than finished: an error that says how to continue, and the config is unchanged.
    let error = run_train(resume_args(&run, Some(2))).unwrap_err().to_string();
    assert!(error.contains("already finished 3 epochs") && error.contains("--epochs 4"), "{error}");
    assert_eq!(RunDir::new(&run).read_config().unwrap().epochs, 3);

    // A truncated checkpoint is "corrupted", in words.
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    let error = run_train(resume_args(&run, Some(4))).unwrap_err().to_string();
    assert!(error.contains("is corrupted") && !error.contains("MetadataIncompleteBuffer"), "{error}");

    // A deleted one is not "no epoch finished".
    std::fs::remove_file(&last).unwrap();
    let error = run_train(resume_args(&run, Some(4))).unwrap_err().to_string();
    assert!(error.contains("records 3 finished epoch(s)") && error.contains("is missing"), "{error}");
    assert!(!error.contains("no epoch finished"), "{error}");
    // ... and train still refuses to start over a folder with finished epochs.
    let error = run_train(train_args("text-bow", &data, &run, 1)).unwrap_err().to_string();
    assert!(error.contains("already holds a run"), "{error}");
}
