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
    /// Score a split with trained weights: one JSON line per record {"id", "proba", "logits"}.
    Predict(PredictArgs),
}

#[derive(clap::Args)]
struct PredictArgs {
    /// Which model the weights belong to (lstm: a PyTorch text-LSTM state_dict in safetensors).
    #[arg(long)]
    model: String,
    #[arg(long)]
    weights: std::path::PathBuf,
    /// The data folder (Hateful Memes layout).
    #[arg(long)]
    data: std::path::PathBuf,
    #[arg(long, default_value = "test")]
    split: String,
    /// Vocabulary file: one token per line, line number = id (lstm).
    #[arg(long)]
    vocab: Option<std::path::PathBuf>,
    /// Sequence length: captions are truncated or post-padded to it (lstm).
    #[arg(long, default_value_t = 64)]
    max_len: usize,
    /// Which LSTM time step the head reads: last-step (as the seed) or last-real-token.
    #[arg(long, default_value = "last-step")]
    readout: memefuse::models::text_lstm::SequenceReadout,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long)]
    output: std::path::PathBuf,
    #[arg(long, default_value = "auto")]
    device: String,
}

fn run_predict(args: PredictArgs) -> anyhow::Result<()> {
    match args.model.as_str() {
        "lstm" => {
            let vocab = args.vocab.ok_or_else(|| anyhow::anyhow!("--model lstm needs --vocab FILE"))?;
            let options = memefuse::models::text_lstm_predict::LstmPredictOptions {
                weights: args.weights,
                data: args.data,
                split: args.split,
                vocab,
                max_len: args.max_len,
                output: args.output.clone(),
                readout: args.readout,
                batch_size: args.batch_size,
                device: memefuse::backend::resolve_device(&args.device)?,
            };
            let count = memefuse::models::text_lstm_predict::predict_lstm(&options)?;
            eprintln!("memefuse: wrote {count} predictions to {}", args.output.display());
            Ok(())
        }
        other => anyhow::bail!("predict: unknown model {other:?}; available: lstm"),
    }
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
        Command::Predict(args) => run_predict(args),
    }
}
