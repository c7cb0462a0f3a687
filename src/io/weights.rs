//! Weight import from safetensors files (a PyTorch `state_dict` saved with
//! `safetensors.torch.save_file`), matched by parameter name.
//!
//! Rules: every parameter of the model must be in the file with exactly its shape, else an error
//! names the key; f32, f16 and bf16 tensors load (converted to f32 master weights); extra keys in
//! the file are ignored (and counted). For VGG16 a 1000-class ImageNet head (`classifier.6.*` with
//! 1000 rows) is skipped, so the model keeps its fresh 2-class head; a head with the model's shape
//! is loaded as is.
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::models::vgg16::Vgg16;
use crate::tensor::CpuStorage;
use crate::{DType, Device, Error, Result, Tensor};

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportSummary {
    /// Parameters loaded from the file.
    pub loaded: Vec<String>,
    /// Parameters kept at their fresh initialisation (a replaced classification head).
    pub kept_fresh: Vec<String>,
    /// Keys in the file that the model has no parameter for.
    pub unused_keys: Vec<String>,
}

fn import_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {message}", path.display())))
}

/// A memory-mapped safetensors file.
pub struct WeightFile {
    path: std::path::PathBuf,
    mmap: Mmap,
}

impl WeightFile {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| import_error(&path, format!("cannot open: {e}")))?;
        // SAFETY: the mapping is read-only; a file changed underneath would give wrong values, not
        // undefined behaviour in our code paths (every read is bounds-checked by safetensors).
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| import_error(&path, format!("cannot map: {e}")))?;
        SafeTensors::deserialize(&mmap).map_err(|e| import_error(&path, format!("not a safetensors file: {e:?}")))?;
        Ok(Self { path, mmap })
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.mmap).expect("validated in open")
    }

    /// Key → shape for every tensor in the file.
    pub fn shapes(&self) -> HashMap<String, Vec<usize>> {
        self.tensors().tensors().into_iter().map(|(name, view)| (name, view.shape().to_vec())).collect()
    }

    /// The tensor `key` as f32 on `device`; an error names the key when it is missing or not a float.
    pub fn read_f32(&self, key: &str, device: Device) -> Result<Tensor> {
        let tensors = self.tensors();
        let view = tensors.tensor(key).map_err(|_| import_error(&self.path, format!("missing key '{key}'")))?;
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            other => return Err(import_error(&self.path, format!("key '{key}' has dtype {other:?}; expected F32, F16 or BF16"))),
        };
        let values = CpuStorage::from_bytes(view.data(), dtype);
        Tensor::from_cpu_storage(values, view.shape(), Device::Cpu)?.to_dtype(DType::F32)?.to_device(device)
    }

    /// Copies each named parameter's values from the file (checking shapes), except those for which
    /// `keep_fresh(name, file_shape)` says to keep the initialisation.
    pub fn load_into(&self, parameters: &[(String, Tensor)], keep_fresh: impl Fn(&str, &[usize]) -> bool) -> Result<ImportSummary> {
        let shapes = self.shapes();
        let mut summary = ImportSummary::default();
        for (name, parameter) in parameters {
            let shape = shapes.get(name).ok_or_else(|| import_error(&self.path, format!("missing key '{name}' (expected shape {:?})", parameter.shape())))?;
            if keep_fresh(name, shape) {
                summary.kept_fresh.push(name.clone());
                continue;
            }
            if shape.as_slice() != parameter.shape() {
                return Err(import_error(&self.path, format!("key '{name}' has shape {shape:?}, the model expects {:?}", parameter.shape())));
            }
            let values = self.read_f32(name, parameter.device())?.to_dtype(parameter.dtype())?;
            let _no_grad = crate::autograd::no_grad();
            parameter.axpby_(1.0, &values, 0.0)?;
            summary.loaded.push(name.clone());
        }
        let mut unused: Vec<String> = shapes.into_keys().filter(|key| !parameters.iter().any(|(name, _)| name == key)).collect();
        unused.sort();
        summary.unused_keys = unused;
        Ok(summary)
    }
}

/// Loads a torchvision VGG16 state_dict into `model`; a 1000-class ImageNet head is replaced by the
/// model's fresh head (see the module comment).
pub fn load_vgg16(path: impl AsRef<Path>, model: &Vgg16) -> Result<ImportSummary> {
    let file = WeightFile::open(path)?;
    let classes = model.config().classes;
    file.load_into(&model.parameters(), |name, shape| name.starts_with("classifier.6.") && shape.first() == Some(&1000) && classes != 1000)
}
