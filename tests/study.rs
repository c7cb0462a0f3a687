//! `memefuse study`: every named model trained into its own run folder, unknown ones skipped with a
//! note, the report written, and a rerun continuing unfinished runs and skipping finished ones.
mod trainer_common;

use memefuse::study::study::{resolve_runs, run_study, StudyOptions, StudyRun};
use memefuse::models::FusionKind;
use memefuse::train::history::History;
use memefuse::train::progress::ProgressMode;
use memefuse::Device;
use trainer_common::tiny_dataset;

fn options(data: &std::path::Path, out: &std::path::Path, epochs: usize) -> StudyOptions {
    StudyOptions {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        models: vec!["text-bow".into(), "cnn-lstm-late".into(), "clip-fusion".into()],
        epochs: Some(epochs),
        image_size: None,
        seed: None,
        device: Device::Cpu,
        progress: ProgressMode::Silent,
        split: "test".into(),
        tsne_split: "dev".into(),
    }
}

#[test]
fn study_names_resolve_to_models_and_fusions() {
    assert_eq!(StudyRun::parse("cnn-lstm-late"), Some(StudyRun { name: "cnn-lstm-late".into(), model: "cnn-lstm".into(), fusion: Some(FusionKind::Late) }));
    assert_eq!(StudyRun::parse("vgg16-lstm-early").unwrap().fusion, Some(FusionKind::Early));
    assert_eq!(StudyRun::parse("lstm").unwrap().fusion, None);
    assert_eq!(StudyRun::parse("lstm-late"), None, "only fusion baselines take a fusion suffix");
    assert_eq!(StudyRun::parse("no-such-model"), None);
    let runs = resolve_runs(&["lstm".into(), "not-registered".into(), "lstm".into()]).unwrap();
    assert_eq!(runs.len(), 1);
    assert!(resolve_runs(&["not-registered".into()]).unwrap_err().to_string().contains("available"));
}

#[test]
fn study_trains_each_model_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let out = dir.path().join("study");
    let history = |run: &str| History::load(out.join("runs").join(run).join("history.jsonl")).unwrap();

    let paths = run_study(&options(&data, &out, 1)).unwrap();
    assert!(paths.html.is_file() && paths.markdown.is_file());
    let markdown = std::fs::read_to_string(&paths.markdown).unwrap();
    for run in ["text-bow", "cnn-lstm-late"] {
        assert_eq!(history(run).len(), 1);
        assert!(markdown.contains(&format!("## {run}")), "report lacks {run}");
    }
    // The second run reuses the first one's prepared splits (hard links the data cache accepted),
    // instead of discarding and preparing them again.
    use std::os::unix::fs::MetadataExt;
    let inode = |run: &str| std::fs::metadata(out.join("runs").join(run).join("cache/train.safetensors")).unwrap().ino();
    assert_eq!(inode("text-bow"), inode("cnn-lstm-late"), "the study prepared the train split twice");
    assert!(!out.join("runs").join("clip-fusion").exists() || memefuse::models::entry("clip-fusion").is_ok(), "unregistered models are skipped");

    // More epochs: both runs continue from their last checkpoint; the first epoch is kept as it was.
    let first_epoch = history("text-bow").records[0].clone();
    run_study(&options(&data, &out, 2)).unwrap();
    for run in ["text-bow", "cnn-lstm-late"] {
        assert_eq!(history(run).len(), 2, "{run} continued to 2 epochs");
    }
    assert_eq!(history("text-bow").records[0], first_epoch);

    // The same epochs again: nothing is trained; the checkpoints are untouched.
    let last = out.join("runs/cnn-lstm-late/checkpoints/last.safetensors");
    let modified = std::fs::metadata(&last).unwrap().modified().unwrap();
    run_study(&options(&data, &out, 2)).unwrap();
    assert_eq!(std::fs::metadata(&last).unwrap().modified().unwrap(), modified, "a finished run is skipped");
    assert_eq!(history("text-bow").len(), 2);

    // A run that never finished an epoch (config but no checkpoint) is started again.
    let broken = out.join("runs/text-bow");
    std::fs::remove_dir_all(broken.join("checkpoints")).unwrap();
    run_study(&options(&data, &out, 2)).unwrap();
    assert_eq!(history("text-bow").len(), 2);
    assert_eq!(history("text-bow").records[0].epoch, 1);
}
