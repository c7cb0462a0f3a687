//! The text LSTM's weights as a PyTorch state_dict saved with safetensors: embedding.weight,
//! lstm.weight_ih_lK, lstm.weight_hh_lK, lstm.bias_ih_lK, lstm.bias_hh_lK (K = 0, 1, ...),
//! fc.weight, fc.bias — exactly the names and layouts of `nn.Embedding`, `nn.LSTM(batch_first=True)`
//! and `nn.Linear(H, 1)`. Sizes (vocabulary, embedding, hidden, layers) are read from the shapes.
use std::path::Path;

use anyhow::{bail, Context};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::models::text_lstm::{SequenceReadout, TextLstm, TextLstmConfig};
use crate::tensor::{CpuStorage, DType, Device, Tensor};
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

/// One tensor of the file as f32 values, with its shape; errors name the key.
fn read_tensor(file: &SafeTensors, key: &str, path: &Path) -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
    let view = file.tensor(key).map_err(|_| anyhow::anyhow!("{}: no tensor {key:?} (a PyTorch text LSTM state_dict has embedding.weight, lstm.weight_ih_l0, ..., fc.weight, fc.bias)", path.display()))?;
    let values = match view.dtype() {
        Dtype::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(view.data()),
        Dtype::F16 => bytemuck::pod_collect_to_vec::<u8, half::f16>(view.data()).iter().map(|v| v.to_f32()).collect(),
        Dtype::BF16 => bytemuck::pod_collect_to_vec::<u8, half::bf16>(view.data()).iter().map(|v| v.to_f32()).collect(),
        other => bail!("{}: tensor {key:?} is {other:?}; expected F32, F16 or BF16", path.display()),
    };
    Ok((view.shape().to_vec(), values))
}

/// Builds a `TextLstm` from a state_dict file, on `device`.
pub fn load_text_lstm(path: impl AsRef<Path>, readout: SequenceReadout, device: Device) -> anyhow::Result<TextLstm> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read weights {}", path.display()))?;
    let file = SafeTensors::deserialize(&bytes).with_context(|| format!("{} is not a safetensors file", path.display()))?;

    let shape_of = |key: &str| read_tensor(&file, key, path).map(|(shape, _)| shape);
    let embedding_shape = shape_of("embedding.weight")?;
    let hh_shape = shape_of("lstm.weight_hh_l0")?;
    let (&[vocab_size, embedding_dim], &[gate_rows, hidden]) = (embedding_shape.as_slice(), hh_shape.as_slice()) else {
        bail!("{}: embedding.weight {embedding_shape:?} must be [vocab, dim] and lstm.weight_hh_l0 {hh_shape:?} [4·hidden, hidden]", path.display());
    };
    if gate_rows != 4 * hidden {
        bail!("{}: lstm.weight_hh_l0 has shape {hh_shape:?}; expected [4·hidden, hidden]", path.display());
    }
    let layers = (0..).take_while(|k| file.tensor(&format!("lstm.weight_ih_l{k}")).is_ok()).count();
    let config = TextLstmConfig { vocab_size, embedding_dim, hidden, layers, readout };
    let model = TextLstm::new(config, &mut Rng::new(0), device)?;
    for (name, parameter) in model.parameters() {
        let (shape, values) = read_tensor(&file, &name, path)?;
        if shape != parameter.shape() {
            bail!("{}: tensor {name:?} has shape {shape:?}; a model with vocabulary {vocab_size}, embedding {embedding_dim}, hidden {hidden} and {layers} layers needs {:?}", path.display(), parameter.shape());
        }
        // The freshly built parameter takes the file's values in place: p ← 1·file + 0·p.
        let imported = Tensor::from_cpu_storage(CpuStorage::F32(values), &shape, device)?;
        parameter.axpby_(1.0, &imported, 0.0)?;
    }
    let extra: Vec<&str> = file.names().into_iter().filter(|n| !model.parameters().iter().any(|(p, _)| p == *n)).map(String::as_str).collect();
    if !extra.is_empty() {
        bail!("{}: unexpected tensors {extra:?} (a bidirectional LSTM or a projection is not supported)", path.display());
    }
    Ok(model)
}
