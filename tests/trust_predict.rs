//! Predictions and outputs stay trustworthy (issue 11): one format with ids exactly as the dataset
//! wrote them, no command writes over its input, options a mode ignores are errors.
mod trainer_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use memefuse::train::commands::{run_eval, run_predict, run_train, EvalArgs, PredictArgs};
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::train::run_lock::RunLock;
use serde_json::{json, Value};
use trainer_common::{read_json_lines, tiny_dataset, train_args};

fn fixture(parts: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(parts)
}

fn memefuse(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_memefuse")).args(args).output().unwrap()
}

/// The ids the rewritten split uses: numbers, zero-padded strings and digit strings.
fn mixed_id(index: usize) -> Value {
    match index % 3 {
        0 => json!(1000 + index),
        1 => json!(format!("{:05}", index)),
        _ => json!(format!("{}", 2000 + index)),
    }
}

/// Rewrites `test_seen.jsonl` of `data` with ids of every kind; returns them in file order.
fn give_mixed_ids(data: &Path) -> Vec<Value> {
    let path = data.join("test_seen.jsonl");
    let mut records = read_json_lines(&path);
    let ids: Vec<Value> = (0..records.len()).map(mixed_id).collect();
    let mut text = String::new();
    for (record, id) in records.iter_mut().zip(&ids) {
        record["id"] = id.clone();
        text += &(record.to_string() + "\n");
    }
    std::fs::write(&path, text).unwrap();
    ids
}

fn trained_run(dir: &Path) -> (PathBuf, PathBuf) {
    let data = tiny_dataset(dir);
    let run = dir.join("run");
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();
    (data, run)
}

#[test]
fn every_predict_mode_writes_ids_exactly_as_the_dataset_did() {
    let dir = tempfile::tempdir().unwrap();
    let (data, run) = trained_run(dir.path());
    let ids = give_mixed_ids(&data);
    let labels: Vec<Value> = read_json_lines(&data.join("test_seen.jsonl")).iter().map(|r| r["label"].clone()).collect();

    let from_run = dir.path().join("run.jsonl");
    run_predict(PredictArgs::for_run(&run, "test_seen", &from_run)).unwrap();
    let lstm = dir.path().join("lstm.jsonl");
    let (lstm_arg, data_arg) = (lstm.to_str().unwrap(), data.to_str().unwrap());
    let weights = fixture("lstm/weights.safetensors");
    let vocab = fixture("lstm/vocab.txt");
    let out = memefuse(&["predict", "--model", "lstm", "--weights", weights.to_str().unwrap(), "--vocab", vocab.to_str().unwrap(), "--data", data_arg, "--split", "test_seen", "--output", lstm_arg, "--device", "cpu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vgg = dir.path().join("vgg.jsonl");
    let weights = fixture("vgg16_small/weights.safetensors");
    let out = memefuse(&["predict", "--model", "vgg16-small", "--weights", weights.to_str().unwrap(), "--image-size", "32", "--data", data_arg, "--split", "test_seen", "--output", vgg.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    for path in [&from_run, &lstm, &vgg] {
        let lines = read_json_lines(path);
        assert_eq!(lines.iter().map(|l| l["id"].clone()).collect::<Vec<_>>(), ids, "{}: ids round-trip", path.display());
        assert_eq!(lines.iter().map(|l| l["true_label"].clone()).collect::<Vec<_>>(), labels, "{}: true labels", path.display());
        for line in &lines {
            let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["id", "logits", "proba", "true_label"], "{}: one schema", path.display());
            let logits: Vec<f64> = line["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(logits.len(), 2, "{}: logits are always a pair", path.display());
            let softmax = 1.0 / (1.0 + (logits[0] - logits[1]).exp());
            assert!((line["proba"].as_f64().unwrap() - softmax).abs() < 1e-9);
        }
    }
}

#[test]
fn submission_csv_and_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let (data, run) = trained_run(dir.path());
    let ids = give_mixed_ids(&data);
    let csv = dir.path().join("submission.csv");
    let mut args = PredictArgs::for_run(&run, "test_seen", &csv);
    args.format = Some(memefuse::io::predictions::PredictionFormat::Submission);
    run_predict(args).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,proba,label"));
    let jsonl = dir.path().join("p.jsonl");
    run_predict(PredictArgs::for_run(&run, "test_seen", &jsonl)).unwrap();
    for ((row, id), json) in lines.zip(&ids).zip(read_json_lines(&jsonl)) {
        let fields: Vec<&str> = row.split(',').collect();
        let id_text = id.as_str().map_or(id.to_string(), str::to_string);
        assert_eq!(fields[0], id_text, "zero-padded ids keep their zeros in the CSV");
        let predicted = u8::from(json["proba"].as_f64().unwrap() >= 0.5);
        assert_eq!(fields[2], predicted.to_string(), "label is the predicted class");
    }

    let run_arg = run.to_str().unwrap();
    let out = memefuse(&["predict", "--run", run_arg, "--split", "test_seen", "--output", "-", "--device", "cpu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, std::fs::read_to_string(&jsonl).unwrap(), "--output - writes the same lines to standard output");
}

#[test]
fn no_command_writes_over_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let (data, run) = trained_run(dir.path());
    let dev = data.join("dev_seen.jsonl");
    let train = data.join("train.jsonl");
    let before = (std::fs::read(&dev).unwrap(), std::fs::read(&train).unwrap());
    let config_before = std::fs::read(RunDir::new(&run).config_path()).unwrap();

    let error = run_predict(PredictArgs::for_run(&run, "dev", &dev)).unwrap_err().to_string();
    assert!(error.contains("is an input") || error.contains("data folder"), "{error}");
    // Another spelling of the same file, and another split's file.
    let error = run_predict(PredictArgs::for_run(&run, "test", &data.join("img/../train.jsonl"))).unwrap_err().to_string();
    assert!(error.contains("data folder"), "{error}");
    let mut into_config = PredictArgs::for_run(&run, "dev", &RunDir::new(&run).config_path());
    into_config.format = Some(memefuse::io::predictions::PredictionFormat::Jsonl);
    let error = run_predict(into_config).unwrap_err().to_string();
    assert!(error.contains("is an input"), "{error}");

    let (data_arg, train_arg) = (data.to_str().unwrap(), train.to_str().unwrap());
    let out = memefuse(&["prepare", "--data", data_arg, "--split", "train", "--out", train_arg]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is an input"), "{}", String::from_utf8_lossy(&out.stderr));
    let dev_arg = dev.to_str().unwrap();
    let out = memefuse(&["prepare", "--data", data_arg, "--split", "train", "--out", dev_arg]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("data folder"));

    let weights = fixture("lstm/weights.safetensors");
    let out = memefuse(&["predict", "--model", "lstm", "--weights", weights.to_str().unwrap(), "--vocab", fixture("lstm/vocab.txt").to_str().unwrap(), "--data", data_arg, "--split", "dev", "--output", dev_arg]);
    assert!(!out.status.success(), "predict --weights over the split it reads");

    assert_eq!((std::fs::read(&dev).unwrap(), std::fs::read(&train).unwrap()), before, "the dataset is untouched");
    assert_eq!(std::fs::read(RunDir::new(&run).config_path()).unwrap(), config_before);
}

#[test]
fn options_a_mode_ignores_or_bad_numbers_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (data, run) = trained_run(dir.path());
    let output = dir.path().join("p.jsonl");
    let mut ignored = PredictArgs::for_run(&run, "dev", &output);
    ignored.source.vocab = Some(fixture("lstm/vocab.txt"));
    ignored.source.max_len = Some(3);
    let error = run_predict(ignored).unwrap_err().to_string();
    assert!(error.contains("--vocab, --max-len") && error.contains("ignored"), "{error}");
    let mut zero_batch = PredictArgs::for_run(&run, "dev", &output);
    zero_batch.batch_size = Some(0);
    assert!(run_predict(zero_batch).unwrap_err().to_string().contains("--batch-size must be at least 1"));
    // --batch-size is honoured with --run: other batches, same predictions.
    let mut small_batches = PredictArgs::for_run(&run, "dev", &output);
    small_batches.batch_size = Some(7);
    run_predict(small_batches).unwrap();
    let other = dir.path().join("q.jsonl");
    run_predict(PredictArgs::for_run(&run, "dev", &other)).unwrap();
    let probas = |path: &Path| read_json_lines(path).iter().map(|l| l["proba"].as_f64().unwrap()).collect::<Vec<_>>();
    for (a, b) in probas(&output).iter().zip(probas(&other)) {
        assert!((a - b).abs() < 1e-6);
    }

    let data_arg = data.to_str().unwrap();
    let weights = fixture("lstm/weights.safetensors");
    let vocab = fixture("lstm/vocab.txt");
    let base = ["predict", "--model", "lstm", "--weights", weights.to_str().unwrap(), "--vocab", vocab.to_str().unwrap(), "--data", data_arg, "--split", "dev", "--output", "-"];
    let out = memefuse(&[&base[..], &["--max-len", "0"]].concat());
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--max-len must be at least 1"));
    let out = memefuse(&[&base[..], &["--image-size", "64"]].concat());
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--image-size would be ignored"));
    let out = memefuse(&[&base[..], &["--checkpoint", "last"]].concat());
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--checkpoint would be ignored"));
}

#[test]
fn eval_refuses_an_absent_split_before_preparing_and_reports_without_saving_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run) = trained_run(dir.path());
    let eval = |split: &str| EvalArgs { run: run.clone(), split: split.into(), checkpoint: CheckpointKind::Best, json: false, data: None, device: "CPU".into() };
    let cache_before: Vec<_> = std::fs::read_dir(RunDir::new(&run).cache_dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
    let error = format!("{:#}", run_eval(eval("validation")).unwrap_err());
    assert!(error.contains("validation"), "{error}");
    let cache_after: Vec<_> = std::fs::read_dir(RunDir::new(&run).cache_dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(cache_before, cache_after, "nothing was prepared");

    // A run folder eval cannot write to (here: locked by a running train) still gets its report.
    let held = RunLock::acquire(&run, "train").unwrap();
    run_eval(eval("dev")).expect("the report is printed even when the JSON cannot be saved");
    assert!(!RunDir::new(&run).eval_path("dev").exists());
    drop(held);
    run_eval(eval("dev")).unwrap();
    assert!(RunDir::new(&run).eval_path("dev").exists());
}

/// A run's `model.*` weights as a plain state_dict (what PyTorch would save): the registry models
/// keep PyTorch's parameter names, so this is a file `predict --weights` imports.
fn export_state_dict(run: &Path, path: &Path) {
    let bytes = std::fs::read(RunDir::new(run).checkpoint_path(CheckpointKind::Best)).unwrap();
    let checkpoint = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView)> = checkpoint
        .tensors()
        .into_iter()
        .filter_map(|(name, view)| name.strip_prefix("model.").map(|name| (name.to_string(), view)))
        .collect();
    std::fs::write(path, safetensors::serialize(views, &None).unwrap()).unwrap();
}

/// Two prediction files that must agree record for record: same ids, labels and schema, logits
/// within `tolerance`.
fn assert_same_predictions(a: &Path, b: &Path, tolerance: f64) {
    let (a, b) = (read_json_lines(a), read_json_lines(b));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.as_object().unwrap().keys().collect::<Vec<_>>(), y.as_object().unwrap().keys().collect::<Vec<_>>(), "one schema");
        assert_eq!((&x["id"], &x["true_label"]), (&y["id"], &y["true_label"]));
        for (p, q) in x["logits"].as_array().unwrap().iter().zip(y["logits"].as_array().unwrap()) {
            assert!((p.as_f64().unwrap() - q.as_f64().unwrap()).abs() <= tolerance, "{x} vs {y}");
        }
    }
}

/// `predict --model NAME --weights` runs the same inference as `predict --run`: the weights of a
/// trained lstm and vgg16-small run, exported as state_dicts, give the run's own predictions.
#[test]
fn predict_with_weights_gives_the_predictions_of_the_run_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    give_mixed_ids(&data);
    let data_arg = data.to_str().unwrap();
    for model in ["lstm", "vgg16-small"] {
        let run = dir.path().join(model);
        let mut args = train_args(model, &data, &run, 1);
        args.image_size = Some(32);
        run_train(args).unwrap();
        let from_run = dir.path().join(format!("{model}-run.jsonl"));
        run_predict(PredictArgs::for_run(&run, "test_seen", &from_run)).unwrap();

        let weights = dir.path().join(format!("{model}.safetensors"));
        export_state_dict(&run, &weights);
        let from_weights = dir.path().join(format!("{model}-weights.jsonl"));
        let mut command = vec!["predict", "--model", model, "--weights", weights.to_str().unwrap(), "--data", data_arg, "--split", "test_seen"];
        command.extend(["--output", from_weights.to_str().unwrap(), "--device", "cpu"]);
        let config: Value = serde_json::from_str(&std::fs::read_to_string(RunDir::new(&run).config_path()).unwrap()).unwrap();
        let vocab = run.join("cache/train.safetensors.vocab.txt");
        let max_len = config["max_len"].as_u64().unwrap().to_string();
        match model {
            "lstm" => command.extend(["--vocab", vocab.to_str().unwrap(), "--max-len", &max_len]),
            _ => command.extend(["--image-size", "32"]),
        }
        let out = memefuse(&command);
        assert!(out.status.success(), "{model}: {}", String::from_utf8_lossy(&out.stderr));
        assert_same_predictions(&from_run, &from_weights, 1e-6);
    }
}
