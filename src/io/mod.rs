//! Weight files: import and export in other frameworks' layouts; the prediction files `predict` writes.
pub mod lstm_weights;
pub mod predictions;
pub mod weights;
