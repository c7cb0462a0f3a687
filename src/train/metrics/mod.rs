//! Evaluation metrics for the binary Hateful Memes task (label 1 = hateful, 0 = not hateful),
//! reproducing scikit-learn's numbers and text so results can be compared with the seed work.
//!
//! - [`ConfusionMatrix`]: 2×2 counts, rows = true class, columns = predicted class (sklearn's
//!   `confusion_matrix(y_true, y_pred, labels=[0, 1])`).
//! - [`roc_auc`]: area under the ROC curve, equal to sklearn's `roc_auc_score` (ties in the scores
//!   count one half); `Err(AurocUndefined)` when it is undefined.
//! - [`ClassificationReport`]: sklearn's `classification_report(y_true, y_pred, labels=[0, 1],
//!   target_names=..., digits=2)`, as text ([`ClassificationReport::to_text`]) and as the dict that
//!   `output_dict=True` returns (its `Serialize` impl).
//! - [`Evaluation`]: all of the above for one model on one split, plus sklearn's warnings, from
//!   labels and scores `P(hateful)` ([`Evaluation::from_scores`]) or explicit predictions
//!   ([`Evaluation::from_predictions`]). Serializes to JSON.
//!
//! Inputs are validated once, in [`validate_labels`]; labels must be 0 or 1 and scores finite.

mod auroc;
mod classification_report;
mod confusion;
mod evaluation;

pub use auroc::{roc_auc, AurocUndefined};
pub use classification_report::{ClassMetrics, ClassificationReport, TargetNames};
pub use confusion::ConfusionMatrix;
pub use evaluation::Evaluation;

/// Scores at or above this are predicted hateful.
pub const DECISION_THRESHOLD: f32 = 0.5;

/// Invalid inputs to the metric functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    #[error("no samples to evaluate")]
    Empty,
    #[error("{what} has {found} entries but there are {expected} labels")]
    LengthMismatch { what: &'static str, expected: usize, found: usize },
    #[error("{what}[{index}] = {value} is not a class (expected 0 or 1)")]
    NotAClass { what: &'static str, index: usize, value: u8 },
    #[error("score[{index}] = {value} is not finite")]
    NonFiniteScore { index: usize, value: f32 },
}

/// Predictions `score >= DECISION_THRESHOLD` as 0/1.
pub fn predictions_from_scores(scores: &[f32]) -> Vec<u8> {
    scores.iter().map(|&score| u8::from(score >= DECISION_THRESHOLD)).collect()
}

/// Checks that `values` are all 0 or 1 (and as many as `expected_len`, when given).
pub fn validate_labels(what: &'static str, values: &[u8], expected_len: Option<usize>) -> Result<(), MetricsError> {
    if let Some(expected) = expected_len {
        if values.len() != expected {
            return Err(MetricsError::LengthMismatch { what, expected, found: values.len() });
        }
    }
    if values.is_empty() {
        return Err(MetricsError::Empty);
    }
    match values.iter().position(|&v| v > 1) {
        Some(index) => Err(MetricsError::NotAClass { what, index, value: values[index] }),
        None => Ok(()),
    }
}

/// Checks that there is one finite score per label.
pub fn validate_scores(scores: &[f32], label_count: usize) -> Result<(), MetricsError> {
    if scores.len() != label_count {
        return Err(MetricsError::LengthMismatch { what: "scores", expected: label_count, found: scores.len() });
    }
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(MetricsError::NonFiniteScore { index, value: scores[index] }),
        None => Ok(()),
    }
}
