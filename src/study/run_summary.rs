//! What the report shows about one run folder: its config and history as saved, and, from its best
//! checkpoint, an evaluation on a labelled split, its parameter count and a 2-D map of its
//! embeddings.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::embedding_map::{embedding_map, selected_rows};
use crate::train::config::TrainConfig;
use crate::train::data_cache::{DataCache, DataSource};
use crate::train::history::History;
use crate::train::inference::{evaluation_loader, run_split};
use crate::train::metrics::{Evaluation, TargetNames};
use crate::train::run_dir::{CheckpointKind, RunDir};
use crate::train::trainer::load_trained_model;
use crate::Device;

const BATCH_SIZE: usize = 128;

#[derive(Clone, Debug)]
pub struct SummaryOptions {
    /// Labelled split the metrics are computed on.
    pub split: String,
    /// Labelled split whose embeddings are mapped to 2-D.
    pub tsne_split: String,
    pub checkpoint: CheckpointKind,
    pub device: Device,
}

/// The 2-D points of the embedding map and the label of each.
#[derive(Clone, Debug)]
pub struct EmbeddingMap {
    pub points: Vec<[f32; 2]>,
    pub labels: Vec<u8>,
    /// Records of the split (the map may show a subset).
    pub records: usize,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run folder's name: what the report calls the model.
    pub label: String,
    pub run_dir: PathBuf,
    pub config: TrainConfig,
    pub history: History,
    /// The epoch of the evaluated checkpoint.
    pub epoch: usize,
    pub split: String,
    /// Which data the metrics come from (folder, file, record count).
    pub test_data: DataSource,
    pub evaluation: Evaluation,
    pub parameter_count: usize,
    pub tsne_split: String,
    pub embedding_map: EmbeddingMap,
}

impl RunSummary {
    /// Wall-clock seconds of all epochs, validation included.
    pub fn train_seconds(&self) -> f64 {
        self.history.records.iter().map(|r| r.seconds).filter(|s| s.is_finite()).sum()
    }

    pub fn samples_per_second(&self) -> f64 {
        self.history.mean_samples_per_second()
    }
}

/// Reads and evaluates the run in `dir`.
pub fn summarise_run(dir: &Path, options: &SummaryOptions) -> Result<RunSummary> {
    let run = RunDir::open_existing(dir)?;
    let label = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map_or_else(|| dir.display().to_string(), |name| name.to_string_lossy().into_owned());
    let history = History::load(run.history_path())?;
    let (config, model, progress) = load_trained_model(&run, options.checkpoint, options.device)?;
    let parameter_count = model.parameters().iter().map(|(_, tensor)| tensor.shape().iter().product::<usize>()).sum();
    let cache = DataCache::new(&run, &config);
    let dtype = config.precision.compute_dtype();

    let test_split = cache.split(&options.split)?;
    let test_data = DataSource::of(&test_split);
    let outputs = run_split(model.as_ref(), &evaluation_loader(test_split, BATCH_SIZE)?, dtype, options.device, false)
        .with_context(|| format!("evaluating {} on {:?}", dir.display(), options.split))?;
    if !outputs.is_fully_labelled() {
        bail!("{}: split {:?} has unlabelled records; the report needs a labelled split (--split)", dir.display(), options.split);
    }
    let (labels, scores) = outputs.labelled();
    let evaluation = Evaluation::from_scores(&labels, &scores, TargetNames::hateful_memes())?;

    let embedded = run_split(model.as_ref(), &evaluation_loader(cache.split(&options.tsne_split)?, BATCH_SIZE)?, dtype, options.device, true)
        .with_context(|| format!("embedding {} on {:?}", dir.display(), options.tsne_split))?;
    if !embedded.is_fully_labelled() {
        bail!("{}: split {:?} has unlabelled records; the t-SNE is coloured by label and needs a labelled split (--tsne-split)", dir.display(), options.tsne_split);
    }
    let (embeddings, dim) = embedded.embeddings.clone().expect("embeddings were requested");
    let (all_labels, _) = embedded.labelled();
    let rows = selected_rows(embedded.ids.len());
    let embedding_map = EmbeddingMap {
        points: embedding_map(&embeddings, dim, &rows, config.seed)?,
        labels: rows.iter().map(|&row| all_labels[row]).collect(),
        records: embedded.ids.len(),
    };
    Ok(RunSummary {
        label,
        run_dir: dir.to_path_buf(),
        config,
        history,
        epoch: progress.epoch,
        split: options.split.clone(),
        test_data,
        evaluation,
        parameter_count,
        tsne_split: options.tsne_split.clone(),
        embedding_map,
    })
}
