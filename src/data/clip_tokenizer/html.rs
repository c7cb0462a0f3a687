//! The two HTML unescapers CLIP's cleaning runs: Python's `html.unescape` (HTML5 rules: named
//! references with or without `;`, longest known prefix, numeric references with HTML5's
//! remapping) and ftfy's stricter `unescape_html` (only references that end in `;`, plus
//! upper-cased Latin names such as `&EACUTE;`). Both read the tables generated from Python in
//! `tables.rs`, so they decode exactly what Python decodes.
use super::tables::{FTFY_UPPERCASE_ENTITIES, HTML5_ENTITIES, INVALID_CHARREFS, INVALID_CODEPOINTS};
use regex::{Captures, Regex};
use std::sync::OnceLock;

fn lookup<'a>(table: &'a [(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    table.binary_search_by(|(key, _)| (*key).cmp(name)).ok().map(|index| table[index].1)
}

/// Python's `html.unescape`.
pub fn python_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    // html._charref, verbatim: names are 1 to 32 characters (code points) of anything but
    // tab, newline, form feed, space, `<`, `&`, `#` and `;`.
    static CHARREF: OnceLock<Regex> = OnceLock::new();
    let charref = CHARREF
        .get_or_init(|| Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)").expect("valid regex"));
    charref.replace_all(text, |captures: &Captures| replace_charref(&captures[1])).into_owned()
}

fn replace_charref(reference: &str) -> String {
    if let Some(number) = reference.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        return numeric_reference(digits.trim_end_matches(';'), radix);
    }
    if let Some(text) = lookup(HTML5_ENTITIES, reference) {
        return text.to_string();
    }
    // The longest prefix (of at least two characters) that is a known name, as the standard says.
    let boundaries: Vec<usize> = reference.char_indices().map(|(index, _)| index).skip(2).collect();
    for &end in boundaries.iter().rev() {
        if let Some(text) = lookup(HTML5_ENTITIES, &reference[..end]) {
            return format!("{text}{}", &reference[end..]);
        }
    }
    format!("&{reference}")
}

/// `&#N;` as Python decodes it: HTML5's remapped numbers, U+FFFD for surrogates and numbers past
/// U+10FFFF, nothing for the non-characters and most control codes.
fn numeric_reference(digits: &str, radix: u32) -> String {
    // Python's int() has no limit; anything past u32 is past U+10FFFF as well.
    let number = u32::from_str_radix(digits, radix).unwrap_or(u32::MAX);
    if let Ok(index) = INVALID_CHARREFS.binary_search_by_key(&number, |(code, _)| *code) {
        return INVALID_CHARREFS[index].1.to_string();
    }
    if (0xD800..=0xDFFF).contains(&number) || number > 0x10FFFF {
        return '\u{FFFD}'.to_string();
    }
    if INVALID_CODEPOINTS.binary_search(&number).is_ok() {
        return String::new();
    }
    char::from_u32(number).map(String::from).unwrap_or_else(|| '\u{FFFD}'.to_string())
}

/// ftfy's `unescape_html`: `&name;` from the HTML5 table or ftfy's upper-case names, and numeric
/// references only when Python decodes the whole of them (the `;` consumed).
pub fn ftfy_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    static ENTITY: OnceLock<Regex> = OnceLock::new();
    let entity = ENTITY.get_or_init(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("valid regex"));
    entity
        .replace_all(text, |captures: &Captures| {
            let whole = &captures[0];
            let name = &whole[1..];
            if let Some(text) = lookup(HTML5_ENTITIES, name).or_else(|| lookup(FTFY_UPPERCASE_ENTITIES, name)) {
                return text.to_string();
            }
            if whole.starts_with("&#") {
                let unescaped = python_unescape(whole);
                if !unescaped.contains(';') {
                    return unescaped;
                }
            }
            whole.to_string()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_unescape_follows_html5() {
        assert_eq!(python_unescape("&lt;b&gt; &amp;amp; &quot;"), "<b> &amp; \"");
        assert_eq!(python_unescape("&ampx &notit; &#x2019; &#39;"), "&x ¬it; \u{2019} '");
        assert_eq!(python_unescape("&#128; &#0; &#xD800; &#1; &#99999999999;"), "\u{20AC} \u{FFFD} \u{FFFD}  \u{FFFD}");
        assert_eq!(python_unescape("&unknown; & alone"), "&unknown; & alone");
    }

    #[test]
    fn ftfy_unescape_needs_the_semicolon() {
        assert_eq!(ftfy_unescape("&amp &amp; &EACUTE; &#x41; &#65"), "&amp & É A &#65");
    }
}
