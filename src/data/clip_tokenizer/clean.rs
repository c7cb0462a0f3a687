//! Text cleaning before CLIP's split: open_clip's `_clean_lower` (ftfy's `fix_text`, html unescape
//! twice, strip, whitespace collapse, lower case) or HuggingFace's `CLIPTokenizer` normaliser (NFC,
//! whitespace collapse, lower case, no ftfy, no html).
//!
//! Of `ftfy.fix_text` (6.3.1, default configuration) this reproduces every fixer except the
//! mojibake repair (`fix_encoding`: re-decoding text that was decoded in the wrong encoding,
//! chosen by ftfy's badness heuristic); memefuse leaves such text as it is. What it does, in
//! ftfy's order and repeated until nothing changes, line by line: `unescape_html` (only when the
//! line, and every line before it, has no `<`), `fix_c1_controls`, `fix_latin_ligatures`,
//! `fix_character_width`, `uncurl_quotes`, `fix_line_breaks`, `remove_terminal_escapes`,
//! `remove_control_chars`, NFC. (`fix_surrogates` has nothing to do: a Rust string holds none.)
use super::html::{ftfy_unescape, python_unescape};
use super::tables::{C1_CONTROLS, CONTROL_CHARS, LIGATURES, PYTHON_WHITESPACE, WIDTH_MAP};
use regex::Regex;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Which reference's cleaning the tokenizer reproduces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cleaning {
    /// open_clip's and OpenAI CLIP's `SimpleTokenizer` (`clean="lower"`): ftfy, html, whitespace, lower.
    #[default]
    OpenClip,
    /// HuggingFace's `CLIPTokenizer` (tokenizers backend): NFC, whitespace, lower; special token
    /// names are split off the raw text first.
    HuggingFace,
}

impl Cleaning {
    pub fn name(self) -> &'static str {
        match self {
            Cleaning::OpenClip => "open-clip",
            Cleaning::HuggingFace => "hf",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Cleaning::OpenClip, Cleaning::HuggingFace].into_iter().find(|cleaning| cleaning.name() == name)
    }
}

fn is_python_space(c: char) -> bool {
    PYTHON_WHITESPACE.binary_search(&c).is_ok()
}

/// open_clip's `whitespace_clean(basic_clean(text)).lower()`.
pub fn open_clip_clean(text: &str) -> String {
    let fixed = ftfy_fix_text(text);
    let unescaped = python_unescape(&python_unescape(&fixed));
    // `" ".join(text.split())` with Python's notion of whitespace (it also strips).
    let collapsed: Vec<&str> = unescaped.split(is_python_space).filter(|piece| !piece.is_empty()).collect();
    // Python's str.lower(), like Rust's, lower-cases a word-final sigma to ς.
    collapsed.join(" ").to_lowercase()
}

/// HuggingFace's normaliser: NFC, every run of whitespace to one space, then lower case one
/// character at a time (the tokenizers crate's `lowercase`, which has no final-sigma rule).
pub fn hugging_face_clean(text: &str) -> String {
    static WHITESPACE: OnceLock<Regex> = OnceLock::new();
    let whitespace = WHITESPACE.get_or_init(|| Regex::new(r"\s+").expect("valid regex"));
    let nfc: String = text.nfc().collect();
    whitespace.replace_all(&nfc, " ").chars().flat_map(char::to_lowercase).collect()
}

/// ftfy splits its input into segments at line ends, and at most this many characters.
const FTFY_MAX_SEGMENT_CHARS: usize = 1_000_000;

/// `ftfy.fix_text` with its default configuration, except the mojibake repair (see the module notes).
pub fn ftfy_fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape_html = true;
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').map_or(rest.len(), |index| index + 1);
        let segment_end = match rest.char_indices().nth(FTFY_MAX_SEGMENT_CHARS) {
            Some((index, _)) if index < line_end => index,
            _ => line_end,
        };
        let segment = &rest[..segment_end];
        // ftfy's "auto": a segment with `<` looks like HTML; from then on nothing is unescaped.
        if segment.contains('<') {
            unescape_html = false;
        }
        out.push_str(&fix_segment(segment, unescape_html));
        rest = &rest[segment_end..];
    }
    out
}

/// ftfy's `fix_and_explain` loop for one segment: the fixers in order until a pass changes nothing.
fn fix_segment(segment: &str, unescape_html: bool) -> String {
    let mut text = segment.to_string();
    loop {
        let before = text.clone();
        if unescape_html {
            text = ftfy_unescape(&text);
        }
        text = text.chars().map(fix_c1_control).collect();
        text = replace_chars(&text, LIGATURES);
        text = replace_chars(&text, WIDTH_MAP);
        text = text.chars().map(uncurl_quote).collect();
        text = fix_line_breaks(&text);
        text = remove_terminal_escapes(&text);
        text.retain(|c| CONTROL_CHARS.binary_search(&c).is_err());
        text = text.nfc().collect();
        if text == before {
            return text;
        }
    }
}

fn fix_c1_control(c: char) -> char {
    match C1_CONTROLS.binary_search_by_key(&c, |(control, _)| *control) {
        Ok(index) => C1_CONTROLS[index].1,
        Err(_) => c,
    }
}

fn replace_chars(text: &str, table: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table.binary_search_by_key(&c, |(from, _)| *from) {
            Ok(index) => out.push_str(table[index].1),
            Err(_) => out.push(c),
        }
    }
    out
}

/// ftfy's `uncurl_quotes`: U+201C..U+201F become `"`, U+02BC and U+2018..U+201B become `'`.
fn uncurl_quote(c: char) -> char {
    match c {
        '\u{201C}'..='\u{201F}' => '"',
        '\u{02BC}' | '\u{2018}'..='\u{201B}' => '\'',
        _ => c,
    }
}

fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n")
}

/// ftfy's `remove_terminal_escapes`: ESC `[` digits-or-semicolons, then one ASCII letter.
fn remove_terminal_escapes(text: &str) -> String {
    if !text.contains('\u{1B}') {
        return text.to_string();
    }
    static ANSI: OnceLock<Regex> = OnceLock::new();
    // Python's `\d` in a str pattern is any Unicode decimal digit, as Rust's is.
    let ansi = ANSI.get_or_init(|| Regex::new(r"\x1B\[(?:\d|;)*[a-zA-Z]").expect("valid regex"));
    ansi.replace_all(text, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftfy_fixes_in_order() {
        assert_eq!(ftfy_fix_text("\u{FB01}ne \u{FF2C}\u{FF2F}\u{3000}\u{201C}x\u{2019}s\u{201D}"), "fine LO \"x's\"");
        assert_eq!(ftfy_fix_text("\u{1B}[31mred\u{1B}[0m\u{FEFF}"), "red");
        assert_eq!(ftfy_fix_text("e\u{301}"), "\u{E9}");
        // Unescaped until nothing changes, unless a `<` was seen on this line or an earlier one.
        assert_eq!(ftfy_fix_text("&amp;amp;lt;"), "<");
        assert_eq!(ftfy_fix_text("<b>&amp;\n&amp;"), "<b>&amp;\n&amp;");
        assert_eq!(ftfy_fix_text("&amp;\n<b>&amp;"), "&\n<b>&amp;");
    }

    #[test]
    fn open_clip_cleaning_collapses_and_lowers() {
        assert_eq!(open_clip_clean("  Hello\t\u{1C}WORLD\u{A0} &amp;amp;  "), "hello world &");
        assert_eq!(open_clip_clean("ΟΔΟΣ"), "οδος");
        assert_eq!(hugging_face_clean("ΟΔΟΣ &amp;  X"), "οδοσ &amp; x");
    }
}
