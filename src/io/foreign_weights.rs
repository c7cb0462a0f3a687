//! Weights from other frameworks, per registered model: each `models::REGISTRY` entry declares the
//! [`ForeignWeights`] it imports (if any), and [`import`] builds that registry model, loads the
//! weights into it and says how a split must be prepared for it. `predict`/`embed --model NAME
//! --weights W` then run it through the same batched inference and writers as `--run`.
//!
//! | format | models | `--weights` | what the split is prepared with |
//! |---|---|---|---|
//! | torchvision VGG16 | vgg16, vgg16-small | a safetensors state_dict (a 1000-class head keeps the fresh 2-class one) | `--image-size` (224), bilinear stretch, ImageNet normalisation |
//! | PyTorch text LSTM | lstm, lstm-last-token | a safetensors state_dict (`embedding`, `lstm`, `fc`; sizes from the shapes) | `--vocab` (word per line), `--max-len` (64); images not decoded |
//! | HuggingFace CLIP | clip-fusion (`clip`) | a `save_pretrained` folder; the fusion head stays fresh | the CLIP BPE (`--vocab`, or the folder's vocab.json + merges.txt), CLIP's resize and crop at the config's image size, `--max-len` (77, at most the text positions) |
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::data::clip_tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
use crate::data::prepared::Preprocess;
use crate::data::text::Vocabulary;
use crate::data::transforms::ResizeMode;
use crate::models::clip::TextPooling;
use crate::models::text_lstm::SequenceReadout;
use crate::models::{self, ClipFusionOptions, LstmClassifier, Model, ModelConfig};
use crate::util::Rng;
use crate::Device;

/// How a registered model's weights from another framework are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignWeights {
    TorchvisionVgg16,
    PytorchTextLstm,
    HuggingFaceClip,
}

impl ForeignWeights {
    /// What `--weights` is, for help texts and errors.
    pub fn describe(self) -> &'static str {
        match self {
            ForeignWeights::TorchvisionVgg16 => "a torchvision VGG16 state_dict saved as safetensors",
            ForeignWeights::PytorchTextLstm => "a PyTorch text-LSTM state_dict saved as safetensors",
            ForeignWeights::HuggingFaceClip => "a HuggingFace CLIP folder (config.json + model.safetensors)",
        }
    }
}

/// `--model clip` names clip-fusion's HuggingFace CLIP encoders.
pub fn registry_name(model: &str) -> &str {
    if model == "clip" { "clip-fusion" } else { model }
}

/// The model names `--weights` accepts: every registry model that declares foreign weights, and `clip`.
pub fn importable_models() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = models::REGISTRY.iter().filter(|entry| entry.foreign_weights.is_some()).map(|entry| entry.name).collect();
    names.push("clip");
    names
}

/// The files `--weights W` reads (W itself, or a CLIP folder's files): none may be an output.
pub fn files_read(weights: &Path) -> Vec<PathBuf> {
    if weights.is_dir() {
        ["config.json", "model.safetensors", "vocab.json", "merges.txt"].iter().map(|name| weights.join(name)).collect()
    } else {
        vec![weights.to_path_buf()]
    }
}

/// The options of `predict`/`embed --weights` that shape the model or its inputs.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Text models: the vocabulary (words: one per line; CLIP: the BPE file, vocab.json or a folder).
    pub vocab: Option<PathBuf>,
    pub max_len: Option<usize>,
    pub readout: Option<SequenceReadout>,
    pub image_size: Option<usize>,
    /// Records per forward pass (for the memory check before anything is read).
    pub batch_size: usize,
}

/// How captions become ids for an imported model.
#[derive(Clone, Debug, PartialEq)]
pub enum TextInput {
    /// The model reads no text (an empty vocabulary is enough).
    None,
    /// A word vocabulary file, one token per line.
    Words(PathBuf),
    /// CLIP's byte-level BPE.
    ClipBpe(PathBuf),
}

/// A registry model with its foreign weights loaded, and the preprocessing its inputs need.
pub struct ImportedModel {
    pub model: Box<dyn Model>,
    pub format: ForeignWeights,
    pub image_size: u32,
    pub resize: ResizeMode,
    pub preprocess: Preprocess,
    /// Whether the images are decoded (not for text-only models).
    pub decode_images: bool,
    pub text: TextInput,
    pub max_len: usize,
    /// Files read besides the weights (none may be an output).
    pub inputs: Vec<PathBuf>,
}

/// Builds the registry model `model` (or `clip`), imports `weights` into it and says how its
/// inputs are prepared. Sizes and options are checked before the weights are read.
pub fn import(model: &str, weights: &Path, options: &ImportOptions, device: Device) -> Result<ImportedModel> {
    let name = registry_name(model);
    let entry = models::entry(name)?;
    let Some(format) = entry.foreign_weights else {
        bail!("--model {model} has no importer for foreign weights; these do: {}", importable_models().join(", "));
    };
    match format {
        ForeignWeights::TorchvisionVgg16 => import_vgg16(name, weights, options, device),
        ForeignWeights::PytorchTextLstm => import_text_lstm(name, weights, options, device),
        ForeignWeights::HuggingFaceClip => import_clip(weights, options, device),
    }
}

fn report_kept_fresh(summary: &crate::io::weights::ImportSummary, why: &str) {
    if !summary.kept_fresh.is_empty() {
        eprintln!("memefuse: {} kept freshly initialised ({why})", summary.kept_fresh.join(", "));
    }
}

fn import_vgg16(name: &str, weights: &Path, options: &ImportOptions, device: Device) -> Result<ImportedModel> {
    let image_size = options.image_size.unwrap_or(224);
    models::input_size::check_image_size(name, image_size)?;
    check_vgg16_batch_memory(name, image_size, options.batch_size, device)?;
    let config = ModelConfig { image_size, ..ModelConfig::default() };
    let model = models::build(name, &config, &mut Rng::new(0), device)?;
    let summary = model.import_weights(weights)?;
    report_kept_fresh(&summary, "the file's head has another number of classes");
    Ok(ImportedModel {
        model,
        format: ForeignWeights::TorchvisionVgg16,
        image_size: image_size as u32,
        resize: ResizeMode::Stretch,
        preprocess: Preprocess::Seed,
        decode_images: true,
        text: TextInput::None,
        max_len: 1,
        inputs: Vec::new(),
    })
}

/// Refuses, in one line, a batch whose images cannot fit in memory: the f32 input batch on the
/// host, and on the CPU also the first block's two activations (the largest of the network).
fn check_vgg16_batch_memory(name: &str, image_size: usize, batch_size: usize, device: Device) -> Result<()> {
    use crate::util::memory_budget::{ensure_fits, product};
    let first_block_width = crate::models::vgg16::Vgg16Config::from_name(name)?.block_widths[0] as u128;
    let pixels = product(&[batch_size.max(1) as u128, image_size as u128, image_size as u128]);
    let bytes_per_pixel = if device.is_cuda() { 3 * 4 } else { 3 * 4 + 2 * first_block_width * 4 };
    let needed = pixels.and_then(|pixels| pixels.checked_mul(bytes_per_pixel));
    ensure_fits(&format!("a batch of {batch_size} images at --image-size {image_size}"), needed, "use a smaller --image-size or --batch-size")
}

fn import_text_lstm(name: &str, weights: &Path, options: &ImportOptions, device: Device) -> Result<ImportedModel> {
    let Some(vocab_path) = options.vocab.clone() else { bail!("--model {name} --weights needs --vocab FILE (one token per line, line number = id)") };
    let readout = options.readout.unwrap_or(if name == "lstm-last-token" { SequenceReadout::LastRealToken } else { SequenceReadout::LastStep });
    let registry_name = match readout {
        SequenceReadout::LastStep => "lstm",
        SequenceReadout::LastRealToken => "lstm-last-token",
    };
    let inner = crate::io::lstm_weights::load_text_lstm(weights, readout, device)?;
    let rows = inner.config().vocab_size;
    let vocabulary = Vocabulary::load(&vocab_path)?;
    if vocabulary.len() > rows {
        bail!("the vocabulary {} has {} tokens but embedding.weight only {rows} rows", vocab_path.display(), vocabulary.len());
    }
    if vocabulary.len() < rows {
        eprintln!("memefuse: warning: {} has {} tokens but embedding.weight has {rows} rows; is it the vocabulary these weights were trained with?", vocab_path.display(), vocabulary.len());
    }
    Ok(ImportedModel {
        model: Box::new(LstmClassifier::from_text_lstm(registry_name, inner)),
        format: ForeignWeights::PytorchTextLstm,
        // Text only: the stored images are never looked at.
        image_size: 1,
        resize: ResizeMode::Stretch,
        preprocess: Preprocess::Seed,
        decode_images: false,
        text: TextInput::Words(vocab_path.clone()),
        max_len: options.max_len.unwrap_or(64),
        inputs: vec![vocab_path],
    })
}

fn import_clip(dir: &Path, options: &ImportOptions, device: Device) -> Result<ImportedModel> {
    if !dir.is_dir() {
        bail!("--weights {}: clip-fusion imports {}", dir.display(), ForeignWeights::HuggingFaceClip.describe());
    }
    let encoders = crate::io::clip_weights::read_clip_config(dir)?;
    if let Some(size) = options.image_size {
        if size != encoders.vision.image_size {
            bail!("--image-size {size}: the CLIP image encoder of {} takes {1}×{1} images (its config.json)", dir.display(), encoders.vision.image_size);
        }
    }
    let vocab_path = options.vocab.clone().unwrap_or_else(|| dir.to_path_buf());
    let tokenizer = ClipTokenizer::from_path(&vocab_path).with_context(|| {
        format!("clip-fusion needs the CLIP BPE vocabulary: --vocab bpe_simple_vocab_16e6.txt.gz, a vocab.json, or a --weights folder holding vocab.json + merges.txt ({} does not)", dir.display())
    })?;
    check_tokenizer_fits(&tokenizer, &encoders.text, &vocab_path)?;
    let positions = encoders.text.max_position_embeddings;
    let max_len = options.max_len.unwrap_or(CONTEXT_LENGTH.min(positions));
    if max_len > positions {
        bail!("--max-len {max_len}: the CLIP text encoder has {positions} positions");
    }
    let image_size = encoders.vision.image_size;
    let config = ModelConfig {
        image_size,
        vocab_size: encoders.text.vocab_size,
        dropout: 0.0,
        clip_fusion: ClipFusionOptions { encoders: Some(encoders), ..ClipFusionOptions::default() },
        ..ModelConfig::default()
    };
    let model = models::build("clip-fusion", &config, &mut Rng::new(0), device)?;
    let summary = model.import_weights(dir)?;
    report_kept_fresh(&summary, "a CLIP folder holds no classification head; the probabilities are those of an untrained head");
    Ok(ImportedModel {
        model,
        format: ForeignWeights::HuggingFaceClip,
        image_size: image_size as u32,
        resize: ResizeMode::ShortSideCenterCrop,
        preprocess: Preprocess::Clip,
        decode_images: true,
        text: TextInput::ClipBpe(vocab_path.clone()),
        max_len,
        inputs: if vocab_path.is_file() { vec![vocab_path] } else { Vec::new() },
    })
}

/// The tokenizer's ids must index the text encoder's embedding, and its end token must be the one
/// the encoder pools at.
fn check_tokenizer_fits(tokenizer: &ClipTokenizer, text: &crate::models::clip::ClipTextConfig, vocab: &Path) -> Result<()> {
    if tokenizer.vocab_size() > text.vocab_size {
        bail!("the CLIP vocabulary {} has {} tokens but the text encoder's embedding only {} rows (text_config.vocab_size)", vocab.display(), tokenizer.vocab_size(), text.vocab_size);
    }
    if let TextPooling::FirstEos(eos) = text.pooling {
        if tokenizer.end_id() as i32 != eos {
            bail!("the CLIP vocabulary {} ends texts with id {} but the text encoder pools at text_config.eos_token_id {eos}", vocab.display(), tokenizer.end_id());
        }
    }
    Ok(())
}
