//! PTX text → tokens with their line numbers. Comments (`//`, `/* */`) are dropped.

#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    /// Identifiers, directives and opcodes: `%r1`, `.reg`, `ld.global.v4.f32`, `$L__BB0_3`, `_Z..`.
    Word(&'a str),
    /// An integer literal as written (decimal, hex, octal, binary; optional `U` suffix; no sign).
    Int(u64),
    /// `0fXXXXXXXX` / `0dXXXXXXXXXXXXXXXX`: the raw bits, and whether it is 64-bit.
    Float(u64, bool),
    Str(&'a str),
    Punct(char),
}

#[derive(Debug, Clone)]
pub struct Token<'a> {
    pub tok: Tok<'a>,
    pub line: u32,
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'_' | b'$' | b'%' | b'.')
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'%' | b'.')
}

/// Tokens of `text`, whose first line is `first_line`.
pub fn tokenize(text: &str, first_line: u32) -> Result<Vec<Token<'_>>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4);
    let mut i = 0;
    let mut line = first_line;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += 1;
                }
                tokens.push(Token { tok: Tok::Str(&text[start..i.min(bytes.len())]), line });
                i += 1;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                let lit = &text[start..i];
                tokens.push(Token { tok: number(lit).ok_or_else(|| format!("line {line}: malformed number {lit:?}"))?, line });
            }
            c if is_word_start(c) => {
                let start = i;
                i += 1;
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                tokens.push(Token { tok: Tok::Word(&text[start..i]), line });
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b',' | b';' | b':' | b'|' | b'+' | b'-' | b'!' | b'@' | b'<' | b'>' | b'=' => {
                tokens.push(Token { tok: Tok::Punct(c as char), line });
                i += 1;
            }
            _ => return Err(format!("line {line}: unexpected character {:?}", c as char)),
        }
    }
    Ok(tokens)
}

fn number(lit: &str) -> Option<Tok<'_>> {
    let bytes = lit.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' && (bytes[1] == b'f' || bytes[1] == b'F') {
        return u32::from_str_radix(&lit[2..], 16).ok().map(|b| Tok::Float(b as u64, false));
    }
    if bytes.len() > 2 && bytes[0] == b'0' && (bytes[1] == b'd' || bytes[1] == b'D') {
        return u64::from_str_radix(&lit[2..], 16).ok().map(|b| Tok::Float(b, true));
    }
    if lit.contains('.') {
        // Decimal float literals are not PTX (PTX writes floats as 0f/0d hex); reject them.
        return None;
    }
    let body = lit.strip_suffix('U').or_else(|| lit.strip_suffix('u')).unwrap_or(lit);
    let value = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        u64::from_str_radix(bin, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        u64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<u64>().ok()?
    };
    Some(Tok::Int(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_an_instruction_line() {
        let toks = tokenize("@!%p1 ld.global.v4.f32 {%f1, %f2}, [%rd3+-16]; // c\n mov.f32 %f1, 0f3F800000;", 7).unwrap();
        let kinds: Vec<_> = toks.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(kinds[0], Tok::Punct('@'));
        assert_eq!(kinds[1], Tok::Punct('!'));
        assert_eq!(kinds[2], Tok::Word("%p1"));
        assert_eq!(kinds[3], Tok::Word("ld.global.v4.f32"));
        assert!(kinds.contains(&Tok::Int(16)));
        assert!(kinds.contains(&Tok::Float(0x3F80_0000, false)));
        assert_eq!(toks.last().unwrap().line, 8);
        assert_eq!(number("0x10U"), Some(Tok::Int(16)));
        assert_eq!(number("010"), Some(Tok::Int(8)));
    }
}
