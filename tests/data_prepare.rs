//! `prepare_split`, `PreparedSplit::open` and the `prepare`/`inspect` commands.
mod data_common;
use data_common::*;
use memefuse::data::prepared::{prepare_split, vocab_path_for, Expect, PrepareOptions, PreparedSplit};
use memefuse::data::text::{length_percentile, tokenize, Vocabulary};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn prepare_bad(dir: &Path, split: &str) -> (PathBuf, memefuse::data::prepared::PrepareSummary) {
    let out = dir.join(format!("{split}.safetensors"));
    let options = PrepareOptions { image_size: SIDE, ..PrepareOptions::new(&out) };
    let summary = prepare_split(dir, split, &options).unwrap();
    (out, summary)
}

#[test]
fn prepare_skips_bad_records_and_stores_exact_pixels_tokens_labels_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (out, summary) = prepare_bad(dir.path(), "train");
    let issues: Vec<(usize, &str)> = summary.report.issues.iter().map(|i| (i.line, i.kind.name())).collect();
    assert_eq!(issues, BAD_TRAIN_ISSUES, "prepare decodes images and reports the truncated PNG itself");
    assert_eq!(summary.count, GOOD_TRAIN_IDS.len());

    let split = PreparedSplit::open(&out, Expect { image_size: Some(SIDE), ..Expect::default() }).unwrap();
    assert_eq!(split.len(), 6);
    let ids: Vec<&str> = (0..split.len()).map(|i| split.id(i)).collect();
    assert_eq!(ids, GOOD_TRAIN_IDS);
    let labels: Vec<Option<u8>> = (0..split.len()).map(|i| split.label(i)).collect();
    assert_eq!(labels, [Some(0), Some(1), Some(0), Some(1), Some(0), Some(1)]);

    // Images already 8×8 are stored bit for bit, converted to RGB.
    assert_eq!(split.image(0), noise_image(SIDE, SIDE, 1).as_raw().as_slice());
    assert!(split.image(1).iter().all(|&v| v == GRAY_VALUE));
    assert_eq!(&split.image(2)[..3], &RGBA_VALUE[..3]);
    assert_eq!(&split.image(3)[..6], &[PALETTE[0], PALETTE[1]].concat()[..]);
    assert_eq!(&split.image(4)[..3], &[171, 18, 240]);

    // Vocabulary built from the train split (post-cleaning), saved beside the output.
    let vocab_path = vocab_path_for(&out);
    assert_eq!(summary.vocab_path.as_deref(), Some(vocab_path.as_path()));
    let vocab = Vocabulary::load(&vocab_path).unwrap();
    assert_eq!(split.vocab_hash(), vocab.hash());
    assert_eq!(vocab.id("word"), Some(2), "the most frequent token (400 times in the long caption) comes first");
    assert_eq!(vocab.id("world"), Some(3));
    assert!(vocab.id("cut").is_some(), "vocabulary records are checked for existence only, not decoded");
    assert_eq!(vocab.id("greeting"), None, "hashtags are removed");
    // Default max_len: 95th percentile of the kept train captions' token counts.
    let texts = ["Hello World! #greeting https://t.co/x", "", "cut short", &"word ".repeat(400), "palette world", "deep colour world", "a jpeg in disguise"];
    let lengths: Vec<usize> = texts.iter().map(|t| tokenize(t).len()).collect();
    assert_eq!(split.max_len(), length_percentile(&lengths, 0.95));
    assert_eq!(split.max_len(), 400);
    assert_eq!(split.tokens(0), vocab.encode("hello world", 400).as_slice());
    assert!(split.tokens(1).iter().all(|&t| t == 0), "an empty caption is all padding");

    let metadata = split.metadata();
    assert_eq!(metadata["split"], "train");
    assert_eq!(metadata["count"], "6");
    assert_eq!(metadata["skipped"], "8");
    assert_eq!(metadata["lines"], "14");
    let counts: serde_json::Value = serde_json::from_str(&metadata["issue_counts"]).unwrap();
    assert_eq!(counts["malformed_json"], 2);
    assert_eq!(counts["undecodable_image"], 1);
    assert_eq!(counts["text_truncated"], 1);
    assert_eq!(metadata["checksum_sha256"], summary.checksum);
}

#[test]
fn unlabelled_splits_store_minus_one_and_reuse_a_given_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (train_out, train) = prepare_bad(dir.path(), "train");
    let out = dir.path().join("test.safetensors");
    let options = PrepareOptions {
        image_size: 4,
        vocab: Some(vocab_path_for(&train_out)),
        max_len: Some(3),
        ..PrepareOptions::new(&out)
    };
    let summary = prepare_split(dir.path(), "test", &options).unwrap();
    assert_eq!(summary.vocab_path, None);
    assert!(!vocab_path_for(&out).exists(), "a given vocabulary is not copied");
    let split = PreparedSplit::open(&out, Expect { image_size: Some(4), vocab_hash: Some(train.vocab_hash.clone()), ..Expect::default() }).unwrap();
    assert_eq!((split.len(), split.max_len(), split.image_size()), (2, 3, 4));
    assert_eq!((split.label(0), split.label(1)), (None, None));
    assert_eq!(split.metadata()["labelled"], "0");
    assert_eq!(split.tokens(1), &[3, 0, 0], "\"world\" has id 3 in the train vocabulary");
    assert_eq!(split.image(0).len(), 4 * 4 * 3);
}

#[test]
fn strict_prepare_fails_on_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let out = dir.path().join("train.safetensors");
    let options = PrepareOptions { strict: true, ..PrepareOptions::new(&out) };
    let error = prepare_split(dir.path(), "train", &options).unwrap_err().to_string();
    assert!(error.contains("train.jsonl:3: malformed_json"), "{error}");
    assert!(!out.exists());
}

#[test]
fn mismatched_truncated_and_corrupted_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (out, _) = prepare_bad(dir.path(), "train");
    let name = out.display().to_string();
    let open_error = |path: &Path, expect: Expect| format!("{:#}", PreparedSplit::open(path, expect).unwrap_err());

    let error = open_error(&out, Expect { image_size: Some(64), ..Expect::default() });
    assert!(error.contains(&name) && error.contains("holds 8x8 images but 64x64 were expected"), "{error}");
    let error = open_error(&out, Expect { vocab_hash: Some("abc".into()), ..Expect::default() });
    assert!(error.contains(&name) && error.contains("vocabulary abc was expected"), "{error}");

    let bytes = fs::read(&out).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let error = open_error(&truncated, Expect::default());
    assert!(error.contains("truncated.safetensors") && error.contains("truncated"), "{error}");
    fs::write(&truncated, &bytes[..5]).unwrap();
    assert!(open_error(&truncated, Expect::default()).contains("truncated"));

    let corrupted = dir.path().join("corrupted.safetensors");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 30; // inside the images or ids
    flipped[last] ^= 0x40;
    fs::write(&corrupted, &flipped).unwrap();
    let error = open_error(&corrupted, Expect::default());
    assert!(error.contains("corrupted.safetensors") && error.contains("checksum mismatch"), "{error}");
    assert!(PreparedSplit::open(&corrupted, Expect { skip_checksum: true, ..Expect::default() }).is_ok());

    let garbage = dir.path().join("garbage.safetensors");
    fs::write(&garbage, b"this is not a prepared file at all").unwrap();
    let error = open_error(&garbage, Expect::default());
    assert!(error.contains("garbage.safetensors") && error.contains("not a prepared file"), "{error}");
    assert!(open_error(&dir.path().join("absent.safetensors"), Expect::default()).contains("cannot open"));
}

#[test]
fn prepared_files_are_standard_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let (out, summary) = prepare_bad(dir.path(), "train");
    let bytes = fs::read(&out).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header_len) % 8, 0, "the data section starts aligned");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let images = tensors.tensor("images").unwrap();
    assert_eq!(images.shape(), &[6, SIDE as usize, SIDE as usize, 3]);
    assert_eq!(tensors.tensor("tokens").unwrap().shape(), &[6, summary.max_len]);
    assert_eq!(tensors.tensor("labels").unwrap().data(), &[0, 1, 0, 1, 0, 1]);
    assert_eq!(tensors.tensor("ids").unwrap().data(), GOOD_TRAIN_IDS.join("\n").as_bytes());
}

#[test]
fn cli_prepare_and_inspect_report_and_exit_non_zero_on_corruption() {
    let dir = tempfile::tempdir().unwrap();
    write_bad_dataset(dir.path());
    let binary = env!("CARGO_BIN_EXE_memefuse");
    let out = dir.path().join("cli.safetensors");
    let run = |args: &[&str]| Command::new(binary).args(args).output().unwrap();
    let data = dir.path().to_str().unwrap();
    let prepared = run(&["prepare", "--data", data, "--split", "train", "--out", out.to_str().unwrap(), "--image-size", "16"]);
    let stderr = String::from_utf8_lossy(&prepared.stderr);
    assert!(prepared.status.success(), "{stderr}");
    assert!(stderr.contains("train.jsonl:7: undecodable_image") && stderr.contains("kept 6 of 14 records"), "{stderr}");

    let inspected = run(&["inspect", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&inspected.stdout);
    assert!(inspected.status.success() && stdout.contains("image_size: 16") && stdout.contains("checksum OK; 6 records"), "{stdout}");

    let mut bytes = fs::read(&out).unwrap();
    let middle = bytes.len() - 200;
    bytes[middle] = bytes[middle].wrapping_add(1);
    fs::write(&out, bytes).unwrap();
    let inspected = run(&["inspect", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&inspected.stderr);
    assert!(!inspected.status.success() && stderr.contains("cli.safetensors") && stderr.contains("checksum mismatch"), "{stderr}");

    let strict = run(&["prepare", "--data", data, "--split", "train", "--out", out.to_str().unwrap(), "--strict"]);
    assert!(!strict.status.success() && String::from_utf8_lossy(&strict.stderr).contains("train.jsonl:3: malformed_json"));
    let unknown = run(&["prepare", "--data", data, "--split", "nope", "--out", out.to_str().unwrap()]);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("unknown split"));
}
