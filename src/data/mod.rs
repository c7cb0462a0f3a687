//! Reading, checking, preprocessing and packing Hateful Memes datasets, and batching them.
//!
//! The path from a data folder to the GPU:
//!
//! 1. [`dataset`]: `HatefulMemes::open(dir)?.read_split("train", &ReadOptions::default())` gives
//!    `(Vec<Record>, SplitReport)`. Bad records (malformed JSON, missing field, label not 0/1,
//!    duplicate id, missing or undecodable image) are skipped and reported with file, line and
//!    reason; over-long texts (> [`dataset::DEFAULT_MAX_TEXT_CHARS`] = 2,000 characters) are
//!    truncated and reported; `strict` makes each an error. [`report`] holds the report types.
//! 2. [`image_io`]: decodes PNG/JPEG by content into 8-bit RGB, whatever the colour type.
//! 3. [`text`]: `tokenize`/`clean_text` and `Vocabulary` (`build`, `save`, `load`, `encode`, `hash`).
//!    [`clip_tokenizer`]: `ClipTokenizer::from_path(vocab)?.tokenize(text, 77)`, CLIP's byte-level BPE
//!    exactly as open_clip's (or HuggingFace's) tokenizer.
//! 4. [`transforms`]: `ImageTransform::{train, eval, clip}`, `resize_square`, `Normalization`,
//!    `AugmentOptions`, `ColorJitter`; [`pil_resize`]: Pillow's bicubic resize, bit for bit (CLIP's).
//! 5. [`prepared`]: `prepare_split(dir, split, &PrepareOptions)` packs a split into one safetensors
//!    file; `PreparedSplit::open(path, Expect { image_size, vocab_hash, .. })` memory-maps and
//!    validates it (`len`, `image_size`, `max_len`, `image(i)`, `tokens(i)`, `label(i)`, `id(i)`,
//!    `metadata()`).
//! 6. [`loader`]: `BatchLoader::new(Arc<PreparedSplit>, LoaderOptions)?.epoch(e)` yields `Batch`es
//!    (NHWC f32 images, i32 tokens, f32 labels with -1 for unlabelled, indices, ids), built on worker
//!    threads and prefetched through bounded channels.
//! 7. [`synth`]: `generate(&SynthOptions)` writes a synthetic dataset whose label needs both modalities.
//! 8. [`commands`]: the `synth`, `prepare` and `inspect` subcommands.
//!
//! docs/data.md describes the file formats, the synthetic rule and measured loader throughput.
pub mod clip_tokenizer;
pub mod commands;
pub mod container;
pub mod dataset;
pub mod image_io;
pub mod loader;
pub mod pil_resize;
pub mod prepared;
pub mod report;
pub mod source_fingerprint;
pub mod synth;
pub mod text;
pub mod transforms;

pub use dataset::{HatefulMemes, ReadOptions, Record};
pub use loader::{Batch, BatchLoader, LoaderOptions};
pub use prepared::{prepare_split, Expect, PrepareOptions, PreparedSplit};
pub use report::{Issue, IssueKind, SplitReport};
