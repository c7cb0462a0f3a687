//! CLIP's BPE vocabulary, read from either of its two published forms:
//!
//! * open_clip's / OpenAI's `bpe_simple_vocab_16e6.txt.gz`: a header line, then merges `a b`, one a
//!   line; `SimpleTokenizer` keeps the first 48,894 and builds the vocabulary from them: the 256
//!   byte symbols, the same with `</w>`, one token per merge (the pair joined), then
//!   `<start_of_text>` and `<end_of_text>` (ids 49406 and 49407 with the full file).
//! * HuggingFace's `vocab.json` (token → id, `<|startoftext|>` and `<|endoftext|>` included) and
//!   `merges.txt` (`#version` header, then merges in rank order; every merge is kept).
//!
//! Tokens are strings over the byte alphabet of `bytes_to_unicode`: each UTF-8 byte is one
//! printable character, so that BPE never sees whitespace or control characters.
use anyhow::{anyhow, bail, Context};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How many merges `SimpleTokenizer` reads: `merges[1:49152-256-2+1]`.
pub const OPEN_CLIP_MERGES: usize = 49152 - 256 - 2;
pub const OPEN_CLIP_START: &str = "<start_of_text>";
pub const OPEN_CLIP_END: &str = "<end_of_text>";
pub const HF_START: &str = "<|startoftext|>";
pub const HF_END: &str = "<|endoftext|>";
pub const END_OF_WORD: &str = "</w>";

/// GPT-2's and CLIP's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68
/// bytes to U+0100 and on, in byte order.
pub fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[byte as usize] = if printable {
            byte as char
        } else {
            next += 1;
            char::from_u32(next - 1).expect("below U+0200")
        };
    }
    table
}

/// The 256 byte symbols in the order `SimpleTokenizer` gives them ids (the order of
/// `bytes_to_unicode().values()`): printable bytes first, then the 68 others.
fn symbols_in_vocab_order() -> Vec<char> {
    let mut symbols: Vec<char> = bytes_to_unicode().to_vec();
    symbols.sort_by_key(|&symbol| (symbol as u32) >= 256);
    symbols
}

/// A merge: the pair's ids, and its rank (lower merges first) and result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    pub rank: u32,
    pub merged: u32,
}

/// The vocabulary and merge table, in ids.
#[derive(Clone, Debug)]
pub struct BpeVocab {
    /// Token string → id.
    pub ids: HashMap<String, u32>,
    /// `(left id, right id)` → merge. A pair listed twice keeps its last rank, as Python's dict does.
    pub merges: HashMap<(u32, u32), Merge>,
    /// Id of each byte's symbol inside a word, and at a word's end (with `</w>`).
    pub byte_ids: [u32; 256],
    pub byte_end_ids: [u32; 256],
    /// The special tokens' names as this vocabulary spells them, and their ids.
    pub start: (String, u32),
    pub end: (String, u32),
    /// The file the vocabulary came from, for messages.
    pub source: PathBuf,
    /// sha256 of the file bytes read (vocab.json then merges.txt for HuggingFace's form): what
    /// prepared files record as their `vocab_hash`.
    pub hash: String,
}

impl BpeVocab {
    /// Reads `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text), as open_clip's `SimpleTokenizer` does.
    pub fn read_open_clip(path: &Path) -> anyhow::Result<Self> {
        let raw = std::fs::read(path).with_context(|| format!("reading the CLIP BPE file {}", path.display()))?;
        let bytes = if raw.starts_with(&[0x1F, 0x8B]) {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut text)
                .with_context(|| format!("{}: not a readable gzip file", path.display()))?;
            text
        } else {
            raw.clone()
        };
        let text = String::from_utf8(bytes).map_err(|error| {
            anyhow!("{}: not UTF-8 text (invalid byte at offset {})", path.display(), error.utf8_error().valid_up_to())
        })?;
        // Line 1 is a header; merges are lines 2 ..= 48,895 (fewer if the file is shorter).
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let merge_lines: Vec<(usize, &str)> =
            text.split('\n').enumerate().skip(1).take(OPEN_CLIP_MERGES).map(|(index, line)| (index + 1, line)).collect();
        if merge_lines.is_empty() {
            bail!("{}: holds no merges (expected a header line, then one merge `a b` per line)", path.display());
        }
        let merges = parse_merges(path, &merge_lines)?;
        let alphabet = symbols_in_vocab_order();
        let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        tokens.extend(alphabet.iter().map(|c| format!("{c}{END_OF_WORD}")));
        tokens.extend(merges.iter().map(|(_, left, right)| format!("{left}{right}")));
        tokens.push(OPEN_CLIP_START.to_string());
        tokens.push(OPEN_CLIP_END.to_string());
        // dict(zip(vocab, range(len(vocab)))): a token listed twice keeps its last id.
        let ids: HashMap<String, u32> = tokens.into_iter().enumerate().map(|(id, token)| (token, id as u32)).collect();
        let hash = sha256_hex(&[&raw]);
        Self::assemble(path, path, ids, &merges, OPEN_CLIP_START, OPEN_CLIP_END, hash)
    }

    /// Reads HuggingFace's `vocab.json` and `merges.txt`.
    pub fn read_hugging_face(vocab_json: &Path, merges_txt: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(vocab_json)
            .with_context(|| format!("reading the CLIP vocabulary {}", vocab_json.display()))?;
        let vocab_text = text;
        let parsed: HashMap<String, u64> = serde_json::from_str(&vocab_text).map_err(|error| {
            anyhow!(
                "{}:{}:{}: not a JSON object of token → id ({error})",
                vocab_json.display(),
                error.line(),
                error.column()
            )
        })?;
        let mut ids = HashMap::with_capacity(parsed.len());
        for (token, id) in parsed {
            let id = u32::try_from(id).map_err(|_| anyhow!("{}: token {token:?} has id {id}, past u32", vocab_json.display()))?;
            ids.insert(token, id);
        }
        let text =
            std::fs::read_to_string(merges_txt).with_context(|| format!("reading the CLIP merges {}", merges_txt.display()))?;
        let merge_lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line))
            .filter(|(number, line)| {
                let header = *number == 1 && line.starts_with("#version");
                !header && !line.is_empty()
            })
            .collect();
        let merges = parse_merges(merges_txt, &merge_lines)?;
        let hash = sha256_hex(&[vocab_text.as_bytes(), text.as_bytes()]);
        Self::assemble(vocab_json, merges_txt, ids, &merges, HF_START, HF_END, hash)
    }

    /// Checks that the byte alphabet, every merge's parts and result, and the special tokens are
    /// in the vocabulary, and builds the id tables.
    fn assemble(
        vocab_path: &Path,
        merges_path: &Path,
        ids: HashMap<String, u32>,
        merges: &[(usize, String, String)],
        start: &str,
        end: &str,
        hash: String,
    ) -> anyhow::Result<Self> {
        let id_of = |token: &str, what: &str| {
            ids.get(token).copied().ok_or_else(|| anyhow!("{}: the vocabulary has no {what} {token:?}", vocab_path.display()))
        };
        let alphabet = bytes_to_unicode();
        let (mut byte_ids, mut byte_end_ids) = ([0u32; 256], [0u32; 256]);
        for (byte, symbol) in alphabet.iter().enumerate() {
            byte_ids[byte] = id_of(&symbol.to_string(), "byte symbol")?;
            byte_end_ids[byte] = id_of(&format!("{symbol}{END_OF_WORD}"), "byte symbol")?;
        }
        let mut merge_table = HashMap::with_capacity(merges.len());
        for (rank, (line, left, right)) in merges.iter().enumerate() {
            let part = |token: &str| {
                ids.get(token).copied().ok_or_else(|| {
                    anyhow!(
                        "{}:{line}: merge `{left} {right}` uses {token:?}, which is not in the vocabulary {}",
                        merges_path.display(),
                        vocab_path.display()
                    )
                })
            };
            let key = (part(left)?, part(right)?);
            let merged = part(&format!("{left}{right}"))?;
            merge_table.insert(key, Merge { rank: rank as u32, merged });
        }
        let start_id = id_of(start, "start token")?;
        let end_id = id_of(end, "end token")?;
        Ok(Self {
            ids,
            merges: merge_table,
            byte_ids,
            byte_end_ids,
            start: (start.to_string(), start_id),
            end: (end.to_string(), end_id),
            source: vocab_path.to_path_buf(),
            hash,
        })
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    parts.iter().for_each(|part| hasher.update(part));
    crate::data::text::hex(&hasher.finalize())
}

/// `a b` lines (Python's `str.split()`: exactly two whitespace-separated parts) with their line numbers.
fn parse_merges(path: &Path, lines: &[(usize, &str)]) -> anyhow::Result<Vec<(usize, String, String)>> {
    lines
        .iter()
        .map(|&(number, line)| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts[..] {
                [left, right] => Ok((number, left.to_string(), right.to_string())),
                _ => bail!(
                    "{}:{number}: a merge must be two tokens separated by a space, found {:?}",
                    path.display(),
                    truncate_for_message(line)
                ),
            }
        })
        .collect()
}

fn truncate_for_message(line: &str) -> String {
    const SHOWN: usize = 60;
    if line.chars().count() <= SHOWN {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(SHOWN).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_a_permutation_of_printable_characters() {
        let table = bytes_to_unicode();
        assert_eq!(table[b'a' as usize], 'a');
        assert_eq!(table[b' ' as usize], '\u{120}');
        assert_eq!(table[0], '\u{100}');
        let mut sorted = table.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
        assert!(table.iter().all(|c| !c.is_whitespace() && !c.is_control()));
        // open_clip's ids: '!' is 0, 'a' is 64, byte 0 (U+0100) is 188.
        let order = symbols_in_vocab_order();
        assert_eq!((order[0], order[64], order[188]), ('!', 'a', '\u{100}'));
    }
}
