//! The demo's synthetic data folder, `OUT/data`: reused only when an earlier demo made it with
//! the same options (recorded in `OUT/data/demo-data.json`); otherwise the command says why and
//! makes it again, in a temporary folder first so that an interrupted run leaves no half dataset.
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::synth::{generate, SynthOptions};
use crate::util::write_atomically;

/// The file inside the data folder that records how it was made.
pub const DEMO_DATA_RECORD: &str = "demo-data.json";

/// Everything that decides the demo data's bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoDataOptions {
    pub train: usize,
    pub dev: usize,
    pub test: usize,
    pub seed: u64,
    /// Fraction of flipped labels (a record without it was made before the demo added noise).
    #[serde(default)]
    pub label_noise: f32,
}

impl DemoDataOptions {
    /// dev and test get a third of train each (at least 20), with the demo's label noise.
    pub fn for_train_size(train_size: usize, seed: u64) -> Self {
        Self { train: train_size, dev: (train_size / 3).max(20), test: (train_size / 3).max(20), seed, label_noise: super::demo::DEMO_LABEL_NOISE }
    }

    fn describe(&self) -> String {
        format!("--train-size {} --seed {}", self.train, self.seed)
    }
}

/// What the data folder holds now, as a sentence, or None when it was made with `wanted`.
fn mismatch(data_dir: &Path, wanted: &DemoDataOptions) -> Option<String> {
    if !data_dir.exists() {
        return Some(String::new());
    }
    let record = data_dir.join(DEMO_DATA_RECORD);
    let made_with: Option<DemoDataOptions> = std::fs::read_to_string(&record).ok().and_then(|text| serde_json::from_str(&text).ok());
    match made_with {
        Some(made) if made == *wanted && data_dir.join("train.jsonl").is_file() => None,
        Some(made) => Some(format!("was made with {}", made.describe())),
        None => Some(format!("has no readable {DEMO_DATA_RECORD} saying how it was made")),
    }
}

/// Makes sure `data_dir` holds the demo data for `wanted`, reusing it when it already does.
pub fn ensure_demo_data(data_dir: &Path, wanted: &DemoDataOptions) -> Result<()> {
    let Some(reason) = mismatch(data_dir, wanted) else {
        eprintln!("demo: reusing the synthetic data in {} ({})", data_dir.display(), wanted.describe());
        return Ok(());
    };
    if !reason.is_empty() {
        eprintln!("demo: {} {reason}; making it again for {}", data_dir.display(), wanted.describe());
    }
    let name = data_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let fresh = data_dir.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).with_context(|| format!("removing {}", fresh.display()))?;
    }
    let mut synth = SynthOptions::new(&fresh);
    (synth.train, synth.dev, synth.test, synth.seed, synth.label_noise) = (wanted.train, wanted.dev, wanted.test, wanted.seed, wanted.label_noise);
    generate(&synth).with_context(|| format!("synthesising the demo data into {}", fresh.display()))?;
    let record = serde_json::to_string_pretty(wanted).expect("demo data options always serialize");
    write_atomically(fresh.join(DEMO_DATA_RECORD), record.as_bytes()).with_context(|| format!("writing {}", fresh.join(DEMO_DATA_RECORD).display()))?;
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir).with_context(|| format!("removing the old demo data {}", data_dir.display()))?;
    }
    std::fs::rename(&fresh, data_dir).with_context(|| format!("moving {} to {}", fresh.display(), data_dir.display()))?;
    eprintln!("demo: synthesised {} training memes into {}", wanted.train, data_dir.display());
    Ok(())
}
