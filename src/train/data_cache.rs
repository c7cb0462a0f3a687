//! Prepared splits of a run, kept in `RUN_DIR/cache`: prepared on first use and reused only while
//! they match their source (data::source_fingerprint: data folder, split file contents, images,
//! image size, vocabulary, caption length, tokenizer). A stale one is prepared again (atomically)
//! and the command says so in one line. The folder the run was trained on is cached in `cache/`;
//! another folder given with `--data` in `cache/data-<hash of its path>/`, so the two never
//! answer for each other. The vocabulary and the caption length come from the train split of the
//! training folder (`cache/train.safetensors.vocab.txt`); every other split is encoded with them.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::TrainConfig;
use super::run_dir::RunDir;
use crate::data::prepared::vocab_path_for;
use crate::data::source_fingerprint::{check_cached, CacheExpectation, CacheState};
use crate::data::clip_tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
use crate::data::text::Vocabulary;
use crate::data::{prepare_split, Expect, PrepareOptions, PreparedSplit};

/// How many of a freshly prepared split's issues are printed before its one-line summary.
const SHOWN_ISSUES: usize = 5;

pub struct DataCache<'a> {
    run: &'a RunDir,
    config: &'a TrainConfig,
    /// The folder splits are read from: the run's own, or another one given with `--data`.
    data_dir: PathBuf,
}

/// Which data a command read, as `eval`, `predict` and their reports state it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataSource {
    pub folder: String,
    pub file: String,
    pub records: usize,
}

impl DataSource {
    pub fn of(split: &PreparedSplit) -> Self {
        let field = |key: &str| split.metadata().get(key).cloned().unwrap_or_default();
        Self { folder: field("source_dir"), file: field("split_file"), records: split.len() }
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} records of {} (data folder {})", self.records, self.file, self.folder)
    }
}

impl<'a> DataCache<'a> {
    /// The splits of the folder the run was trained on.
    pub fn new(run: &'a RunDir, config: &'a TrainConfig) -> Self {
        Self { run, config, data_dir: config.data_dir.clone() }
    }

    /// The splits of another data folder (`eval`/`predict --data DIR`), encoded with the run's vocabulary.
    pub fn for_data(run: &'a RunDir, config: &'a TrainConfig, data: &Path) -> Result<Self> {
        let data_dir = std::path::absolute(data).with_context(|| format!("resolving --data {}", data.display()))?;
        if !data_dir.is_dir() {
            bail!("--data {}: the data folder does not exist or is not a folder", data.display());
        }
        Ok(Self { run, config, data_dir })
    }

    fn reads_training_folder(&self) -> bool {
        self.data_dir == self.config.data_dir
    }

    /// `cache/` for the training folder, `cache/data-<first 16 hex digits of sha256(path)>/` otherwise.
    fn folder(&self) -> PathBuf {
        if self.reads_training_folder() {
            return self.run.cache_dir();
        }
        let digest = Sha256::digest(self.data_dir.as_os_str().as_encoded_bytes());
        let short: String = digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        self.run.cache_dir().join(format!("data-{short}"))
    }

    fn path(&self, split: &str) -> PathBuf {
        self.folder().join(format!("{split}.safetensors"))
    }

    fn vocab_path(&self) -> PathBuf {
        vocab_path_for(&self.run.prepared_split_path(&self.config.train_split))
    }

    /// The train split, and its caption length (the config's, or the data's 95th percentile when
    /// the config left it to the data: the caller saves it). Builds the run's vocabulary if needed.
    pub fn train_split(&self) -> Result<(Arc<PreparedSplit>, usize)> {
        let split = self.prepared(&self.config.train_split)?;
        let max_len = split.max_len();
        Ok((split, max_len))
    }

    /// Any split, prepared with the run's vocabulary and caption length.
    pub fn split(&self, split: &str) -> Result<Arc<PreparedSplit>> {
        self.prepared(split)
    }

    /// The validation split: an error before training when it holds no labels (its metrics would be NaN).
    pub fn validation_split(&self, split: &str) -> Result<Arc<PreparedSplit>> {
        let prepared = self.prepared(split)?;
        let labelled = (0..prepared.len()).filter(|&index| prepared.label(index).is_some()).count();
        let source = DataSource::of(&prepared);
        if labelled == 0 {
            bail!("validation split {split:?} ({}) has no labels; validation needs a labelled split (choose one with --val-split)", source.file);
        }
        if labelled < prepared.len() {
            eprintln!("memefuse: validation split {split:?} ({}): {} of {} records have no label; metrics use the {labelled} labelled ones", source.file, prepared.len() - labelled, prepared.len());
        }
        Ok(prepared)
    }

    fn prepare_options(&self, split: &str) -> PrepareOptions {
        let mut options = match &self.config.clip_vocab {
            Some(bpe) => {
                let mut options = PrepareOptions::clip(self.path(split), bpe);
                // CLIP's 77 tokens, or fewer when the text encoder has fewer positions.
                let positions = self.config.model_config.clip_fusion.encoders.as_ref().map_or(CONTEXT_LENGTH, |e| e.text.max_position_embeddings);
                options.max_len = Some(self.config.max_len.unwrap_or(CONTEXT_LENGTH.min(positions)));
                options
            }
            None => {
                let mut options = PrepareOptions::new(self.path(split));
                options.vocab = Some(self.vocab_path());
                options.max_len = self.config.max_len;
                options
            }
        };
        options.image_size = self.config.model_config.image_size as u32;
        options.require_labels = split == self.config.train_split;
        options
    }

    /// The cached split if it still matches its source; otherwise prepared again, saying why.
    fn prepared(&self, split: &str) -> Result<Arc<PreparedSplit>> {
        let mut options = self.prepare_options(split);
        let path = options.out.clone();
        let vocab_path = self.vocab_path();
        let vocab_hash = if let Some(bpe) = &self.config.clip_vocab {
            Some(ClipTokenizer::from_path(bpe).with_context(|| format!("the CLIP tokenizer of --init {}", bpe.display()))?.vocab_hash().to_string())
        } else if vocab_path.is_file() {
            Some(Vocabulary::load(&vocab_path)?.hash())
        } else if split == self.config.train_split && self.reads_training_folder() {
            options.vocab = None; // built from this split and saved next to it, at vocab_path
            None
        } else {
            bail!("the run's vocabulary {} is missing; it is built when the train split is prepared", vocab_path.display());
        };
        let state = match &vocab_hash {
            Some(vocab_hash) => {
                let expected = CacheExpectation {
                    image_size: options.image_size,
                    resize: options.resize.name(),
                    vocab_hash: vocab_hash.clone(),
                    max_len: options.max_len,
                    read: options.read_options(),
                };
                check_cached(&path, &self.data_dir, split, &expected)
                    .with_context(|| format!("checking the cached split {split:?} of {} against its source", self.data_dir.display()))?
            }
            None => CacheState::Missing,
        };
        match state {
            CacheState::Fresh(prepared) => return Ok(Arc::new(prepared)),
            CacheState::Missing => eprintln!("memefuse: preparing split {split:?} of {} into {}", self.data_dir.display(), path.display()),
            CacheState::Stale(reason) => {
                eprintln!("memefuse: the cached split {split:?} ({}) is out of date: {reason}; preparing it again from {}", path.display(), self.data_dir.display())
            }
        }
        let summary = prepare_split(&self.data_dir, split, &options).with_context(|| format!("preparing the {split:?} split of {}", self.data_dir.display()))?;
        let report = &summary.report;
        for issue in report.issues.iter().take(SHOWN_ISSUES) {
            eprintln!("{issue}");
        }
        if !report.issues.is_empty() || !report.notes.is_empty() {
            let more = report.issues.len().saturating_sub(SHOWN_ISSUES);
            let more = if more > 0 { format!(" ({more} more issues not shown; `memefuse prepare` lists them all)") } else { String::new() };
            eprintln!("memefuse: {}{more}", report.summary());
        }
        let vocab_hash = vocab_hash.unwrap_or_else(|| summary.vocab_hash.clone());
        // Just written and checksummed while writing: no need to hash it again.
        let expect = Expect { image_size: Some(options.image_size), vocab_hash: Some(vocab_hash), skip_checksum: true };
        let prepared = PreparedSplit::open(&path, expect).with_context(|| format!("split {split:?} in the run's cache"))?;
        Ok(Arc::new(prepared))
    }
}
