//! `memefuse study`: the study's models, each trained into `OUT/runs/<name>` and then reported.
//!
//! A study run is named after its model, with `-early` or `-late` for a fusion baseline
//! (`cnn-lstm-late`). A name not in this build's registry is skipped with a note rather than
//! failing the whole study.
//!
//! Resumable: a run whose history reaches its epoch count, or that stopped early (`--patience`),
//! and that has a `best` checkpoint is skipped; one with a `last` checkpoint is continued from it; one that never finished an epoch is
//! started again (its prepared data kept).
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::report::{write_study_report, ReportPaths};
use super::run_summary::{summarise_run, SummaryOptions};
use crate::models::{self, FusionKind};
use crate::train::commands::TrainArgs;
use crate::train::config::{stopped_early, TrainConfig};
use crate::train::demo::link_prepared_splits;
use crate::train::history::History;
use crate::train::progress::ProgressMode;
use crate::train::run_dir::{CheckpointKind, RunDir};
use crate::train::trainer::{resume, train_new, TrainOptions};
use crate::Device;

/// What `study` trains when no models are named: the seed's image-only VGG16, the text LSTM, the
/// small CNN (the image-only model of cnn-lstm's settings), the fusion baselines in both forms, and
/// the CLIP-style model once it is registered.
pub const DEFAULT_MODELS: &[&str] = &["vgg16", "lstm", "cnn", "cnn-lstm-early", "cnn-lstm-late", "vgg16-lstm-early", "vgg16-lstm-late", "clip-fusion"];

/// One run of the study: a registry model and, for the fusion baselines, how it fuses.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRun {
    /// The run folder's name, e.g. `cnn-lstm-late`.
    pub name: String,
    pub model: String,
    pub fusion: Option<FusionKind>,
}

impl StudyRun {
    /// `NAME` or `NAME-early` / `NAME-late`; `None` when no registered model has that name.
    pub fn parse(name: &str) -> Option<Self> {
        if models::entry(name).is_ok() {
            return Some(Self { name: name.to_string(), model: name.to_string(), fusion: None });
        }
        for (suffix, fusion) in [("-early", FusionKind::Early), ("-late", FusionKind::Late)] {
            if let Some(model) = name.strip_suffix(suffix) {
                if models::entry(model).is_ok() && is_fusion_baseline(model) {
                    return Some(Self { name: name.to_string(), model: model.to_string(), fusion: Some(fusion) });
                }
            }
        }
        None
    }
}

/// Models that take `--fusion`.
pub fn is_fusion_baseline(model: &str) -> bool {
    matches!(model, "cnn-lstm" | "vgg16-lstm" | "vgg16-small-lstm")
}

#[derive(Clone, Debug)]
pub struct StudyOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    /// Study run names (see [`StudyRun::parse`]).
    pub models: Vec<String>,
    pub epochs: Option<usize>,
    pub image_size: Option<usize>,
    pub seed: Option<u64>,
    pub device: Device,
    pub progress: ProgressMode,
    /// Labelled splits the report evaluates on and maps embeddings of.
    pub split: String,
    pub tsne_split: String,
}

/// The run config of one study run: `train`'s defaults, with the run's model and fusion.
pub fn study_config(run: &StudyRun, options: &StudyOptions) -> Result<TrainConfig> {
    let args = TrainArgs {
        model: Some(run.model.clone()),
        data: Some(options.data.clone()),
        epochs: options.epochs,
        image_size: options.image_size,
        seed: options.seed,
        fusion: run.fusion,
        ..TrainArgs::default()
    };
    args.to_config(options.device)
}

/// The runs of `names`, with a note for each one that is skipped.
pub fn resolve_runs(names: &[String]) -> Result<Vec<StudyRun>> {
    let mut runs = Vec::new();
    for name in names {
        match StudyRun::parse(name) {
            Some(run) if runs.iter().any(|r: &StudyRun| r.name == run.name) => eprintln!("study: {name} is listed twice; training it once"),
            Some(run) => runs.push(run),
            None => eprintln!("study: skipping {name}: no such model in this build (available: {})", models::available().join(", ")),
        }
    }
    if runs.is_empty() {
        bail!("none of the models {names:?} can be trained; available: {}", models::available().join(", "));
    }
    Ok(runs)
}

/// Trains (or continues, or skips) every run, then writes the report into `options.out`.
pub fn run_study(options: &StudyOptions) -> Result<ReportPaths> {
    let runs = resolve_runs(&options.models)?;
    let train_options = TrainOptions { device: options.device, progress: options.progress, stop_after_epochs: None };
    let mut run_dirs = Vec::new();
    let mut prepared: Vec<(usize, PathBuf)> = Vec::new();
    for study_run in &runs {
        let config = study_config(study_run, options)?;
        let run = RunDir::new(options.out.join("runs").join(&study_run.name));
        let started = Instant::now();
        let action = train_or_continue(&run, config.clone(), &train_options, &prepared)?;
        eprintln!("study: {}: {action} ({:.1} s)", study_run.name, started.elapsed().as_secs_f64());
        if !prepared.iter().any(|(size, _)| *size == config.model_config.image_size) {
            prepared.push((config.model_config.image_size, run.cache_dir()));
        }
        run_dirs.push(run.root().to_path_buf());
    }
    let summary_options = SummaryOptions { split: options.split.clone(), tsne_split: options.tsne_split.clone(), checkpoint: CheckpointKind::Best, device: options.device };
    let summaries = run_dirs.iter().map(|dir| summarise_run(dir, &summary_options)).collect::<Result<Vec<_>>>()?;
    write_study_report(&options.out, &summaries)
}

/// Whether a run with this history has nothing left to train: every epoch done, or stopped early
/// (`--patience` epochs without a better validation AUROC), which a resume would only repeat.
fn run_is_finished(history: &History, epochs: usize, patience: Option<usize>) -> bool {
    history.len() >= epochs || stopped_early(patience, history.len(), history.best_epoch())
}

/// Does what the run folder needs; returns what that was, for the log.
fn train_or_continue(run: &RunDir, config: TrainConfig, options: &TrainOptions, prepared: &[(usize, PathBuf)]) -> Result<&'static str> {
    let last = run.checkpoint_path(CheckpointKind::Last);
    if last.is_file() {
        let history = if run.history_path().is_file() { History::load(run.history_path())? } else { History::default() };
        // The run's own patience, as saved: a resume trains with that one, not this study's.
        let patience = run.read_config().map_or(config.patience, |saved| saved.patience);
        if run_is_finished(&history, config.epochs, patience) && run.checkpoint_path(CheckpointKind::Best).is_file() {
            return Ok("finished earlier, skipped");
        }
        resume(run, Some(config.epochs), options)?;
        return Ok("continued");
    }
    // Never finished an epoch: start again, keeping prepared splits.
    for stale in [run.config_path(), run.history_path()] {
        if stale.is_file() {
            std::fs::remove_file(&stale).with_context(|| format!("removing {} of an unfinished run", stale.display()))?;
        }
    }
    if !run.cache_dir().is_dir() {
        if let Some((_, source)) = prepared.iter().find(|(size, _)| *size == config.model_config.image_size) {
            link_prepared_splits(source, &run.cache_dir())?;
        }
    }
    train_new(run, config, options)?;
    Ok("trained")
}

#[cfg(test)]
mod tests {
    use super::run_is_finished;
    use crate::train::history::{EpochRecord, History};

    fn history(val_aurocs: &[f64]) -> History {
        let record = |(index, &val_auroc): (usize, &f64)| EpochRecord {
            epoch: index + 1,
            train_loss: 0.5,
            train_accuracy: 0.5,
            val_loss: 0.5,
            val_accuracy: 0.5,
            val_auroc,
            samples_per_second: 1.0,
            seconds: 1.0,
            learning_rate: 1e-3,
        };
        History::from_records(val_aurocs.iter().enumerate().map(record).collect())
    }

    #[test]
    fn an_early_stopped_run_counts_as_finished() {
        // Best at epoch 2, then two epochs without a better AUROC: with --patience 2 it stopped.
        let stopped = history(&[0.6, 0.7, 0.7, 0.65]);
        assert_eq!(stopped.best_epoch(), Some(2), "a tie is not an improvement");
        assert!(run_is_finished(&stopped, 6, Some(2)));
        assert!(!run_is_finished(&stopped, 6, Some(3)), "patience 3 has one epoch to go");
        assert!(!run_is_finished(&stopped, 6, None), "without patience every epoch is trained");
        assert!(run_is_finished(&stopped, 4, None));
        // No defined AUROC yet: never an early stop.
        assert!(!run_is_finished(&history(&[f64::NAN, f64::NAN]), 6, Some(1)));
    }
}
