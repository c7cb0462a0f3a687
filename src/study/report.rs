//! The study report: `report.html`, one self-contained page (every figure inlined as a data URI),
//! and `report.md`, its markdown twin linking the same figures as PNG files next to it.
//!
//! Per model: its configuration, loss and accuracy curves, classification report, confusion matrix,
//! AUROC and t-SNE of its embeddings. Then a comparison table (accuracy, macro F1, AUROC, training
//! time, samples/s, parameters) and every model's validation AUROC per epoch in one figure.
//! Every file is written atomically; figure names come from unique slugs of the run names.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::html::{escape, png_image, table};
use super::run_summary::RunSummary;
use super::validation_plot::plot_validation_auroc;
use crate::train::metrics::{ClassMetrics, Evaluation};
use crate::train::report::unique_slugs;
use crate::util::write_atomically;
use crate::viz::{curves, scatter::plot_embedding_2d};

pub const HTML_FILE_NAME: &str = "report.html";
pub const MARKDOWN_FILE_NAME: &str = "report.md";
const VALIDATION_FIGURE: &str = "validation_auroc.png";

#[derive(Clone, Debug)]
pub struct ReportPaths {
    pub html: PathBuf,
    pub markdown: PathBuf,
}

/// A figure written into the report folder: its file name (for markdown) and bytes (for HTML).
struct Figure {
    file_name: String,
    alt: String,
    png: Vec<u8>,
}

impl Figure {
    fn draw(dir: &Path, file_name: String, alt: String, draw: impl FnOnce(&Path) -> Result<()>) -> Result<Self> {
        let path = dir.join(&file_name);
        draw(&path)?;
        let png = std::fs::read(&path).with_context(|| format!("reading back {}", path.display()))?;
        Ok(Self { file_name, alt, png })
    }

    fn markdown(&self) -> String {
        format!("![{}](<{}>)", self.alt, self.file_name)
    }

    fn html(&self) -> String {
        format!("<figure>{}<figcaption>{}</figcaption></figure>", png_image(&self.png, &self.alt), escape(&self.alt))
    }
}

/// The columns of the comparison table, in both forms.
const COMPARISON_HEADER: [&str; 7] = ["model", "accuracy", "macro F1", "AUROC", "train time (s)", "samples/s", "parameters"];

fn comparison_row(summary: &RunSummary) -> Vec<String> {
    let evaluation = &summary.evaluation;
    vec![
        summary.label.clone(),
        format!("{:.4}", evaluation.accuracy()),
        format!("{:.4}", evaluation.macro_f1()),
        auroc_text(evaluation),
        format!("{:.1}", summary.train_seconds()),
        finite_or_na(summary.samples_per_second(), 1),
        summary.parameter_count.to_string(),
    ]
}

fn auroc_text(evaluation: &Evaluation) -> String {
    evaluation.auroc.map_or("undefined".to_string(), |auroc| format!("{auroc:.4}"))
}

fn finite_or_na(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "n/a".to_string()
    }
}

/// `(setting, value)` rows describing what the run computed.
fn configuration_rows(summary: &RunSummary) -> Vec<Vec<String>> {
    let config = &summary.config;
    let model = &config.model_config;
    let fusion_model = crate::models::entry(&config.model).is_ok_and(|entry| entry.needs.image && entry.needs.text) && config.model.ends_with("-lstm");
    let mut rows = vec![
        ("model", config.model.clone()),
        ("run folder", summary.run_dir.display().to_string()),
        ("data", config.data_dir.display().to_string()),
        ("image size", model.image_size.to_string()),
        ("hidden width", model.hidden.to_string()),
        ("dropout", model.dropout.to_string()),
    ];
    if fusion_model {
        rows.push(("fusion", model.fusion.to_string()));
        rows.push(("frozen image branch", model.freeze_image.to_string()));
    }
    rows.extend([
        ("epochs trained", format!("{} of {}", summary.history.len(), config.epochs)),
        ("evaluated checkpoint", format!("epoch {} (best validation AUROC)", summary.epoch)),
        ("batch size", config.batch_size.to_string()),
        ("optimizer", format!("{:?}", config.optimizer).to_lowercase()),
        ("learning rate", config.learning_rate.to_string()),
        ("image body learning-rate scale", model.image_lr_scale.to_string()),
        ("weight decay", config.weight_decay.to_string()),
        ("precision", format!("{:?}", config.precision).to_lowercase()),
        ("seed", config.seed.to_string()),
        ("rotation (degrees)", config.augmentation.rotation_degrees.to_string()),
        ("init", config.init.as_ref().map_or("random".to_string(), |path| path.display().to_string())),
    ]);
    rows.into_iter().map(|(key, value)| vec![key.to_string(), value]).collect()
}

fn classification_rows(evaluation: &Evaluation) -> Vec<Vec<String>> {
    let report = &evaluation.classification_report;
    let row = |name: &str, metrics: &ClassMetrics| {
        vec![name.to_string(), format!("{:.4}", metrics.precision), format!("{:.4}", metrics.recall), format!("{:.4}", metrics.f1_score), metrics.support.to_string()]
    };
    let total = report.classes[0].support + report.classes[1].support;
    let mut rows = vec![row(&report.target_names.0[0], &report.classes[0]), row(&report.target_names.0[1], &report.classes[1])];
    rows.push(vec!["accuracy".into(), String::new(), String::new(), format!("{:.4}", report.accuracy), total.to_string()]);
    rows.push(row("macro avg", &report.macro_avg));
    rows.push(row("weighted avg", &report.weighted_avg));
    rows
}

fn confusion_rows(evaluation: &Evaluation) -> (Vec<String>, Vec<Vec<String>>) {
    let names = &evaluation.classification_report.target_names.0;
    let matrix = &evaluation.confusion_matrix;
    let header = vec!["true \\ predicted".to_string(), names[0].clone(), names[1].clone()];
    let rows = vec![
        vec![names[0].clone(), matrix.true_negatives().to_string(), matrix.false_positives().to_string()],
        vec![names[1].clone(), matrix.false_negatives().to_string(), matrix.true_positives().to_string()],
    ];
    (header, rows)
}

/// A markdown table; pipes in cells are escaped.
fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut md = format!("| {} |\n|{}\n", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "), "---|".repeat(header.len()));
    for row in rows {
        md += &format!("| {} |\n", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    md
}

struct ModelFigures {
    loss: Figure,
    accuracy: Figure,
    tsne: Figure,
}

fn draw_model_figures(dir: &Path, summary: &RunSummary, slug: &str) -> Result<ModelFigures> {
    let label = &summary.label;
    let loss = Figure::draw(dir, format!("{slug}_loss.png"), format!("{label}: model loss"), |path| curves::plot_loss(&summary.history, label, path))?;
    let accuracy = Figure::draw(dir, format!("{slug}_accuracy.png"), format!("{label}: model accuracy"), |path| curves::plot_accuracy(&summary.history, label, path))?;
    let map = &summary.embedding_map;
    let title = format!("{label}: t-SNE of {} embeddings", summary.tsne_split);
    let tsne = Figure::draw(dir, format!("{slug}_tsne.png"), title.clone(), |path| plot_embedding_2d(&map.points, &map.labels, &title, path))?;
    Ok(ModelFigures { loss, accuracy, tsne })
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #bbb;padding:4px 10px}\
th{background:#eee}td.num{text-align:right;font-variant-numeric:tabular-nums}\
figure{display:inline-block;margin:0.5em}figure img{width:480px;height:auto}figcaption{text-align:center;font-size:0.9em}\
section{border-top:2px solid #ddd;margin-top:2em}";

/// Writes the report for `summaries` into `dir`; returns the paths of both forms.
pub fn write_study_report(dir: &Path, summaries: &[RunSummary]) -> Result<ReportPaths> {
    anyhow::ensure!(!summaries.is_empty(), "the report needs at least one run");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let slugs = unique_slugs(summaries.iter().map(|s| s.label.as_str()));
    let title = "Hateful Memes: the study";
    let splits: Vec<&str> = summaries.iter().map(|s| s.split.as_str()).collect();
    let intro = format!("{} models, evaluated on the {:?} split at their best validation-AUROC checkpoint.", summaries.len(), splits[0]);

    let mut html = format!("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{}</p>\n", escape(&intro));
    let mut md = format!("# {title}\n\n{intro}\n");
    html += "<nav><ul>";
    for (summary, slug) in summaries.iter().zip(&slugs) {
        let _ = write!(html, "<li><a href=\"#{slug}\">{}</a></li>", escape(&summary.label));
    }
    html += "<li><a href=\"#comparison\">comparison</a></li></ul></nav>\n";

    for (summary, slug) in summaries.iter().zip(&slugs) {
        let figures = draw_model_figures(dir, summary, slug)?;
        let json_name = format!("{slug}.evaluation.json");
        write_atomically(dir.join(&json_name), summary.evaluation.to_json_pretty().as_bytes()).with_context(|| format!("writing {json_name}"))?;
        let evaluation = &summary.evaluation;
        let configuration = configuration_rows(summary);
        let classification = classification_rows(evaluation);
        let (confusion_header, confusion) = confusion_rows(evaluation);
        let confusion_header: Vec<&str> = confusion_header.iter().map(String::as_str).collect();
        let report_header = ["", "precision", "recall", "f1-score", "support"];
        let map = &summary.embedding_map;
        let tsne_note = format!("{} of the {} records of {:?}, coloured by true label.", map.points.len(), map.records, summary.tsne_split);

        let _ = write!(html, "<section id=\"{slug}\">\n<h2>{}</h2>\n<h3>Configuration</h3>\n{}", escape(&summary.label), table(&["setting", "value"], &configuration, false));
        html += &format!("<h3>Curves</h3>\n{}{}\n", figures.loss.html(), figures.accuracy.html());
        let _ = write!(html, "<h3>Classification report ({})</h3>\n<p>Test metrics: {}</p>\n{}", escape(&summary.split), escape(&summary.test_data.to_string()), table(&report_header, &classification, true));
        let _ = write!(html, "<p><strong>AUROC: {}</strong></p>\n", auroc_text(evaluation));
        let _ = write!(html, "<h3>Confusion matrix</h3>\n<p>Rows are true classes, columns predicted classes.</p>\n{}", table(&confusion_header, &confusion, true));
        for warning in &evaluation.warnings {
            let _ = write!(html, "<p class=\"warning\">Warning: {}</p>\n", escape(warning));
        }
        let _ = write!(html, "<h3>Embeddings</h3>\n<p>{}</p>\n{}\n</section>\n", escape(&tsne_note), figures.tsne.html());

        md += &format!("\n## {}\n\n### Configuration\n\n{}", summary.label, markdown_table(&["setting", "value"], &configuration));
        md += &format!("\n### Curves\n\n{} {}\n", figures.loss.markdown(), figures.accuracy.markdown());
        md += &format!("\n### Classification report ({})\n\nTest metrics: {}\n\n{}\nAUROC: {}\n", summary.split, summary.test_data, markdown_table(&report_header, &classification), auroc_text(evaluation));
        md += &format!("\n### Confusion matrix\n\nRows are true classes, columns predicted classes.\n\n{}", markdown_table(&confusion_header, &confusion));
        for warning in &evaluation.warnings {
            md += &format!("\nWarning: {warning}\n");
        }
        md += &format!("\n### Embeddings\n\n{tsne_note}\n\n{}\n\nMetrics as JSON: [{json_name}](<{json_name}>)\n", figures.tsne.markdown());
    }

    let rows: Vec<Vec<String>> = summaries.iter().map(comparison_row).collect();
    let histories: Vec<(String, &crate::train::history::History)> = summaries.iter().map(|s| (s.label.clone(), &s.history)).collect();
    let validation = Figure::draw(dir, VALIDATION_FIGURE.to_string(), "Validation AUROC per epoch".to_string(), |path| plot_validation_auroc(&histories, path))?;
    let _ = write!(html, "<section id=\"comparison\">\n<h2>Comparison</h2>\n{}{}\n</section>\n</body>\n</html>\n", table(&COMPARISON_HEADER, &rows, true), validation.html());
    md += &format!("\n## Comparison\n\n{}\n{}\n", markdown_table(&COMPARISON_HEADER, &rows), validation.markdown());

    let paths = ReportPaths { html: dir.join(HTML_FILE_NAME), markdown: dir.join(MARKDOWN_FILE_NAME) };
    write_atomically(&paths.html, html.as_bytes()).with_context(|| format!("writing {}", paths.html.display()))?;
    write_atomically(&paths.markdown, md.as_bytes()).with_context(|| format!("writing {}", paths.markdown.display()))?;
    Ok(paths)
}
