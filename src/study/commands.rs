//! The `report` and `study` subcommands.
use std::path::PathBuf;

use anyhow::Result;

use super::report::write_study_report;
use super::run_summary::{summarise_run, SummaryOptions};
use super::study::{run_study, StudyOptions, DEFAULT_MODELS};
use crate::backend::resolve_device;
use crate::train::progress::ProgressMode;
use crate::train::run_dir::CheckpointKind;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run folders made by `memefuse train` (or `study`), in the order the report shows them.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Folder to write report.html, report.md and their figures into.
    #[arg(long)]
    pub out: PathBuf,
    /// Labelled split the metrics are computed on.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Labelled split whose embeddings the t-SNE maps.
    #[arg(long, default_value = "dev")]
    pub tsne_split: String,
    /// Which checkpoint of each run to evaluate.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointKind,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run_report(args: ReportArgs) -> Result<()> {
    let options = SummaryOptions { split: args.split, tsne_split: args.tsne_split, checkpoint: args.checkpoint, device: resolve_device(&args.device)? };
    let summaries = args.runs.iter().map(|run| summarise_run(run, &options)).collect::<Result<Vec<_>>>()?;
    let paths = write_study_report(&args.out, &summaries)?;
    eprintln!("memefuse: wrote {} and {}", paths.html.display(), paths.markdown.display());
    println!("{}", paths.html.display());
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct StudyArgs {
    /// Hateful Memes folder (train.jsonl, dev_seen.jsonl, img/ ...).
    #[arg(long)]
    pub data: PathBuf,
    /// Study folder: runs/<model>/ per model, then report.html and report.md.
    #[arg(long)]
    pub out: PathBuf,
    /// Models, comma-separated: registry names, fusion baselines with -early or -late
    /// [default: vgg16, lstm, cnn, cnn-lstm-early, cnn-lstm-late, vgg16-lstm-early, vgg16-lstm-late, clip-fusion].
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Epochs per model [default: train's, 15].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Image side, 64 or 224 [default: 64].
    #[arg(long)]
    pub image_size: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Labelled split the report evaluates on.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Labelled split whose embeddings the t-SNE maps.
    #[arg(long, default_value = "dev")]
    pub tsne_split: String,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run_study_command(args: StudyArgs) -> Result<()> {
    let models = if args.models.is_empty() { DEFAULT_MODELS.iter().map(|m| m.to_string()).collect() } else { args.models };
    let options = StudyOptions {
        data: args.data,
        out: args.out,
        models,
        epochs: args.epochs,
        image_size: args.image_size,
        seed: args.seed,
        device: resolve_device(&args.device)?,
        progress: ProgressMode::detect(),
        split: args.split,
        tsne_split: args.tsne_split,
    };
    let paths = run_study(&options)?;
    eprintln!("memefuse: wrote {} and {}", paths.html.display(), paths.markdown.display());
    println!("{}", paths.html.display());
    Ok(())
}
