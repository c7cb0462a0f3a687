//! `memefuse embed`: the penultimate features (what the classification head sees, `Model::embed`)
//! of every record of a split, written as an embeddings file (io::embeddings) for t-SNE or Python.
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::batch_input::model_input;
use super::data_cache::DataCache;
use super::inference::evaluation_loader;
use super::run_dir::{CheckpointKind, RunDir};
use super::trainer::load_trained_model;
use crate::autograd::no_grad;
use crate::backend::resolve_device;
use crate::io::embeddings::Embeddings;
use crate::util::output_guard::refuse_overwriting_inputs;
use crate::Device;

/// Records per forward pass (no gradients, so larger than training's batches).
const EMBED_BATCH_SIZE: usize = 128;

#[derive(clap::Args, Debug, Clone)]
pub struct EmbedArgs {
    /// A run folder made by `memefuse train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Split to embed, labelled or not (train, dev, test_unseen, ...).
    #[arg(long)]
    pub split: String,
    /// safetensors file to write: features [n, d] f32, labels [n] i32 (−1 unlabelled), ids in the metadata.
    #[arg(long)]
    pub output: PathBuf,
    /// Which checkpoint to use.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointKind,
    /// Read splits from this folder instead of the one the run was trained on.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run_embed(args: EmbedArgs) -> Result<()> {
    let run = RunDir::open_existing(&args.run)?;
    let inputs = run_inputs(&run, &args.split, args.checkpoint);
    refuse_overwriting_inputs("--output", &args.output, &inputs.iter().map(PathBuf::as_path).collect::<Vec<_>>(), &[])?;
    let device = resolve_device(&args.device)?;
    let progress = if std::io::stderr().is_terminal() { EmbedProgress::Bar } else { EmbedProgress::Lines };
    let embeddings = embed_split(&run, &args.split, args.checkpoint, args.data.as_deref(), device, progress)?;
    embeddings.write(&args.output)?;
    eprintln!("memefuse: wrote {} embeddings of dimension {} for {:?} to {}", embeddings.len(), embeddings.dim, args.split, args.output.display());
    Ok(())
}

/// The files `embed` reads from a run: none of them may be its output.
pub fn run_inputs(run: &RunDir, split: &str, checkpoint: CheckpointKind) -> Vec<PathBuf> {
    vec![run.checkpoint_path(checkpoint), run.config_path(), run.history_path(), run.prepared_split_path(split)]
}

/// How `embed_split` reports its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedProgress {
    /// An indicatif bar (on a terminal).
    Bar,
    /// A line at every tenth of the split (logs, CI).
    Lines,
    Silent,
}

/// The features of every record of `split`, in split order, from the run's `checkpoint`.
pub fn embed_split(run: &RunDir, split: &str, checkpoint: CheckpointKind, data: Option<&Path>, device: Device, progress: EmbedProgress) -> Result<Embeddings> {
    let (mut config, model, training) = load_trained_model(run, checkpoint, device)?;
    if let Some(data) = data {
        config.data_dir = std::path::absolute(data).with_context(|| format!("resolving --data {}", data.display()))?;
    }
    let prepared = DataCache::new(run, &config).split(split)?;
    let total = prepared.len();
    let loader = evaluation_loader(prepared, EMBED_BATCH_SIZE)?;
    let dtype = config.precision.compute_dtype();
    let _no_grad = no_grad();
    let reporter = Reporter::start(progress, total, split);
    let (mut features, mut ids, mut labels, mut dim) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for batch in loader.epoch(0) {
        let input = model_input(&batch, model.needs(), dtype, device)?;
        let batch_features = model.embed(&input)?;
        let shape = batch_features.shape().to_vec();
        ensure!(shape.len() == 2 && shape[0] == batch.batch_size, "model {} embedded {} records as shape {shape:?}", model.name(), batch.batch_size);
        dim = shape[1];
        // The features leave the device in f32 whatever the compute dtype.
        features.extend(batch_features.to_vec_f32()?);
        ids.extend(batch.ids.iter().cloned());
        labels.extend(batch.labels.iter().map(|&l| (l >= 0.0).then_some(l as u8)));
        reporter.advance(ids.len());
    }
    reporter.finish();
    let provenance: BTreeMap<String, String> = [
        ("model", config.model.clone()),
        ("split", split.to_string()),
        ("checkpoint", checkpoint.name().to_string()),
        ("epoch", training.epoch.to_string()),
        ("run", std::path::absolute(run.root()).unwrap_or_else(|_| run.root().to_path_buf()).display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    ensure!(!ids.is_empty(), "split {split:?} has no records to embed");
    Ok(Embeddings { features, dim, ids, labels, provenance })
}

struct Reporter {
    mode: EmbedProgress,
    bar: Option<ProgressBar>,
    total: usize,
    split: String,
}

impl Reporter {
    fn start(mode: EmbedProgress, total: usize, split: &str) -> Self {
        let bar = (mode == EmbedProgress::Bar).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(ProgressStyle::with_template("embed {prefix} [{bar:30}] {pos}/{len} records, ETA {eta}").expect("a valid progress template").progress_chars("=> "));
            bar.set_prefix(split.to_string());
            bar
        });
        Reporter { mode, bar, total, split: split.to_string() }
    }

    fn advance(&self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        } else if self.mode == EmbedProgress::Lines {
            // One line per tenth of the split: readable in a log, not one per batch.
            let tenth = |count: usize| count * 10 / self.total.max(1);
            if tenth(done) > tenth(done.saturating_sub(EMBED_BATCH_SIZE)) || done == self.total {
                eprintln!("embed {}: {done}/{} records", self.split, self.total);
            }
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
