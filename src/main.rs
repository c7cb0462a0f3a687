//! The `memefuse` command line.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "memefuse", version, about = "Train and study Hateful Memes classifiers on hand-written CUDA kernels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the devices memefuse can use (and why a GPU cannot be used, if it cannot).
    Devices,
    /// Write a synthetic dataset in the Hateful Memes layout.
    Synth(memefuse::data::commands::SynthArgs),
    /// Pack a split into one memory-mapped file.
    Prepare(memefuse::data::commands::PrepareArgs),
    /// Print a prepared file's metadata and verify its checksum.
    Inspect(memefuse::data::commands::InspectArgs),
    /// Print CLIP token ids for each text (one line per text).
    Tokenize(memefuse::data::commands::TokenizeArgs),
    /// Train a model into a run folder (or continue one with --resume).
    Train(memefuse::train::commands::TrainArgs),
    /// Evaluate a trained run on a labelled split: classification report, confusion matrix, AUROC.
    Eval(memefuse::train::commands::EvalArgs),
    /// Write P(hateful) and logits for every record of a split (labelled or not): JSON lines, CSV or a submission CSV.
    Predict(memefuse::train::commands::PredictArgs),
    /// Write the penultimate features of every record of a split (safetensors, readable from Python).
    Embed(memefuse::train::embed::EmbedArgs),
    /// Barnes-Hut t-SNE of a split's embeddings: a PNG coloured by label and the 2-D points as CSV.
    Tsne(memefuse::train::tsne_command::TsneArgs),
    /// Synthesise data, train every model briefly and write a report with plots.
    Demo(memefuse::train::commands::DemoArgs),
    /// One HTML page (and its markdown twin) comparing trained runs: curves, metrics, t-SNE.
    Report(memefuse::study::commands::ReportArgs),
    /// Train the study's models into one folder each (resumable), then write the report.
    Study(memefuse::study::commands::StudyArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Devices => {
            for line in memefuse::backend::describe_devices() {
                println!("{line}");
            }
            Ok(())
        }
        Command::Synth(args) => memefuse::data::commands::run_synth(args),
        Command::Prepare(args) => memefuse::data::commands::run_prepare(args),
        Command::Inspect(args) => memefuse::data::commands::run_inspect(args),
        Command::Tokenize(args) => memefuse::data::commands::run_tokenize(args),
        Command::Train(args) => memefuse::train::commands::run_train(args),
        Command::Eval(args) => memefuse::train::commands::run_eval(args),
        Command::Predict(args) => memefuse::train::commands::run_predict(args),
        Command::Embed(args) => memefuse::train::embed::run_embed(args),
        Command::Tsne(args) => memefuse::train::tsne_command::run_tsne(args),
        Command::Demo(args) => memefuse::train::commands::run_demo(args),
        Command::Report(args) => memefuse::study::commands::run_report(args),
        Command::Study(args) => memefuse::study::commands::run_study_command(args),
    }
}
