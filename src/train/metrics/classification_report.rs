//! sklearn's `classification_report` for the two classes, numbers and layout alike.
//!
//! Equivalent call: `classification_report(y_true, y_pred, labels=[0, 1], target_names=names,
//! digits=digits)`. Passing `labels=[0, 1]` means both classes always get a row, even when one
//! never occurs, and the micro average is always printed as the "accuracy" line.
//! Undefined ratios are set to 0.0 with sklearn's warning (its default `zero_division="warn"`).
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::ConfusionMatrix;

/// Display names of class 0 and class 1, in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetNames(pub [String; 2]);

impl TargetNames {
    /// Panics if the names are equal or clash with the summary rows, because the report's dict
    /// form is keyed by these names.
    pub fn new(not_hateful: impl Into<String>, hateful: impl Into<String>) -> Self {
        let names = [not_hateful.into(), hateful.into()];
        assert_ne!(names[0], names[1], "target names must differ");
        for name in &names {
            assert!(
                !["accuracy", "macro avg", "weighted avg"].contains(&name.as_str()),
                "target name {name:?} clashes with a summary row of the report"
            );
        }
        Self(names)
    }

    /// "not hateful" and "hateful".
    pub fn hateful_memes() -> Self {
        Self::new("not hateful", "hateful")
    }
}

impl Default for TargetNames {
    /// sklearn's default: the labels themselves, "0" and "1".
    fn default() -> Self {
        Self::new("0", "1")
    }
}

/// One row of the report. Serializes with sklearn's keys ("f1-score").
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    #[serde(rename = "f1-score")]
    pub f1_score: f64,
    pub support: u64,
}

/// The per-class rows, the accuracy and the two averages, with any warnings sklearn would raise.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    pub target_names: TargetNames,
    pub classes: [ClassMetrics; 2],
    pub accuracy: f64,
    pub macro_avg: ClassMetrics,
    pub weighted_avg: ClassMetrics,
    /// Decimals in the text form (sklearn's `digits`, default 2).
    pub digits: usize,
    /// sklearn's `UndefinedMetricWarning` messages, naming the classes concerned.
    pub warnings: Vec<String>,
}

/// `numerator / denominator`, or 0.0 with a note of which class was undefined.
fn divide_or_zero(numerator: f64, denominator: u64, class: usize, undefined_classes: &mut Vec<usize>) -> f64 {
    if denominator == 0 {
        undefined_classes.push(class);
        0.0
    } else {
        numerator / denominator as f64
    }
}

impl ClassificationReport {
    pub fn from_confusion(matrix: &ConfusionMatrix, target_names: TargetNames) -> Self {
        let (mut no_predicted, mut no_true, mut neither) = (vec![], vec![], vec![]);
        let classes = [0, 1].map(|class| {
            let true_positives = matrix.counts[class][class] as f64;
            let support = matrix.support(class);
            let predicted = matrix.predicted(class);
            ClassMetrics {
                precision: divide_or_zero(true_positives, predicted, class, &mut no_predicted),
                recall: divide_or_zero(true_positives, support, class, &mut no_true),
                // sklearn computes F1 from counts, 2·tp / (support + predicted), not from P and R.
                f1_score: divide_or_zero(2.0 * true_positives, support + predicted, class, &mut neither),
                support,
            }
        });

        let total = matrix.total();
        let average = |weights: [f64; 2]| {
            let weight_sum = weights[0] + weights[1];
            let mean = |value: fn(&ClassMetrics) -> f64| {
                (value(&classes[0]) * weights[0] + value(&classes[1]) * weights[1]) / weight_sum
            };
            ClassMetrics { precision: mean(|m| m.precision), recall: mean(|m| m.recall), f1_score: mean(|m| m.f1_score), support: total }
        };
        let macro_avg = average([1.0, 1.0]);
        let weighted_avg = average(classes.map(|m| m.support as f64));

        let class_list = |classes: &[usize]| classes.iter().map(|&c| format!("{:?}", target_names.0[c])).collect::<Vec<_>>().join(", ");
        let mut warnings = Vec::new();
        for (undefined, message) in [
            (&no_predicted, "Precision is ill-defined and being set to 0.0 in labels with no predicted samples."),
            (&no_true, "Recall is ill-defined and being set to 0.0 in labels with no true samples."),
            (&neither, "F-score is ill-defined and being set to 0.0 in labels with no true nor predicted samples."),
        ] {
            if !undefined.is_empty() {
                warnings.push(format!("{message} (labels: {})", class_list(undefined)));
            }
        }

        Self { target_names, classes, accuracy: matrix.accuracy(), macro_avg, weighted_avg, digits: 2, warnings }
    }

    pub fn with_digits(mut self, digits: usize) -> Self {
        self.digits = digits;
        self
    }

    /// Mean of the per-class F1 scores.
    pub fn macro_f1(&self) -> f64 {
        self.macro_avg.f1_score
    }

    /// The text sklearn prints, byte for byte (ends with a newline).
    pub fn to_text(&self) -> String {
        const HEADERS: [&str; 4] = ["precision", "recall", "f1-score", "support"];
        const LONGEST_LAST_LINE_HEADING: &str = "weighted avg";
        let name_width = self.target_names.0.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let width = name_width.max(LONGEST_LAST_LINE_HEADING.len()).max(self.digits);
        let digits = self.digits;

        let row = |heading: &str, m: &ClassMetrics| {
            format!(
                "{heading:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}\n",
                m.precision, m.recall, m.f1_score, m.support
            )
        };

        let mut text = format!("{:>width$} ", "");
        for header in HEADERS {
            text += &format!(" {header:>9}");
        }
        text += "\n\n";
        for (name, metrics) in self.target_names.0.iter().zip(&self.classes) {
            text += &row(name, metrics);
        }
        text += "\n";
        // The accuracy line leaves the precision and recall columns blank.
        text += &format!("{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}\n", "accuracy", "", "", self.accuracy, self.macro_avg.support);
        text += &row("macro avg", &self.macro_avg);
        text += &row("weighted avg", &self.weighted_avg);
        text
    }
}

impl std::fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// The dict of `classification_report(..., output_dict=True)`:
/// `{"<name 0>": {...}, "<name 1>": {...}, "accuracy": x, "macro avg": {...}, "weighted avg": {...}}`.
impl Serialize for ClassificationReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        for (name, metrics) in self.target_names.0.iter().zip(&self.classes) {
            map.serialize_entry(name, metrics)?;
        }
        map.serialize_entry("accuracy", &self.accuracy)?;
        map.serialize_entry("macro avg", &self.macro_avg)?;
        map.serialize_entry("weighted avg", &self.weighted_avg)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(labels: &[u8], predictions: &[u8], names: TargetNames) -> ClassificationReport {
        ClassificationReport::from_confusion(&ConfusionMatrix::from_predictions(labels, predictions).unwrap(), names)
    }

    #[test]
    fn hand_computed_rows_and_averages() {
        // Confusion [[3, 1], [2, 4]]: class 0 P = 3/5, R = 3/4, F1 = 6/9; class 1 P = 4/5, R = 4/6, F1 = 8/11.
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
        let predictions = [0, 0, 0, 1, 0, 0, 1, 1, 1, 1];
        let r = report(&labels, &predictions, TargetNames::default());
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close(r.classes[0].precision, 0.6) && close(r.classes[0].recall, 0.75) && close(r.classes[0].f1_score, 6.0 / 9.0));
        assert!(close(r.classes[1].precision, 0.8) && close(r.classes[1].recall, 4.0 / 6.0) && close(r.classes[1].f1_score, 8.0 / 11.0));
        assert_eq!((r.classes[0].support, r.classes[1].support, r.macro_avg.support), (4, 6, 10));
        assert!(close(r.accuracy, 0.7));
        assert!(close(r.macro_avg.precision, 0.7) && close(r.macro_avg.f1_score, (6.0 / 9.0 + 8.0 / 11.0) / 2.0));
        assert!(close(r.weighted_avg.recall, 0.7), "weighted recall equals accuracy");
        assert!(close(r.weighted_avg.precision, (0.6 * 4.0 + 0.8 * 6.0) / 10.0));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn dict_form_uses_sklearn_keys() {
        let r = report(&[0, 1, 1, 0], &[0, 1, 0, 0], TargetNames::hateful_memes());
        // Checked against `json.dumps(classification_report([0, 1, 1, 0], [0, 1, 0, 0], labels=[0, 1],
        // target_names=["not hateful", "hateful"], output_dict=True), separators=(",", ":"))` from
        // scikit-learn 1.9.1, except that sklearn writes supports as floats (2.0) and we as integers.
        let expected = concat!(
            r#"{"not hateful":{"precision":0.6666666666666666,"recall":1.0,"f1-score":0.8,"support":2},"#,
            r#""hateful":{"precision":1.0,"recall":0.5,"f1-score":0.6666666666666666,"support":2},"#,
            r#""accuracy":0.75,"#,
            r#""macro avg":{"precision":0.8333333333333333,"recall":0.75,"f1-score":0.7333333333333334,"support":4},"#,
            r#""weighted avg":{"precision":0.8333333333333333,"recall":0.75,"f1-score":0.7333333333333334,"support":4}}"#
        );
        assert_eq!(serde_json::to_string(&r).unwrap(), expected);
    }

    #[test]
    #[should_panic(expected = "target names must differ")]
    fn equal_target_names_are_refused() {
        TargetNames::new("same", "same");
    }
}
