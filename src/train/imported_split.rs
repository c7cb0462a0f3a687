//! The split an imported model (`predict`/`embed --weights`, io::foreign_weights) reads: prepared
//! as the model's importer says into a temporary folder, removed when done, and then batched by the
//! same evaluation loader as a run's splits.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::data_cache::DataSource;
use crate::data::text::Vocabulary;
use crate::data::{prepare_split, Expect, PrepareOptions, PreparedSplit};
use crate::io::foreign_weights::{ImportedModel, TextInput};

/// A folder under the system's temporary directory, removed on drop.
pub struct TemporaryFolder(PathBuf);

impl TemporaryFolder {
    fn new(purpose: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("memefuse-{purpose}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create the temporary folder {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TemporaryFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `split` of `data`, prepared for `imported`. The folder holds the prepared file, which stays
/// memory-mapped: keep it alive as long as the split.
pub fn prepare_for_import(imported: &ImportedModel, data: &Path, split: &str) -> Result<(Arc<PreparedSplit>, DataSource, TemporaryFolder)> {
    let folder = TemporaryFolder::new("prepared")?;
    let mut options = PrepareOptions::new(folder.path().join(format!("{split}.safetensors")));
    options.image_size = imported.image_size;
    options.resize = imported.resize;
    options.preprocess = imported.preprocess;
    options.decode_images = imported.decode_images;
    options.max_len = Some(imported.max_len);
    options.vocab = Some(match &imported.text {
        TextInput::Words(path) | TextInput::ClipBpe(path) => path.clone(),
        TextInput::None => {
            // An image model reads no text: an empty vocabulary (<pad>, <unk>) keeps the train split out of it.
            let path = folder.path().join("no-text.vocab.txt");
            Vocabulary::build(Vec::<String>::new(), 1, None).save(&path)?;
            path
        }
    });
    let summary = prepare_split(data, split, &options).with_context(|| format!("preparing the {split:?} split of {}", data.display()))?;
    if !summary.report.issues.is_empty() {
        eprintln!("memefuse: {}; `memefuse inspect` or `memefuse prepare` lists them", summary.report.summary());
    }
    let expect = Expect { image_size: Some(imported.image_size), vocab_hash: Some(summary.vocab_hash.clone()), skip_checksum: true };
    let prepared = Arc::new(PreparedSplit::open(&summary.out, expect)?);
    let source = DataSource::of(&prepared);
    Ok((prepared, source, folder))
}
