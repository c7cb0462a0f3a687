//! Area under the ROC curve, as sklearn's `roc_auc_score` for binary labels.
//!
//! sklearn sorts the scores in decreasing order, puts one ROC point after each group of equal
//! scores, and integrates with the trapezoid rule. A group holding both classes gives a diagonal
//! segment, which is why a tie between a positive and a negative counts one half: the area equals
//! the Mann–Whitney U statistic divided by `positives * negatives`. We walk the same curve in whole
//! counts, so the area is exact until the single final division.
use std::fmt;

use super::{validate_labels, validate_scores, MetricsError};

/// Why the AUROC could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AurocUndefined {
    /// Only one class among the labels: the ROC curve has no area. sklearn 1.9 warns and returns
    /// NaN (older versions raise); the message below is sklearn's.
    #[error("Only one class is present in y_true. ROC AUC score is not defined in that case.")]
    SingleClass,
    #[error("{0}")]
    InvalidInput(#[from] MetricsError),
}

/// AUROC of `scores` (higher = more likely hateful) against `labels` (0/1).
pub fn roc_auc(labels: &[u8], scores: &[f32]) -> Result<f64, AurocUndefined> {
    validate_labels("labels", labels, None)?;
    validate_scores(scores, labels.len())?;

    let positives = labels.iter().filter(|&&l| l == 1).count() as u128;
    let negatives = labels.len() as u128 - positives;
    if positives == 0 || negatives == 0 {
        return Err(AurocUndefined::SingleClass);
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));

    // Twice the area in count units: each step right by `fp_step` under a segment from
    // `tp_before` to `tp_after` adds a trapezoid of fp_step * (tp_before + tp_after) / 2.
    let mut twice_area: u128 = 0;
    let (mut true_positives, mut false_positives) = (0u128, 0u128);
    let mut group_start = 0;
    while group_start < order.len() {
        let group_score = scores[order[group_start]];
        let group_end = order[group_start..]
            .iter()
            .position(|&i| scores[i] != group_score)
            .map_or(order.len(), |offset| group_start + offset);
        let group_positives = order[group_start..group_end].iter().filter(|&&i| labels[i] == 1).count() as u128;
        let group_negatives = (group_end - group_start) as u128 - group_positives;
        twice_area += group_negatives * (2 * true_positives + group_positives);
        true_positives += group_positives;
        false_positives += group_negatives;
        group_start = group_end;
    }
    debug_assert_eq!((true_positives, false_positives), (positives, negatives));
    Ok(twice_area as f64 / (2 * positives * negatives) as f64)
}

/// Formats an optional AUROC with `digits` decimals, or "undefined".
pub(crate) struct DisplayAuroc(pub Option<f64>, pub usize);

impl fmt::Display for DisplayAuroc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{:.*}", self.1, value),
            None => f.write_str("undefined"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mann–Whitney by brute force: fraction of (positive, negative) pairs ranked correctly,
    /// ties counting one half.
    fn pairwise_auc(labels: &[u8], scores: &[f32]) -> f64 {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate() {
                if li == 1 && lj == 0 {
                    pairs += 1.0;
                    wins += if scores[i] > scores[j] { 1.0 } else if scores[i] == scores[j] { 0.5 } else { 0.0 };
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn perfect_inverted_and_hand_computed_rankings() {
        assert_eq!(roc_auc(&[0, 0, 1, 1], &[0.1, 0.2, 0.8, 0.9]), Ok(1.0));
        assert_eq!(roc_auc(&[1, 1, 0, 0], &[0.1, 0.2, 0.8, 0.9]), Ok(0.0));
        // sklearn's docstring-style example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        assert_eq!(roc_auc(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]), Ok(0.75));
    }

    #[test]
    fn ties_count_one_half() {
        // Every score equal: the ROC curve is the diagonal.
        assert_eq!(roc_auc(&[0, 1, 0, 1, 1], &[0.5; 5]), Ok(0.5));
        // Pairs (pos, neg): (0.7, 0.3) win, (0.7, 0.7) tie, (0.3, 0.3) tie, (0.3, 0.7) loss
        // → (1 + 0.5 + 0.5 + 0) / 4 = 0.5; change one score to break a tie the other way.
        assert_eq!(roc_auc(&[1, 0, 1, 0], &[0.7, 0.3, 0.3, 0.7]), Ok(0.5));
        assert_eq!(roc_auc(&[1, 0, 1, 0], &[0.7, 0.3, 0.3, 0.6]), Ok(0.625));
    }

    #[test]
    fn agrees_with_pairwise_counting_on_random_tied_scores() {
        let mut rng = crate::util::Rng::new(42);
        for _ in 0..20 {
            let n = 2 + rng.below(60);
            let labels: Vec<u8> = (0..n).map(|_| rng.below(2) as u8).collect();
            // Few distinct values, so that ties across classes are common.
            let scores: Vec<f32> = (0..n).map(|_| rng.below(5) as f32 / 4.0).collect();
            match roc_auc(&labels, &scores) {
                Ok(auc) => assert!((auc - pairwise_auc(&labels, &scores)).abs() < 1e-12),
                Err(AurocUndefined::SingleClass) => assert!(labels.iter().all(|&l| l == labels[0])),
                Err(other) => panic!("{other}"),
            }
        }
    }

    #[test]
    fn undefined_for_a_single_class_and_invalid_for_bad_scores() {
        assert_eq!(roc_auc(&[0, 0, 0], &[0.1, 0.5, 0.9]), Err(AurocUndefined::SingleClass));
        assert_eq!(
            roc_auc(&[0, 1], &[0.1, f32::NAN]).unwrap_err().to_string(),
            "score[1] = NaN is not finite"
        );
    }
}
