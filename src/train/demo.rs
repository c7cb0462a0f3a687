//! `memefuse demo`: from nothing to a report. Synthesises a small dataset (data::synth), trains
//! every model briefly with small widths, evaluates each on the `test` split, draws its curves and a
//! t-SNE of its `dev` embeddings, and writes `report.md` (train::report) into the output folder.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use super::config::{Augmentation, OptimizerKind, Precision, TrainConfig, DEFAULT_TRAIN_SPLIT};
use super::data_cache::{DataCache, DataSource};
use super::inference::{evaluation_loader, run_split};
use super::metrics::{Evaluation, TargetNames};
use super::progress::ProgressMode;
use super::report::{slugify, write_markdown_report, ModelReport};
use super::run_dir::{CheckpointKind, RunDir};
use super::trainer::{load_trained_model, train_new, TrainOptions};
use super::demo_data::{ensure_demo_data, DemoDataOptions};
use crate::models::ModelConfig;
use crate::util::write_atomically;
use crate::viz::scatter::plot_embedding_2d;
use crate::viz::tsne::{tsne, TsneOptions};
use crate::Device;

/// The demo's small variants: narrow layers, a quick learning rate.
const DEMO_HIDDEN: usize = 64;
const DEMO_DROPOUT: f32 = 0.1;
const DEMO_LEARNING_RATE: f32 = 3e-3;
const DEMO_BATCH_SIZE: usize = 32;

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub out: PathBuf,
    pub epochs: usize,
    pub train_size: usize,
    pub models: Vec<String>,
    pub seed: u64,
    pub device: Device,
    pub progress: ProgressMode,
}

/// Runs the demo; returns the path of `report.md`.
pub fn run_demo_with(options: &DemoOptions) -> Result<PathBuf> {
    let started = Instant::now();
    for model in &options.models {
        crate::models::entry(model)?;
    }
    let data_dir = options.out.join("data");
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    ensure_demo_data(&data_dir, &DemoDataOptions::for_train_size(options.train_size, options.seed))?;
    let mut reports = Vec::new();
    let mut tsne_figures = Vec::new();
    let mut test_data = None;
    // Every demo model reads the same data at the same size: the first run prepares it, the
    // others start with links to its prepared splits instead of decoding every image again.
    let mut prepared_cache: Option<PathBuf> = None;
    for model in &options.models {
        let model_started = Instant::now();
        let run = RunDir::new(options.out.join("runs").join(model));
        // The demo owns its run folders: a second demo replaces them.
        if run.root().exists() {
            std::fs::remove_dir_all(run.root()).with_context(|| format!("removing the previous demo run {}", run.root().display()))?;
        }
        if let Some(source) = &prepared_cache {
            link_prepared_splits(source, &run.cache_dir())?;
        }
        let config = demo_config(model, &data_dir, options);
        let train_options = TrainOptions { device: options.device, progress: options.progress, stop_after_epochs: None };
        let summary = train_new(&run, config, &train_options)?;
        let (evaluation, figure, source) = evaluate_and_embed(&run, model, &options.out, options.device)?;
        test_data.get_or_insert(source);
        eprintln!(
            "demo: {model}: {} epochs in {:.1} s, test accuracy {:.3}, test AUROC {}",
            summary.history.len(),
            model_started.elapsed().as_secs_f64(),
            evaluation.accuracy(),
            evaluation.auroc.map_or("undefined".into(), |a| format!("{a:.3}"))
        );
        prepared_cache.get_or_insert_with(|| run.cache_dir());
        reports.push(ModelReport::new(model.clone(), summary.history, evaluation));
        tsne_figures.push((model.clone(), figure));
    }
    let report = write_markdown_report(&options.out, &reports)?;
    append_tsne_section(&report, &tsne_figures, test_data.as_ref())?;
    eprintln!("demo: finished in {:.1} s; report: {}", started.elapsed().as_secs_f64(), report.display());
    Ok(report)
}

/// Hard-links (or, across filesystems, copies) every prepared file of `source` into `target`.
fn link_prepared_splits(source: &Path, target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    for entry in std::fs::read_dir(source).with_context(|| format!("reading {}", source.display()))? {
        let from = entry?.path();
        let to = target.join(from.file_name().expect("directory entries have names"));
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

fn demo_config(model: &str, data_dir: &Path, options: &DemoOptions) -> TrainConfig {
    TrainConfig {
        model: model.to_string(),
        model_config: ModelConfig { image_size: 64, vocab_size: 2, hidden: DEMO_HIDDEN, dropout: DEMO_DROPOUT, ..ModelConfig::default() },
        data_dir: std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
        train_split: DEFAULT_TRAIN_SPLIT.to_string(),
        val_split: "dev".to_string(),
        max_len: None,
        epochs: options.epochs,
        batch_size: DEMO_BATCH_SIZE,
        optimizer: OptimizerKind::Adam,
        learning_rate: DEMO_LEARNING_RATE,
        weight_decay: 0.0,
        clip_grad_norm: None,
        precision: Precision::default_for(options.device),
        seed: options.seed,
        init: None,
        init_remap_vocab: false,
        augmentation: Augmentation::default(),
    }
}

/// The best checkpoint's evaluation on `test`, and a t-SNE scatter of its `dev` embeddings.
fn evaluate_and_embed(run: &RunDir, model_name: &str, out: &Path, device: Device) -> Result<(Evaluation, PathBuf, DataSource)> {
    let (config, model, _) = load_trained_model(run, CheckpointKind::Best, device)?;
    let cache = DataCache::new(run, &config);
    let dtype = config.precision.compute_dtype();
    let test_split = cache.split("test")?;
    let source = DataSource::of(&test_split);
    let test = run_split(model.as_ref(), &evaluation_loader(test_split, 128)?, dtype, device, false)?;
    let (labels, scores) = test.labelled();
    let evaluation = Evaluation::from_scores(&labels, &scores, TargetNames::hateful_memes())?;

    let dev = run_split(model.as_ref(), &evaluation_loader(cache.split("dev")?, 128)?, dtype, device, true)?;
    let (embeddings, dim) = dev.embeddings.clone().expect("embeddings were requested");
    let n = dev.ids.len();
    // sklearn's defaults, the perplexity lowered for splits too small for 30 (it must stay below n).
    let options = TsneOptions { perplexity: TsneOptions::default().perplexity.min((n as f64 - 1.0) / 3.0), seed: config.seed, ..TsneOptions::default() };
    let points = tsne(&embeddings, n, dim, &options).with_context(|| format!("t-SNE of {model_name}'s dev embeddings"))?.points;
    let (dev_labels, _) = dev.labelled();
    let figure = out.join(format!("{}_tsne.png", slugify(model_name)));
    plot_embedding_2d(&points, &dev_labels, &format!("{model_name}: t-SNE of dev embeddings"), &figure)?;
    Ok((evaluation, figure, source))
}

/// report.md gets the data its numbers come from and a section with the t-SNE figures (rewritten atomically).
fn append_tsne_section(report: &Path, figures: &[(String, PathBuf)], test_data: Option<&DataSource>) -> Result<()> {
    let mut markdown = std::fs::read_to_string(report).with_context(|| format!("reading {}", report.display()))?;
    if let Some(source) = test_data {
        markdown += &format!("\n## Data\n\nTest metrics: {source}.\n");
    }
    markdown += "\n## Embeddings (t-SNE of the dev split)\n\nEach point is a dev meme, placed by t-SNE of the features the model's head sees.\n\n";
    for (model, figure) in figures {
        let name = figure.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        markdown += &format!("### {model}\n\n![t-SNE of {model}](<{name}>)\n\n");
    }
    write_atomically(report, markdown.as_bytes()).with_context(|| format!("writing {}", report.display()))
}

