//! Prepared splits of a run, kept in `RUN_DIR/cache`: prepared on first use, opened (and
//! validated against the run's image size and vocabulary) afterwards. The vocabulary and the
//! caption length come from the train split; every other split is encoded with them.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::config::TrainConfig;
use super::run_dir::RunDir;
use crate::data::prepared::vocab_path_for;
use crate::data::text::Vocabulary;
use crate::data::{prepare_split, Expect, PrepareOptions, PreparedSplit};

pub struct DataCache<'a> {
    run: &'a RunDir,
    config: &'a TrainConfig,
}

impl<'a> DataCache<'a> {
    pub fn new(run: &'a RunDir, config: &'a TrainConfig) -> Self {
        Self { run, config }
    }

    fn vocab_path(&self) -> PathBuf {
        vocab_path_for(&self.run.prepared_split_path(&self.config.train_split))
    }

    /// Prepares the train split if needed and returns it. Fills in `max_len` when the config left
    /// it to the data (the caller saves the updated config).
    pub fn train_split(&self) -> Result<(Arc<PreparedSplit>, usize)> {
        let path = self.run.prepared_split_path(&self.config.train_split);
        if !path.is_file() {
            let mut options = self.prepare_options(path.clone());
            options.vocab = None;
            eprintln!("memefuse: preparing split {:?} of {} into {}", self.config.train_split, self.config.data_dir.display(), path.display());
            prepare_split(&self.config.data_dir, &self.config.train_split, &options)
                .with_context(|| format!("preparing the {:?} split of {}", self.config.train_split, self.config.data_dir.display()))?;
        }
        let split = self.open(&self.config.train_split, path)?;
        let max_len = split.max_len();
        Ok((split, max_len))
    }

    /// Any other split, prepared with the train split's vocabulary and caption length.
    /// `train_split` must have run before (it builds the vocabulary).
    pub fn split(&self, split: &str) -> Result<Arc<PreparedSplit>> {
        if split == self.config.train_split {
            return Ok(self.train_split()?.0);
        }
        let path = self.run.prepared_split_path(split);
        if !path.is_file() {
            let vocab = self.vocab_path();
            anyhow::ensure!(vocab.is_file(), "the run's vocabulary {} is missing; it is built when the train split is prepared", vocab.display());
            let options = self.prepare_options(path.clone());
            eprintln!("memefuse: preparing split {split:?} of {} into {}", self.config.data_dir.display(), path.display());
            prepare_split(&self.config.data_dir, split, &options)
                .with_context(|| format!("preparing the {split:?} split of {}", self.config.data_dir.display()))?;
        }
        self.open(split, path)
    }

    fn prepare_options(&self, out: PathBuf) -> PrepareOptions {
        let mut options = PrepareOptions::new(out);
        options.image_size = self.config.model_config.image_size as u32;
        options.vocab = Some(self.vocab_path());
        options.max_len = self.config.max_len;
        options
    }

    fn open(&self, split: &str, path: PathBuf) -> Result<Arc<PreparedSplit>> {
        let vocab = Vocabulary::load(self.vocab_path())?;
        let expect = Expect {
            image_size: Some(self.config.model_config.image_size as u32),
            vocab_hash: Some(vocab.hash()),
            skip_checksum: false,
        };
        let prepared = PreparedSplit::open(&path, expect)
            .with_context(|| format!("split {split:?} in the run's cache (delete {} to prepare it again)", path.display()))?;
        Ok(Arc::new(prepared))
    }
}
