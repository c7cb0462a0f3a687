//! The `memefuse` command line.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "memefuse", version, about = "Train and study Hateful Memes classifiers on hand-written CUDA kernels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
