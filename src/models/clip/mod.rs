//! CLIP exactly as `transformers.CLIPModel` computes it (docs/clip.md): the sizes (`config`), the
//! pre-LN encoder both towers share (`encoder`), the ViT image tower (`vision`), the causal text
//! tower (`text`) and the two projections with the learned temperature (`model`). Parameter names
//! are HuggingFace's, so a `save_pretrained` folder loads by name (src/io/clip_weights.rs).
pub mod config;
mod encoder;
pub mod model;
pub mod text;
pub mod vision;

pub use config::{ClipConfig, ClipTextConfig, ClipVisionConfig, TextPooling};
pub use model::{l2_normalize, ClipModel};
