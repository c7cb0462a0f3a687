//! `memefuse embed` writes the features the head sees for every record, and `memefuse tsne` turns
//! a run's split (or an embeddings file) into a PNG and a CSV of points.
mod trainer_common;

use std::path::Path;

use memefuse::io::embeddings::Embeddings;
use memefuse::train::commands::run_train;
use memefuse::train::data_cache::DataCache;
use memefuse::train::embed::{run_embed, EmbedArgs};
use memefuse::train::inference::{evaluation_loader, run_split};
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::train::trainer::load_trained_model;
use memefuse::train::tsne_command::{run_tsne, TsneArgs};
use memefuse::viz::tsne::{Initialisation, LearningRate};
use memefuse::Device;
use trainer_common::{tiny_dataset, train_args};

fn embed_args(run: &Path, split: &str, output: &Path) -> EmbedArgs {
    EmbedArgs::for_run(run, split, output)
}

fn tsne_args() -> TsneArgs {
    TsneArgs {
        run: None,
        split: None,
        embeddings: None,
        output: None,
        points: None,
        perplexity: 10.0,
        iterations: 300,
        theta: 0.5,
        init: Initialisation::Pca,
        learning_rate: LearningRate::Auto,
        seed: 0,
        checkpoint: CheckpointKind::Best,
        data: None,
        device: "cpu".into(),
    }
}

/// The CSV `tsne` writes: (id, label, x, y) per line after the header.
fn read_points(path: &Path) -> Vec<(String, String, f32, f32)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,label,x,y"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_string(), fields[1].to_string(), fields[2].parse().unwrap(), fields[3].parse().unwrap())
        })
        .collect()
}

#[test]
fn embed_writes_the_features_the_head_sees_and_tsne_plots_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("fusion-mlp", &data, &run, 1)).unwrap();

    let output = dir.path().join("dev.safetensors");
    run_embed(embed_args(&run, "dev", &output)).unwrap();
    let written = Embeddings::read(&output).unwrap();

    // The same features, ids and labels as an evaluation pass over the split asked for embeddings.
    let run_dir = RunDir::open_existing(&run).unwrap();
    let (config, model, progress) = load_trained_model(&run_dir, CheckpointKind::Best, Device::Cpu).unwrap();
    let split = DataCache::new(&run_dir, &config).split("dev").unwrap();
    let reference = run_split(model.as_ref(), &evaluation_loader(split, 128).unwrap(), config.precision.compute_dtype(), Device::Cpu, true).unwrap();
    let (features, dim) = reference.embeddings.clone().unwrap();
    assert_eq!(written.len(), 80);
    assert_eq!((written.dim, &written.features), (dim, &features));
    assert_eq!(written.ids, reference.ids);
    assert_eq!(written.labels, reference.labels);
    assert!(written.labels.iter().all(Option::is_some));
    assert_eq!(written.provenance["model"], "fusion-mlp");
    assert_eq!(written.provenance["split"], "dev");
    assert_eq!(written.provenance["epoch"], progress.epoch.to_string());

    // tsne --run: the PNG decodes, the CSV has every record with its label.
    run_tsne(TsneArgs { run: Some(run.clone()), split: Some("dev".into()), ..tsne_args() }).unwrap();
    let png = image::open(run.join("tsne-dev.png")).unwrap();
    assert!(png.width() > 100 && png.height() > 100);
    let points = read_points(&run.join("tsne-dev.csv"));
    assert_eq!(points.iter().map(|p| p.0.clone()).collect::<Vec<_>>(), written.ids);
    for ((_, label, x, y), written_label) in points.iter().zip(&written.labels) {
        assert_eq!(label, &written_label.unwrap().to_string());
        assert!(x.is_finite() && y.is_finite());
    }

    // tsne --embeddings on the file: the same points (same features, same options).
    let png = dir.path().join("from-file.png");
    run_tsne(TsneArgs { embeddings: Some(output.clone()), output: Some(png.clone()), ..tsne_args() }).unwrap();
    assert_eq!(read_points(&png.with_extension("csv")), points);
}

#[test]
fn embed_covers_unlabelled_splits_and_never_writes_over_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();

    let output = dir.path().join("unseen.safetensors");
    run_embed(embed_args(&run, "test_unseen", &output)).unwrap();
    let written = Embeddings::read(&output).unwrap();
    assert_eq!(written.len(), 60);
    assert!(written.labels.iter().all(Option::is_none), "test_unseen has no labels");
    assert!(written.ids.iter().all(|id| id.len() == 5), "string ids keep their leading zeros");

    let checkpoint = run.join("checkpoints").join("best.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();
    let error = run_embed(embed_args(&run, "dev", &checkpoint)).unwrap_err().to_string();
    assert!(error.contains("is an input of this command"), "{error}");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before, "the checkpoint is untouched");

    let error = run_tsne(TsneArgs { embeddings: Some(output.clone()), points: Some(output.clone()), ..tsne_args() }).unwrap_err().to_string();
    assert!(error.contains("--points") && error.contains("is an input of this command"), "{error}");
    // Every record unlabelled: no plot, but the points are written.
    run_tsne(TsneArgs { embeddings: Some(output.clone()), ..tsne_args() }).unwrap();
    assert_eq!(read_points(&dir.path().join("unseen-tsne.csv")).len(), 60);
    assert!(!dir.path().join("unseen-tsne.png").exists());
}
