//! report.md: the comparison table, per-model sections, and links that resolve inside the folder.
use std::fs;

use memefuse::train::history::{EpochRecord, History};
use memefuse::train::metrics::{Evaluation, TargetNames};
use memefuse::train::report::{write_markdown_report, ModelReport, REPORT_FILE_NAME};

fn history(epochs: usize, samples_per_second: f64) -> History {
    History::from_records(
        (1..=epochs)
            .map(|epoch| EpochRecord {
                epoch,
                train_loss: 0.7 / epoch as f64,
                train_accuracy: 0.6,
                val_loss: 0.8 / epoch as f64,
                val_accuracy: 0.55,
                val_auroc: 0.6,
                samples_per_second,
                seconds: 3.0,
                learning_rate: 1e-3,
            })
            .collect(),
    )
}

#[test]
fn report_compares_models_and_embeds_their_curves_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("report");

    // Confusion [[3, 1], [1, 3]]: accuracy 0.75, macro-F1 0.75; AUROC: 0.4 outranks 3 of the 4 negatives, the
    // other positives all 4, so 15/16 = 0.9375.
    let labels = [0, 0, 0, 0, 1, 1, 1, 1];
    let scores = [0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9];
    let text_model = ModelReport::new(
        "Text | BERT",
        history(3, 1500.0),
        Evaluation::from_scores(&labels, &scores, TargetNames::hateful_memes()).unwrap(),
    );
    // Never predicts hateful: precision warning; no history → no curves.
    let majority = ModelReport::new(
        "majority",
        History::default(),
        Evaluation::from_scores(&labels, &[0.1; 8], TargetNames::hateful_memes()).unwrap(),
    );

    let path = write_markdown_report(&dir, &[text_model.clone(), majority]).unwrap();
    assert_eq!(path, dir.join(REPORT_FILE_NAME));
    let md = fs::read_to_string(&path).unwrap();

    assert!(md.contains(
        "| model | accuracy | AUROC | macro-F1 | epochs | samples/s |\n\
         |---|---:|---:|---:|---:|---:|\n\
         | Text \\| BERT | 0.7500 | 0.9375 | 0.7500 | 3 | 1500.0 |\n\
         | majority | 0.5000 | 0.5000 | 0.3333 | 0 | n/a |\n"
    ), "{md}");

    // The classification report appears verbatim inside a code block.
    let report_text = text_model.evaluation.classification_report.to_text();
    assert!(md.contains(&format!("```text\n{report_text}```")), "{md}");
    assert!(md.contains("hateful                          1                  3\n"), "confusion matrix row missing:\n{md}");
    assert!(md.contains("- Precision is ill-defined"), "{md}");

    // Every link resolves to a file inside the folder, and both curves exist for the trained model.
    let links: Vec<&str> = md.split("](<").skip(1).map(|rest| &rest[..rest.find(">)").unwrap()]).collect();
    assert_eq!(links.iter().filter(|l| l.ends_with(".png")).count(), 2, "{links:?}");
    for link in &links {
        assert!(dir.join(link).is_file(), "broken link {link}");
    }
    assert!(links.contains(&"text-bert_loss.png") && links.contains(&"text-bert_accuracy.png"));

    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(dir.join("text-bert.evaluation.json")).unwrap()).unwrap();
    assert_eq!(json, serde_json::to_value(&text_model.evaluation).unwrap());
    assert_eq!(json["confusion_matrix"], serde_json::json!([[3, 1], [1, 3]]));
}
