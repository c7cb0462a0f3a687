//! history.jsonl: appending, reading back, and surviving a crash mid-write.
use std::fs::{self, OpenOptions};
use std::io::Write;

use memefuse::train::history::{EpochRecord, History, HistoryWriter, HISTORY_FILE_NAME};

fn record(epoch: usize) -> EpochRecord {
    EpochRecord {
        epoch,
        train_loss: 1.0 / epoch as f64,
        train_accuracy: 0.5 + 0.05 * epoch as f64,
        val_loss: 1.2 / epoch as f64,
        val_accuracy: 0.5 + 0.04 * epoch as f64,
        val_auroc: if epoch == 1 { f64::NAN } else { 0.6 + 0.01 * epoch as f64 },
        samples_per_second: 1000.0 + epoch as f64,
        seconds: 12.5,
        learning_rate: 1e-3,
    }
}

/// Compares records field by field, NaN matching NaN. Floats may differ in the last bit:
/// serde_json parses floats correctly rounded only with its `float_roundtrip` feature.
fn assert_same(read: &[EpochRecord], written: &[EpochRecord]) {
    assert_eq!(read.len(), written.len());
    let close = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-15 * b.abs();
    for (r, w) in read.iter().zip(written) {
        let fields = |e: &EpochRecord| {
            [e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.val_auroc, e.samples_per_second, e.seconds, e.learning_rate]
        };
        assert_eq!(r.epoch, w.epoch);
        assert!(fields(r).iter().zip(fields(w)).all(|(&a, b)| close(a, b)), "read {r:?}\nwrote {w:?}");
    }
}

#[test]
fn appended_records_read_back_with_nan_as_null() {
    let run_dir = tempfile::tempdir().unwrap();
    let run_dir = run_dir.path().join("run-1"); // does not exist yet
    let mut writer = HistoryWriter::open_in(&run_dir).unwrap();
    let written: Vec<EpochRecord> = (1..=3).map(record).collect();
    for r in &written {
        writer.append(r).unwrap();
    }
    let text = fs::read_to_string(run_dir.join(HISTORY_FILE_NAME)).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().next().unwrap().contains("\"val_auroc\":null"));

    let history = History::load(&run_dir).unwrap();
    assert_same(&history.records, &written);
    assert!(history.records[0].val_auroc.is_nan());
    assert_eq!(history.truncated_tail, None);
    assert_eq!(history.series(|r| r.val_auroc).len(), 2, "NaN points are left out of plot series");
    assert!((history.mean_samples_per_second() - 1002.0).abs() < 1e-9);
}

#[test]
fn a_line_cut_short_by_a_crash_is_reported_then_repaired_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(HISTORY_FILE_NAME);
    let mut writer = HistoryWriter::open(&path).unwrap();
    writer.append(&record(1)).unwrap();
    writer.append(&record(2)).unwrap();
    drop(writer);
    // Simulate a crash halfway through writing epoch 3.
    let full_line = serde_json::to_string(&record(3)).unwrap();
    OpenOptions::new().append(true).open(&path).unwrap().write_all(&full_line.as_bytes()[..full_line.len() / 2]).unwrap();

    let history = History::load(&path).unwrap();
    assert_eq!(history.len(), 2);
    let tail = history.truncated_tail.expect("the partial line is reported");
    assert_eq!(tail.line_number, 3);
    assert!(full_line.starts_with(&tail.text));

    // Resuming cuts the fragment off, so epoch 3 is written on a clean line.
    let mut writer = HistoryWriter::open(&path).unwrap();
    assert_eq!(writer.dropped_tail().map(|t| t.line_number), Some(3));
    writer.append(&record(3)).unwrap();
    let history = History::load(&path).unwrap();
    assert_same(&history.records, &(1..=3).map(record).collect::<Vec<_>>());
    assert_eq!(history.truncated_tail, None);
}

#[test]
fn a_complete_last_line_without_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(HISTORY_FILE_NAME);
    fs::write(&path, serde_json::to_string(&record(1)).unwrap()).unwrap();
    assert_eq!(History::load(&path).unwrap().len(), 1);
    let mut writer = HistoryWriter::open(&path).unwrap();
    assert!(writer.dropped_tail().is_none());
    writer.append(&record(2)).unwrap();
    assert_eq!(History::load(&path).unwrap().len(), 2);
}

#[test]
fn a_malformed_line_before_the_end_is_an_error() {
    let good = serde_json::to_string(&record(1)).unwrap();
    let text = format!("{good}\n{{\"epoch\": 2, \"train_loss\n{good}\n");
    let error = History::parse(&text).unwrap_err();
    assert!(format!("{error:#}").contains("line 2"), "{error:#}");
}
