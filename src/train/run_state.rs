//! What a run folder holds decides what `train` and `train --resume` may do with it:
//!
//! - nothing, or a run that never finished an epoch (it failed before, e.g. on a missing
//!   validation split or an `--init` mismatch): `train` (re)starts it;
//! - a run with a finished epoch: `train` refuses, `--resume` continues from `checkpoints/last`.
//!
//! Both take the folder's [`RunLock`] first, so the checks cannot race with another writer, and
//! their messages say what is actually wrong (a deleted or corrupted `last`, too few `--epochs`).
use anyhow::{bail, Result};

use super::checkpoint::{load_checkpoint, LoadedCheckpoint};
use super::config::TrainConfig;
use super::history::History;
use super::run_dir::{CheckpointKind, RunDir};
use super::run_lock::RunLock;
use crate::data::HatefulMemes;

/// The train and validation split files exist: checked before the run folder is touched.
pub fn check_splits_exist(config: &TrainConfig) -> Result<()> {
    let data = HatefulMemes::open(&config.data_dir)?;
    data.split_file(&config.train_split).map_err(|e| anyhow::anyhow!("the train split: {e:#}"))?;
    data.split_file(&config.val_split).map_err(|e| anyhow::anyhow!("the validation split (--val-split): {e:#}"))?;
    Ok(())
}

/// Epochs recorded in the run's history (0 when it has none or cannot be read).
fn finished_epochs_in_history(run: &RunDir) -> usize {
    History::load(run.history_path()).map_or(0, |history| history.records.len())
}

/// Creates (or reclaims) `run` for a new run and locks it. Nothing of a finished epoch is touched.
pub fn claim_for_new_run(run: &RunDir) -> Result<RunLock> {
    std::fs::create_dir_all(run.root()).map_err(|e| anyhow::anyhow!("creating {}: {e}", run.root().display()))?;
    let lock = RunLock::acquire(run.root(), "train")?;
    let has_checkpoint = run.checkpoint_path(CheckpointKind::Last).exists() || run.checkpoint_path(CheckpointKind::Best).exists();
    if has_checkpoint || finished_epochs_in_history(run) > 0 {
        bail!("{} already holds a run; continue it with `memefuse train --resume {}` or choose another --out", run.root().display(), run.root().display());
    }
    // A config or history without a finished epoch is a failed attempt; its prepared data (and the
    // vocabulary built with them) may have been made with other options, so they go too. A cache
    // alone is no attempt: `study` and `demo` link another run's splits in before training, and
    // the data cache checks each against its source and options before reusing it.
    if run.config_path().exists() || run.history_path().exists() {
        eprintln!("memefuse: {} holds a run that never finished an epoch; starting it again", run.root().display());
        for file in [run.config_path(), run.history_path()] {
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| anyhow::anyhow!("removing {}: {e}", file.display()))?;
            }
        }
        if run.cache_dir().exists() {
            std::fs::remove_dir_all(run.cache_dir()).map_err(|e| anyhow::anyhow!("removing {}: {e}", run.cache_dir().display()))?;
        }
    }
    run.create_folders()?;
    Ok(lock)
}

/// Locks `run` and reads its `last` checkpoint, with a message that says what is wrong when it
/// cannot: never started, checkpoint deleted, checkpoint corrupted.
pub fn open_for_resume(run: &RunDir) -> Result<(RunLock, LoadedCheckpoint)> {
    let lock = RunLock::acquire(run.root(), "train --resume")?;
    let path = run.checkpoint_path(CheckpointKind::Last);
    let root = run.root().display();
    if !path.is_file() {
        let finished = finished_epochs_in_history(run);
        if finished == 0 {
            bail!("cannot resume {root}: no epoch finished yet ({} does not exist); start it again with `memefuse train --out {root} ...`", path.display());
        }
        let best = run.checkpoint_path(CheckpointKind::Best);
        let hint = if best.is_file() {
            format!("; {} holds weights only, so it cannot continue the run, but `memefuse train --init {}` can start a new one from it", best.display(), best.display())
        } else {
            String::new()
        };
        bail!("cannot resume {root}: its history records {finished} finished epoch(s) but {} is missing (deleted or moved?); restore it to continue{hint}", path.display());
    }
    let checkpoint = load_checkpoint(&path).map_err(|_| {
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        // The reader's own words (e.g. safetensors' MetadataIncompleteBuffer) say little to a user.
        anyhow::anyhow!(
            "cannot resume {root}: {} is corrupted ({size} bytes; truncated, or not a memefuse checkpoint); restore it from a copy, or start a new run",
            path.display()
        )
    })?;
    Ok((lock, checkpoint))
}

/// The epoch count of a resumed run: `requested` may raise it, never lower it below what finished.
pub fn resumed_epochs(run: &RunDir, finished: usize, configured: usize, requested: Option<usize>) -> Result<usize> {
    let epochs = requested.unwrap_or(configured);
    if epochs < finished {
        bail!(
            "{} already finished {finished} epochs, more than --epochs {epochs}; to train longer give --epochs {} or more (`memefuse train --resume {} --epochs {}`)",
            run.root().display(),
            finished + 1,
            run.root().display(),
            finished + 1
        );
    }
    Ok(epochs)
}
