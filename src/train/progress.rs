//! Progress of training: a progress bar with samples/s and ETA on a terminal, one plain line per
//! epoch elsewhere (logs, CI, tests), nothing when silent (the demo prints its own lines).
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::history::EpochRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Lines,
    Silent,
}

impl ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

/// Progress of one epoch.
pub struct EpochProgress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    label: String,
}

impl EpochProgress {
    pub fn start(mode: ProgressMode, epoch: usize, epochs: usize, samples: usize) -> Self {
        let label = format!("epoch {epoch}/{epochs}");
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::new(samples as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} samples, {rate} samples/s, ETA {eta} {msg}")
                    .expect("a valid progress template")
                    // indicatif's own {per_sec} prints four decimals; whole samples/s read better.
                    .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}", state.per_sec());
                    })
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar
        });
        Self { mode, bar, label }
    }

    pub fn advance(&self, samples: usize, running_loss: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(samples as u64);
            bar.set_message(format!("loss {running_loss:.4}"));
        }
    }

    /// Shows the validation pass on the bar (it can take a while on large splits).
    pub fn validating(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message("validating");
        }
    }

    pub fn finish(self, record: &EpochRecord) {
        let line = format!(
            "{}: loss {:.4}, accuracy {:.4} | val loss {:.4}, val accuracy {:.4}, val AUROC {:.4} | {:.0} samples/s, {:.1} s",
            self.label, record.train_loss, record.train_accuracy, record.val_loss, record.val_accuracy, record.val_auroc, record.samples_per_second, record.seconds
        );
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        if self.mode != ProgressMode::Silent {
            eprintln!("{line}");
        }
    }
}
