//! A command that reads files must not write its output over one of them.
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Fails when `output` names the same existing file as one of `inputs` (after resolving links and
/// relative paths), or is a directory.
pub fn ensure_not_an_input(output: &Path, inputs: &[PathBuf], what: &str) -> Result<()> {
    if output.is_dir() {
        bail!("{what} {} is a directory; name a file", output.display());
    }
    let Ok(resolved) = output.canonicalize() else { return Ok(()) };
    for input in inputs {
        if input.canonicalize().is_ok_and(|i| i == resolved) {
            bail!("{what} {} is one of this command's inputs ({}); choose another path", output.display(), input.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_input_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("features.safetensors");
        std::fs::write(&input, b"x").unwrap();
        let other_name = dir.path().join(".").join("features.safetensors");
        let message = ensure_not_an_input(&other_name, &[input.clone()], "--output").unwrap_err().to_string();
        assert!(message.contains("is one of this command's inputs"), "{message}");
        assert!(ensure_not_an_input(&dir.path().join("new.safetensors"), &[input.clone()], "--output").is_ok());
        assert!(ensure_not_an_input(dir.path(), &[input], "--output").is_err(), "a directory is no output file");
    }
}
