//! CLIP's tokenizer: byte-level BPE exactly as OpenAI's CLIP and open_clip's `SimpleTokenizer`
//! (or, with [`Cleaning::HuggingFace`], as HuggingFace's `CLIPTokenizer`).
//!
//! `text` → [`clean`] (ftfy subset, html unescape, whitespace collapse, lower case) → CLIP's split
//! pattern (`'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`, case-insensitive, after the
//! special tokens' names) → each piece's UTF-8 bytes as symbols of the byte alphabet, `</w>` on the
//! last → merges applied lowest rank first ([`bpe`]) → ids; then `[start] + ids + [end]`,
//! truncated to the context length with the end token kept last, padded with 0.
//!
//! docs/clip.md ("Tokenizer") says what is checked against open_clip and HuggingFace.
pub mod clean;
mod html;
mod tables;
pub mod vocab;

pub use clean::Cleaning;
pub use vocab::BpeVocab;

use anyhow::{anyhow, bail};
use regex::Regex;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// CLIP's text context: 77 positions.
pub const CONTEXT_LENGTH: usize = 77;
/// Padding id after the end token (open_clip's zeros; HuggingFace pads with the end id instead,
/// which CLIP's text model never reads: it pools at the first end token).
pub const PAD_ID: u32 = 0;
/// The BPE cache is cleared when it holds this many words, so that endless streams of new words
/// cannot grow it without bound.
const CACHE_WORDS: usize = 1 << 16;

/// CLIP's split pattern after the special tokens' names (open_clip compiles it with IGNORECASE).
const SPLIT_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+";

pub struct ClipTokenizer {
    vocab: BpeVocab,
    cleaning: Cleaning,
    split: Regex,
    /// Piece → ids, as `SimpleTokenizer.cache`.
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("source", &self.vocab.source)
            .field("tokens", &self.vocab.ids.len())
            .field("merges", &self.vocab.merges.len())
            .field("cleaning", &self.cleaning)
            .finish()
    }
}

impl ClipTokenizer {
    /// Reads a vocabulary in either form: open_clip's `bpe_simple_vocab_16e6.txt.gz` (any file not
    /// ending in `.json`), HuggingFace's `vocab.json` (its `merges.txt` beside it), or a folder
    /// holding `vocab.json` + `merges.txt` (a HuggingFace CLIP folder) or `bpe_simple_vocab_16e6.txt.gz`.
    /// The cleaning is open_clip's; see [`ClipTokenizer::with_cleaning`].
    pub fn from_path(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            let (vocab_json, merges_txt) = (path.join("vocab.json"), path.join("merges.txt"));
            let open_clip_file = path.join("bpe_simple_vocab_16e6.txt.gz");
            if vocab_json.is_file() && merges_txt.is_file() {
                return Self::hugging_face(&vocab_json, &merges_txt);
            }
            if open_clip_file.is_file() {
                return Self::open_clip(&open_clip_file);
            }
            bail!(
                "{}: holds neither vocab.json + merges.txt (HuggingFace) nor bpe_simple_vocab_16e6.txt.gz (open_clip)",
                path.display()
            );
        }
        if path.extension().is_some_and(|extension| extension == "json") {
            let merges_txt = path.with_file_name("merges.txt");
            if !merges_txt.is_file() {
                bail!("{}: a HuggingFace vocab.json needs its merges.txt beside it ({} is missing)", path.display(), merges_txt.display());
            }
            return Self::hugging_face(path, &merges_txt);
        }
        Self::open_clip(path)
    }

    /// open_clip's `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text).
    pub fn open_clip(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        Ok(Self::new(BpeVocab::read_open_clip(path.as_ref())?, Cleaning::OpenClip))
    }

    /// HuggingFace's `vocab.json` + `merges.txt`.
    pub fn hugging_face(vocab_json: impl AsRef<Path>, merges_txt: impl AsRef<Path>) -> anyhow::Result<Self> {
        Ok(Self::new(BpeVocab::read_hugging_face(vocab_json.as_ref(), merges_txt.as_ref())?, Cleaning::OpenClip))
    }

    pub fn new(vocab: BpeVocab, cleaning: Cleaning) -> Self {
        let specials = format!("{}|{}", regex::escape(&vocab.start.0), regex::escape(&vocab.end.0));
        let pattern = match cleaning {
            // re.IGNORECASE over the whole pattern, specials first, as SimpleTokenizer compiles it.
            Cleaning::OpenClip => format!("(?i){specials}|{SPLIT_PATTERN}"),
            // HuggingFace splits the special tokens off the raw text before this case-sensitive
            // split; a name that only appears after lower-casing is one piece, BPE'd as a word.
            Cleaning::HuggingFace => format!("{specials}|{SPLIT_PATTERN}"),
        };
        let split = Regex::new(&pattern).expect("the split pattern is valid");
        Self { vocab, cleaning, split, cache: Mutex::new(HashMap::new()) }
    }

    /// The same vocabulary with another reference's cleaning.
    pub fn with_cleaning(self, cleaning: Cleaning) -> Self {
        Self::new(self.vocab, cleaning)
    }

    pub fn cleaning(&self) -> Cleaning {
        self.cleaning
    }

    pub fn start_id(&self) -> u32 {
        self.vocab.start.1
    }

    pub fn end_id(&self) -> u32 {
        self.vocab.end.1
    }

    /// Number of tokens in the vocabulary (49,408 for CLIP's).
    pub fn vocab_size(&self) -> usize {
        self.vocab.ids.len()
    }

    /// sha256 of the vocabulary file(s), as prepared files record it.
    pub fn vocab_hash(&self) -> &str {
        &self.vocab.hash
    }

    pub fn vocab(&self) -> &BpeVocab {
        &self.vocab
    }

    /// The ids of `text`, without start and end tokens and without truncation.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        match self.cleaning {
            Cleaning::OpenClip => self.encode_clean(&clean::open_clip_clean(text), &mut ids),
            Cleaning::HuggingFace => {
                // The special tokens' names are matched in the raw text, before normalisation.
                let (start, end) = (&self.vocab.start, &self.vocab.end);
                let mut rest = text;
                while !rest.is_empty() {
                    let next = [start, end]
                        .into_iter()
                        .filter_map(|(name, id)| rest.find(name.as_str()).map(|at| (at, name.len(), *id)))
                        .min_by_key(|&(at, length, _)| (at, std::cmp::Reverse(length)));
                    let Some((at, length, id)) = next else {
                        self.encode_clean(&clean::hugging_face_clean(rest), &mut ids);
                        break;
                    };
                    self.encode_clean(&clean::hugging_face_clean(&rest[..at]), &mut ids);
                    ids.push(id);
                    rest = &rest[at + length..];
                }
            }
        }
        ids
    }

    /// Splits cleaned text into pieces and appends each piece's BPE ids.
    fn encode_clean(&self, cleaned: &str, ids: &mut Vec<u32>) {
        for piece in self.split.find_iter(cleaned) {
            let piece = piece.as_str();
            if self.cleaning == Cleaning::OpenClip {
                // SimpleTokenizer's cache starts with the special tokens, which map to themselves.
                if piece == self.vocab.start.0 {
                    ids.push(self.vocab.start.1);
                    continue;
                }
                if piece == self.vocab.end.0 {
                    ids.push(self.vocab.end.1);
                    continue;
                }
            }
            ids.extend(self.bpe_cached(piece));
        }
    }

    fn bpe_cached(&self, piece: &str) -> Vec<u32> {
        // A poisoned cache only means another thread panicked mid-insert; its entries are whole.
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(ids) = cache.get(piece) {
            return ids.clone();
        }
        let ids = bpe(&self.vocab, piece.as_bytes());
        if cache.len() >= CACHE_WORDS {
            cache.clear();
        }
        cache.insert(piece.to_string(), ids.clone());
        ids
    }

    /// `[start] + encode(text) + [end]`, cut to `context_length` with the end token kept as the
    /// last id (open_clip's truncation), not padded.
    pub fn encode_with_specials(&self, text: &str, context_length: usize) -> anyhow::Result<Vec<u32>> {
        if context_length == 0 {
            return Err(anyhow!("the context length must be at least 1"));
        }
        let mut ids = Vec::with_capacity(context_length);
        ids.push(self.start_id());
        ids.extend(self.encode(text));
        ids.push(self.end_id());
        if ids.len() > context_length {
            ids.truncate(context_length);
            ids[context_length - 1] = self.end_id();
        }
        Ok(ids)
    }

    /// open_clip's `tokenize(text, context_length)`: [`Self::encode_with_specials`] padded with
    /// [`PAD_ID`] to exactly `context_length` ids.
    pub fn tokenize(&self, text: &str, context_length: usize) -> anyhow::Result<Vec<u32>> {
        let mut ids = self.encode_with_specials(text, context_length)?;
        ids.resize(context_length, PAD_ID);
        Ok(ids)
    }
}

/// BPE of one piece's bytes: symbols are the byte alphabet's tokens (the last with `</w>`); the
/// lowest-ranked adjacent pair that is a merge is merged everywhere, left to right, until no
/// adjacent pair is a merge.
fn bpe(vocab: &BpeVocab, bytes: &[u8]) -> Vec<u32> {
    let Some((&last, init)) = bytes.split_last() else {
        return Vec::new();
    };
    let mut word: Vec<u32> = init.iter().map(|&byte| vocab.byte_ids[byte as usize]).collect();
    word.push(vocab.byte_end_ids[last as usize]);
    while word.len() > 1 {
        let best = word
            .windows(2)
            .filter_map(|pair| vocab.merges.get(&(pair[0], pair[1])).map(|merge| (merge, pair[0], pair[1])))
            .min_by_key(|(merge, _, _)| merge.rank);
        let Some((merge, left, right)) = best else {
            break;
        };
        let merged = merge.merged;
        let mut next = Vec::with_capacity(word.len());
        let mut index = 0;
        while index < word.len() {
            if index + 1 < word.len() && word[index] == left && word[index + 1] == right {
                next.push(merged);
                index += 2;
            } else {
                next.push(word[index]);
                index += 1;
            }
        }
        word = next;
    }
    word
}
