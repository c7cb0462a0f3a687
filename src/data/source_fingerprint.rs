//! What a prepared split was made from, recorded in its metadata, so that a cached copy is used
//! only while it still matches its source. A prepared file records the data folder, the split
//! file and its sha256, the images its records point to (sizes and modification times, and a
//! sha256 of their contents), and every setting that changes its bytes (image size, resize mode,
//! vocabulary, caption length, tokenizer, text limit). [`stale_reason`] compares all of them with
//! the source as it is now: cheap checks first, the images' contents only when their sizes or
//! modification times changed (a copied or touched folder with the same images is still fresh).
use super::dataset::{HatefulMemes, ReadOptions, Record};
use super::prepared::PreparedSplit;
use super::text::hex;
use anyhow::Context;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Names the text cleaning of `data::text::tokenize`: change it whenever tokenize changes, so that
/// splits encoded by the old rules are prepared again.
pub const TOKENIZER: &str = "seed-clean-v1";

/// Metadata keys written by `prepare_split` and read back here.
pub const SPLIT_SHA256: &str = "split_sha256";
pub const IMAGES_STAT_SHA256: &str = "images_stat_sha256";
pub const IMAGES_SHA256: &str = "images_sha256";
pub const TOKENIZER_KEY: &str = "text_cleaning";
pub const MAX_TEXT_CHARS: &str = "max_text_chars";
pub const REQUIRE_LABELS: &str = "require_labels";

/// The fingerprint of a split's source as read now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFingerprint {
    pub split_sha256: String,
    pub images_stat_sha256: String,
    pub images_sha256: String,
}

impl SourceFingerprint {
    /// Hashes the split file and every image its (kept) records point to.
    pub fn of(split_file: &Path, records: &[Record]) -> anyhow::Result<Self> {
        Ok(Self { split_sha256: file_sha256(split_file)?, images_stat_sha256: images_stat_digest(records)?, images_sha256: images_content_digest(records)? })
    }
}

pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

/// sha256 over each record's image path, size and modification time, in record order: the fast check.
pub fn images_stat_digest(records: &[Record]) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    for record in records {
        let metadata = std::fs::metadata(&record.image_path).with_context(|| format!("cannot read {}", record.image_path.display()))?;
        let modified = metadata.modified().ok().and_then(|time| time.duration_since(UNIX_EPOCH).ok()).map_or(0, |age| age.as_nanos());
        hasher.update(record.image_path.as_os_str().as_encoded_bytes());
        hasher.update([0]);
        hasher.update(metadata.len().to_le_bytes());
        hasher.update(modified.to_le_bytes());
    }
    Ok(hex(&hasher.finalize()))
}

/// sha256 over the sha256 of each record's image file, in record order (files hashed in parallel).
pub fn images_content_digest(records: &[Record]) -> anyhow::Result<String> {
    let digests: Vec<anyhow::Result<[u8; 32]>> = records
        .par_iter()
        .map(|record| {
            let bytes = std::fs::read(&record.image_path).with_context(|| format!("cannot read {}", record.image_path.display()))?;
            Ok(Sha256::digest(&bytes).into())
        })
        .collect();
    let mut hasher = Sha256::new();
    for digest in digests {
        hasher.update(digest?);
    }
    Ok(hex(&hasher.finalize()))
}

/// Everything a cached split must have been made with, besides its source.
#[derive(Clone, Debug)]
pub struct CacheExpectation {
    pub image_size: u32,
    pub resize: &'static str,
    pub vocab_hash: String,
    pub max_len: Option<usize>,
    pub read: ReadOptions,
}

/// A cached prepared file, judged against its source.
#[derive(Debug)]
pub enum CacheState {
    /// It matches: here it is, opened and checksum-verified.
    Fresh(PreparedSplit),
    /// There is none yet.
    Missing,
    /// It exists but must be prepared again, for this reason.
    Stale(String),
}

/// Opens the prepared file at `path` if it still matches split `split` of `data_dir`. A missing data
/// folder or split file is an error, not staleness: there is nothing to prepare it from.
pub fn check_cached(path: &Path, data_dir: &Path, split: &str, expected: &CacheExpectation) -> anyhow::Result<CacheState> {
    let dataset = HatefulMemes::open(data_dir)?;
    let split_file = dataset.split_file(split)?;
    if !path.is_file() {
        return Ok(CacheState::Missing);
    }
    let prepared = match PreparedSplit::open(path, crate::data::Expect::default()) {
        Ok(prepared) => prepared,
        Err(error) => return Ok(CacheState::Stale(format!("it is unreadable: {error:#}"))),
    };
    Ok(match stale_reason(&prepared, &dataset, &split_file, split, expected)? {
        Some(reason) => CacheState::Stale(reason),
        None => CacheState::Fresh(prepared),
    })
}

fn stale_reason(prepared: &PreparedSplit, dataset: &HatefulMemes, split_file: &Path, split: &str, expected: &CacheExpectation) -> anyhow::Result<Option<String>> {
    let metadata = prepared.metadata();
    let recorded = |key: &str| metadata.get(key).map(String::as_str).unwrap_or("(not recorded)");
    let settings = [
        ("data folder", "source_dir", dataset.dir().display().to_string()),
        ("split file", "split_file", split_file.display().to_string()),
        ("image size", "image_size", expected.image_size.to_string()),
        ("resize mode", "resize", expected.resize.to_string()),
        ("vocabulary", "vocab_hash", expected.vocab_hash.clone()),
        ("text cleaning", TOKENIZER_KEY, TOKENIZER.to_string()),
        ("text limit", MAX_TEXT_CHARS, expected.read.max_text_chars.to_string()),
        ("label requirement", REQUIRE_LABELS, expected.read.require_labels.to_string()),
    ];
    for (what, key, now) in settings {
        if recorded(key) != now {
            return Ok(Some(format!("its {what} was {} and is now {now}", recorded(key))));
        }
    }
    if let Some(max_len) = expected.max_len {
        if prepared.max_len() != max_len {
            return Ok(Some(format!("its captions were cut to {} tokens and the run uses {max_len}", prepared.max_len())));
        }
    }
    if recorded(SPLIT_SHA256) != file_sha256(split_file)? {
        return Ok(Some(format!("{} changed", split_file.display())));
    }
    let (records, _) = dataset.read_split(split, &expected.read)?;
    if recorded(IMAGES_STAT_SHA256) == images_stat_digest(&records)? {
        return Ok(None);
    }
    if recorded(IMAGES_SHA256) == images_content_digest(&records)? {
        return Ok(None);
    }
    Ok(Some("its images changed".to_string()))
}
