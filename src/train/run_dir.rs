//! The layout of a run folder, in one place:
//!
//! ```text
//! RUN_DIR/
//!   config.json                 the resolved TrainConfig
//!   history.jsonl               one EpochRecord per line, appended as epochs finish
//!   checkpoints/last.safetensors   after every epoch
//!   checkpoints/best.safetensors   the epoch with the best validation AUROC so far
//!   cache/<split>.safetensors   prepared splits (+ cache/train.safetensors.vocab.txt)
//!   loss.png, accuracy.png      training and validation curves, redrawn after every epoch
//!   eval-<split>.json           written by `memefuse eval`
//!   run.lock                    locked by the process writing to the run (train::run_lock)
//! ```
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::config::TrainConfig;
use super::history::HISTORY_FILE_NAME;
use crate::util::write_atomically;

pub const CONFIG_FILE_NAME: &str = "config.json";

/// Which checkpoint to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckpointKind {
    /// The epoch with the best validation AUROC.
    Best,
    /// The most recent epoch.
    Last,
}

impl CheckpointKind {
    pub fn name(self) -> &'static str {
        match self {
            CheckpointKind::Best => "best",
            CheckpointKind::Last => "last",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// An existing run folder (one with a config.json), for resume, eval and predict.
    pub fn open_existing(root: impl Into<PathBuf>) -> Result<Self> {
        let run = Self::new(root);
        if !run.config_path().is_file() {
            bail!("{} is not a run folder: {} is missing (train one with `memefuse train --out DIR`)", run.root.display(), run.config_path().display());
        }
        Ok(run)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE_NAME)
    }
    pub fn history_path(&self) -> PathBuf {
        self.root.join(HISTORY_FILE_NAME)
    }
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    pub fn checkpoint_path(&self, kind: CheckpointKind) -> PathBuf {
        self.checkpoint_dir().join(format!("{}.safetensors", kind.name()))
    }
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }
    pub fn prepared_split_path(&self, split: &str) -> PathBuf {
        self.cache_dir().join(format!("{split}.safetensors"))
    }
    pub fn loss_curve_path(&self) -> PathBuf {
        self.root.join("loss.png")
    }
    pub fn accuracy_curve_path(&self) -> PathBuf {
        self.root.join("accuracy.png")
    }
    pub fn eval_path(&self, split: &str) -> PathBuf {
        self.root.join(format!("eval-{split}.json"))
    }

    pub fn create_folders(&self) -> Result<()> {
        for dir in [self.root.clone(), self.checkpoint_dir(), self.cache_dir()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }

    pub fn write_config(&self, config: &TrainConfig) -> Result<()> {
        let path = self.config_path();
        write_atomically(&path, config.to_json().as_bytes()).with_context(|| format!("writing {}", path.display()))
    }

    pub fn read_config(&self) -> Result<TrainConfig> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The checkpoint to evaluate: `best` falls back to `last` when no epoch had a defined AUROC.
    pub fn checkpoint_for_reading(&self, kind: CheckpointKind) -> Result<PathBuf> {
        let wanted = self.checkpoint_path(kind);
        if wanted.is_file() {
            return Ok(wanted);
        }
        let last = self.checkpoint_path(CheckpointKind::Last);
        if kind == CheckpointKind::Best && last.is_file() {
            eprintln!("memefuse: {} does not exist (no epoch had a defined validation AUROC); using {}", wanted.display(), last.display());
            return Ok(last);
        }
        bail!("{} has no checkpoint: {} is missing (has an epoch finished?)", self.root.display(), wanted.display())
    }
}
