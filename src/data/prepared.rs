//! Prepared splits: a split decoded, resized, tokenized and packed into one memory-mapped
//! safetensors file, so that training never touches JSON or PNG again.
//!
//! Layout (tensors in file order, the data section starts 8-byte aligned):
//!
//! | tensor   | dtype | shape          | content                                        |
//! |----------|-------|----------------|------------------------------------------------|
//! | `tokens` | I32   | N × max_len    | token ids, post-padded with 0 (`<pad>`)        |
//! | `labels` | I8    | N              | 0, 1, or -1 for unlabelled                      |
//! | `images` | U8    | N × S × S × 3  | resized RGB, HWC                               |
//! | `ids`    | U8    | bytes          | record ids joined by `\n` (UTF-8)              |
//! | `id_is_number` | U8 | N            | 1 where the dataset wrote the id as a number    |
//!
//! `__metadata__` holds `format`, `format_version`, `source_dir`, `split`, `split_file`,
//! `preprocess` (`seed` or `clip`), `normalization` (`imagenet` or `clip`: what the images are
//! meant to be normalised with), `tokenizer` (`words` or `clip-bpe`),
//! `image_size`, `resize`, `max_len`, `count`, `labelled`, `positives`, `vocab_hash`, `vocab_size`,
//! `lines`, `skipped`, `issue_counts` (JSON object, reason → count), `checksum_sha256`: the
//! sha256 of the whole data section (all tensor bytes in file order), and what the source was
//! (`split_sha256`, `images_stat_sha256`, `images_sha256`, `tokenizer`, `max_text_chars`,
//! `require_labels`; see [`super::source_fingerprint`], which tells a cache when it is stale).
use super::container::{self, TensorData};
use super::dataset::{undecodable_issue, HatefulMemes, ReadOptions, Record, DEFAULT_MAX_TEXT_CHARS};
use super::image_io::decode_rgb;
use super::report::SplitReport;
use super::source_fingerprint::{self as fingerprint, SourceFingerprint};
use super::text::{hex, length_percentile, tokenize, Vocabulary};
use super::clip_tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
use super::transforms::{resize_square, Normalization, ResizeMode};
use anyhow::{anyhow, bail, Context};
use memmap2::Mmap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "memefuse-prepared-split";
pub const FORMAT_VERSION: &str = "1";
/// The default `max_len` covers this fraction of the training split's captions (nearest rank);
/// longer captions are post-truncated.
pub const DEFAULT_MAX_LEN_PERCENTILE: f64 = 0.95;

/// Which model family a prepared file is made for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preprocess {
    /// The seed work's: captions as words of a vocabulary built from the train split, images
    /// resized as `resize` says, ImageNet normalisation.
    #[default]
    Seed,
    /// CLIP's: captions as CLIP BPE ids (`vocab` is the BPE file, required; `max_len` 77 by
    /// default, start and end tokens included, padded with 0), images by CLIP's short-side bicubic
    /// resize and centre crop (224 for the published models), CLIP normalisation.
    Clip,
}

impl Preprocess {
    pub fn name(self) -> &'static str {
        match self {
            Preprocess::Seed => "seed",
            Preprocess::Clip => "clip",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Preprocess::Seed, Preprocess::Clip].into_iter().find(|preprocess| preprocess.name() == name)
    }

    pub fn normalization(self) -> Normalization {
        match self {
            Preprocess::Seed => Normalization::ImageNet,
            Preprocess::Clip => Normalization::Clip,
        }
    }
}

fn normalization_name(normalization: Normalization) -> &'static str {
    match normalization {
        Normalization::ImageNet => "imagenet",
        Normalization::Clip => "clip",
    }
}

/// How the captions of a split become ids.
enum TextEncoder {
    Words(Vocabulary),
    Clip(Box<ClipTokenizer>),
}

impl TextEncoder {
    fn encode(&self, text: &str, max_len: usize) -> anyhow::Result<Vec<i32>> {
        match self {
            TextEncoder::Words(vocab) => Ok(vocab.encode(text, max_len)),
            TextEncoder::Clip(tokenizer) => Ok(tokenizer.tokenize(text, max_len)?.into_iter().map(|id| id as i32).collect()),
        }
    }

    fn hash(&self) -> String {
        match self {
            TextEncoder::Words(vocab) => vocab.hash(),
            TextEncoder::Clip(tokenizer) => tokenizer.vocab_hash().to_string(),
        }
    }

    fn len(&self) -> usize {
        match self {
            TextEncoder::Words(vocab) => vocab.len(),
            TextEncoder::Clip(tokenizer) => tokenizer.vocab_size(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            TextEncoder::Words(_) => "words",
            TextEncoder::Clip(_) => "clip-bpe",
        }
    }
}

#[derive(Clone, Debug)]
pub struct PrepareOptions {
    pub out: PathBuf,
    /// Side of the square stored images (64 or 224 for the models in this crate).
    pub image_size: u32,
    pub resize: ResizeMode,
    /// Use this vocabulary file (with `Preprocess::Clip`, the CLIP BPE file, required); otherwise one
    /// is built from the data folder's train split and saved as `<out>.vocab.txt`.
    pub vocab: Option<PathBuf>,
    pub min_count: usize,
    pub max_vocab: Option<usize>,
    /// Default: the 95th percentile of the train split's token counts.
    pub max_len: Option<usize>,
    pub strict: bool,
    pub max_text_chars: usize,
    /// Skip (and report) unlabelled records: set for the training split.
    pub require_labels: bool,
    pub preprocess: Preprocess,
    /// Decode and resize the images. Off for a model that reads text only (`predict --weights`
    /// with a text model): the file then stores black images and an image that does not decode
    /// is not a bad record.
    pub decode_images: bool,
}

impl PrepareOptions {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            image_size: 64,
            resize: ResizeMode::Stretch,
            vocab: None,
            min_count: 1,
            max_vocab: None,
            max_len: None,
            strict: false,
            max_text_chars: DEFAULT_MAX_TEXT_CHARS,
            require_labels: false,
            preprocess: Preprocess::Seed,
            decode_images: true,
        }
    }

    /// CLIP's preprocessing at 224×224 with the CLIP BPE vocabulary `vocab`.
    pub fn clip(out: impl Into<PathBuf>, vocab: impl Into<PathBuf>) -> Self {
        Self {
            image_size: 224,
            resize: ResizeMode::ShortSideCenterCrop,
            vocab: Some(vocab.into()),
            preprocess: Preprocess::Clip,
            ..Self::new(out)
        }
    }
}

#[derive(Clone, Debug)]
pub struct PrepareSummary {
    pub out: PathBuf,
    /// Where the vocabulary was saved, when it was built here.
    pub vocab_path: Option<PathBuf>,
    pub vocab_hash: String,
    pub vocab_size: usize,
    pub count: usize,
    pub max_len: usize,
    pub report: SplitReport,
    pub checksum: String,
}

/// `<out>.vocab.txt`: where `prepare_split` saves a vocabulary it built.
pub fn vocab_path_for(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".vocab.txt");
    PathBuf::from(name)
}

/// Reads, checks, decodes, resizes and tokenizes one split of `dir` and writes it to `options.out`.
pub fn prepare_split(dir: impl AsRef<Path>, split: &str, options: &PrepareOptions) -> anyhow::Result<PrepareSummary> {
    if options.image_size == 0 {
        bail!("--image-size must be positive");
    }
    if options.max_len == Some(0) {
        bail!("--max-len must be positive");
    }
    if let Some(max_vocab) = options.max_vocab {
        if max_vocab < 3 {
            bail!("--max-vocab {max_vocab} leaves no room for a token: the vocabulary holds <pad> and <unk> and needs at least one more (3 or more)");
        }
    }
    if options.preprocess == Preprocess::Clip {
        if options.vocab.is_none() {
            bail!("CLIP preprocessing needs the CLIP BPE vocabulary (--vocab bpe_simple_vocab_16e6.txt.gz, a vocab.json or a HuggingFace CLIP folder)");
        }
        if options.resize != ResizeMode::ShortSideCenterCrop {
            bail!("CLIP preprocessing resizes with {}, not {}", ResizeMode::ShortSideCenterCrop.name(), options.resize.name());
        }
    }
    let dataset = HatefulMemes::open(dir)?;
    let read_options = options.read_options();
    let (records, mut report) = dataset.read_split(split, &read_options)?;
    check_memory(records.len(), options.image_size)?;
    let source = SourceFingerprint::of(&report.file, &records)?;

    // The vocabulary and the default length come from the training split only: its records that
    // pass the reader's checks (image files exist; they are not decoded for this).
    let needs_train = options.vocab.is_none() || (options.max_len.is_none() && options.preprocess == Preprocess::Seed);
    let train_texts: Vec<String> = if !needs_train {
        Vec::new()
    } else if dataset.split_file(split)? == dataset.split_file("train")? {
        records.iter().map(|record| record.text.clone()).collect()
    } else {
        let train_options = ReadOptions { require_labels: true, ..read_options.clone() };
        let (train, _) = dataset.read_split("train", &train_options).context("reading the train split for the vocabulary")?;
        train.into_iter().map(|record| record.text).collect()
    };
    let (encoder, vocab_path) = match (&options.vocab, options.preprocess) {
        (Some(path), Preprocess::Clip) => (TextEncoder::Clip(Box::new(ClipTokenizer::from_path(path)?)), None),
        (Some(path), Preprocess::Seed) => (TextEncoder::Words(Vocabulary::load(path)?), None),
        (None, _) => {
            let vocab = Vocabulary::build(&train_texts, options.min_count, options.max_vocab);
            let has_tokens = train_texts.iter().any(|text| !tokenize(text).is_empty());
            if vocab.len() <= 2 && has_tokens {
                bail!("--min-count {} leaves the vocabulary empty: no token of the train split occurs that often", options.min_count);
            }
            let path = vocab_path_for(&options.out);
            create_parent(&path)?;
            vocab.save(&path)?;
            (TextEncoder::Words(vocab), Some(path))
        }
    };
    let max_len = options.max_len.unwrap_or_else(|| match options.preprocess {
        Preprocess::Clip => CONTEXT_LENGTH,
        Preprocess::Seed => {
            let lengths: Vec<usize> = train_texts.iter().map(|text| tokenize(text).len()).collect();
            length_percentile(&lengths, DEFAULT_MAX_LEN_PERCENTILE)
        }
    });

    let (records, images) = if options.decode_images {
        decode_images(records, &mut report, options)?
    } else {
        let blank = vec![0u8; records.len() * (options.image_size as usize).pow(2) * 3];
        (records, blank)
    };
    report.kept = records.len();
    if records.is_empty() {
        bail!("{}: no valid records to prepare\n{report}", report.file.display());
    }

    let mut tokens: Vec<i32> = Vec::with_capacity(records.len() * max_len);
    for record in &records {
        tokens.extend(encoder.encode(&record.text, max_len)?);
    }
    let labels: Vec<i8> = records.iter().map(|record| record.label.map_or(-1, |label| label as i8)).collect();
    let ids = records.iter().map(|record| record.id.as_str()).collect::<Vec<_>>().join("\n");
    let id_is_number: Vec<u8> = records.iter().map(|record| u8::from(record.id_is_number)).collect();
    let size = options.image_size as usize;
    let tensors = [
        TensorData { name: "tokens", dtype: "I32", shape: vec![records.len(), max_len], bytes: bytemuck::cast_slice(&tokens) },
        TensorData { name: "labels", dtype: "I8", shape: vec![records.len()], bytes: bytemuck::cast_slice(&labels) },
        TensorData { name: "images", dtype: "U8", shape: vec![records.len(), size, size, 3], bytes: &images },
        TensorData { name: "ids", dtype: "U8", shape: vec![ids.len()], bytes: ids.as_bytes() },
        TensorData { name: "id_is_number", dtype: "U8", shape: vec![records.len()], bytes: &id_is_number },
    ];
    let mut hasher = Sha256::new();
    tensors.iter().for_each(|tensor| hasher.update(tensor.bytes));
    let checksum = hex(&hasher.finalize());

    let issue_counts = serde_json::to_string(&report.counts())?;
    let metadata: BTreeMap<String, String> = [
        ("format", FORMAT.to_string()),
        ("format_version", FORMAT_VERSION.to_string()),
        ("source_dir", dataset.dir().display().to_string()),
        ("split", split.to_string()),
        ("split_file", report.file.display().to_string()),
        ("preprocess", options.preprocess.name().to_string()),
        ("normalization", normalization_name(options.preprocess.normalization()).to_string()),
        ("tokenizer", encoder.name().to_string()),
        ("image_size", options.image_size.to_string()),
        ("resize", options.resize.name().to_string()),
        ("max_len", max_len.to_string()),
        ("count", records.len().to_string()),
        ("labelled", labels.iter().filter(|&&label| label >= 0).count().to_string()),
        ("positives", labels.iter().filter(|&&label| label == 1).count().to_string()),
        ("vocab_hash", encoder.hash()),
        ("vocab_size", encoder.len().to_string()),
        ("lines", report.lines.to_string()),
        ("skipped", report.skipped().to_string()),
        ("issue_counts", issue_counts),
        ("checksum_sha256", checksum.clone()),
        (fingerprint::SPLIT_SHA256, source.split_sha256),
        (fingerprint::IMAGES_STAT_SHA256, source.images_stat_sha256),
        (fingerprint::IMAGES_SHA256, source.images_sha256),
        (fingerprint::TOKENIZER_KEY, fingerprint::TOKENIZER.to_string()),
        (fingerprint::MAX_TEXT_CHARS, options.max_text_chars.to_string()),
        (fingerprint::REQUIRE_LABELS, options.require_labels.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    if !cfg!(target_endian = "little") {
        bail!("prepared files store little-endian tensors; this machine is big-endian");
    }
    create_parent(&options.out)?;
    container::write(&options.out, &metadata, &tensors)?;
    Ok(PrepareSummary {
        out: options.out.clone(),
        vocab_path,
        vocab_hash: encoder.hash(),
        vocab_size: encoder.len(),
        count: records.len(),
        max_len,
        report,
        checksum,
    })
}

impl PrepareOptions {
    /// How the split's records are read.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions { strict: self.strict, decode_images: false, max_text_chars: self.max_text_chars, require_labels: self.require_labels }
    }
}

/// Creates the folder `path` goes into (as `synth` and `train` create theirs).
fn create_parent(path: &Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create the folder {}", parent.display()))
        }
        _ => Ok(()),
    }
}

/// Refuses, in one line, an image size whose prepared split cannot fit in memory: all images are
/// held at once (N × S × S × 3 bytes), and each decoding thread resizes through an f32 RGBA buffer.
fn check_memory(records: usize, image_size: u32) -> anyhow::Result<()> {
    use crate::util::memory_budget::{ensure_fits, product};
    let side = image_size as u128;
    let threads = rayon::current_num_threads() as u128;
    let needed = product(&[records as u128, side, side, 3]).zip(product(&[threads, side, side, 16])).and_then(|(images, work)| images.checked_add(work));
    ensure_fits(&format!("preparing {records} records at --image-size {image_size}"), needed, "use a smaller --image-size")
}

/// Decodes and resizes every image in parallel straight into one N×S×S×3 buffer, then drops (and
/// reports) the records whose image did not decode.
fn decode_images(
    records: Vec<Record>,
    report: &mut SplitReport,
    options: &PrepareOptions,
) -> anyhow::Result<(Vec<Record>, Vec<u8>)> {
    let size = options.image_size;
    let image_bytes = size as usize * size as usize * 3;
    let mut images = vec![0u8; records.len() * image_bytes];
    let failures: Vec<Option<String>> = images
        .par_chunks_mut(image_bytes)
        .zip(records.par_iter())
        .map(|(slot, record)| match decode_rgb(&record.image_path) {
            Ok(image) => {
                slot.copy_from_slice(resize_square(&image, size, options.resize).as_raw());
                None
            }
            Err(reason) => Some(reason),
        })
        .collect();
    let mut kept = Vec::with_capacity(records.len());
    for (index, (record, failure)) in records.into_iter().zip(failures).enumerate() {
        match failure {
            Some(reason) => {
                let issue = undecodable_issue(&report.file, &record, &reason);
                if options.strict {
                    bail!("{issue} (--strict)");
                }
                report.issues.push(issue);
            }
            None => {
                let target = kept.len() * image_bytes;
                images.copy_within(index * image_bytes..(index + 1) * image_bytes, target);
                kept.push(record);
            }
        }
    }
    images.truncate(kept.len() * image_bytes);
    report.issues.sort_by_key(|issue| issue.line);
    Ok((kept, images))
}

/// What the caller expects of a prepared file; a mismatch is an error naming the file.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub image_size: Option<u32>,
    pub vocab_hash: Option<String>,
    /// Skip the sha256 check of the data (it reads the whole file once; about a second per GB).
    pub skip_checksum: bool,
}

/// A prepared split, memory-mapped. Images stay in the mapping; the small tensors are copied out.
#[derive(Debug)]
pub struct PreparedSplit {
    path: PathBuf,
    mmap: Mmap,
    images: Range<usize>,
    tokens: Vec<i32>,
    labels: Vec<i8>,
    ids: Vec<String>,
    id_is_number: Vec<bool>,
    metadata: BTreeMap<String, String>,
    image_size: u32,
    max_len: usize,
    vocab_size: usize,
    normalization: Normalization,
}

impl PreparedSplit {
    /// Opens and validates a prepared file: header, shapes, dtypes, metadata, token and label ranges,
    /// the caller's expectations and (unless skipped) the checksum. Errors name the file.
    pub fn open(path: impl AsRef<Path>, expect: Expect) -> anyhow::Result<Self> {
        let path = path.as_ref().to_path_buf();
        Self::open_inner(&path, &expect).with_context(|| format!("prepared file {}", path.display()))
    }

    fn open_inner(path: &Path, expect: &Expect) -> anyhow::Result<Self> {
        let file = File::open(path).context("cannot open")?;
        // SAFETY: prepared files are written once (atomically) and never modified in place.
        let mmap = unsafe { Mmap::map(&file) }.context("cannot memory-map")?;
        let header = container::read_header(&mmap).map_err(|reason| anyhow!(reason))?;
        let metadata = header.metadata;
        let field = |key: &str| -> anyhow::Result<&str> {
            metadata.get(key).map(String::as_str).ok_or_else(|| anyhow!("metadata field {key:?} is missing"))
        };
        let number = |key: &str| -> anyhow::Result<usize> {
            let value = field(key)?;
            value.parse().map_err(|_| anyhow!("metadata field {key:?} is not a number: {value:?}"))
        };
        if field("format")? != FORMAT || field("format_version")? != FORMAT_VERSION {
            bail!("not a {FORMAT} version {FORMAT_VERSION} file (format {:?}, version {:?})", field("format")?, field("format_version")?);
        }
        let count = number("count")?;
        let image_size = number("image_size")?;
        let max_len = number("max_len")?;
        let vocab_size = number("vocab_size")?;
        let vocab_hash = field("vocab_hash")?;

        // Files written before CLIP preprocessing existed carry no `normalization`: ImageNet's.
        let normalization = match metadata.get("normalization").map(String::as_str) {
            None | Some("imagenet") => Normalization::ImageNet,
            Some("clip") => Normalization::Clip,
            Some(other) => bail!("metadata field \"normalization\" is {other:?}, not imagenet or clip"),
        };
        if let Some(expected) = expect.image_size {
            if expected as usize != image_size {
                bail!("holds {image_size}x{image_size} images but {expected}x{expected} were expected; prepare it again with --image-size {expected}");
            }
        }
        if let Some(expected) = &expect.vocab_hash {
            if expected != vocab_hash {
                bail!("was encoded with vocabulary {vocab_hash} but vocabulary {expected} was expected; prepare it again with the same --vocab");
            }
        }

        let tensor = |name: &str, dtype: &str, shape: Vec<usize>| -> anyhow::Result<Range<usize>> {
            let (found_dtype, found_shape, range) =
                header.tensors.get(name).ok_or_else(|| anyhow!("tensor {name:?} is missing"))?;
            if found_dtype != dtype || *found_shape != shape {
                bail!("tensor {name:?} is {found_dtype} {found_shape:?}, expected {dtype} {shape:?} from the metadata");
            }
            Ok(range.clone())
        };
        let tokens_range = tensor("tokens", "I32", vec![count, max_len])?;
        let labels_range = tensor("labels", "I8", vec![count])?;
        let images = tensor("images", "U8", vec![count, image_size, image_size, 3])?;
        let ids_bytes = header.tensors.get("ids").map(|(_, shape, _)| shape.clone()).unwrap_or_default();
        let ids_range = tensor("ids", "U8", ids_bytes)?;

        if !expect.skip_checksum {
            let expected = field("checksum_sha256")?;
            let actual = hex(&Sha256::digest(&mmap[header.data_start..]));
            if actual != expected {
                bail!("checksum mismatch: the data is corrupted (metadata says {expected}, data hashes to {actual})");
            }
        }

        let tokens: Vec<i32> =
            mmap[tokens_range].chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(position) = tokens.iter().position(|&t| t < 0 || t as usize >= vocab_size) {
            bail!("token id {} at record {} is outside the vocabulary (size {vocab_size})", tokens[position], position / max_len.max(1));
        }
        let labels: Vec<i8> = mmap[labels_range].iter().map(|&b| b as i8).collect();
        if let Some(position) = labels.iter().position(|label| !(-1..=1).contains(label)) {
            bail!("label {} at record {position} is not 0, 1 or -1", labels[position]);
        }
        let ids_text = std::str::from_utf8(&mmap[ids_range]).context("tensor \"ids\" is not UTF-8")?;
        let ids: Vec<String> = ids_text.split('\n').map(str::to_string).collect();
        if ids.len() != count {
            bail!("tensor \"ids\" holds {} ids for {count} records", ids.len());
        }
        // Files written before ids kept their kind: an id in canonical integer form was a number.
        let id_is_number: Vec<bool> = match header.tensors.get("id_is_number") {
            Some(_) => mmap[tensor("id_is_number", "U8", vec![count])?].iter().map(|&b| b != 0).collect(),
            None => ids.iter().map(|id| id.parse::<i64>().is_ok_and(|n| n.to_string() == *id)).collect(),
        };
        Ok(Self {
            path: path.to_path_buf(),
            mmap,
            images,
            tokens,
            labels,
            ids,
            id_is_number,
            image_size: image_size as u32,
            max_len,
            vocab_size,
            normalization,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image_size(&self) -> u32 {
        self.image_size
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    pub fn vocab_hash(&self) -> &str {
        &self.metadata["vocab_hash"]
    }

    /// The normalisation the stored images are meant for (`LoaderOptions::normalization`).
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// Bytes of one image: `image_size × image_size × 3`, HWC RGB.
    pub fn image(&self, index: usize) -> &[u8] {
        let bytes = self.image_bytes();
        &self.mmap[self.images.clone()][index * bytes..(index + 1) * bytes]
    }

    pub fn image_bytes(&self) -> usize {
        self.image_size as usize * self.image_size as usize * 3
    }

    pub fn tokens(&self, index: usize) -> &[i32] {
        &self.tokens[index * self.max_len..(index + 1) * self.max_len]
    }

    pub fn label(&self, index: usize) -> Option<u8> {
        let label = self.labels[index];
        (label >= 0).then_some(label as u8)
    }

    pub fn id(&self, index: usize) -> &str {
        &self.ids[index]
    }

    /// The id as the dataset wrote it (a JSON number or string), for prediction files.
    pub fn id_value(&self, index: usize) -> serde_json::Value {
        super::dataset::id_value(&self.ids[index], self.id_is_number[index])
    }

    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
}
