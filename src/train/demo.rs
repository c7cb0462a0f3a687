//! `memefuse demo`: from nothing to a report. Synthesises a small dataset (data::synth, 10 % label
//! noise) and runs a small `study` on it (crate::study): every demo model trained at `train`'s
//! defaults, evaluated on `test`, with curves, a t-SNE of its `dev` embeddings, `report.html` and
//! `report.md` in the output folder.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use super::demo_data::{ensure_demo_data, DemoDataOptions};
use super::progress::ProgressMode;
use crate::study::study::{run_study, StudyOptions};
use crate::Device;

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub out: PathBuf,
    pub epochs: usize,
    pub train_size: usize,
    pub models: Vec<String>,
    pub seed: u64,
    pub device: Device,
    pub progress: ProgressMode,
}

/// Label noise of the demo's data: as in the study's fusion check (docs/study.md), no model can
/// then reach an AUROC much above 0.9.
pub const DEMO_LABEL_NOISE: f32 = 0.1;

/// Runs the demo: synthetic data, then a study of `options.models` on it; returns `report.md`.
pub fn run_demo_with(options: &DemoOptions) -> Result<PathBuf> {
    let started = Instant::now();
    for model in &options.models {
        if crate::study::study::StudyRun::parse(model).is_none() {
            crate::models::entry(model)?;
        }
    }
    let data_dir = options.out.join("data");
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    ensure_demo_data(&data_dir, &DemoDataOptions::for_train_size(options.train_size, options.seed))?;
    // The demo owns its run folders: a second demo replaces them instead of resuming them.
    let runs = options.out.join("runs");
    if runs.exists() {
        std::fs::remove_dir_all(&runs).with_context(|| format!("removing the previous demo runs {}", runs.display()))?;
    }
    let study = StudyOptions {
        data: data_dir,
        out: options.out.clone(),
        models: options.models.clone(),
        epochs: Some(options.epochs),
        image_size: None,
        seed: Some(options.seed),
        device: options.device,
        progress: options.progress,
        split: "test".to_string(),
        tsne_split: "dev".to_string(),
    };
    let report = run_study(&study)?;
    eprintln!("demo: finished in {:.1} s; report: {}", started.elapsed().as_secs_f64(), report.html.display());
    Ok(report.markdown)
}

/// Hard-links (or, across filesystems, copies) every prepared file of `source` into `target`.
pub(crate) fn link_prepared_splits(source: &Path, target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    for entry in std::fs::read_dir(source).with_context(|| format!("reading {}", source.display()))? {
        let from = entry?.path();
        let to = target.join(from.file_name().expect("directory entries have names"));
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}
