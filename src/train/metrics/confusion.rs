//! The 2×2 confusion matrix, laid out as sklearn's `confusion_matrix(labels=[0, 1])`.
use serde::{Deserialize, Serialize};

use super::{validate_labels, MetricsError};

/// `counts[true_class][predicted_class]`: `[[tn, fp], [fn, tp]]` with class 1 = hateful.
/// Serializes as the nested array, like `confusion_matrix(...).tolist()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConfusionMatrix {
    pub counts: [[u64; 2]; 2],
}

impl ConfusionMatrix {
    pub fn from_predictions(labels: &[u8], predictions: &[u8]) -> Result<Self, MetricsError> {
        validate_labels("labels", labels, None)?;
        validate_labels("predictions", predictions, Some(labels.len()))?;
        let mut counts = [[0u64; 2]; 2];
        for (&truth, &predicted) in labels.iter().zip(predictions) {
            counts[truth as usize][predicted as usize] += 1;
        }
        Ok(Self { counts })
    }

    pub fn true_negatives(&self) -> u64 {
        self.counts[0][0]
    }
    pub fn false_positives(&self) -> u64 {
        self.counts[0][1]
    }
    pub fn false_negatives(&self) -> u64 {
        self.counts[1][0]
    }
    pub fn true_positives(&self) -> u64 {
        self.counts[1][1]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Samples whose true class is `class` (sklearn's "support").
    pub fn support(&self, class: usize) -> u64 {
        self.counts[class].iter().sum()
    }

    /// Samples predicted as `class`.
    pub fn predicted(&self, class: usize) -> u64 {
        self.counts[0][class] + self.counts[1][class]
    }

    /// Fraction of samples on the diagonal; NaN for an empty matrix.
    pub fn accuracy(&self) -> f64 {
        (self.counts[0][0] + self.counts[1][1]) as f64 / self.total() as f64
    }

    /// A small text table with the class names, for reports:
    /// ```text
    ///              predicted not hateful  predicted hateful
    /// not hateful                     40                  2
    /// hateful                         10                 12
    /// ```
    pub fn to_text(&self, class_names: [&str; 2]) -> String {
        let headers = class_names.map(|name| format!("predicted {name}"));
        let row_width = class_names.iter().map(|n| n.len()).max().unwrap_or(0);
        let column_widths = [0, 1].map(|c| {
            let widest_count = self.counts.iter().map(|row| row[c].to_string().len()).max().unwrap_or(1);
            headers[c].len().max(widest_count)
        });
        let mut text = format!("{:row_width$}  {:>w0$}  {:>w1$}\n", "", headers[0], headers[1], w0 = column_widths[0], w1 = column_widths[1]);
        for (name, row) in class_names.iter().zip(&self.counts) {
            text += &format!("{:<row_width$}  {:>w0$}  {:>w1$}\n", name, row[0], row[1], w0 = column_widths[0], w1 = column_widths[1]);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_true_by_predicted_cells() {
        let labels = [0, 0, 0, 1, 1, 1, 1];
        let predictions = [0, 1, 1, 0, 1, 1, 1];
        let matrix = ConfusionMatrix::from_predictions(&labels, &predictions).unwrap();
        assert_eq!(matrix.counts, [[1, 2], [1, 3]]);
        assert_eq!((matrix.true_negatives(), matrix.false_positives(), matrix.false_negatives(), matrix.true_positives()), (1, 2, 1, 3));
        assert_eq!((matrix.support(0), matrix.support(1), matrix.predicted(0), matrix.predicted(1)), (3, 4, 2, 5));
        assert!((matrix.accuracy() - 4.0 / 7.0).abs() < 1e-15);
        assert_eq!(serde_json::to_string(&matrix).unwrap(), "[[1,2],[1,3]]");
    }

    #[test]
    fn text_table_aligns_counts_under_headers() {
        let matrix = ConfusionMatrix { counts: [[40, 2], [10, 12]] };
        let expected = "             predicted not hateful  predicted hateful\n\
                        not hateful                     40                  2\n\
                        hateful                         10                 12\n";
        assert_eq!(matrix.to_text(["not hateful", "hateful"]), expected);
    }

    #[test]
    fn rejects_mismatched_or_non_binary_input() {
        assert_eq!(
            ConfusionMatrix::from_predictions(&[0, 1], &[0]),
            Err(MetricsError::LengthMismatch { what: "predictions", expected: 2, found: 1 })
        );
        assert_eq!(
            ConfusionMatrix::from_predictions(&[0, 2], &[0, 1]),
            Err(MetricsError::NotAClass { what: "labels", index: 1, value: 2 })
        );
        assert_eq!(ConfusionMatrix::from_predictions(&[], &[]), Err(MetricsError::Empty));
    }
}
