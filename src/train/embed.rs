//! `memefuse embed`: the penultimate features (what the classification head sees, `Model::embed`)
//! of every record of a split, written as an embeddings file (io::embeddings) for t-SNE or Python;
//! for CLIP models `--output FILE.jsonl` writes each record's projected image and text embeddings.
//! From a run (`--run`) or from foreign weights (`--model NAME --weights W`, io::foreign_weights).
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::batch_input::model_input;
use super::data_cache::DataCache;
use super::inference::evaluation_loader;
use super::run_dir::{CheckpointKind, RunDir};
use super::model_source::ModelSource;
use super::trainer::load_trained_model;
use crate::autograd::no_grad;
use crate::backend::resolve_device;
use crate::data::BatchLoader;
use crate::io::embeddings::Embeddings;
use crate::io::foreign_weights::import;
use crate::models::Model;
use crate::util::output_guard::refuse_overwriting_inputs;
use crate::util::write_atomically;
use crate::{DType, Device};

/// Records per forward pass (no gradients, so larger than training's batches).
const EMBED_BATCH_SIZE: usize = 128;

#[derive(clap::Args, Debug, Clone)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub source: ModelSource,
    /// Split to embed, labelled or not (train, dev, test_unseen, ...).
    #[arg(long)]
    pub split: String,
    /// File to write. .safetensors: the head's input features [n, d] f32, labels [n] i32 (−1
    /// unlabelled), ids in the metadata. .jsonl (CLIP models): per record the projected image and
    /// text embeddings.
    #[arg(long)]
    pub output: PathBuf,
}

impl EmbedArgs {
    /// `embed --run RUN --split SPLIT --output OUTPUT` on the CPU with every other option at its default.
    pub fn for_run(run: &Path, split: &str, output: &Path) -> Self {
        Self { source: ModelSource::run_on_cpu(run), split: split.to_string(), output: output.to_path_buf() }
    }
}

/// What `embed` writes, from the output's extension.
fn writes_jsonl(output: &Path) -> bool {
    output.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("jsonl"))
}

pub fn run_embed(args: EmbedArgs) -> Result<()> {
    let source = &args.source;
    super::predict_checks::refuse_unused_options(&source.given_mode_options(), source.run.is_some(), source.model.as_deref()).map_err(|e| anyhow::anyhow!("embed: {e}"))?;
    if source.max_len == Some(0) {
        bail!("embed: --max-len must be at least 1");
    }
    let device = resolve_device(&source.device)?;
    let progress = if std::io::stderr().is_terminal() { EmbedProgress::Bar } else { EmbedProgress::Lines };
    let Some(run) = &source.run else { return embed_with_weights(&args, device, progress) };
    let run = RunDir::open_existing(run)?;
    let checkpoint = source.checkpoint.unwrap_or(CheckpointKind::Best);
    let inputs = run_inputs(&run, &args.split, checkpoint);
    refuse_overwriting_inputs("--output", &args.output, &inputs.iter().map(PathBuf::as_path).collect::<Vec<_>>(), &[])?;
    if writes_jsonl(&args.output) {
        let (mut config, model, _) = load_trained_model(&run, checkpoint, device)?;
        if let Some(data) = &source.data {
            config.data_dir = std::path::absolute(data).with_context(|| format!("resolving --data {}", data.display()))?;
        }
        let loader = evaluation_loader(DataCache::new(&run, &config).split(&args.split)?, EMBED_BATCH_SIZE)?;
        let count = write_projected_embeddings(model.as_ref(), &loader, config.precision.compute_dtype(), device, &args.output)?;
        eprintln!("memefuse: wrote the image and text embeddings of {count} records of {:?} to {}", args.split, args.output.display());
        return Ok(());
    }
    let embeddings = embed_split(&run, &args.split, checkpoint, source.data.as_deref(), device, progress)?;
    embeddings.write(&args.output)?;
    eprintln!("memefuse: wrote {} embeddings of dimension {} for {:?} to {}", embeddings.len(), embeddings.dim, args.split, args.output.display());
    Ok(())
}

/// `embed --model NAME --weights W --data D`: the registry model with imported weights
/// (io::foreign_weights) over a split prepared as its importer says.
fn embed_with_weights(args: &EmbedArgs, device: Device, progress: EmbedProgress) -> Result<()> {
    let source = &args.source;
    let (model, weights, data) = source.foreign_weights_for("embed", &args.split, &args.output)?;
    let options = source.import_options(EMBED_BATCH_SIZE);
    let imported = import(model, weights, &options, device)?;
    let dtype = super::commands::imported_dtype(&imported, source.precision, device);
    let (split, data_source, _folder) = super::imported_split::prepare_for_import(&imported, &data, &args.split)?;
    let loader = evaluation_loader(split, EMBED_BATCH_SIZE)?;
    if writes_jsonl(&args.output) {
        let count = write_projected_embeddings(imported.model.as_ref(), &loader, dtype, device, &args.output)?;
        eprintln!("memefuse: wrote the image and text embeddings of {count} records of {:?} to {}; data: {data_source}", args.split, args.output.display());
        return Ok(());
    }
    let (features, dim, ids, labels) = embed_batches(imported.model.as_ref(), &loader, dtype, device, progress, &args.split)?;
    let provenance: BTreeMap<String, String> = [
        ("model", imported.model.name().to_string()),
        ("split", args.split.clone()),
        ("weights", std::path::absolute(weights).unwrap_or_else(|_| weights.to_path_buf()).display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let embeddings = Embeddings { features, dim, ids, labels, provenance };
    embeddings.write(&args.output)?;
    eprintln!("memefuse: wrote {} embeddings of dimension {} for {:?} to {}; data: {data_source}", embeddings.len(), embeddings.dim, args.split, args.output.display());
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
    let loader = evaluation_loader(prepared, EMBED_BATCH_SIZE)?;
    let (features, dim, ids, labels) = embed_batches(model.as_ref(), &loader, config.precision.compute_dtype(), device, progress, split)?;
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
    Ok(Embeddings { features, dim, ids, labels, provenance })
}

/// `Model::embed` over every batch: features `[n, dim]` row-major, dim, ids, labels.
#[allow(clippy::type_complexity)]
fn embed_batches(model: &dyn Model, loader: &BatchLoader, dtype: DType, device: Device, progress: EmbedProgress, split: &str) -> Result<(Vec<f32>, usize, Vec<String>, Vec<Option<u8>>)> {
    let _no_grad = no_grad();
    let reporter = Reporter::start(progress, loader.split().len(), split);
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
    ensure!(!ids.is_empty(), "split {split:?} has no records to embed");
    Ok((features, dim, ids, labels))
}

/// CLIP models, `embed --output FILE.jsonl`: one JSON object a line, `{"id", "image_embedding",
/// "text_embedding", "true_label"}`, the embeddings projected and not normalised (HF's
/// `get_image_features` / `get_text_features`), `id` as the dataset wrote it. Returns the count.
pub fn write_projected_embeddings(model: &dyn Model, loader: &BatchLoader, dtype: DType, device: Device, output: &Path) -> Result<usize> {
    let _no_grad = no_grad();
    let mut text = String::new();
    let mut count = 0;
    for batch in loader.epoch(0) {
        let input = model_input(&batch, model.needs(), dtype, device)?;
        let Some((image, caption)) = model.projected_embeddings(&input)? else {
            bail!("model {} has no image and text embeddings to write as .jsonl (CLIP models have); write a .safetensors file of its features instead", model.name());
        };
        let (image_dim, text_dim) = (image.dim(-1)?, caption.dim(-1)?);
        let (image, caption) = (image.to_vec_f32()?, caption.to_vec_f32()?);
        for (row, &index) in batch.indices.iter().enumerate() {
            let line = serde_json::json!({
                "id": loader.split().id_value(index),
                "image_embedding": &image[row * image_dim..(row + 1) * image_dim],
                "text_embedding": &caption[row * text_dim..(row + 1) * text_dim],
                "true_label": loader.split().label(index),
            });
            text.push_str(&line.to_string());
            text.push('\n');
            count += 1;
        }
    }
    ensure!(count > 0, "the split has no records to embed");
    write_atomically(output, text.as_bytes()).with_context(|| format!("writing {}", output.display()))?;
    Ok(count)
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
