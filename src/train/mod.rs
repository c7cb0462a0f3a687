//! Training loop, metrics, history and checkpoints.
//!
//! Reporting pieces: [`metrics`] (sklearn-compatible evaluation), [`history`] (per-epoch records
//! in `history.jsonl`), [`report`] (the markdown comparison of several models).
//!
//! The trainer (docs/trainer.md): [`config`] (what a run computes), [`run_dir`] (the run folder's
//! layout), [`run_lock`] (one writer per run folder), [`run_state`] (what train and resume may
//! do with a folder), [`data_cache`] (prepared splits in the run folder), [`batch_input`] (loader batches to
//! model inputs), [`trainer`] (the epoch loop, resume, early stopping), [`contrastive`]
//! (clip-fusion's InfoNCE pre-training), [`checkpoint`] (safetensors checkpoints),
//! [`inference`] (a model over a split), [`imported_split`] (the split a `--weights` model reads),
//! [`progress`] (bars or lines), [`commands`] (`train`,
//! `eval`, `predict`, `demo`), [`demo`] and [`demo_data`] (the demo's reusable synthetic data);
//! [`embed`] (`memefuse embed`: features of a split) and [`tsne_command`] (`memefuse tsne`).
pub mod batch_input;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod contrastive;
pub mod data_cache;
pub mod demo;
pub mod demo_data;
pub mod embed;
pub mod history;
pub mod imported_split;
pub mod inference;
pub mod memory_estimate;
pub mod metrics;
pub mod model_source;
pub mod optimizer_choice;
pub mod predict_checks;
pub mod progress;
pub mod report;
pub mod run_dir;
pub mod run_lock;
pub mod run_state;
pub mod train_checks;
pub mod trainer;
pub mod tsne_command;
pub mod vocab_remap;
