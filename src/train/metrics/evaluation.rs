//! Everything we report about one model on one split, computed in one place.
use serde::Serialize;

use super::auroc::DisplayAuroc;
use super::{predictions_from_scores, roc_auc, validate_scores, AurocUndefined, ClassificationReport, ConfusionMatrix, MetricsError, TargetNames};

/// Confusion matrix, classification report, AUROC and warnings for one set of predictions.
///
/// JSON form (`serde_json::to_string(&evaluation)`):
/// `{"classification_report": {sklearn's output_dict}, "confusion_matrix": [[tn, fp], [fn, tp]],
///   "auroc": 0.71 | null, "warnings": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub classification_report: ClassificationReport,
    pub confusion_matrix: ConfusionMatrix,
    /// `None` when undefined (one class only) or when no scores were given.
    pub auroc: Option<f64>,
    /// sklearn's warnings for this evaluation (ill-defined precision/recall/F1, undefined AUROC).
    pub warnings: Vec<String>,
}

impl Evaluation {
    /// Predictions are `score >= 0.5`; AUROC is computed from the scores.
    pub fn from_scores(labels: &[u8], scores: &[f32], target_names: TargetNames) -> Result<Self, MetricsError> {
        validate_scores(scores, labels.len())?;
        Self::from_predictions(labels, &predictions_from_scores(scores), Some(scores), target_names)
    }

    /// Explicit predictions; AUROC only if `scores` are given.
    pub fn from_predictions(labels: &[u8], predictions: &[u8], scores: Option<&[f32]>, target_names: TargetNames) -> Result<Self, MetricsError> {
        let confusion_matrix = ConfusionMatrix::from_predictions(labels, predictions)?;
        let classification_report = ClassificationReport::from_confusion(&confusion_matrix, target_names);
        let mut warnings = classification_report.warnings.clone();
        let auroc = match scores.map(|scores| roc_auc(labels, scores)) {
            None => None,
            Some(Ok(auroc)) => Some(auroc),
            Some(Err(AurocUndefined::SingleClass)) => {
                warnings.push(AurocUndefined::SingleClass.to_string());
                None
            }
            Some(Err(AurocUndefined::InvalidInput(error))) => return Err(error),
        };
        Ok(Self { classification_report, confusion_matrix, auroc, warnings })
    }

    pub fn accuracy(&self) -> f64 {
        self.classification_report.accuracy
    }

    pub fn macro_f1(&self) -> f64 {
        self.classification_report.macro_f1()
    }

    /// The classification report, an AUROC line and the warnings, as printed after evaluation.
    pub fn to_text(&self) -> String {
        let mut text = self.classification_report.to_text();
        text += &format!("\nAUROC: {}\n", DisplayAuroc(self.auroc, 4));
        for warning in &self.warnings {
            text += &format!("warning: {warning}\n");
        }
        text
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("an evaluation always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_become_predictions_at_one_half() {
        let evaluation = Evaluation::from_scores(&[0, 0, 1, 1], &[0.2, 0.5, 0.49, 0.9], TargetNames::default()).unwrap();
        assert_eq!(evaluation.confusion_matrix.counts, [[1, 1], [1, 1]]);
        assert_eq!(evaluation.auroc, Some(0.75));
        assert!(evaluation.warnings.is_empty());
        let json: serde_json::Value = serde_json::from_str(&evaluation.to_json_pretty()).unwrap();
        assert_eq!(json["confusion_matrix"], serde_json::json!([[1, 1], [1, 1]]));
        assert_eq!(json["auroc"], serde_json::json!(0.75));
        assert_eq!(json["classification_report"]["accuracy"], serde_json::json!(0.5));
    }

    #[test]
    fn single_class_gives_no_auroc_and_a_warning() {
        let evaluation = Evaluation::from_scores(&[1, 1, 1], &[0.9, 0.8, 0.3], TargetNames::hateful_memes()).unwrap();
        assert_eq!(evaluation.auroc, None);
        assert!(evaluation.warnings.iter().any(|w| w.starts_with("Only one class is present in y_true")));
        // Class 0 is absent from the labels but predicted once: its recall is ill-defined.
        assert!(evaluation.warnings.iter().any(|w| w.starts_with("Recall is ill-defined") && w.contains("\"not hateful\"")));
        assert!(evaluation.to_text().contains("AUROC: undefined\n"));
        assert_eq!(serde_json::to_value(&evaluation).unwrap()["auroc"], serde_json::Value::Null);
    }

    #[test]
    fn invalid_scores_are_errors_not_warnings() {
        assert!(matches!(
            Evaluation::from_scores(&[0, 1], &[0.1, f32::INFINITY], TargetNames::default()),
            Err(MetricsError::NonFiniteScore { index: 1, .. })
        ));
    }
}
