//! The metrics against scikit-learn's own output. The expected strings and numbers below were
//! produced by scikit-learn 1.9.1 (`classification_report(labels, predictions, labels=[0, 1],
//! target_names=names, digits=digits)`, `roc_auc_score(labels, scores)`,
//! `confusion_matrix(labels, predictions, labels=[0, 1])`, predictions = scores >= 0.5) and pasted
//! here verbatim.
use memefuse::train::metrics::{ClassificationReport, Evaluation, TargetNames};

struct SklearnCase {
    labels: &'static [u8],
    scores: &'static [f32],
    names: Option<[&'static str; 2]>,
    digits: usize,
    text: &'static str,
    auroc: Option<f64>,
    confusion_matrix: [[u64; 2]; 2],
}

fn check(case: &SklearnCase) {
    let names = case.names.map_or_else(TargetNames::default, |[a, b]| TargetNames::new(a, b));
    let evaluation = Evaluation::from_scores(case.labels, case.scores, names).unwrap();
    assert_eq!(evaluation.confusion_matrix.counts, case.confusion_matrix);
    let report: ClassificationReport = evaluation.classification_report.clone().with_digits(case.digits);
    assert_eq!(report.to_text(), case.text, "\nours:\n{}\nsklearn:\n{}", report.to_text(), case.text);
    match (evaluation.auroc, case.auroc) {
        (Some(ours), Some(theirs)) => assert!((ours - theirs).abs() < 1e-12, "AUROC {ours} vs sklearn {theirs}"),
        (ours, theirs) => assert_eq!(ours, theirs),
    }
}

#[test]
fn random_with_ties() {
    check(&SklearnCase {
        labels: &[1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1],
        scores: &[0.95, 0.45, 0.75, 0.25, 0.35, 0.45, 0.75, 0.25, 0.25, 0.15, 0.15, 0.95, 0.55, 0.05, 0.45, 0.25, 0.85, 0.35, 0.25, 0.55, 0.35, 0.65, 0.45, 0.05, 0.05, 0.45, 0.75, 0.55, 0.25, 0.15, 0.75, 0.35, 0.05, 0.55, 0.45, 0.45, 0.45, 0.25, 0.25, 0.95],
        names: None,
        digits: 2,
        text: r#"              precision    recall  f1-score   support

           0       0.96      0.93      0.95        28
           1       0.85      0.92      0.88        12

    accuracy                           0.93        40
   macro avg       0.90      0.92      0.91        40
weighted avg       0.93      0.93      0.93        40
"#,
        auroc: Some(0.9776785714285714),
        confusion_matrix: [[26, 2], [1, 11]],
    });
}

#[test]
fn never_predicts_hateful() {
    check(&SklearnCase {
        labels: &[0, 1, 0, 1, 1, 0, 0, 1, 0, 0],
        scores: &[0.1, 0.4, 0.2, 0.45, 0.3, 0.3, 0.05, 0.49, 0.2, 0.1],
        names: Some(["not hateful", "hateful"]),
        digits: 2,
        text: r#"              precision    recall  f1-score   support

 not hateful       0.60      1.00      0.75         6
     hateful       0.00      0.00      0.00         4

    accuracy                           0.60        10
   macro avg       0.30      0.50      0.38        10
weighted avg       0.36      0.60      0.45        10
"#,
        auroc: Some(0.9791666666666666),
        confusion_matrix: [[6, 0], [4, 0]],
    });
}

#[test]
fn hateful_absent() {
    check(&SklearnCase {
        labels: &[0, 0, 0, 0, 0, 0, 0, 0],
        scores: &[0.1, 0.7, 0.2, 0.3, 0.6, 0.2, 0.1, 0.4],
        names: Some(["not hateful", "hateful"]),
        digits: 2,
        text: r#"              precision    recall  f1-score   support

 not hateful       1.00      0.75      0.86         8
     hateful       0.00      0.00      0.00         0

    accuracy                           0.75         8
   macro avg       0.50      0.38      0.43         8
weighted avg       1.00      0.75      0.86         8
"#,
        auroc: None,
        confusion_matrix: [[6, 2], [0, 0]],
    });
}

#[test]
fn eighths_long_name() {
    check(&SklearnCase {
        labels: &[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        scores: &[0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
        names: Some(["definitely not hateful", "hateful"]),
        digits: 2,
        text: r#"                        precision    recall  f1-score   support

definitely not hateful       0.53      1.00      0.70         8
               hateful       1.00      0.12      0.22         8

              accuracy                           0.56        16
             macro avg       0.77      0.56      0.46        16
          weighted avg       0.77      0.56      0.46        16
"#,
        auroc: Some(0.125),
        confusion_matrix: [[8, 0], [7, 1]],
    });
}

#[test]
fn eighths_three_digits() {
    check(&SklearnCase {
        labels: &[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        scores: &[0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
        names: None,
        digits: 3,
        text: r#"              precision    recall  f1-score   support

           0      0.533     1.000     0.696         8
           1      1.000     0.125     0.222         8

    accuracy                          0.562        16
   macro avg      0.767     0.562     0.459        16
weighted avg      0.767     0.562     0.459        16
"#,
        auroc: Some(0.125),
        confusion_matrix: [[8, 0], [7, 1]],
    });
}

/// sklearn's UndefinedMetricWarning texts for the edge cases above.
#[test]
fn edge_cases_carry_sklearns_warnings() {
    let names = TargetNames::hateful_memes;
    let never_predicted = Evaluation::from_scores(&[0, 1, 0, 1], &[0.1, 0.4, 0.2, 0.45], names()).unwrap();
    assert_eq!(
        never_predicted.warnings,
        ["Precision is ill-defined and being set to 0.0 in labels with no predicted samples. (labels: \"hateful\")"]
    );

    let absent = Evaluation::from_scores(&[0, 0, 0], &[0.1, 0.7, 0.2], names()).unwrap();
    assert_eq!(
        absent.warnings,
        [
            "Recall is ill-defined and being set to 0.0 in labels with no true samples. (labels: \"hateful\")",
            "Only one class is present in y_true. ROC AUC score is not defined in that case.",
        ]
    );

    // Hateful neither present nor predicted: all three of its ratios are undefined.
    let neither = Evaluation::from_scores(&[0, 0], &[0.1, 0.2], names()).unwrap();
    assert_eq!(neither.warnings.len(), 4);
    assert!(neither.warnings[2].starts_with("F-score is ill-defined and being set to 0.0 in labels with no true nor predicted samples."));
    assert_eq!(neither.classification_report.classes[1].f1_score, 0.0);
}
