//! The report folder: `report.md`, comparing several trained models, next to their figures and
//! metrics.
//!
//! [`write_markdown_report`] writes, into `dir`:
//! - `report.md`: a comparison table (model, accuracy, AUROC, macro-F1, epochs, samples/s), then
//!   per model its loss and accuracy curves as images, its classification report and confusion
//!   matrix in code blocks, and any metric warnings;
//! - `<model-slug>.evaluation.json`: the model's [`Evaluation`] as JSON, linked from `report.md`.
//!
//! - `<model-slug>_loss.png`, `<model-slug>_accuracy.png`: the curves, unless the caller supplied
//!   its own PNGs. Images inside `dir` are linked relatively, so the folder can be moved whole.
//!
//! Slugs are made unique, so two models with similar names never overwrite each other's files.
//! Every file is written atomically.
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::train::history::History;
use crate::train::metrics::Evaluation;
use crate::util::write_atomically;
use crate::viz::curves;

/// The report's file name inside its folder.
pub const REPORT_FILE_NAME: &str = "report.md";

/// What the report shows about one model.
#[derive(Debug, Clone)]
pub struct ModelReport {
    pub name: String,
    pub history: History,
    /// The final evaluation: classification report (text and JSON), confusion matrix, AUROC.
    pub evaluation: Evaluation,
    /// Training throughput; [`ModelReport::new`] takes the history's mean.
    pub samples_per_second: f64,
    /// Existing curve PNGs; when `None`, [`write_markdown_report`] draws them from the history.
    pub loss_curve: Option<PathBuf>,
    pub accuracy_curve: Option<PathBuf>,
}

impl ModelReport {
    /// A report whose curves [`write_markdown_report`] will draw; throughput is the mean over the
    /// history's epochs.
    pub fn new(name: impl Into<String>, history: History, evaluation: Evaluation) -> Self {
        let samples_per_second = history.mean_samples_per_second();
        Self { name: name.into(), history, evaluation, samples_per_second, loss_curve: None, accuracy_curve: None }
    }
}

/// Writes `report.md` and one `<slug>.evaluation.json` per model into `dir`; returns the report's path.
pub fn write_markdown_report(dir: impl AsRef<Path>, entries: &[ModelReport]) -> Result<PathBuf> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let slugs = unique_slugs(entries.iter().map(|e| e.name.as_str()));

    let mut md = String::from("# Hateful Memes: model comparison\n\n");
    md += "| model | accuracy | AUROC | macro-F1 | epochs | samples/s |\n";
    md += "|---|---:|---:|---:|---:|---:|\n";
    for entry in entries {
        let evaluation = &entry.evaluation;
        writeln!(
            md,
            "| {} | {:.4} | {} | {:.4} | {} | {} |",
            escape_table_cell(&entry.name),
            evaluation.accuracy(),
            evaluation.auroc.map_or("undefined".to_string(), |auroc| format!("{auroc:.4}")),
            evaluation.macro_f1(),
            entry.history.len(),
            if entry.samples_per_second.is_finite() { format!("{:.1}", entry.samples_per_second) } else { "n/a".to_string() },
        )?;
    }

    for (entry, slug) in entries.iter().zip(&slugs) {
        let curves = curve_paths(dir, entry, slug)?;
        let json_name = format!("{slug}.evaluation.json");
        write_atomically(dir.join(&json_name), entry.evaluation.to_json_pretty().as_bytes())
            .with_context(|| format!("writing {json_name}"))?;
        md += &model_section(dir, entry, &curves, &json_name);
    }

    let path = dir.join(REPORT_FILE_NAME);
    write_atomically(&path, md.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The entry's loss and accuracy curves: the given paths, or `<slug>_loss.png` and
/// `<slug>_accuracy.png` drawn into `dir` from its history (none for an empty history).
fn curve_paths(dir: &Path, entry: &ModelReport, slug: &str) -> Result<[Option<PathBuf>; 2]> {
    let mut paths = [entry.loss_curve.clone(), entry.accuracy_curve.clone()];
    if entry.history.is_empty() {
        return Ok(paths);
    }
    if paths[0].is_none() {
        let path = dir.join(format!("{slug}_loss.png"));
        curves::plot_loss(&entry.history, &entry.name, &path)?;
        paths[0] = Some(path);
    }
    if paths[1].is_none() {
        let path = dir.join(format!("{slug}_accuracy.png"));
        curves::plot_accuracy(&entry.history, &entry.name, &path)?;
        paths[1] = Some(path);
    }
    Ok(paths)
}

fn model_section(dir: &Path, entry: &ModelReport, curves: &[Option<PathBuf>; 2], json_name: &str) -> String {
    let evaluation = &entry.evaluation;
    let mut md = format!("\n## {}\n\n", entry.name);
    let images: Vec<String> = [("Model loss", &curves[0]), ("Model accuracy", &curves[1])]
        .into_iter()
        .filter_map(|(alt, path)| path.as_ref().map(|p| format!("![{alt}](<{}>)", link_target(dir, p))))
        .collect();
    if !images.is_empty() {
        md += &images.join(" ");
        md += "\n\n";
    }
    md += "### Classification report\n\n```text\n";
    md += &evaluation.classification_report.to_text();
    md += "```\n\n";
    md += &format!(
        "AUROC: {}\n\n",
        evaluation.auroc.map_or("undefined".to_string(), |auroc| format!("{auroc:.4}"))
    );
    md += "### Confusion matrix\n\nRows are true classes, columns predicted classes.\n\n```text\n";
    let names = &evaluation.classification_report.target_names.0;
    md += &evaluation.confusion_matrix.to_text([names[0].as_str(), names[1].as_str()]);
    md += "```\n\n";
    if !evaluation.warnings.is_empty() {
        md += "Warnings:\n\n";
        for warning in &evaluation.warnings {
            md += &format!("- {warning}\n");
        }
        md += "\n";
    }
    md += &format!("Metrics as JSON: [{json_name}](<{json_name}>)\n");
    md
}

/// A path as a markdown link target: relative to the report folder when inside it.
fn link_target(dir: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(dir).unwrap_or(path);
    relative.to_string_lossy().replace('\\', "/")
}

/// Pipes would end the table cell early.
fn escape_table_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A file-name-safe version of a model name: lowercase letters, digits and dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "model".to_string()
    } else {
        slug
    }
}

/// Slugs for every name, with `-2`, `-3`, ... appended where two names would collide.
pub(crate) fn unique_slugs<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    names
        .map(|name| {
            let base = slugify(name);
            let mut candidate = base.clone();
            let mut counter = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{base}-{counter}");
                counter += 1;
            }
            candidate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_safe_and_unique() {
        assert_eq!(slugify("Late fusion (ResNet + BERT)"), "late-fusion-resnet-bert");
        assert_eq!(slugify("  ??  "), "model");
        assert_eq!(unique_slugs(["A b", "a-b", "a_b"].into_iter()), ["a-b", "a-b-2", "a-b-3"]);
    }

    #[test]
    fn links_inside_the_folder_are_relative() {
        let dir = Path::new("/runs/report");
        assert_eq!(link_target(dir, Path::new("/runs/report/a_loss.png")), "a_loss.png");
        assert_eq!(link_target(dir, Path::new("/elsewhere/a_loss.png")), "/elsewhere/a_loss.png");
    }
}
