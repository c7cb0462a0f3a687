//! Checkpoints: one safetensors file per checkpoint, written atomically.
//!
//! Tensors (all F32, names prefixed by their group):
//! - `model.<parameter>`: the weights, e.g. `model.head.weight` ([out, in], PyTorch's layout);
//! - `optimizer.<state>`: whatever the optimiser's `state()` returns (moments, step counts);
//! - `loss_scaler.<state>`: the dynamic loss scaler's state, under fp16 only.
//!
//! `__metadata__`: `format` = `memefuse-checkpoint`, `format_version` = `1`, `epoch` (epochs
//! completed), `best_epoch` and `best_val_auroc` (empty when none yet), `config` (the run's
//! `TrainConfig` as JSON, which holds the image size and caption length), `rng`, which documents
//! that no generator state needs saving: every random stream (initialisation, data order, dropout)
//! is derived from `seed` and the epoch number; and what the text weights were trained with:
//! `tokenizer` ([`TOKENIZER`]), `vocab_hash`, `vocab_size` and `vocab` (the vocabulary file's text),
//! so that `--init` can refuse, or remap, weights of another vocabulary (train::vocab_remap).
//!
//! `last` holds everything `--resume` needs; `best` holds the model's weights only (no optimiser or
//! loss-scaler state: a third of `last`'s size under Adam), since it is only ever evaluated or
//! used as `--init`.
use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, ensure, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::config::TrainConfig;
use crate::data::text::Vocabulary;
use crate::util::write_atomically;
use crate::{Device, Tensor};

pub const CHECKPOINT_FORMAT: &str = "memefuse-checkpoint";
pub const CHECKPOINT_FORMAT_VERSION: &str = "1";
pub const MODEL_GROUP: &str = "model";
pub const OPTIMIZER_GROUP: &str = "optimizer";
pub const LOSS_SCALER_GROUP: &str = "loss_scaler";
const RNG_NOTE: &str = "derived from config.seed and the epoch number; nothing to restore";
/// How captions become tokens (data::text::tokenize); recorded so a change of it is detectable.
pub const TOKENIZER: &str = "memefuse-words-v1: URLs and hashtags dropped, non-alphanumerics deleted, lower-cased, split on whitespace";

/// Where training stands after `epoch` epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingProgress {
    pub epoch: usize,
    pub best_epoch: Option<usize>,
    pub best_val_auroc: Option<f64>,
}

/// A tensor's values on the host, as read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl HostTensor {
    pub fn to_tensor(&self, device: Device) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.values.clone(), &self.shape, device)?)
    }
}

/// Named tensors, in file order.
pub type NamedHostTensors = Vec<(String, HostTensor)>;

/// What a checkpoint holds.
pub struct CheckpointContents<'a> {
    pub config: &'a TrainConfig,
    pub progress: &'a TrainingProgress,
    pub model: &'a [(String, Tensor)],
    pub optimizer: &'a [(String, Tensor)],
    pub loss_scaler: &'a [(String, Tensor)],
    /// The vocabulary the run's captions were encoded with.
    pub vocabulary: Option<&'a Vocabulary>,
}

pub fn save_checkpoint(path: &Path, contents: &CheckpointContents) -> Result<()> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (group, named) in [(MODEL_GROUP, contents.model), (OPTIMIZER_GROUP, contents.optimizer), (LOSS_SCALER_GROUP, contents.loss_scaler)] {
        for (name, tensor) in named {
            let values = tensor.to_vec_f32().with_context(|| format!("reading {group}.{name} for the checkpoint"))?;
            tensors.push((format!("{group}.{name}"), tensor.shape().to_vec(), bytemuck::cast_slice(&values).to_vec()));
        }
    }
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| Ok((name.as_str(), TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let progress = contents.progress;
    let metadata: HashMap<String, String> = [
        ("format", CHECKPOINT_FORMAT.to_string()),
        ("format_version", CHECKPOINT_FORMAT_VERSION.to_string()),
        ("epoch", progress.epoch.to_string()),
        ("best_epoch", progress.best_epoch.map_or(String::new(), |e| e.to_string())),
        ("best_val_auroc", progress.best_val_auroc.map_or(String::new(), |a| format!("{a:?}"))),
        ("config", serde_json::to_string(contents.config)?),
        ("rng", RNG_NOTE.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    let mut metadata = metadata;
    if let Some(vocabulary) = contents.vocabulary {
        metadata.insert("tokenizer".into(), TOKENIZER.to_string());
        metadata.insert("vocab_hash".into(), vocabulary.hash());
        metadata.insert("vocab_size".into(), vocabulary.len().to_string());
        metadata.insert("vocab".into(), vocabulary.to_text());
    }
    let bytes = safetensors::tensor::serialize(views, &Some(metadata)).with_context(|| format!("serialising {}", path.display()))?;
    write_atomically(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// A checkpoint read back.
#[derive(Debug)]
pub struct LoadedCheckpoint {
    pub config: TrainConfig,
    pub progress: TrainingProgress,
    pub model: NamedHostTensors,
    pub optimizer: NamedHostTensors,
    pub loss_scaler: NamedHostTensors,
    /// The vocabulary of its text weights (`None` for checkpoints saved before they recorded it).
    pub vocabulary: Option<Vocabulary>,
}

pub fn load_checkpoint(path: &Path) -> Result<LoadedCheckpoint> {
    load_checkpoint_inner(path).with_context(|| format!("checkpoint {}", path.display()))
}

fn load_checkpoint_inner(path: &Path) -> Result<LoadedCheckpoint> {
    let (metadata, tensors) = read_safetensors(path)?;
    let field = |key: &str| metadata.get(key).map(String::as_str).ok_or_else(|| anyhow!("metadata field {key:?} is missing"));
    ensure!(
        field("format")? == CHECKPOINT_FORMAT && field("format_version")? == CHECKPOINT_FORMAT_VERSION,
        "not a {CHECKPOINT_FORMAT} version {CHECKPOINT_FORMAT_VERSION} file"
    );
    let epoch = field("epoch")?.parse().map_err(|_| anyhow!("metadata field \"epoch\" is not a number"))?;
    let best_epoch = optional_number(field("best_epoch")?, "best_epoch")?;
    let best_val_auroc = optional_number(field("best_val_auroc")?, "best_val_auroc")?;
    let config: TrainConfig = serde_json::from_str(field("config")?).context("metadata field \"config\"")?;
    let mut groups: HashMap<&str, NamedHostTensors> = HashMap::new();
    for (name, tensor) in tensors {
        let Some((group, rest)) = name.split_once('.') else { bail!("tensor {name:?} has no group prefix") };
        let group = [MODEL_GROUP, OPTIMIZER_GROUP, LOSS_SCALER_GROUP]
            .into_iter()
            .find(|known| *known == group)
            .ok_or_else(|| anyhow!("tensor {name:?} belongs to no known group"))?;
        groups.entry(group).or_default().push((rest.to_string(), tensor));
    }
    let vocabulary = match metadata.get("vocab") {
        Some(text) => Some(Vocabulary::from_text(text, "metadata field \"vocab\"")?),
        None => None,
    };
    if let (Some(vocabulary), Some(hash)) = (&vocabulary, metadata.get("vocab_hash")) {
        ensure!(vocabulary.hash() == *hash, "metadata field \"vocab\" does not match its vocab_hash {hash}");
    }
    let mut take = |group: &str| groups.remove(group).unwrap_or_default();
    Ok(LoadedCheckpoint {
        config,
        progress: TrainingProgress { epoch, best_epoch, best_val_auroc },
        model: take(MODEL_GROUP),
        optimizer: take(OPTIMIZER_GROUP),
        loss_scaler: take(LOSS_SCALER_GROUP),
        vocabulary,
    })
}

fn optional_number<T: std::str::FromStr>(text: &str, key: &str) -> Result<Option<T>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| anyhow!("metadata field {key:?} is not a number: {text:?}"))
}

/// The metadata and every tensor (F32, F16 or BF16, widened to f32) of a safetensors file.
pub fn read_safetensors(path: &Path) -> Result<(HashMap<String, String>, NamedHostTensors)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).with_context(|| format!("{} is not a safetensors file", path.display()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(&bytes).with_context(|| format!("{} is not a safetensors file", path.display()))?;
    let mut named: Vec<(String, HostTensor)> = Vec::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => bail!("{}: tensor {name:?} has dtype {other:?}; weights must be F32, F16 or BF16", path.display()),
        };
        named.push((name, HostTensor { shape: view.shape().to_vec(), values }));
    }
    // SafeTensors::tensors() has no defined order; sort for stable behaviour and messages.
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((metadata, named))
}

/// Copies `loaded` values into `parameters`, matching by name and shape.
///
/// `require_all`: every parameter must be in `loaded` (checkpoints). Otherwise (`--init`) missing
/// parameters keep their initial values and are returned. A loaded tensor that matches no
/// parameter, or has the wrong shape, is always an error naming it.
pub fn assign_parameters(parameters: &[(String, Tensor)], loaded: &[(String, HostTensor)], source: &Path, require_all: bool) -> Result<Vec<String>> {
    let by_name: HashMap<&str, &HostTensor> = loaded.iter().map(|(name, tensor)| (name.as_str(), tensor)).collect();
    let parameter_names: std::collections::HashSet<&str> = parameters.iter().map(|(name, _)| name.as_str()).collect();
    let unknown: Vec<&str> = loaded.iter().map(|(name, _)| name.as_str()).filter(|name| !parameter_names.contains(name)).collect();
    if !unknown.is_empty() {
        bail!(
            "{}: tensors {unknown:?} match no parameter of the model (its parameters: {:?})",
            source.display(),
            parameters.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>()
        );
    }
    let mut missing = Vec::new();
    for (name, parameter) in parameters {
        let Some(values) = by_name.get(name.as_str()) else {
            missing.push(name.clone());
            continue;
        };
        if values.shape != parameter.shape() {
            bail!("{}: tensor {name:?} has shape {:?} but the model's parameter has shape {:?}", source.display(), values.shape, parameter.shape());
        }
        let replacement = values.to_tensor(parameter.device())?.to_dtype(parameter.dtype())?;
        parameter.axpby_(1.0, &replacement, 0.0)?;
    }
    if require_all && !missing.is_empty() {
        bail!("{}: parameters {missing:?} are missing", source.display());
    }
    Ok(missing)
}

/// Whether `path` is a memefuse checkpoint (as opposed to weights saved by another program).
pub fn is_checkpoint(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).with_context(|| format!("{} is not a safetensors file", path.display()))?;
    Ok(header.metadata().as_ref().and_then(|m| m.get("format")).map(String::as_str) == Some(CHECKPOINT_FORMAT))
}

/// Tensors on `device`, for `Optimizer::load_state` and `LossScaler::load_state`.
pub fn to_device_tensors(named: &[(String, HostTensor)], device: Device) -> Result<Vec<(String, Tensor)>> {
    named.iter().map(|(name, tensor)| Ok((name.clone(), tensor.to_tensor(device)?))).collect()
}
