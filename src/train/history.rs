//! Per-epoch training history, kept as JSON lines in `RUN_DIR/history.jsonl`.
//!
//! - [`EpochRecord`]: one epoch's numbers. Unavailable numbers (no validation split, undefined
//!   AUROC, a diverged loss) are NaN in memory and `null` in the file, because JSON has no NaN.
//! - [`HistoryWriter`]: appends one line per epoch as it happens, flushed and synced, so a crash
//!   loses at most the epoch being written. Opening an existing file (a resumed run) first cuts off
//!   a partial last line left by a crash, so new lines never glue onto it.
//! - [`History`]: the records read back by [`History::load`], which tolerates a truncated last
//!   line and reports it in [`History::truncated_tail`]; a malformed line elsewhere is an error.
//!
//! This file is appended to rather than rewritten atomically: rewriting it every epoch would be
//! the one way to lose the whole history to a crash.
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The history file's name inside a run directory.
pub const HISTORY_FILE_NAME: &str = "history.jsonl";

/// One epoch of training. `epoch` counts from 1, like Keras' printed epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    #[serde(with = "nan_as_null")]
    pub train_loss: f64,
    #[serde(with = "nan_as_null")]
    pub train_accuracy: f64,
    #[serde(with = "nan_as_null")]
    pub val_loss: f64,
    #[serde(with = "nan_as_null")]
    pub val_accuracy: f64,
    #[serde(with = "nan_as_null")]
    pub val_auroc: f64,
    /// Training throughput over the epoch.
    #[serde(with = "nan_as_null")]
    pub samples_per_second: f64,
    /// Wall-clock duration of the epoch, evaluation included.
    #[serde(with = "nan_as_null")]
    pub seconds: f64,
    #[serde(with = "nan_as_null")]
    pub learning_rate: f64,
}

/// Non-finite floats are written as `null` and `null` is read back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// A last line that was cut short (no newline and not valid JSON), as a crash mid-write leaves it.
#[derive(Debug, Clone, PartialEq)]
pub struct TruncatedTail {
    /// 1-based line number in the file.
    pub line_number: usize,
    pub text: String,
}

/// The epochs of one run, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub records: Vec<EpochRecord>,
    /// Set by [`History::load`] when the file ended in a partial line, which was skipped.
    pub truncated_tail: Option<TruncatedTail>,
}

impl History {
    pub fn from_records(records: Vec<EpochRecord>) -> Self {
        Self { records, truncated_tail: None }
    }

    /// Reads a `history.jsonl` file (or the one inside a run directory).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = resolve_history_path(path.as_ref());
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&String::from_utf8_lossy(&bytes)).with_context(|| format!("parsing {}", path.display()))
    }

    /// Parses JSON lines; see [`History::load`].
    pub fn parse(text: &str) -> Result<Self> {
        let mut history = Self::default();
        let ends_with_newline = text.ends_with('\n');
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        for (index, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<EpochRecord>(line) {
                Ok(record) => history.records.push(record),
                Err(_) if index + 1 == lines.len() && !ends_with_newline => {
                    history.truncated_tail = Some(TruncatedTail { line_number: index + 1, text: line.to_string() });
                }
                Err(error) => bail!("line {}: {error}: {line:?}", index + 1),
            }
        }
        Ok(history)
    }

    pub fn push(&mut self, record: EpochRecord) {
        self.records.push(record);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn last(&self) -> Option<&EpochRecord> {
        self.records.last()
    }

    /// The epoch with the best validation AUROC, by the trainer's rule (the first of the highest
    /// finite values), or None if no epoch had one.
    pub fn best_epoch(&self) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for record in &self.records {
            if record.val_auroc.is_finite() && best.is_none_or(|(_, auroc)| record.val_auroc > auroc) {
                best = Some((record.epoch, record.val_auroc));
            }
        }
        best.map(|(epoch, _)| epoch)
    }

    /// `(epoch, value)` for every epoch where `value` is finite, for plotting.
    pub fn series(&self, value: impl Fn(&EpochRecord) -> f64) -> Vec<(f64, f64)> {
        self.records
            .iter()
            .map(|r| (r.epoch as f64, value(r)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    }

    /// Mean training throughput over the epochs that measured it (NaN if none did).
    pub fn mean_samples_per_second(&self) -> f64 {
        let measured = self.series(|r| r.samples_per_second);
        measured.iter().map(|(_, v)| v).sum::<f64>() / measured.len() as f64
    }
}

/// Appends epoch records to a history file, one synced line each.
pub struct HistoryWriter {
    file: File,
    path: PathBuf,
    dropped_tail: Option<TruncatedTail>,
}

impl HistoryWriter {
    /// Opens `run_dir/history.jsonl` for appending, creating the directory and file if needed.
    pub fn open_in(run_dir: impl AsRef<Path>) -> Result<Self> {
        let run_dir = run_dir.as_ref();
        fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
        Self::open(run_dir.join(HISTORY_FILE_NAME))
    }

    /// Opens a history file for appending. If it ends in a partial line, that line is cut off
    /// (reported by [`HistoryWriter::dropped_tail`]); a complete line missing only its newline gets one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let existing = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut dropped_tail = None;
        if !existing.is_empty() && !existing.ends_with(b"\n") {
            let tail_start = existing.iter().rposition(|&b| b == b'\n').map_or(0, |newline| newline + 1);
            let tail = String::from_utf8_lossy(&existing[tail_start..]).into_owned();
            if serde_json::from_str::<EpochRecord>(&tail).is_ok() {
                file.write_all(b"\n")?;
            } else {
                file.set_len(tail_start as u64).with_context(|| format!("truncating {}", path.display()))?;
                let line_number = existing[..tail_start].iter().filter(|&&b| b == b'\n').count() + 1;
                dropped_tail = Some(TruncatedTail { line_number, text: tail });
            }
            file.sync_data()?;
        }
        Ok(Self { file, path, dropped_tail })
    }

    /// Writes one record as a line and syncs it to disk before returning.
    pub fn append(&mut self, record: &EpochRecord) -> Result<()> {
        let mut line = serde_json::to_string(record).expect("an epoch record always serializes");
        line.push('\n');
        // One write per line, so a crash can only ever cut the last line short.
        self.file.write_all(line.as_bytes()).with_context(|| format!("appending to {}", self.path.display()))?;
        self.file.flush()?;
        self.file.sync_data().with_context(|| format!("syncing {}", self.path.display()))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The partial last line removed when the file was opened, if there was one.
    pub fn dropped_tail(&self) -> Option<&TruncatedTail> {
        self.dropped_tail.as_ref()
    }
}

/// A run directory stands for the history file inside it.
fn resolve_history_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(HISTORY_FILE_NAME)
    } else {
        path.to_path_buf()
    }
}
