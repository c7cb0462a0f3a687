//! `memefuse tsne`: a t-SNE of a split's embeddings (from a run, or from an embeddings file) drawn
//! as a PNG coloured by label, plus the 2-D points as CSV (`id,label,x,y`; label empty when
//! unlabelled). A one-line JSON summary (KL divergence, iterations, seconds) goes to stdout.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::embed::{embed_split, run_inputs, EmbedProgress};
use super::run_dir::{CheckpointKind, RunDir};
use crate::backend::resolve_device;
use crate::io::embeddings::Embeddings;
use crate::util::output_guard::refuse_overwriting_inputs;
use crate::util::AtomicFile;
use crate::viz::scatter::plot_embedding_2d;
use crate::viz::tsne::{tsne, Initialisation, LearningRate, TsneOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct TsneArgs {
    /// A run folder: embed --split with its checkpoint first.
    #[arg(long, requires = "split", conflicts_with = "embeddings", required_unless_present = "embeddings")]
    pub run: Option<PathBuf>,
    /// With --run: the split to embed.
    #[arg(long, requires = "run")]
    pub split: Option<String>,
    /// An embeddings file written by `memefuse embed` (or by Python, same layout).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// PNG to write [default: RUN/tsne-SPLIT.png, or FILE's name with -tsne.png].
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// CSV of the 2-D points [default: the PNG's name with .csv].
    #[arg(long)]
    pub points: Option<PathBuf>,
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    /// Iterations in all (the first 250 with early exaggeration 12).
    #[arg(long, default_value_t = 1000)]
    pub iterations: usize,
    /// Barnes-Hut opening angle; 0 is exact (O(n²) per iteration).
    #[arg(long, default_value_t = 0.5)]
    pub theta: f64,
    #[arg(long, value_enum, default_value = "pca")]
    pub init: Initialisation,
    /// "auto" (max(n / 48, 50)) or a number.
    #[arg(long = "lr", default_value = "auto")]
    pub learning_rate: LearningRate,
    /// Seeds the random initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// With --run: which checkpoint.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointKind,
    /// With --run: read splits from this folder instead of the run's.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With --run: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run_tsne(args: TsneArgs) -> Result<()> {
    let (embeddings, default_output, title) = match (&args.run, &args.embeddings) {
        (Some(run), None) => {
            let split = args.split.as_deref().expect("clap requires --split with --run");
            let run = RunDir::open_existing(run)?;
            let output = run.root().join(format!("tsne-{split}.png"));
            let inputs = run_inputs(&run, split, args.checkpoint);
            // Refuse a bad output before the (possibly long) embedding pass.
            check_outputs(&args, &output, &inputs)?;
            let embeddings = embed_split(&run, split, args.checkpoint, args.data.as_deref(), resolve_device(&args.device)?, EmbedProgress::Silent)?;
            let title = format!("{}: t-SNE of {split} embeddings", embeddings.provenance.get("model").map_or("run", String::as_str));
            (embeddings, output, title)
        }
        (None, Some(file)) => {
            let stem = file.file_stem().map_or("embeddings".into(), |s| s.to_string_lossy().into_owned());
            let output = file.with_file_name(format!("{stem}-tsne.png"));
            let inputs = vec![file.clone()];
            check_outputs(&args, &output, &inputs)?;
            let embeddings = Embeddings::read(file)?;
            (embeddings, output, format!("t-SNE of {stem}"))
        }
        _ => bail!("tsne needs --run RUN --split SPLIT, or --embeddings FILE"),
    };
    let png = args.output.clone().unwrap_or(default_output);
    let csv = args.points.clone().unwrap_or_else(|| png.with_extension("csv"));

    let options = TsneOptions {
        perplexity: args.perplexity,
        iterations: args.iterations,
        theta: args.theta,
        initialisation: args.init,
        learning_rate: args.learning_rate,
        seed: args.seed,
        ..TsneOptions::default()
    };
    let started = Instant::now();
    let result = tsne(&embeddings.features, embeddings.len(), embeddings.dim, &options)?;
    let seconds = started.elapsed().as_secs_f64();

    write_points(&csv, &embeddings, &result.points)?;
    let (labelled_points, labels): (Vec<[f32; 2]>, Vec<u8>) = result.points.iter().zip(&embeddings.labels).filter_map(|(p, l)| l.map(|l| (*p, l))).unzip();
    let unlabelled = embeddings.len() - labels.len();
    if labels.is_empty() {
        eprintln!("memefuse: every record is unlabelled; no plot drawn (the points are in {})", csv.display());
    } else {
        let title = if unlabelled > 0 { format!("{title} ({unlabelled} unlabelled not shown)") } else { title };
        plot_embedding_2d(&labelled_points, &labels, &title, &png)?;
        eprintln!("memefuse: wrote {}", png.display());
    }
    eprintln!("memefuse: wrote {} ({} points, KL divergence {:.4}, {:.1} s)", csv.display(), embeddings.len(), result.kl_divergence, seconds);
    let summary = json!({
        "points": embeddings.len(),
        "dim": embeddings.dim,
        "kl_divergence": result.kl_divergence,
        "iterations": result.iterations,
        "learning_rate": result.learning_rate,
        "seconds": seconds,
        "threads": rayon::current_num_threads(),
        "png": (!labels.is_empty()).then(|| png.display().to_string()),
        "csv": csv.display().to_string(),
    });
    println!("{summary}");
    Ok(())
}

fn check_outputs(args: &TsneArgs, default_png: &Path, inputs: &[PathBuf]) -> Result<()> {
    let png = args.output.clone().unwrap_or_else(|| default_png.to_path_buf());
    let csv = args.points.clone().unwrap_or_else(|| png.with_extension("csv"));
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    refuse_overwriting_inputs("--output", &png, &inputs, &[])?;
    refuse_overwriting_inputs("--points", &csv, &inputs, &[])?;
    if png.extension().is_none_or(|e| !e.eq_ignore_ascii_case("png")) {
        bail!("--output {} must name a .png file", png.display());
    }
    Ok(())
}

/// `id,label,x,y` per record, ids quoted as CSV needs.
fn write_points(path: &Path, embeddings: &Embeddings, points: &[[f32; 2]]) -> Result<()> {
    let mut file = AtomicFile::create(path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "id,label,x,y")?;
    for ((id, label), point) in embeddings.ids.iter().zip(&embeddings.labels).zip(points) {
        let label = label.map_or(String::new(), |l| l.to_string());
        writeln!(file, "{},{label},{},{}", csv_field(id), point[0], point[1])?;
    }
    file.commit().with_context(|| format!("writing {}", path.display()))
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
