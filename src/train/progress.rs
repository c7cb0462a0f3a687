//! Progress of training: a progress bar with samples/s and ETA on a terminal; elsewhere (logs, CI,
//! tests) one plain line per epoch plus, during a long epoch, a line about every
//! [`LINE_INTERVAL`] with the step, samples/s and ETA; nothing when silent (the demo prints its
//! own lines).
use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

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

/// How often a log (not a terminal) gets a line during an epoch.
pub const LINE_INTERVAL: Duration = Duration::from_secs(30);

/// Progress of one epoch.
pub struct EpochProgress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    label: String,
    lines: LineProgress,
}

/// The periodic lines of [`ProgressMode::Lines`].
struct LineProgress {
    started: Instant,
    last_line: Cell<Instant>,
    interval: Duration,
    step: Cell<usize>,
    steps: usize,
    samples: Cell<usize>,
    total_samples: usize,
}

impl LineProgress {
    /// The line to print after a step finished at `now`, when one is due.
    fn line_if_due(&self, label: &str, now: Instant, running_loss: f64) -> Option<String> {
        if now.duration_since(self.last_line.get()) < self.interval || self.step.get() >= self.steps {
            return None;
        }
        self.last_line.set(now);
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let (samples, rate) = (self.samples.get(), self.samples.get() as f64 / elapsed.max(1e-9));
        let eta = (self.total_samples.saturating_sub(samples)) as f64 / rate.max(1e-9);
        Some(format!("{label}: step {}/{}, {samples}/{} samples, {rate:.0} samples/s, ETA {}, loss {running_loss:.4}", self.step.get(), self.steps, self.total_samples, clock(eta)))
    }
}

/// Seconds as `1h02m03s`, `2m03s` or `3s`.
fn clock(seconds: f64) -> String {
    let total = seconds.round() as u64;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds:02}s"),
        _ => format!("{hours}h{minutes:02}m{seconds:02}s"),
    }
}

impl EpochProgress {
    /// `samples` records in `steps` batches.
    pub fn start(mode: ProgressMode, epoch: usize, epochs: usize, samples: usize, steps: usize) -> Self {
        Self::with_line_interval(mode, epoch, epochs, samples, steps, LINE_INTERVAL)
    }

    fn with_line_interval(mode: ProgressMode, epoch: usize, epochs: usize, samples: usize, steps: usize, interval: Duration) -> Self {
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
        let now = Instant::now();
        let lines = LineProgress { started: now, last_line: Cell::new(now), interval, step: Cell::new(0), steps, samples: Cell::new(0), total_samples: samples };
        Self { mode, bar, label, lines }
    }

    pub fn advance(&self, samples: usize, running_loss: f64) {
        self.lines.step.set(self.lines.step.get() + 1);
        self.lines.samples.set(self.lines.samples.get() + samples);
        if let Some(bar) = &self.bar {
            bar.inc(samples as u64);
            bar.set_message(format!("loss {running_loss:.4}"));
        }
        if self.mode == ProgressMode::Lines {
            if let Some(line) = self.lines.line_if_due(&self.label, Instant::now(), running_loss) {
                eprintln!("{line}");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_get_a_line_per_interval_with_step_rate_and_eta() {
        let progress = EpochProgress::with_line_interval(ProgressMode::Lines, 2, 5, 1000, 10, Duration::from_secs(30));
        let started = progress.lines.started;
        progress.lines.step.set(3);
        progress.lines.samples.set(300);
        assert_eq!(progress.lines.line_if_due(&progress.label, started + Duration::from_secs(10), 0.5), None, "not yet due");
        let line = progress.lines.line_if_due(&progress.label, started + Duration::from_secs(30), 0.5).unwrap();
        // 300 samples in 30 s: 10 samples/s, 700 left: 70 s.
        assert_eq!(line, "epoch 2/5: step 3/10, 300/1000 samples, 10 samples/s, ETA 1m10s, loss 0.5000");
        assert_eq!(progress.lines.line_if_due(&progress.label, started + Duration::from_secs(45), 0.5), None, "30 s after the last line");
        assert!(progress.lines.line_if_due(&progress.label, started + Duration::from_secs(61), 0.5).is_some());
        assert_eq!(clock(3725.0), "1h02m05s");
    }
}
