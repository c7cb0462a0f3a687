//! Weight files: import and export in other frameworks' layouts; the prediction files `predict`
//! writes and the embeddings file of `embed`.
pub mod embeddings;
pub mod lstm_weights;
pub mod predictions;
pub mod weights;
