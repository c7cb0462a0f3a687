//! `predict`'s options belong to one mode each (`--run`, `--model lstm --weights`, `--model
//! vgg16 --weights`); an option the chosen mode would ignore is an error rather than silently
//! dropped, and every number is checked before anything is read.
use std::path::Path;

use anyhow::{bail, Result};

use super::commands::PredictArgs;
use super::run_dir::{CheckpointKind, RunDir};
use crate::util::output_guard::refuse_overwriting_inputs;

/// The options given that `mode` does not use, by flag.
fn given_but_unused(args: &PredictArgs, mode: &str) -> Vec<&'static str> {
    let lstm_only = [("--vocab", args.vocab.is_some()), ("--max-len", args.max_len.is_some()), ("--readout", args.readout.is_some())];
    let vgg_only = [("--image-size", args.image_size.is_some()), ("--precision", args.precision.is_some())];
    let run_only = [("--checkpoint", args.checkpoint.is_some())];
    let unused: Vec<(&'static str, bool)> = match mode {
        "run" => [&lstm_only[..], &vgg_only[..]].concat(),
        "lstm" => [&vgg_only[..], &run_only[..]].concat(),
        _ => [&lstm_only[..], &run_only[..]].concat(),
    };
    unused.into_iter().filter(|(_, given)| *given).map(|(flag, _)| flag).collect()
}

pub fn check_predict_options(args: &PredictArgs) -> Result<()> {
    let mode = match (&args.run, args.model.as_deref()) {
        (Some(_), _) => "run",
        (None, Some("lstm")) => "lstm",
        (None, Some(model)) => model,
        (None, None) => bail!("predict needs --run RUN_DIR, or --model NAME with --weights FILE"),
    };
    let unused = given_but_unused(args, mode);
    if !unused.is_empty() {
        let why = match mode {
            "run" => "a run uses its own model, vocabulary, caption length, image size and precision (config.json)".to_string(),
            "lstm" => "they are for --run or for --model vgg16".to_string(),
            model => format!("they are for --run or for --model lstm, not --model {model}"),
        };
        bail!("{} would be ignored here: {why}", unused.join(", "));
    }
    for (flag, value) in [("--batch-size", args.batch_size), ("--max-len", args.max_len)] {
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
