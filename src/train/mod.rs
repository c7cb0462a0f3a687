//! Training loop, metrics, history and checkpoints.
//!
//! Reporting pieces: [`metrics`] (sklearn-compatible evaluation), [`history`] (per-epoch records
//! in `history.jsonl`), [`report`] (the markdown comparison of several models).
pub mod history;
pub mod metrics;
pub mod report;
