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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Devices => {
            for line in memefuse::backend::describe_devices() {
                println!("{line}");
            }
        }
    }
    Ok(())
}
