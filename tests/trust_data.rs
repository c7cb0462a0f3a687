//! Issue 11, part A: the data a command reads is the data it says it read. Each test feeds the
//! bad input (a dataset edited after training, another --data folder, a huge --image-size, a
//! custom split name, a byte-order mark, unlabelled records, …) and checks the behaviour.
mod data_common;
mod trainer_common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use memefuse::data::prepared::{prepare_split, PrepareOptions};
use memefuse::data::synth::{generate, SynthOptions};
use memefuse::data::{HatefulMemes, ReadOptions};
use memefuse::train::commands::{run_eval, run_predict, run_train, EvalArgs, PredictArgs};
use memefuse::train::run_dir::CheckpointKind;
use serde_json::Value;
use trainer_common::{read_json_lines, tiny_dataset, train_args};

fn memefuse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memefuse")).args(args).output().expect("running the memefuse binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn eval_args(run: &Path, split: &str, data: Option<&Path>) -> EvalArgs {
    EvalArgs { run: run.to_path_buf(), split: split.into(), checkpoint: CheckpointKind::Last, json: false, data: data.map(Path::to_path_buf), device: "cpu".into() }
}

/// Runs `eval` and returns the JSON it wrote (RUN/eval-SPLIT.json).
fn eval_json(run: &Path, split: &str, data: Option<&Path>) -> Value {
    run_eval(eval_args(run, split, data)).unwrap();
    serde_json::from_str(&fs::read_to_string(run.join(format!("eval-{split}.json"))).unwrap()).unwrap()
}

/// A second synthetic folder, unlike the training one: another seed and sizes.
fn other_dataset(dir: &Path, dev: usize) -> PathBuf {
    let data = dir.join("other");
    let mut options = SynthOptions::new(&data);
    (options.train, options.dev, options.test, options.seed) = (40, dev, 25, 99);
    generate(&options).unwrap();
    data
}

/// A quick text-only run (images are still prepared, at 64 px).
fn trained_run(dir: &Path, data: &Path) -> PathBuf {
    let run = dir.join("run");
    run_train(train_args("text-bow", data, &run, 1)).unwrap();
    run
}

/// The inode of a cached file: it changes when the file is prepared again (atomic rename).
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).ino()
}

#[test]
fn eval_and_predict_read_the_data_folder_they_are_given_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = trained_run(dir.path(), &data);
    let other = other_dataset(dir.path(), 30);

    let own = eval_json(&run, "dev", None);
    assert_eq!(own["samples"], 80);
    assert_eq!(own["data"]["records"], 80);
    assert_eq!(own["data"]["file"], data.join("dev_seen.jsonl").display().to_string());

    let elsewhere = eval_json(&run, "dev", Some(&other));
    assert_eq!(elsewhere["samples"], 30, "eval --data OTHER answers for OTHER's dev split: {elsewhere}");
    assert_eq!(elsewhere["data"]["folder"], std::path::absolute(&other).unwrap().display().to_string());

    let test_elsewhere = eval_json(&run, "test_seen", Some(&other));
    assert_eq!(test_elsewhere["samples"], 25);
    let test_own = eval_json(&run, "test_seen", None);
    assert_eq!(test_own["samples"], 60, "without --data, eval reads the training folder again: {test_own}");
    assert_eq!(eval_json(&run, "dev", None)["samples"], 80);

    let predictions = dir.path().join("other-dev.jsonl");
    let mut predict = PredictArgs::for_run(&run, "dev", &predictions);
    predict.source.data = Some(other.clone());
    run_predict(predict).unwrap();
    // Ids compared as text: how predict writes a numeric id is issue 11's item 10, not this test's.
    let id_text = |line: &Value| line["id"].to_string().trim_matches('"').to_string();
    let ids: Vec<String> = read_json_lines(&predictions).iter().map(id_text).collect();
    let other_ids: Vec<String> = read_json_lines(&other.join("dev_seen.jsonl")).iter().map(id_text).collect();
    assert_eq!(ids, other_ids, "predict --data OTHER predicts OTHER's records");

    let missing = dir.path().join("nonexistent");
    let error = format!("{:#}", run_eval(eval_args(&run, "dev", Some(&missing))).unwrap_err());
    assert!(error.contains("nonexistent") && error.contains("does not exist"), "{error}");
    let mut predict = PredictArgs::for_run(&run, "dev", &predictions);
    predict.source.data = Some(missing);
    assert!(run_predict(predict).is_err(), "predict --data /nonexistent is an error");
}

#[test]
fn a_dataset_edited_after_training_is_seen_by_eval_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = trained_run(dir.path(), &data);
    let cached = run.join("cache").join("dev.safetensors");
    let before = eval_json(&run, "dev", None);
    let first_inode = inode(&cached);

    // Unchanged source: the cache is reused as it is.
    eval_json(&run, "dev", None);
    assert_eq!(inode(&cached), first_inode, "an unchanged split is not prepared again");

    // Every label flipped: the accuracy at the same threshold becomes its complement.
    let dev_file = data.join("dev_seen.jsonl");
    let flipped: String = read_json_lines(&dev_file)
        .into_iter()
        .map(|mut record| {
            record["label"] = Value::from(1 - record["label"].as_u64().unwrap());
            record.to_string() + "\n"
        })
        .collect();
    fs::write(&dev_file, flipped).unwrap();
    let after = eval_json(&run, "dev", None);
    let (accuracy_before, accuracy_after) = (before["accuracy"].as_f64().unwrap(), after["accuracy"].as_f64().unwrap());
    assert!((accuracy_before + accuracy_after - 1.0).abs() < 1e-9, "accuracy {accuracy_before} then {accuracy_after} after flipping every label");
    assert_ne!(inode(&cached), first_inode);

    // Predict sees fewer records once some are removed.
    let kept: String = fs::read_to_string(&dev_file).unwrap().lines().take(50).map(|line| format!("{line}\n")).collect();
    fs::write(&dev_file, kept).unwrap();
    let predictions = dir.path().join("dev-predictions.jsonl");
    run_predict(PredictArgs::for_run(&run, "dev", &predictions)).unwrap();
    assert_eq!(read_json_lines(&predictions).len(), 50);

    // A touched image (same bytes, new modification time) keeps the cache; new pixels do not.
    let image = data.join(read_json_lines(&dev_file)[0]["img"].as_str().unwrap());
    let touched_inode = inode(&cached);
    let file = fs::File::options().write(true).open(&image).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    drop(file);
    eval_json(&run, "dev", None);
    assert_eq!(inode(&cached), touched_inode, "same image contents: the checksum keeps the cache");
    data_common::save_rgb(&image, &data_common::noise_image(70, 50, 5));
    eval_json(&run, "dev", None);
    assert_ne!(inode(&cached), touched_inode, "changed image contents: the split is prepared again");
}

#[test]
fn image_sizes_are_checked_against_the_model_and_memory_never_aborting() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let data_arg = data.to_str().unwrap();
    let out = dir.path().join("huge.safetensors");

    let huge = memefuse(&["prepare", "--data", data_arg, "--split", "dev", "--out", out.to_str().unwrap(), "--image-size", "100000"]);
    assert_eq!(huge.status.code(), Some(1), "an error, not an abort: {}", stderr(&huge));
    assert!(stderr(&huge).contains("--image-size 100000") && stderr(&huge).contains("memory"), "{}", stderr(&huge));
    assert!(!out.exists());

    let weights = dir.path().join("never-read.safetensors");
    let output = dir.path().join("p.jsonl");
    let predict = memefuse(&[
        "predict", "--model", "vgg16-small", "--weights", weights.to_str().unwrap(), "--data", data_arg, "--split", "dev", "--output",
        output.to_str().unwrap(), "--image-size", "100000", "--device", "cpu",
    ]);
    assert_eq!(predict.status.code(), Some(1), "{}", stderr(&predict));
    assert!(stderr(&predict).contains("--image-size 100000") && stderr(&predict).contains("memory"), "{}", stderr(&predict));

    // Sizes other than 64 and 224 work where the model reads them.
    let run = dir.path().join("run48");
    let mut args = train_args("image-mlp", &data, &run, 1);
    args.image_size = Some(48);
    run_train(args).unwrap();
    assert_eq!(eval_json(&run, "dev", None)["samples"], 80);
    let mut args = train_args("fusion-mlp", &data, &dir.path().join("run100"), 1);
    args.image_size = Some(100);
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("multiple of 8"), "{error}");
    let mut args = train_args("vgg16-small", &data, &dir.path().join("run16"), 1);
    args.image_size = Some(16);
    assert!(format!("{:#}", run_train(args).unwrap_err()).contains("at least 32"));
}

#[test]
fn a_custom_split_name_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let holdout: String = fs::read_to_string(data.join("dev_seen.jsonl")).unwrap().lines().take(40).map(|line| format!("{line}\n")).collect();
    fs::write(data.join("holdout.jsonl"), holdout).unwrap();

    let run = dir.path().join("run");
    let mut args = train_args("text-bow", &data, &run, 1);
    args.val_split = Some("holdout".into());
    run_train(args).unwrap();
    assert!(run.join("cache").join("holdout.safetensors").is_file());
    let evaluation = eval_json(&run, "holdout", None);
    assert_eq!(evaluation["samples"], 40);
    assert_eq!(evaluation["data"]["file"], data.join("holdout.jsonl").display().to_string());
    let predictions = dir.path().join("holdout-predictions.jsonl");
    run_predict(PredictArgs::for_run(&run, "holdout", &predictions)).unwrap();
    assert_eq!(read_json_lines(&predictions).len(), 40);

    // The Hateful Memes names keep their fallbacks; an unknown name lists the custom ones.
    let dataset = HatefulMemes::open(&data).unwrap();
    assert_eq!(dataset.split_file("dev").unwrap(), data.join("dev_seen.jsonl"));
    let error = dataset.split_file("heldout").unwrap_err().to_string();
    assert!(error.contains("unknown split \"heldout\"") && error.contains("other NAME.jsonl splits: holdout"), "{error}");
    assert!(dataset.split_file("../data/holdout").is_err(), "a split name cannot point outside the folder");
}

#[test]
fn demo_data_is_reused_only_when_made_with_the_same_options() {
    use memefuse::train::demo::{run_demo_with, DemoOptions};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let demo = |train_size: usize, seed: u64| {
        let options = DemoOptions { out: out.clone(), epochs: 1, train_size, models: vec!["text-bow".into()], seed, device: memefuse::Device::Cpu, progress: memefuse::train::progress::ProgressMode::Silent };
        run_demo_with(&options).unwrap();
    };
    let train_file = out.join("data").join("train.jsonl");
    demo(30, 0);
    assert_eq!(read_json_lines(&train_file).len(), 30);
    let first = inode(&train_file);
    demo(30, 0);
    assert_eq!(inode(&train_file), first, "same options: the data is reused");

    demo(45, 0);
    assert_eq!(read_json_lines(&train_file).len(), 45, "--train-size is honoured when data exists");
    let before_seed = fs::read_to_string(&train_file).unwrap();
    demo(45, 7);
    assert_ne!(fs::read_to_string(&train_file).unwrap(), before_seed, "--seed is honoured when data exists");
    let record: Value = serde_json::from_str(&fs::read_to_string(out.join("data").join("demo-data.json")).unwrap()).unwrap();
    let report = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("Test metrics: 20 records of") && report.contains("test_seen.jsonl"), "the report says which data it read");
    assert_eq!((record["train"].as_u64(), record["seed"].as_u64()), (Some(45), Some(7)));
}

#[test]
fn a_byte_order_mark_is_accepted_and_mentioned() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let train_file = data.join("train.jsonl");
    let content = fs::read_to_string(&train_file).unwrap();
    fs::write(&train_file, format!("\u{FEFF}{content}")).unwrap();
    let (records, report) = HatefulMemes::open(&data).unwrap().read_split("train", &ReadOptions::default()).unwrap();
    assert_eq!(records.len(), 240, "the first record is not lost: {report}");
    assert!(report.issues.is_empty(), "{report}");
    assert!(report.summary().contains("byte-order mark"), "{}", report.summary());
    // --strict accepts it too: a BOM is not a bad record.
    HatefulMemes::open(&data).unwrap().read_split("train", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
}

#[test]
fn unlabelled_records_are_skipped_in_train_and_an_unlabelled_validation_split_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    // Line 3 of train loses its label.
    let train_file = data.join("train.jsonl");
    let lines: Vec<String> = read_json_lines(&train_file)
        .into_iter()
        .enumerate()
        .map(|(index, mut record)| {
            if index == 2 {
                record.as_object_mut().unwrap().remove("label");
            }
            record.to_string()
        })
        .collect();
    fs::write(&train_file, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("train.safetensors");
    let options = PrepareOptions { require_labels: true, ..PrepareOptions::new(&out) };
    let summary = prepare_split(&data, "train", &options).unwrap();
    let issues: Vec<(usize, &str)> = summary.report.issues.iter().map(|issue| (issue.line, issue.kind.name())).collect();
    assert_eq!(issues, [(3, "missing_field")]);
    assert!(summary.report.issues[0].detail.contains("label"), "{}", summary.report.issues[0]);
    assert_eq!(summary.count, 239);
    let run = trained_run(dir.path(), &data);
    assert_eq!(eval_json(&run, "train", None)["samples"], 239);

    // A validation split without labels fails before the first epoch.
    let unlabelled: String = read_json_lines(&data.join("test_unseen.jsonl")).iter().map(|r| r.to_string() + "\n").collect();
    fs::write(data.join("nolabels.jsonl"), unlabelled).unwrap();
    let run = dir.path().join("run-nolabels");
    let mut args = train_args("text-bow", &data, &run, 1);
    args.val_split = Some("nolabels".into());
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("\"nolabels\"") && error.contains("has no labels"), "{error}");
    assert!(!run.join("history.jsonl").exists(), "no epoch ran");
}

#[test]
fn prepare_inspect_vocabulary_and_synth_refuse_or_fix_what_users_get_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let data_arg = data.to_str().unwrap();

    // prepare into a missing folder creates it.
    let nested = dir.path().join("new").join("folder").join("dev.safetensors");
    let prepared = memefuse(&["prepare", "--data", data_arg, "--split", "dev", "--out", nested.to_str().unwrap(), "--image-size", "16"]);
    assert!(prepared.status.success(), "{}", stderr(&prepared));
    assert!(nested.is_file());

    let folder = memefuse(&["inspect", dir.path().join("new").to_str().unwrap()]);
    assert!(!folder.status.success() && stderr(&folder).contains("is a folder") && stderr(&folder).contains("prepared file"), "{}", stderr(&folder));

    let out = dir.path().join("v.safetensors");
    for max_vocab in ["0", "1", "2"] {
        let refused = memefuse(&["prepare", "--data", data_arg, "--split", "dev", "--out", out.to_str().unwrap(), "--max-vocab", max_vocab]);
        assert!(!refused.status.success() && stderr(&refused).contains("--max-vocab"), "--max-vocab {max_vocab}: {}", stderr(&refused));
    }
    let emptied = memefuse(&["prepare", "--data", data_arg, "--split", "dev", "--out", out.to_str().unwrap(), "--min-count", "100000"]);
    assert!(!emptied.status.success() && stderr(&emptied).contains("--min-count 100000 leaves the vocabulary empty"), "{}", stderr(&emptied));
    assert!(!out.exists());

    // synth refuses a non-empty folder unless --force, and calls the unlabelled split unlabelled.
    let before = fs::read(data.join("train.jsonl")).unwrap();
    let refused = memefuse(&["synth", "--out", data_arg, "--count", "5"]);
    assert!(!refused.status.success() && stderr(&refused).contains("not empty") && stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert_eq!(fs::read(data.join("train.jsonl")).unwrap(), before, "nothing was overwritten");
    let forced = memefuse(&["synth", "--out", data_arg, "--count", "5", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let stdout = String::from_utf8_lossy(&forced.stdout);
    let unseen = stdout.lines().find(|line| line.contains("test_unseen.jsonl")).expect("a summary line for test_unseen");
    assert!(unseen.ends_with("5 records, unlabelled"), "{unseen}");
    assert!(stdout.lines().any(|line| line.contains("train.jsonl: 5 records,") && line.ends_with("positive")), "{stdout}");
}

fn copy_folder(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Rewrites a prepared file as an older memefuse wrote it: the same tensors, no source fingerprint.
fn drop_fingerprint(path: &Path) {
    use memefuse::data::container::{read_header, write, TensorData};
    let bytes = fs::read(path).unwrap();
    let header = read_header(&bytes).unwrap();
    let mut metadata = header.metadata.clone();
    for key in ["split_sha256", "images_stat_sha256", "images_sha256", "text_cleaning", "max_text_chars", "require_labels"] {
        assert!(metadata.remove(key).is_some(), "prepare records {key}");
    }
    let tensor = |name: &'static str, dtype: &'static str| {
        let (_, shape, range) = &header.tensors[name];
        TensorData { name, dtype, shape: shape.clone(), bytes: &bytes[range.clone()] }
    };
    let tensors = [tensor("tokens", "I32"), tensor("labels", "I8"), tensor("images", "U8"), tensor("ids", "U8"), tensor("id_is_number", "U8")];
    write(path, &metadata, &tensors).unwrap();
}

#[test]
fn a_cached_split_is_fresh_only_while_every_recorded_source_setting_matches() {
    use memefuse::data::source_fingerprint::{check_cached, CacheExpectation, CacheState};
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let out = dir.path().join("cache").join("dev.safetensors");
    let options = PrepareOptions { image_size: 16, ..PrepareOptions::new(&out) };
    let summary = prepare_split(&data, "dev", &options).unwrap();
    let expected = CacheExpectation { image_size: 16, resize: "stretch", vocab_hash: summary.vocab_hash.clone(), max_len: Some(summary.max_len), read: options.read_options() };
    let state = |data: &Path, expected: &CacheExpectation| match check_cached(&out, data, "dev", expected).unwrap() {
        CacheState::Fresh(_) => "fresh".to_string(),
        CacheState::Missing => "missing".to_string(),
        CacheState::Stale(reason) => reason,
    };
    assert_eq!(state(&data, &expected), "fresh");
    let stale = |change: &dyn Fn(&mut CacheExpectation), wanted: &str| {
        let mut changed = expected.clone();
        change(&mut changed);
        let reason = state(&data, &changed);
        assert!(reason.contains(wanted), "expected a reason with {wanted:?}, got {reason:?}");
    };
    stale(&|e| e.image_size = 32, "image size was 16 and is now 32");
    stale(&|e| e.resize = "short-side-center-crop", "resize mode");
    stale(&|e| e.vocab_hash = "0".repeat(64), "vocabulary");
    stale(&|e| e.max_len = Some(summary.max_len + 1), "captions were cut");
    stale(&|e| e.read.max_text_chars = 10, "text limit");
    stale(&|e| e.read.require_labels = true, "label requirement");

    // The same files in another folder are another source.
    let copy = dir.path().join("copy");
    copy_folder(&data, &copy);
    assert!(state(&copy, &expected).contains("data folder"));
    // dev resolves to another file once dev_seen.jsonl is gone.
    fs::rename(copy.join("dev_seen.jsonl"), copy.join("dev.jsonl")).unwrap();
    assert!(check_cached(&out, &copy, "dev", &expected).is_ok());

    // Nothing to check against: an error, never a silent use of the cache.
    let error = format!("{:#}", check_cached(&out, &dir.path().join("gone"), "dev", &expected).unwrap_err());
    assert!(error.contains("does not exist"), "{error}");
    fs::remove_file(copy.join("dev.jsonl")).unwrap();
    assert!(check_cached(&out, &copy, "dev", &expected).is_err());

    // Written by an older memefuse (no fingerprint), or corrupted: prepared again.
    drop_fingerprint(&out);
    { let s = state(&data, &expected); assert!(s.contains("(not recorded)"), "{s}"); }
    prepare_split(&data, "dev", &options).unwrap();
    assert_eq!(state(&data, &expected), "fresh");
    let mut bytes = fs::read(&out).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    fs::write(&out, bytes).unwrap();
    assert!(state(&data, &expected).contains("unreadable"), "{}", state(&data, &expected));
    fs::remove_file(&out).unwrap();
    assert_eq!(state(&data, &expected), "missing");
}
