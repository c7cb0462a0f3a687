//! What went wrong while reading a split: every skipped or altered record, with file, line and
//! reason, and a count per reason. Bad records never crash a run and never pass silently.
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Why a record was skipped (or, for `TextTruncated`, altered but kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IssueKind {
    /// The line is not a JSON object.
    MalformedJson,
    /// `id`, `img` or `text` is absent or has the wrong type.
    MissingField,
    /// `label` is present but is not 0 or 1.
    InvalidLabel,
    /// The same `id` appeared earlier in the file (predictions are keyed by id).
    DuplicateId,
    /// `img` names a file that does not exist.
    MissingImage,
    /// The image file exists but does not decode (e.g. a truncated PNG).
    UndecodableImage,
    /// The text was longer than the limit and was cut; the record is kept.
    TextTruncated,
}

impl IssueKind {
    pub const ALL: [IssueKind; 7] = [
        IssueKind::MalformedJson,
        IssueKind::MissingField,
        IssueKind::InvalidLabel,
        IssueKind::DuplicateId,
        IssueKind::MissingImage,
        IssueKind::UndecodableImage,
        IssueKind::TextTruncated,
    ];

    /// A stable snake_case name, used in messages and in prepared files' metadata.
    pub fn name(self) -> &'static str {
        match self {
            IssueKind::MalformedJson => "malformed_json",
            IssueKind::MissingField => "missing_field",
            IssueKind::InvalidLabel => "invalid_label",
            IssueKind::DuplicateId => "duplicate_id",
            IssueKind::MissingImage => "missing_image",
            IssueKind::UndecodableImage => "undecodable_image",
            IssueKind::TextTruncated => "text_truncated",
        }
    }

    /// Whether the record is dropped (every kind except a truncated text).
    pub fn skips_record(self) -> bool {
        self != IssueKind::TextTruncated
    }
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem with one line of a split file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
    pub kind: IssueKind,
    pub detail: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = if self.kind.skips_record() { "skipped" } else { "kept" };
        write!(f, "{}:{}: {} ({action}): {}", self.file.display(), self.line, self.kind, self.detail)
    }
}

/// The outcome of reading one split file.
#[derive(Clone, Debug, Default)]
pub struct SplitReport {
    pub file: PathBuf,
    /// Non-blank lines seen.
    pub lines: usize,
    /// Records kept (including those with a truncated text).
    pub kept: usize,
    pub issues: Vec<Issue>,
    /// Things about the file worth saying that cost no record (e.g. a byte-order mark).
    pub notes: Vec<String>,
}

impl SplitReport {
    pub fn new(file: PathBuf) -> Self {
        Self { file, ..Self::default() }
    }

    /// Number of records dropped, all reasons together.
    pub fn skipped(&self) -> usize {
        self.issues.iter().filter(|issue| issue.kind.skips_record()).count()
    }

    pub fn count(&self, kind: IssueKind) -> usize {
        self.issues.iter().filter(|issue| issue.kind == kind).count()
    }

    /// Count per reason, only reasons that occurred.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for issue in &self.issues {
            *counts.entry(issue.kind.name()).or_insert(0) += 1;
        }
        counts
    }

    /// A one-line summary such as `kept 95 of 100 records; skipped: missing_image 3, ...`.
    pub fn summary(&self) -> String {
        let mut text = format!("{}: kept {} of {} records", self.file.display(), self.kept, self.lines);
        let counts = self.counts();
        if !counts.is_empty() {
            let parts: Vec<String> = counts.iter().map(|(name, n)| format!("{name} {n}")).collect();
            text.push_str(&format!("; issues: {}", parts.join(", ")));
        }
        for note in &self.notes {
            text.push_str(&format!("; note: the file {note}"));
        }
        text
    }
}

impl fmt::Display for SplitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for issue in &self.issues {
            writeln!(f, "{issue}")?;
        }
        write!(f, "{}", self.summary())
    }
}
