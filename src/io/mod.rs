//! Weight files: import and export in other frameworks' layouts.
pub mod clip_weights;
pub mod lstm_weights;
pub mod weights;
