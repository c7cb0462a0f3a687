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
    }
}
