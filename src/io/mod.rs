//! Weight files: import and export in other frameworks' layouts; the embeddings file of `embed`.
pub mod embeddings;
pub mod lstm_weights;
pub mod weights;
