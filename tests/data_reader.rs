//! The Hateful Memes reader: split names, every kind of bad record, every image type.
mod data_common;
use data_common::*;
use memefuse::data::dataset::{HatefulMemes, ReadOptions};
use memefuse::data::image_io::decode_rgb;
use memefuse::data::IssueKind;
use std::fs;

fn read(dir: &std::path::Path, split: &str, options: ReadOptions) -> (Vec<memefuse::data::Record>, memefuse::data::SplitReport) {
    HatefulMemes::open(dir).unwrap().read_split(split, &options).unwrap()
}

#[test]
fn bad_records_are_skipped_and_reported_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let options = ReadOptions { decode_images: true, ..ReadOptions::default() };
    let (records, report) = read(dir.path(), "train", options);

    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, GOOD_TRAIN_IDS);
    let issues: Vec<(usize, &str)> = report.issues.iter().map(|i| (i.line, i.kind.name())).collect();
    assert_eq!(issues, BAD_TRAIN_ISSUES);
    assert_eq!(report.lines, 14, "the blank line is not a record");
    assert_eq!(report.kept, 6);
    assert_eq!(report.skipped(), 8, "a truncated text is kept, every other issue skips");
    assert_eq!(report.count(IssueKind::MalformedJson), 2);
    assert_eq!(report.count(IssueKind::InvalidLabel), 2);
    let counts = report.counts();
    assert_eq!(counts["undecodable_image"], 1);
    assert_eq!(counts["text_truncated"], 1);
    assert_eq!(counts.len(), 7);

    // Every message names the file and line; the summary counts per reason.
    let text = report.to_string();
    let file = dir.path().join("train.jsonl").display().to_string();
    assert!(text.contains(&format!("{file}:3: malformed_json (skipped)")), "{text}");
    assert!(text.contains(&format!("{file}:4: missing_field (skipped): field \"text\" is missing")), "{text}");
    assert!(text.contains(&format!("{file}:6: missing_image (skipped)")) && text.contains("nope.png"), "{text}");
    assert!(text.contains(&format!("{file}:7: undecodable_image (skipped)")) && text.contains("truncated.png"), "{text}");
    assert!(text.contains(&format!("{file}:8: text_truncated (kept): text has {LONG_TEXT_CHARS} characters; cut to 2000")), "{text}");
    assert!(text.contains("kept 6 of 14 records") && text.contains("malformed_json 2"), "{text}");
}

#[test]
fn good_records_keep_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (records, _) = read(dir.path(), "train", ReadOptions::default());
    let first = &records[0];
    assert_eq!((first.id.as_str(), first.label, first.line), ("1", Some(0), 1));
    assert_eq!(first.image_path, dir.path().join("img/rgb.png"));
    assert_eq!(first.text, "Hello World! #greeting https://t.co/x", "the reader keeps raw text");
    let empty = &records[1];
    assert_eq!((empty.id.as_str(), empty.label, empty.text.as_str()), ("0002", Some(1), ""), "an empty text is a valid meme");
    let long = records.iter().find(|r| r.id == "8").unwrap();
    assert_eq!(long.text.chars().count(), 2000);
}

#[test]
fn without_decoding_a_truncated_image_is_only_checked_for_existence() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (records, report) = read(dir.path(), "train", ReadOptions::default());
    assert!(records.iter().any(|r| r.id == "7"));
    assert_eq!(report.count(IssueKind::UndecodableImage), 0);
    assert_eq!(report.count(IssueKind::MissingImage), 1);
}

#[test]
fn strict_mode_turns_the_first_issue_into_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let dataset = HatefulMemes::open(dir.path()).unwrap();
    let error = dataset.read_split("train", &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap_err().to_string();
    assert!(error.contains("train.jsonl:3: malformed_json"), "{error}");
    assert!(error.contains("--strict"), "{error}");

    // Each kind alone is an error in strict mode, including a truncated text and an undecodable image.
    let lines: Vec<String> = fs::read_to_string(dir.path().join("train.jsonl")).unwrap().lines().map(String::from).collect();
    for (line, reason) in BAD_TRAIN_ISSUES {
        fs::write(dir.path().join("train.jsonl"), format!("{}\n{}\n", lines[0], lines[line - 1])).unwrap();
        let options = ReadOptions { strict: true, decode_images: true, ..ReadOptions::default() };
        let outcome = dataset.read_split("train", &options);
        let error = outcome.err().unwrap_or_else(|| panic!("line {line} ({reason}) must fail in strict mode")).to_string();
        assert!(error.contains(&format!("train.jsonl:2: {reason}")), "{error}");
    }
}

#[test]
fn split_names_resolve_with_fallbacks_and_unknown_names_list_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let dataset = HatefulMemes::open(dir.path()).unwrap();
    assert_eq!(dataset.split_file("dev").unwrap(), dir.path().join("dev.jsonl"));
    assert_eq!(dataset.split_file("test").unwrap(), dir.path().join("test.jsonl"));
    assert_eq!(dataset.available_splits(), vec!["train", "dev", "test"]);
    fs::write(dir.path().join("dev_seen.jsonl"), "").unwrap();
    assert_eq!(dataset.split_file("dev").unwrap(), dir.path().join("dev_seen.jsonl"), "dev_seen is preferred");

    let error = dataset.split_file("validation").unwrap_err().to_string();
    assert!(error.contains("unknown split \"validation\""), "{error}");
    assert!(error.contains("dev_unseen") && error.contains("test_seen"), "lists known names: {error}");
    assert!(error.contains("present in") && error.contains("train, dev, dev_seen, test"), "lists present splits: {error}");
    let error = dataset.split_file("test_unseen").unwrap_err().to_string();
    assert!(error.contains("test_unseen.jsonl") && error.contains("not found"), "{error}");
    assert!(HatefulMemes::open(dir.path().join("missing")).unwrap_err().to_string().contains("does not exist"));
}

#[test]
fn unlabelled_test_records_have_no_label() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (records, report) = read(dir.path(), "test", ReadOptions::default());
    assert_eq!(report.issues, vec![]);
    let ids: Vec<(&str, Option<u8>)> = records.iter().map(|r| (r.id.as_str(), r.label)).collect();
    assert_eq!(ids, vec![("t1", None), ("t2", None)]);
}

#[test]
fn every_colour_type_decodes_to_rgb() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let img = dir.path().join("img");
    let pixel = |name: &str, x: u32, y: u32| decode_rgb(&img.join(name)).unwrap().get_pixel(x, y).0;
    assert_eq!(pixel("gray.png", 3, 4), [GRAY_VALUE; 3]);
    assert_eq!(pixel("rgba.png", 0, 0), [RGBA_VALUE[0], RGBA_VALUE[1], RGBA_VALUE[2]]);
    assert_eq!(pixel("palette.png", 0, 0), PALETTE[0]);
    assert_eq!(pixel("palette.png", 1, 0), PALETTE[1]);
    assert_eq!(pixel("palette.png", 1, 1), PALETTE[2]);
    assert_eq!(pixel("rgb16.png", 5, 5), [171, 18, 240]);
    let jpeg = pixel("jpeg.png", 4, 4);
    for channel in 0..3 {
        assert!((jpeg[channel] as i32 - JPEG_VALUE[channel] as i32).abs() <= 4, "JPEG under a .png name: {jpeg:?}");
    }
    let error = decode_rgb(&img.join("truncated.png")).unwrap_err();
    assert!(error.contains("does not decode"), "{error}");
    fs::write(img.join("text.png"), "not an image").unwrap();
    assert!(decode_rgb(&img.join("text.png")).unwrap_err().contains("unrecognised"));
}
