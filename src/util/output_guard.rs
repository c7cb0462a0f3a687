//! No command writes over its own input: an output path is compared, canonicalised (symbolic
//! links and `..` resolved), with the files the command reads and with every `.jsonl` of the
//! data folders it reads from (`prepare --out DATA/train.jsonl`, `predict --output
//! DATA/dev_seen.jsonl` would destroy the dataset).
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The canonical form of a path that may not exist yet: its existing ancestor canonicalised, the
/// rest appended.
fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(resolved) = absolute.canonicalize() {
        return resolved;
    }
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => canonical(parent).join(name),
        _ => absolute,
    }
}

/// Refuses `output` (given as `flag`) when it is one of `inputs` or a `.jsonl` file in one of
/// `data_dirs`.
pub fn refuse_overwriting_inputs(flag: &str, output: &Path, inputs: &[&Path], data_dirs: &[&Path]) -> Result<()> {
    if output.as_os_str() == "-" {
        return Ok(()); // standard output
    }
    let target = canonical(output);
    if let Some(input) = inputs.iter().find(|input| canonical(input) == target) {
        bail!("{flag} {} is an input of this command ({}); choose another output file", output.display(), input.display());
    }
    let is_jsonl = target.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    if let (true, Some(parent)) = (is_jsonl, target.parent()) {
        if let Some(dir) = data_dirs.iter().find(|dir| canonical(dir) == parent) {
            bail!("{flag} {} would write a .jsonl into the data folder {}, where the splits live; choose another output file", output.display(), dir.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_and_data_jsonl_are_refused_through_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("img")).unwrap();
        std::fs::write(data.join("train.jsonl"), "{}\n").unwrap();
        let weights = dir.path().join("w.safetensors");
        std::fs::write(&weights, b"").unwrap();
        let sneaky = data.join("img/../train.jsonl");
        assert!(refuse_overwriting_inputs("--out", &sneaky, &[], &[&data]).unwrap_err().to_string().contains("data folder"));
        assert!(refuse_overwriting_inputs("--out", &data.join("new_split.jsonl"), &[], &[&data]).is_err(), "any .jsonl of the data folder");
        assert!(refuse_overwriting_inputs("--output", &weights, &[&weights], &[&data]).unwrap_err().to_string().contains("is an input"));
        refuse_overwriting_inputs("--output", &data.join("preds.csv"), &[&weights], &[&data]).unwrap();
        refuse_overwriting_inputs("--output", &dir.path().join("preds.jsonl"), &[&weights], &[&data]).unwrap();
    }
}
