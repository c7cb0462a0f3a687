//! Shared by the trainer tests: a tiny synthetic dataset and training arguments for it.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

use memefuse::data::synth::{generate, SynthOptions};
use memefuse::train::commands::TrainArgs;

/// Writes a small synthetic Hateful Memes folder under `dir` and returns its path.
pub fn tiny_dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let mut options = SynthOptions::new(&data);
    options.train = 240;
    options.dev = 80;
    options.test = 60;
    options.seed = 11;
    generate(&options).expect("synthesising the test data");
    data
}

/// Arguments for a small, quick CPU run (`--hidden 32 --dropout 0.1` for the models sized by them).
pub fn train_args(model: &str, data: &Path, out: &Path, epochs: usize) -> TrainArgs {
    let sized_by_hidden = ["image-mlp", "text-bow", "fusion-mlp"].contains(&model);
    TrainArgs {
        model: Some(model.to_string()),
        data: Some(data.to_path_buf()),
        out: Some(out.to_path_buf()),
        epochs: Some(epochs),
        batch_size: Some(32),
        learning_rate: Some(3e-3),
        hidden: sized_by_hidden.then_some(32),
        dropout: sized_by_hidden.then_some(0.1),
        device: "cpu".to_string(),
        ..TrainArgs::default()
    }
}

/// Every line of a JSON-lines file, parsed.
pub fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display())))
        .collect()
}
