//! Training loop, metrics, history and checkpoints.
//!
//! Reporting pieces: [`metrics`] (sklearn-compatible evaluation), [`history`] (per-epoch records
//! in `history.jsonl`), [`report`] (the markdown comparison of several models).
//!
//! The trainer (docs/trainer.md): [`config`] (what a run computes), [`run_dir`] (the run folder's
//! layout), [`data_cache`] (prepared splits in the run folder), [`batch_input`] (loader batches to
//! model inputs), [`trainer`] (the epoch loop, resume), [`checkpoint`] (safetensors checkpoints),
//! [`inference`] (a model over a split), [`progress`] (bars or lines), [`commands`] (`train`,
//! `eval`, `predict`, `demo`) and [`demo`];
//! [`embed`] (`memefuse embed`: features of a split) and [`tsne_command`] (`memefuse tsne`).
pub mod batch_input;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod data_cache;
pub mod demo;
pub mod embed;
pub mod history;
pub mod inference;
pub mod metrics;
pub mod optimizer_choice;
pub mod progress;
pub mod report;
pub mod run_dir;
pub mod trainer;
pub mod tsne_command;
