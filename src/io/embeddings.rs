//! The embeddings file `memefuse embed` writes and `memefuse tsne --embeddings` reads: one
//! safetensors file, readable from Python with `safetensors.numpy` (docs/tsne.md):
//!
//! - tensor `features`: F32 `[n, d]`, the penultimate features of every record, in split order;
//! - tensor `labels`: I32 `[n]`, the class (0 not hateful, 1 hateful), −1 for an unlabelled record;
//! - `__metadata__` `ids`: the record ids as a JSON array of strings (safetensors has no string
//!   tensors; `safe_open(path, "np").metadata()["ids"]`), `format` = `memefuse-embeddings`,
//!   `format_version` = `1`, and free-form provenance (`model`, `split`, `checkpoint`, `epoch`, `run`).
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, ensure, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::util::write_atomically;

pub const EMBEDDINGS_FORMAT: &str = "memefuse-embeddings";
pub const EMBEDDINGS_FORMAT_VERSION: &str = "1";
const FEATURES: &str = "features";
const LABELS: &str = "labels";
const IDS: &str = "ids";
const UNLABELLED: i32 = -1;

#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// `[n, dim]` row-major.
    pub features: Vec<f32>,
    pub dim: usize,
    pub ids: Vec<String>,
    pub labels: Vec<Option<u8>>,
    /// Provenance written into the metadata (and read back), e.g. `model`, `split`.
    pub provenance: BTreeMap<String, String>,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn check(&self) -> Result<()> {
        ensure!(self.dim > 0, "embeddings of dimension 0");
        ensure!(self.features.len() == self.len() * self.dim, "{} feature values for {} records of dimension {}", self.features.len(), self.len(), self.dim);
        ensure!(self.labels.len() == self.len(), "{} labels for {} records", self.labels.len(), self.len());
        Ok(())
    }

    /// Writes the file atomically (a temporary name, then a rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        self.check()?;
        let labels: Vec<i32> = self.labels.iter().map(|l| l.map_or(UNLABELLED, i32::from)).collect();
        let views = vec![
            (FEATURES, TensorView::new(Dtype::F32, vec![self.len(), self.dim], bytemuck::cast_slice(&self.features))?),
            (LABELS, TensorView::new(Dtype::I32, vec![self.len()], bytemuck::cast_slice(&labels))?),
        ];
        let mut metadata: HashMap<String, String> = self.provenance.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        metadata.insert("format".into(), EMBEDDINGS_FORMAT.into());
        metadata.insert("format_version".into(), EMBEDDINGS_FORMAT_VERSION.into());
        metadata.insert(IDS.into(), serde_json::to_string(&self.ids)?);
        let bytes = safetensors::tensor::serialize(views, &Some(metadata)).with_context(|| format!("serialising {}", path.display()))?;
        write_atomically(path, &bytes).with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(path: &Path) -> Result<Self> {
        Self::read_inner(path).with_context(|| format!("embeddings file {}", path.display()))
    }

    fn read_inner(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).context("reading it")?;
        let (_, header) = SafeTensors::read_metadata(&bytes).context("not a safetensors file")?;
        let mut metadata = header.metadata().clone().unwrap_or_default();
        let file = SafeTensors::deserialize(&bytes).context("not a safetensors file")?;
        let features = file.tensor(FEATURES).map_err(|_| anyhow!("no tensor {FEATURES:?} (expected F32 [n, d])"))?;
        let (n, dim) = match (features.dtype(), features.shape()) {
            (Dtype::F32, &[n, dim]) => (n, dim),
            (dtype, shape) => bail!("tensor {FEATURES:?} is {dtype:?} {shape:?}; expected F32 [n, d]"),
        };
        let features: Vec<f32> = features.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let labels = match file.tensor(LABELS) {
            Ok(view) => read_labels(&view, n)?,
            Err(_) => vec![None; n],
        };
        let ids = match metadata.remove(IDS) {
            Some(text) => serde_json::from_str::<Vec<String>>(&text).context("metadata field \"ids\" is not a JSON array of strings")?,
            None => (0..n).map(|i| i.to_string()).collect(),
        };
        ensure!(ids.len() == n, "metadata field \"ids\" has {} ids for {n} rows of {FEATURES:?}", ids.len());
        if let Some(version) = metadata.get("format_version") {
            ensure!(version == EMBEDDINGS_FORMAT_VERSION, "format_version {version:?}; this memefuse reads version {EMBEDDINGS_FORMAT_VERSION}");
        }
        metadata.remove("format");
        metadata.remove("format_version");
        let embeddings = Embeddings { features, dim, ids, labels, provenance: metadata.into_iter().collect() };
        embeddings.check()?;
        Ok(embeddings)
    }
}

fn read_labels(view: &TensorView, n: usize) -> Result<Vec<Option<u8>>> {
    ensure!(view.shape() == [n], "tensor {LABELS:?} has shape {:?}; expected [{n}]", view.shape());
    let data = view.data();
    let values: Vec<i64> = match view.dtype() {
        Dtype::I32 => data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64).collect(),
        Dtype::I64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect(),
        Dtype::U8 => data.iter().map(|&b| b as i64).collect(),
        other => bail!("tensor {LABELS:?} has dtype {other:?}; expected I32 (or I64, U8)"),
    };
    values
        .iter()
        .enumerate()
        .map(|(i, &label)| match label {
            -1 => Ok(None),
            0 | 1 => Ok(Some(label as u8)),
            other => bail!("{LABELS}[{i}] = {other}: a label is 0, 1 or −1 (unlabelled)"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.safetensors");
        let embeddings = Embeddings {
            features: (0..12).map(|v| v as f32 * 0.5).collect(),
            dim: 4,
            ids: vec!["01235".into(), "x\"y".into(), "7".into()],
            labels: vec![Some(1), None, Some(0)],
            provenance: [("model".to_string(), "lstm".to_string())].into(),
        };
        embeddings.write(&path).unwrap();
        assert_eq!(Embeddings::read(&path).unwrap(), embeddings);

        let bad_labels: Vec<i32> = vec![0, 2];
        let features = vec![0.0f32; 4];
        let views = vec![
            (FEATURES, TensorView::new(Dtype::F32, vec![2, 2], bytemuck::cast_slice(&features)).unwrap()),
            (LABELS, TensorView::new(Dtype::I32, vec![2], bytemuck::cast_slice(&bad_labels)).unwrap()),
        ];
        std::fs::write(&path, safetensors::tensor::serialize(views, &None).unwrap()).unwrap();
        let message = format!("{:#}", Embeddings::read(&path).unwrap_err());
        assert!(message.contains("labels[1] = 2") && message.contains("e.safetensors"), "{message}");
    }
}
