//! Reading and writing model files: weight import from PyTorch checkpoints saved as safetensors
//! (`weights`), and the `predict` command (`predict`).
pub mod predict;
pub mod weights;
