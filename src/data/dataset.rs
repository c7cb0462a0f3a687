//! Reader for the Hateful Memes layout: a data folder holding `train.jsonl`, `dev_seen.jsonl` (or
//! `dev.jsonl`), `dev_unseen.jsonl`, `test_seen.jsonl` (or `test.jsonl`), `test_unseen.jsonl` and
//! `img/`. Each line is `{"id": 42953 or "01235", "img": "img/42953.png", "label": 0 or 1, "text": "..."}`;
//! `label` is absent from unlabelled test files.
use super::image_io::decode_rgb;
pub use super::report::SplitReport;
use super::report::{Issue, IssueKind};
use anyhow::{bail, Context};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Texts longer than this many characters are cut to it (and reported). Real captions are under
/// ~400 characters; anything far beyond is almost certainly a scraping accident.
pub const DEFAULT_MAX_TEXT_CHARS: usize = 2000;

/// One meme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The `id` field as text (a JSON number is written in decimal).
    pub id: String,
    /// Whether the file wrote the id as a JSON number (`42953`) rather than a string (`"01235"`),
    /// so that predictions can write it back exactly as it was.
    pub id_is_number: bool,
    /// `img` joined onto the data folder.
    pub image_path: PathBuf,
    /// `None` for unlabelled (test) records.
    pub label: Option<u8>,
    pub text: String,
    /// 1-based line number in the split file.
    pub line: usize,
}

impl Record {
    /// The id as the dataset wrote it: a JSON number or a JSON string.
    pub fn id_value(&self) -> Value {
        id_value(&self.id, self.id_is_number)
    }
}

/// An id's JSON value from its text and kind (a number id's text is its decimal form).
pub fn id_value(id: &str, is_number: bool) -> Value {
    if is_number {
        if let Ok(number) = id.parse::<i64>() {
            return Value::from(number);
        }
        if let Ok(number) = id.parse::<u64>() {
            return Value::from(number);
        }
    }
    Value::String(id.to_string())
}

#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Turn every issue (including a truncated text) into an error.
    pub strict: bool,
    /// Also decode every image (in parallel) and skip those that do not decode. Without it only
    /// the file's existence is checked; `prepare_split` decodes anyway and reports failures itself.
    pub decode_images: bool,
    pub max_text_chars: usize,
    /// Skip (and report) records without a label, as the training split must (it cannot learn from them).
    pub require_labels: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { strict: false, decode_images: false, max_text_chars: DEFAULT_MAX_TEXT_CHARS, require_labels: false }
    }
}

/// The byte-order mark some editors put at the start of a UTF-8 file; it is not part of the JSON.
const UTF8_BOM: char = '\u{FEFF}';

/// Split names accepted by `read_split`, with the files they resolve to, in order of preference.
const SPLIT_FILES: [(&str, &[&str]); 7] = [
    ("train", &["train.jsonl"]),
    ("dev", &["dev_seen.jsonl", "dev.jsonl"]),
    ("dev_seen", &["dev_seen.jsonl"]),
    ("dev_unseen", &["dev_unseen.jsonl"]),
    ("test", &["test_seen.jsonl", "test.jsonl"]),
    ("test_seen", &["test_seen.jsonl"]),
    ("test_unseen", &["test_unseen.jsonl"]),
];

/// A Hateful Memes data folder.
#[derive(Clone, Debug)]
pub struct HatefulMemes {
    dir: PathBuf,
}

impl HatefulMemes {
    pub fn open(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            bail!("data folder {} does not exist or is not a folder", dir.display());
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Split names whose file exists in this folder.
    pub fn available_splits(&self) -> Vec<&'static str> {
        SPLIT_FILES
            .iter()
            .filter(|(_, files)| files.iter().any(|file| self.dir.join(file).is_file()))
            .map(|(name, _)| *name)
            .collect()
    }

    /// `.jsonl` files of the folder that no Hateful Memes name resolves to, by split name
    /// (`NAME.jsonl` is split `NAME`).
    pub fn custom_splits(&self) -> Vec<String> {
        let known_files: HashSet<&str> = SPLIT_FILES.iter().flat_map(|(_, files)| files.iter().copied()).collect();
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|file| !known_files.contains(file.as_str()))
            .filter_map(|file| file.strip_suffix(".jsonl").map(str::to_string))
            .filter(|name| is_plain_split_name(name) && self.dir.join(format!("{name}.jsonl")).is_file())
            .collect();
        names.sort();
        names
    }

    /// The file a split name resolves to: a Hateful Memes name (with its fallbacks, e.g. `dev` →
    /// `dev_seen.jsonl` or `dev.jsonl`), or any other `NAME.jsonl` of the folder. A clear error for
    /// an unknown name or a missing file.
    pub fn split_file(&self, split: &str) -> anyhow::Result<PathBuf> {
        let Some((_, candidates)) = SPLIT_FILES.iter().find(|(name, _)| *name == split) else {
            let custom = self.dir.join(format!("{split}.jsonl"));
            if is_plain_split_name(split) && custom.is_file() {
                return Ok(custom);
            }
            let known: Vec<&str> = SPLIT_FILES.iter().map(|(name, _)| *name).collect();
            let custom = self.custom_splits();
            let others = if custom.is_empty() { String::new() } else { format!("; other NAME.jsonl splits: {}", custom.join(", ")) };
            bail!(
                "unknown split {split:?}: no {split}.jsonl in {}; known split names: {}; present in {}: {}{others}",
                self.dir.display(),
                known.join(", "),
                self.dir.display(),
                self.describe_available()
            );
        };
        candidates.iter().map(|file| self.dir.join(file)).find(|path| path.is_file()).with_context(|| {
            format!(
                "split {split:?} not found: none of {} exists in {}; present: {}",
                candidates.join(" or "),
                self.dir.display(),
                self.describe_available()
            )
        })
    }

    fn describe_available(&self) -> String {
        let splits = self.available_splits();
        if splits.is_empty() {
            "no split files".to_string()
        } else {
            splits.join(", ")
        }
    }

    /// Reads one split, skipping (and reporting) bad records; in strict mode the first issue is an error.
    pub fn read_split(&self, split: &str, options: &ReadOptions) -> anyhow::Result<(Vec<Record>, SplitReport)> {
        let file = self.split_file(split)?;
        let content = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let mut report = SplitReport::new(file.clone());
        let content = match content.strip_prefix(UTF8_BOM) {
            Some(rest) => {
                report.notes.push("starts with a UTF-8 byte-order mark, ignored".to_string());
                rest
            }
            None => content.as_str(),
        };
        let mut records = Vec::new();
        let mut seen_ids = HashSet::new();
        for (index, line) in content.lines().enumerate() {
            // Blank lines (typically a trailing newline) are not records.
            if line.trim().is_empty() {
                continue;
            }
            report.lines += 1;
            let line_number = index + 1;
            let mut issue = |kind: IssueKind, detail: String| -> anyhow::Result<()> {
                let issue = Issue { file: file.clone(), line: line_number, kind, detail };
                if options.strict {
                    bail!("{issue} (--strict)");
                }
                report.issues.push(issue);
                Ok(())
            };
            let parsed = match parse_line(line, &self.dir) {
                Ok(parsed) => parsed,
                Err((kind, detail)) => {
                    issue(kind, detail)?;
                    continue;
                }
            };
            let ParsedLine { id, id_is_number, image_path, label, mut text } = parsed;
            if options.require_labels && label.is_none() {
                issue(IssueKind::MissingField, "field \"label\" is missing; every record of the training split needs one".to_string())?;
                continue;
            }
            if !seen_ids.insert(id.clone()) {
                issue(IssueKind::DuplicateId, format!("id {id:?} already appeared earlier in the file"))?;
                continue;
            }
            if !image_path.is_file() {
                issue(IssueKind::MissingImage, format!("image file {} does not exist", image_path.display()))?;
                continue;
            }
            let chars = text.chars().count();
            if chars > options.max_text_chars {
                issue(
                    IssueKind::TextTruncated,
                    format!("text has {chars} characters; cut to {}", options.max_text_chars),
                )?;
                text = text.chars().take(options.max_text_chars).collect();
            }
            records.push(Record { id, id_is_number, image_path, label, text, line: line_number });
        }
        if options.decode_images {
            records = drop_undecodable(records, &mut report, options.strict)?;
        }
        report.kept = records.len();
        report.issues.sort_by_key(|issue| issue.line);
        Ok((records, report))
    }
}

/// A split name that can only name a file directly inside the data folder.
fn is_plain_split_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

struct ParsedLine {
    id: String,
    id_is_number: bool,
    image_path: PathBuf,
    label: Option<u8>,
    text: String,
}

fn parse_line(line: &str, dir: &Path) -> Result<ParsedLine, (IssueKind, String)> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| (IssueKind::MalformedJson, format!("not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err((IssueKind::MalformedJson, "the line is JSON but not an object".to_string()));
    };
    let missing = |name: &str, expected: &str| match fields.get(name) {
        None => (IssueKind::MissingField, format!("field {name:?} is missing")),
        Some(other) => (IssueKind::MissingField, format!("field {name:?} should be {expected}, found {other}")),
    };
    let (id, id_is_number) = match fields.get("id") {
        Some(Value::String(id)) if !id.is_empty() && !id.contains('\n') => (id.clone(), false),
        Some(Value::Number(id)) if id.is_u64() || id.is_i64() => (id.to_string(), true),
        _ => return Err(missing("id", "an integer or a non-empty single-line string")),
    };
    let image_path = match fields.get("img") {
        Some(Value::String(img)) if !img.is_empty() => dir.join(img),
        _ => return Err(missing("img", "a non-empty string")),
    };
    let text = match fields.get("text") {
        Some(Value::String(text)) => text.clone(),
        _ => return Err(missing("text", "a string")),
    };
    let label = match fields.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Some(0),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Some(1),
        Some(other) => return Err((IssueKind::InvalidLabel, format!("label must be 0 or 1, found {other}"))),
    };
    Ok(ParsedLine { id, id_is_number, image_path, label, text })
}

fn drop_undecodable(records: Vec<Record>, report: &mut SplitReport, strict: bool) -> anyhow::Result<Vec<Record>> {
    let failures: Vec<Option<String>> =
        records.par_iter().map(|record| decode_rgb(&record.image_path).err()).collect();
    let mut kept = Vec::with_capacity(records.len());
    for (record, failure) in records.into_iter().zip(failures) {
        match failure {
            None => kept.push(record),
            Some(reason) => {
                let issue = undecodable_issue(&report.file, &record, &reason);
                if strict {
                    bail!("{issue} (--strict)");
                }
                report.issues.push(issue);
            }
        }
    }
    Ok(kept)
}

/// The issue reported for a record whose image does not decode.
pub(crate) fn undecodable_issue(file: &Path, record: &Record, reason: &str) -> Issue {
    Issue {
        file: file.to_path_buf(),
        line: record.line,
        kind: IssueKind::UndecodableImage,
        detail: format!("image {}: {reason}", record.image_path.display()),
    }
}
