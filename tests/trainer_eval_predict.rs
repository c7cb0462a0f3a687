//! `eval` and `predict` agree with each other and with a report computed by hand.
mod trainer_common;

use memefuse::train::commands::{run_eval, run_predict, run_train, EvalArgs, PredictArgs};
use memefuse::train::metrics::{Evaluation, TargetNames};
use memefuse::train::run_dir::CheckpointKind;
use trainer_common::{read_json_lines, tiny_dataset, train_args};

fn predict(run: &std::path::Path, split: &str, output: &std::path::Path) {
    run_predict(PredictArgs::for_run(run, split, output)).unwrap();
}

fn eval_args(run: &std::path::Path, split: &str) -> EvalArgs {
    EvalArgs { run: run.to_path_buf(), split: split.into(), checkpoint: CheckpointKind::Best, json: false, data: None, device: "cpu".into() }
}

#[test]
fn eval_numbers_equal_a_report_computed_from_predict_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("fusion-mlp", &data, &run, 3)).unwrap();

    let predictions_path = dir.path().join("test.jsonl");
    predict(&run, "test", &predictions_path);
    let predictions = read_json_lines(&predictions_path);
    // The labels come from the data, joined by id: predict's own "label" field is not trusted here.
    let labels_by_id: std::collections::HashMap<String, u8> = read_json_lines(&data.join("test_seen.jsonl"))
        .iter()
        .map(|r| (r["id"].to_string().trim_matches('"').to_string(), r["label"].as_u64().unwrap() as u8))
        .collect();
    assert_eq!(predictions.len(), labels_by_id.len());
    let mut labels = Vec::new();
    let mut scores = Vec::new();
    for line in &predictions {
        let id = line["id"].to_string();
        let id = id.trim_matches('"');
        let logits: Vec<f64> = line["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let proba = line["proba"].as_f64().unwrap();
        let softmax = 1.0 / (1.0 + (logits[0] - logits[1]).exp());
        assert!((proba - softmax).abs() < 1e-6, "proba {proba} is not softmax(logits)[1] = {softmax}");
        labels.push(labels_by_id[id]);
        scores.push(proba as f32);
    }
    let by_hand = Evaluation::from_scores(&labels, &scores, TargetNames::hateful_memes()).unwrap();

    run_eval(eval_args(&run, "test")).unwrap();
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval-test.json")).unwrap()).unwrap();
    assert_eq!(written["confusion_matrix"], serde_json::to_value(by_hand.confusion_matrix).unwrap());
    assert_eq!(written["classification_report"], serde_json::to_value(&by_hand.classification_report).unwrap());
    assert_eq!(written["auroc"].as_f64(), by_hand.auroc);
    assert_eq!(written["accuracy"].as_f64().unwrap(), by_hand.accuracy());
    assert_eq!(written["samples"].as_u64().unwrap(), labels.len() as u64);
    assert_eq!(written["split"], "test");
}

#[test]
fn predict_covers_unlabelled_splits_and_eval_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();

    let output = dir.path().join("unseen.jsonl");
    predict(&run, "test_unseen", &output);
    let lines = read_json_lines(&output);
    assert_eq!(lines.len(), 60);
    for line in &lines {
        assert!(line["true_label"].is_null() && line.get("label").is_none());
        assert_eq!(line["id"].as_str().unwrap().len(), 5, "string ids keep their leading zeros: {line}");
        let proba = line["proba"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&proba));
        assert_eq!(line["logits"].as_array().unwrap().len(), 2);
    }
    let error = run_eval(eval_args(&run, "test_unseen")).unwrap_err().to_string();
    assert!(error.contains("unlabelled") && error.contains("predict"), "{error}");
    let error = run_eval(eval_args(&run, "validation")).unwrap_err();
    assert!(format!("{error:#}").contains("unknown split \"validation\""), "{error:#}");
}
