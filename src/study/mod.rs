//! The study as one job (issue 14): `memefuse report RUN... --out DIR` turns trained runs into one
//! self-contained HTML page and its markdown twin, and `memefuse study` trains the study's models
//! into run folders (resumably) and then writes that report. `demo` is a small study on synthetic
//! data.
//!
//! - [`run_summary`]: what the report needs from one run folder (config, history, evaluation,
//!   parameter count, t-SNE points);
//! - [`embedding_map`]: the one place that turns embeddings into 2-D points;
//! - [`validation_plot`]: every model's validation AUROC per epoch in one figure;
//! - [`html`]: escaping and data-URI images; [`report`]: the HTML page and `report.md`;
//! - [`study`]: the study's model list and the resumable training of each run;
//! - [`commands`]: the `report` and `study` subcommands.
pub mod commands;
pub mod embedding_map;
pub mod html;
pub mod report;
pub mod run_summary;
pub mod study;
pub mod validation_plot;
