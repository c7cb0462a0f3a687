//! Writing and reading the safetensors container of prepared files: an 8-byte little-endian header
//! length, a JSON header (tensor dtypes, shapes, byte offsets and a `__metadata__` string map), then
//! the tensors' bytes back to back. The writer streams tensors straight to disk (no second copy of a
//! multi-gigabyte image tensor), through `AtomicFile`.
use crate::util::AtomicFile;
use anyhow::Context;
use safetensors::{SafeTensorError, SafeTensors};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One tensor to write: safetensors dtype name (`"I32"`, `"I8"`, `"U8"`), shape and little-endian bytes.
pub struct TensorData<'a> {
    pub name: &'a str,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub bytes: &'a [u8],
}

/// Writes `tensors` in the given order (put wider dtypes first to keep them aligned) with `metadata`.
/// The header is padded with spaces to a multiple of 8 bytes, so the data section starts aligned.
pub fn write(path: &Path, metadata: &BTreeMap<String, String>, tensors: &[TensorData]) -> anyhow::Result<()> {
    let mut header = Map::new();
    header.insert("__metadata__".to_string(), json!(metadata));
    let mut offset = 0usize;
    for tensor in tensors {
        let end = offset + tensor.bytes.len();
        header.insert(
            tensor.name.to_string(),
            json!({ "dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut header_bytes = serde_json::to_vec(&Value::Object(header))?;
    header_bytes.resize(header_bytes.len().next_multiple_of(8), b' ');

    let context = || format!("cannot write {}", path.display());
    let mut file = AtomicFile::create(path).with_context(context)?;
    file.write_all(&(header_bytes.len() as u64).to_le_bytes()).with_context(context)?;
    file.write_all(&header_bytes).with_context(context)?;
    for tensor in tensors {
        file.write_all(tensor.bytes).with_context(context)?;
    }
    file.commit().with_context(context)
}

/// The parsed header of a safetensors buffer and where its data section starts.
pub struct Header {
    pub data_start: usize,
    pub metadata: BTreeMap<String, String>,
    pub tensors: BTreeMap<String, (String, Vec<usize>, std::ops::Range<usize>)>,
}

/// Parses and validates the header (offsets contiguous, sizes consistent, length matching the file).
pub fn read_header(buffer: &[u8]) -> Result<Header, String> {
    let (header_len, metadata) = SafeTensors::read_metadata(buffer).map_err(describe_error)?;
    let data_start = 8 + header_len;
    let tensors = metadata
        .tensors()
        .into_iter()
        .map(|(name, info)| {
            let (start, end) = info.data_offsets;
            (name, (format!("{:?}", info.dtype), info.shape.clone(), data_start + start..data_start + end))
        })
        .collect();
    let metadata = metadata.metadata().clone().unwrap_or_default().into_iter().collect();
    Ok(Header { data_start, metadata, tensors })
}

fn describe_error(error: SafeTensorError) -> String {
    match error {
        SafeTensorError::HeaderTooSmall | SafeTensorError::InvalidHeaderLength => {
            "the file is shorter than its header says (truncated?)".to_string()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            "the file's length does not match the tensors its header lists (truncated or extended)".to_string()
        }
        SafeTensorError::InvalidHeader | SafeTensorError::InvalidHeaderDeserialization => {
            "the header is not valid safetensors JSON: not a prepared file, or corrupted".to_string()
        }
        SafeTensorError::HeaderTooLarge => "the header length is implausible: not a prepared file, or corrupted".to_string(),
        other => format!("invalid safetensors header: {other:?}"),
    }
}
