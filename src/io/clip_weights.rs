//! HuggingFace CLIP folders: `config.json` + `model.safetensors` as `CLIPModel.save_pretrained`
//! writes them. Import builds a [`ClipModel`] of the config's sizes and loads every parameter by
//! its HF name; a missing, extra or misshapen tensor is an error naming it (the non-persistent
//! `position_ids` buffers that older transformers saved are the only keys skipped). Export writes
//! the same two files back (f32), each through a temporary name and a rename.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use safetensors::{tensor::TensorView, Dtype};

use super::weights::WeightFile;
use crate::models::clip::{ClipConfig, ClipModel};
use crate::util::{write_atomically, Rng};
use crate::{DType, Device};

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Buffers older transformers versions saved with the weights; they hold 0..n and are not parameters.
fn is_position_ids_buffer(key: &str) -> bool {
    matches!(key, "text_model.embeddings.position_ids" | "vision_model.embeddings.position_ids")
}

/// Reads `dir/config.json` (HF's CLIPConfig layout).
pub fn read_clip_config(dir: &Path) -> Result<ClipConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {} (a HuggingFace CLIP folder holds config.json and model.safetensors)", path.display()))?;
    ClipConfig::from_hf_json(&text).with_context(|| path.display().to_string())
}

/// The weights file of a CLIP folder, or an error that says what the folder holds instead.
pub fn weights_path(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(WEIGHTS_FILE);
    if path.is_file() {
        return Ok(path);
    }
    if dir.join("pytorch_model.bin").is_file() {
        bail!(
            "{} holds only pytorch_model.bin (a pickle, which memefuse does not read); convert it to safetensors first:\n  \
             python -c \"from transformers import CLIPModel; CLIPModel.from_pretrained('{dir}').save_pretrained('{dir}')\"\n\
             (transformers writes model.safetensors by default)",
            dir.display(),
            dir = dir.display()
        );
    }
    if dir.join("model.safetensors.index.json").is_file() {
        bail!("{} holds sharded weights (model.safetensors.index.json); save the model again as one file with save_pretrained(DIR, max_shard_size=\"100GB\")", dir.display());
    }
    bail!("{} has no {WEIGHTS_FILE}", dir.display())
}

/// Builds the CLIP model of `dir`'s config and loads every parameter from its weights.
pub fn load_clip_folder(dir: impl AsRef<Path>, device: Device) -> Result<ClipModel> {
    let dir = dir.as_ref();
    let config = read_clip_config(dir)?;
    let weights = weights_path(dir)?;
    let model = ClipModel::new(&config, &mut Rng::new(0), device)?;
    load_clip_weights(&weights, &model.parameters())?;
    Ok(model)
}

/// Loads CLIP parameters (HF names) from a safetensors file: all must be there with their shapes,
/// and the file must hold nothing else.
pub fn load_clip_weights(path: &Path, parameters: &[(String, crate::Tensor)]) -> Result<crate::io::weights::ImportSummary> {
    let file = WeightFile::open(path)?;
    let summary = file.load_into(parameters, |_, _| false).context("the model's sizes come from config.json; the weights must match them")?;
    let extra: Vec<&String> = summary.unused_keys.iter().filter(|key| !is_position_ids_buffer(key)).collect();
    if !extra.is_empty() {
        bail!("{}: tensors that a CLIPModel of this config.json does not have: {extra:?}", path.display());
    }
    Ok(summary)
}

/// Writes `model` as a HuggingFace CLIP folder (config.json + model.safetensors, f32).
pub fn save_clip_folder(model: &ClipModel, dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let logit_scale = model.logit_scale().to_scalar()?;
    let config = model.config().to_hf_json(logit_scale).context("exporting to HuggingFace's layout")?;
    let parameters = model.parameters();
    let mut buffers = Vec::with_capacity(parameters.len());
    for (name, tensor) in &parameters {
        buffers.push((name.clone(), tensor.shape().to_vec(), tensor.to_dtype(DType::F32)?.to_cpu_storage()?));
    }
    let views = buffers.iter().map(|(name, shape, storage)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), storage.as_bytes())?))).collect::<Result<Vec<_>>>()?;
    let metadata = Some([("format".to_string(), "pt".to_string())].into_iter().collect());
    let bytes = safetensors::serialize(views, &metadata).context("encoding model.safetensors")?;
    let weights = dir.join(WEIGHTS_FILE);
    write_atomically(&weights, &bytes).with_context(|| format!("cannot write {}", weights.display()))?;
    let config_path = dir.join(CONFIG_FILE);
    write_atomically(&config_path, config.as_bytes()).with_context(|| format!("cannot write {}", config_path.display()))
}
