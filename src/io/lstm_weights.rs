//! The text LSTM's weights as a PyTorch state_dict saved with safetensors: embedding.weight,
//! lstm.weight_ih_lK, lstm.weight_hh_lK, lstm.bias_ih_lK, lstm.bias_hh_lK (K = 0, 1, ...),
//! fc.weight, fc.bias — exactly the names and layouts of `nn.Embedding`, `nn.LSTM(batch_first=True)`
//! and `nn.Linear(H, 1)`. Sizes (vocabulary, embedding, hidden, layers) are read from the shapes.
use std::path::Path;

use anyhow::{bail, Context};
use safetensors::{tensor::TensorView, Dtype};

use super::weights::WeightFile;
use crate::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use crate::tensor::{DType, Device};
use crate::util::Rng;

/// Writes every parameter of `model` as f32 under its PyTorch name.
pub fn save_text_lstm(model: &TextLstm, path: impl AsRef<Path>) -> anyhow::Result<()> {
    let path = path.as_ref();
    let parameters = model.parameters();
    let mut buffers = Vec::with_capacity(parameters.len());
    for (name, tensor) in &parameters {
        buffers.push((name.clone(), tensor.shape().to_vec(), tensor.to_dtype(DType::F32)?.to_cpu_storage()?));
    }
    let views = buffers
        .iter()
        .map(|(name, shape, storage)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), storage.as_bytes())?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, &None).with_context(|| format!("cannot encode {}", path.display()))?;
    crate::util::write_atomically(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Builds a `TextLstm` from a state_dict file, on `device`. The sizes come from the tensors'
/// shapes; then every parameter is loaded by name through `WeightFile` (errors name the key).
pub fn load_text_lstm(path: impl AsRef<Path>, readout: SequenceReadout, device: Device) -> anyhow::Result<TextLstm> {
    let path = path.as_ref();
    let file = WeightFile::open(path)?;
    let shapes = file.shapes();
    let shape_of = |key: &str| {
        shapes.get(key).cloned().ok_or_else(|| anyhow::anyhow!("{}: missing key '{key}' (a PyTorch text LSTM state_dict has embedding.weight, lstm.weight_ih_l0, ..., fc.weight, fc.bias)", path.display()))
    };
    let (embedding_shape, hh_shape) = (shape_of("embedding.weight")?, shape_of("lstm.weight_hh_l0")?);
    let (&[vocab_size, embedding_dim], &[gate_rows, hidden]) = (embedding_shape.as_slice(), hh_shape.as_slice()) else {
        bail!("{}: embedding.weight {embedding_shape:?} must be [vocab, dim] and lstm.weight_hh_l0 {hh_shape:?} [4·hidden, hidden]", path.display());
    };
    if gate_rows != 4 * hidden {
        bail!("{}: lstm.weight_hh_l0 has shape {hh_shape:?}; expected [4·hidden, hidden]", path.display());
    }
    let layers = (0..).take_while(|k| shapes.contains_key(&format!("lstm.weight_ih_l{k}"))).count();
    let config = TextLstmConfig { vocab_size, embedding_dim, hidden, layers, readout };
    let model = TextLstm::new(config, &mut Rng::new(0), device)?;
    let summary = file
        .load_into(&model.parameters(), |_, _| false)
        .with_context(|| format!("a text LSTM with vocabulary {vocab_size}, embedding {embedding_dim}, hidden {hidden} and {layers} layers"))?;
    if !summary.unused_keys.is_empty() {
        bail!("{}: unexpected tensors {:?} (a bidirectional LSTM or a projection is not supported)", path.display(), summary.unused_keys);
    }
    Ok(model)
}
