//! `predict`'s and `embed`'s options belong to one mode each (`--run`, or `--weights` of one of the
//! formats of io::foreign_weights); an option the chosen mode would ignore is an error rather than silently
//! dropped, and every number is checked before anything is read.
use std::path::Path;

use anyhow::{bail, Result};

use super::commands::PredictArgs;
use super::run_dir::{CheckpointKind, RunDir};
use crate::io::foreign_weights::ForeignWeights;
use crate::util::output_guard::refuse_overwriting_inputs;

/// The mode-specific options, in the order errors list them.
const MODE_OPTIONS: [&str; 6] = ["--vocab", "--max-len", "--readout", "--image-size", "--precision", "--checkpoint"];

/// The options of [`MODE_OPTIONS`] that a mode uses: `--run`, or `--weights` of a format.
pub fn used_by(format: Option<ForeignWeights>) -> &'static [&'static str] {
    match format {
        None => &["--checkpoint"],
        Some(ForeignWeights::PytorchTextLstm) => &["--vocab", "--max-len", "--readout"],
        Some(ForeignWeights::TorchvisionVgg16) => &["--image-size", "--precision"],
        Some(ForeignWeights::HuggingFaceClip) => &["--vocab", "--max-len", "--image-size", "--precision"],
    }
}

/// An error naming every given option (`given`: flag → given) that the mode would ignore.
pub fn refuse_unused_options(given: &[(&'static str, bool)], run: bool, model: Option<&str>) -> Result<()> {
    let format = match (run, model) {
        (true, _) => None,
        (false, Some(model)) => crate::models::entry(crate::io::foreign_weights::registry_name(model))?.foreign_weights,
        (false, None) => bail!("needs --run RUN_DIR, or --model NAME with --weights W"),
    };
    let used = used_by(format);
    let unused: Vec<&str> = MODE_OPTIONS.iter().copied().filter(|flag| !used.contains(flag) && given.iter().any(|(f, is_given)| f == flag && *is_given)).collect();
    if unused.is_empty() {
        return Ok(());
    }
    let why = match (format, model) {
        (None, _) => "a run uses its own model, vocabulary, caption length, image size and precision (config.json)".to_string(),
        (Some(_), Some(model)) => format!("--model {model} --weights uses only {} of them", used.join(", ")),
        (Some(_), None) => unreachable!("a format comes from a model"),
    };
    bail!("{} would be ignored here: {why}", unused.join(", "))
}

pub fn check_predict_options(args: &PredictArgs) -> Result<()> {
    let source = &args.source;
    refuse_unused_options(&source.given_mode_options(), source.run.is_some(), source.model.as_deref()).map_err(|e| anyhow::anyhow!("predict: {e}"))?;
    for (flag, value) in [("--batch-size", args.batch_size), ("--max-len", source.max_len)] {
        if value == Some(0) {
            bail!("{flag} must be at least 1");
        }
    }
    Ok(())
}

/// `predict --run`: the output must not be one of the run's own files, nor a split of its data.
pub fn refuse_overwriting_run_inputs(output: &Path, run: &RunDir, data_dir: &Path, split: &str) -> Result<()> {
    let split_file = crate::data::HatefulMemes::open(data_dir)?.split_file(split)?;
    let run_files = [run.config_path(), run.history_path(), run.checkpoint_path(CheckpointKind::Best), run.checkpoint_path(CheckpointKind::Last)];
    let mut inputs: Vec<&Path> = run_files.iter().map(|p| p.as_path()).collect();
    inputs.push(&split_file);
    refuse_overwriting_inputs("--output", output, &inputs, &[data_dir])
}
