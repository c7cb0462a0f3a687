//! Text preprocessing as in the seed work: URLs and hashtags removed, special characters and
//! punctuation stripped, lower-cased, split on whitespace; a vocabulary over the training split.
use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

pub const PAD_TOKEN: &str = "<pad>";
pub const UNK_TOKEN: &str = "<unk>";
pub const PAD_ID: i32 = 0;
pub const UNK_ID: i32 = 1;

/// Cleans a caption into tokens: whitespace-separated pieces that contain `http://`, `https://`
/// or start with `www.` (URLs) or start with `#` (hashtags) are removed; then every character that
/// is neither alphanumeric nor whitespace is deleted (so "don't" becomes "dont"), and the rest is
/// lower-cased and split on whitespace.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for piece in text.split_whitespace() {
        let lower = piece.to_lowercase();
        let is_url = lower.contains("http://") || lower.contains("https://") || lower.starts_with("www.");
        if is_url || piece.starts_with('#') {
            continue;
        }
        let kept: String = lower.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect();
        tokens.extend(kept.split_whitespace().map(str::to_string));
    }
    tokens
}

/// `tokenize` joined by single spaces.
pub fn clean_text(text: &str) -> String {
    tokenize(text).join(" ")
}

/// The sequence length that covers `percentile` (0..=1) of `lengths` (nearest rank), at least 1.
/// `prepare` uses the 95th percentile of the training split's token counts as its default.
pub fn length_percentile(lengths: &[usize], percentile: f64) -> usize {
    if lengths.is_empty() {
        return 1;
    }
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let rank = (percentile.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)].max(1)
}

/// Token ↔ id map. Id 0 is `<pad>`, id 1 `<unk>`, then tokens by decreasing frequency, ties
/// broken alphabetically so that the same texts always give the same ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocabulary {
    tokens: Vec<String>,
    ids: HashMap<String, i32>,
}

impl Vocabulary {
    /// Builds from raw captions (they are tokenized here). Tokens seen fewer than `min_count` times
    /// are left out; `max_size`, if given, caps the total size including `<pad>` and `<unk>`.
    pub fn build<S: AsRef<str>>(texts: impl IntoIterator<Item = S>, min_count: usize, max_size: Option<usize>) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for token in tokenize(text.as_ref()) {
                *counts.entry(token).or_insert(0) += 1;
            }
        }
        let mut by_frequency: Vec<(String, usize)> =
            counts.into_iter().filter(|(_, count)| *count >= min_count.max(1)).collect();
        by_frequency.sort_by(|(a, count_a), (b, count_b)| count_b.cmp(count_a).then_with(|| a.cmp(b)));
        let room = max_size.map_or(usize::MAX, |max| max.saturating_sub(2));
        let tokens = [PAD_TOKEN.to_string(), UNK_TOKEN.to_string()]
            .into_iter()
            .chain(by_frequency.into_iter().take(room).map(|(token, _)| token))
            .collect();
        Self::from_tokens(tokens)
    }

    fn from_tokens(tokens: Vec<String>) -> Self {
        let ids = tokens.iter().enumerate().map(|(id, token)| (token.clone(), id as i32)).collect();
        Self { tokens, ids }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn token(&self, id: i32) -> Option<&str> {
        usize::try_from(id).ok().and_then(|id| self.tokens.get(id)).map(String::as_str)
    }

    pub fn id(&self, token: &str) -> Option<i32> {
        self.ids.get(token).copied()
    }

    /// The file format: one token per line, line number (0-based) = id, trailing newline.
    pub fn to_text(&self) -> String {
        let mut text = self.tokens.join("\n");
        text.push('\n');
        text
    }

    /// sha256 (hex) of the saved text: identifies the vocabulary a prepared file was encoded with.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.to_text().as_bytes()))
    }

    pub fn save(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        crate::util::write_atomically(path, self.to_text().as_bytes())
            .with_context(|| format!("cannot write vocabulary {}", path.display()))
    }

    pub fn load(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read vocabulary {}", path.display()))?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// Parses the file format ([`Self::to_text`]); `source` names where the text came from in errors.
    pub fn from_text(text: &str, source: &str) -> anyhow::Result<Self> {
        let tokens: Vec<String> = text.lines().map(str::to_string).collect();
        for (id, expected) in [PAD_TOKEN, UNK_TOKEN].iter().enumerate() {
            if tokens.get(id).map(String::as_str) != Some(*expected) {
                bail!("{source}:{}: vocabulary line {id} must be {expected}", id + 1);
            }
        }
        let mut seen = HashMap::new();
        for (line, token) in tokens.iter().enumerate() {
            if token.is_empty() || token.chars().any(char::is_whitespace) {
                bail!("{source}:{}: vocabulary token {token:?} is empty or contains whitespace", line + 1);
            }
            if let Some(first) = seen.insert(token.as_str(), line) {
                bail!("{source}:{}: token {token:?} already on line {}", line + 1, first + 1);
            }
        }
        Ok(Self::from_tokens(tokens))
    }

    /// Token ids for `text`, post-truncated and post-padded with `<pad>` to exactly `max_len`;
    /// unknown tokens map to `<unk>`.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<i32> {
        let mut ids: Vec<i32> =
            tokenize(text).iter().take(max_len).map(|token| self.id(token).unwrap_or(UNK_ID)).collect();
        ids.resize(max_len, PAD_ID);
        ids
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_nearest_rank() {
        let lengths: Vec<usize> = (1..=20).collect();
        assert_eq!(length_percentile(&lengths, 0.95), 19);
        assert_eq!(length_percentile(&lengths, 1.0), 20);
        assert_eq!(length_percentile(&[0, 0, 0], 0.95), 1, "at least one position");
        assert_eq!(length_percentile(&[], 0.95), 1);
    }
}
