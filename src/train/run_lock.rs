//! One writer per run folder: an exclusive OS lock on `RUN_DIR/run.lock`, held by whatever writes
//! into the run (`train`, `train --resume`, `eval` while it saves its JSON). The operating system
//! releases it when the process exits or dies, so a killed run never leaves a stale lock; the file
//! itself stays (deleting a lock file would let two writers lock two different files).
//!
//! Readers (`eval`'s and `predict`'s passes over a checkpoint) take no lock: checkpoints and the
//! config are replaced atomically, so a reader always sees a whole file.
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub const LOCK_FILE_NAME: &str = "run.lock";

/// Held while a command writes into a run folder; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Locks the run folder `root` (which must exist) for `purpose` (e.g. "train"), or fails at
    /// once naming the process that holds it.
    pub fn acquire(root: &Path, purpose: &str) -> Result<Self> {
        let path = root.join(LOCK_FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot lock the run folder {}: opening {}", root.display(), path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                bail!(
                    "{} is in use: {holder} is writing to it (lock {}); wait for it to finish or choose another run folder",
                    root.display(),
                    path.display()
                );
            }
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock the run folder {} ({})", root.display(), path.display()));
            }
        }
        // Who holds it, for the message a second writer prints. Written only once locked.
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "memefuse {purpose} (process {})", std::process::id())?;
        file.flush()?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes `bytes` to `path` inside the run folder `root` atomically, holding the run's lock while
/// it does (for `eval`'s JSON).
pub fn write_locked(root: &Path, purpose: &str, path: &Path, bytes: &[u8]) -> Result<()> {
    let _lock = RunLock::acquire(root, purpose)?;
    crate::util::write_atomically(path, bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_succeeds_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "train").unwrap();
        // A second open file description conflicts with the first even within one process.
        let error = RunLock::acquire(dir.path(), "eval").unwrap_err().to_string();
        assert!(error.contains("is in use") && error.contains("memefuse train (process"), "{error}");
        drop(first);
        RunLock::acquire(dir.path(), "eval").expect("the lock is free again once released");
    }
}
