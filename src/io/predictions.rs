//! The one prediction format every `predict` mode writes (`--run`, `--model lstm|vgg16 --weights`):
//!
//! - JSON lines (`.jsonl`, `.json`, or `--output -` for standard output):
//!   `{"id": 42953 or "01235", "proba": P(hateful), "logits": [l0, l1], "true_label": 0, 1 or null}`;
//!   `id` is exactly what the dataset wrote (a number stays a number, `"00901"` a string),
//!   `proba` = softmax(logits)[1] in f64, and the dataset's label is `true_label` so that it cannot
//!   be mistaken for a prediction. A single-logit model (the seed's LSTM) writes `[0, x]`, whose
//!   softmax is the sigmoid of x.
//! - CSV (`.csv`): `id,proba,logit_0,logit_1,true_label` (empty `true_label` when unlabelled).
//! - `--format submission` (CSV): `id,proba,label` with `label` the *predicted* class
//!   (P(hateful) ≥ 0.5), the Hateful Memes challenge's submission format.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Predicted class 1 from this P(hateful) up (the metrics' threshold).
const DECISION_THRESHOLD: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PredictionFormat {
    /// One JSON object a line: id, proba, logits, true_label.
    Jsonl,
    /// id,proba,logit_0,logit_1,true_label.
    Csv,
    /// id,proba,label (label = the predicted class), the challenge's submission CSV.
    Submission,
}

/// One record's prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The id as the dataset wrote it.
    pub id: Value,
    pub logits: [f32; 2],
    /// The dataset's label, when the split has one.
    pub true_label: Option<u8>,
}

impl Prediction {
    /// softmax(logits)[1], computed in f64.
    pub fn proba(&self) -> f64 {
        let (a, b) = (self.logits[0] as f64, self.logits[1] as f64);
        1.0 / (1.0 + (a - b).exp())
    }

    pub fn predicted_label(&self) -> u8 {
        u8::from(self.proba() >= DECISION_THRESHOLD)
    }

    fn to_json_line(&self) -> String {
        json!({ "id": self.id, "proba": self.proba(), "logits": self.logits, "true_label": self.true_label }).to_string()
    }
}

/// Where predictions go and in which format.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionOutput {
    /// `None`: standard output.
    pub path: Option<PathBuf>,
    pub format: PredictionFormat,
}

impl PredictionOutput {
    /// `--output PATH` (`-` for standard output) and `--format`: the extension picks the format
    /// when none is given, and must not contradict one that is.
    pub fn resolve(output: &Path, format: Option<PredictionFormat>) -> Result<Self> {
        if output.as_os_str() == "-" {
            return Ok(Self { path: None, format: format.unwrap_or(PredictionFormat::Jsonl) });
        }
        let extension = output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let implied = match extension.as_deref() {
            Some("jsonl" | "json") => Some(PredictionFormat::Jsonl),
            Some("csv") => Some(PredictionFormat::Csv),
            _ => None,
        };
        let format = match (format, implied) {
            (Some(PredictionFormat::Submission), Some(PredictionFormat::Csv)) => PredictionFormat::Submission,
            (Some(given), Some(implied)) if given != implied => {
                bail!("--output {} has a .{} extension but --format is {}; make them agree", output.display(), extension.unwrap_or_default(), format_name(given))
            }
            (Some(given), _) => given,
            (None, Some(implied)) => implied,
            (None, None) => bail!("--output {}: the extension must be .jsonl or .csv (or give --format jsonl|csv|submission)", output.display()),
        };
        if output.is_dir() {
            bail!("--output {} is a folder; name a file", output.display());
        }
        Ok(Self { path: Some(output.to_path_buf()), format })
    }

    /// The whole file's text.
    pub fn render(&self, predictions: &[Prediction]) -> String {
        let mut text = String::new();
        match self.format {
            PredictionFormat::Jsonl => {
                for prediction in predictions {
                    text += &prediction.to_json_line();
                    text.push('\n');
                }
            }
            PredictionFormat::Csv => {
                text += "id,proba,logit_0,logit_1,true_label\n";
                for p in predictions {
                    let label = p.true_label.map_or(String::new(), |l| l.to_string());
                    text += &format!("{},{},{},{},{label}\n", csv_field(&p.id), p.proba(), p.logits[0], p.logits[1]);
                }
            }
            PredictionFormat::Submission => {
                text += "id,proba,label\n";
                for p in predictions {
                    text += &format!("{},{},{}\n", csv_field(&p.id), p.proba(), p.predicted_label());
                }
            }
        }
        text
    }

    /// Writes every prediction: to standard output, or atomically to the file.
    pub fn write(&self, predictions: &[Prediction]) -> Result<()> {
        let text = self.render(predictions);
        match &self.path {
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).context("writing predictions to standard output")
            }
            Some(path) => crate::util::write_atomically(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display())),
        }
    }

    /// For messages: the file, or "standard output".
    pub fn describe(&self) -> String {
        self.path.as_ref().map_or("standard output".to_string(), |p| p.display().to_string())
    }
}

fn format_name(format: PredictionFormat) -> &'static str {
    match format {
        PredictionFormat::Jsonl => "jsonl",
        PredictionFormat::Csv => "csv",
        PredictionFormat::Submission => "submission",
    }
}

/// An id as a CSV field: numbers as they are, strings quoted only when they must be.
fn csv_field(id: &Value) -> String {
    match id {
        Value::String(text) if text.contains([',', '"', '\n', '\r']) => format!("\"{}\"", text.replace('"', "\"\"")),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format_and_must_agree_with_an_explicit_one() {
        let resolve = |path: &str, format| PredictionOutput::resolve(Path::new(path), format).map(|o| o.format);
        assert_eq!(resolve("p.jsonl", None).unwrap(), PredictionFormat::Jsonl);
        assert_eq!(resolve("p.CSV", None).unwrap(), PredictionFormat::Csv);
        assert_eq!(resolve("p.csv", Some(PredictionFormat::Submission)).unwrap(), PredictionFormat::Submission);
        assert_eq!(resolve("-", None).unwrap(), PredictionFormat::Jsonl);
        assert!(resolve("p.jsonl", Some(PredictionFormat::Submission)).unwrap_err().to_string().contains("make them agree"));
        assert!(resolve("p.txt", None).unwrap_err().to_string().contains(".jsonl or .csv"));
    }

    #[test]
    fn rows_keep_their_ids_and_name_the_true_label_apart() {
        let predictions = [
            Prediction { id: json!(42953), logits: [0.0, 2.0], true_label: Some(0) },
            Prediction { id: json!("00901"), logits: [1.0, -1.0], true_label: None },
            Prediction { id: json!("a,\"b\""), logits: [0.0, 0.0], true_label: Some(1) },
        ];
        let jsonl = PredictionOutput { path: None, format: PredictionFormat::Jsonl }.render(&predictions);
        let lines: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["id"], json!(42953));
        assert_eq!(lines[1]["id"], json!("00901"));
        assert_eq!(lines[1]["true_label"], Value::Null);
        assert!(lines[0].get("label").is_none());
        assert!((lines[0]["proba"].as_f64().unwrap() - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-12);
        let submission = PredictionOutput { path: None, format: PredictionFormat::Submission }.render(&predictions);
        assert_eq!(submission.lines().collect::<Vec<_>>()[0], "id,proba,label");
        assert!(submission.lines().nth(1).unwrap().starts_with("42953,") && submission.lines().nth(1).unwrap().ends_with(",1"));
        assert!(submission.lines().nth(2).unwrap().starts_with("00901,") && submission.lines().nth(2).unwrap().ends_with(",0"));
        assert!(submission.lines().nth(3).unwrap().starts_with("\"a,\"\"b\"\"\","));
    }
}
