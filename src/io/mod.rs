//! Weight files: import and export in other frameworks' layouts (HuggingFace CLIP folders among
//! them); the prediction files `predict` writes and the embeddings file of `embed`.
pub mod clip_weights;
pub mod embeddings;
pub mod foreign_weights;
pub mod lstm_weights;
pub mod predictions;
pub mod weights;
