//! The CLIP tokenizer against open_clip's and HuggingFace's, on the texts of
//! tests/fixtures/clip_tokenizer/expected.json (scripts/reference/clip_tokenizer_reference.py),
//! and its truncation, padding and bad-file errors.
use memefuse::data::clip_tokenizer::{Cleaning, ClipTokenizer, CONTEXT_LENGTH, PAD_ID};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip_tokenizer").join(name)
}

#[derive(Deserialize)]
struct Expected {
    context_length: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    cleaned: String,
    open_clip: Vec<u32>,
    open_clip_encode: Vec<u32>,
    open_clip_small: Vec<u32>,
    hf_small: Vec<u32>,
    #[serde(default)]
    mojibake: bool,
    open_clip_without_fix_encoding: Option<Vec<u32>>,
}

fn expected() -> &'static Expected {
    static EXPECTED: OnceLock<Expected> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let text = std::fs::read_to_string(fixture("expected.json")).expect("the fixture exists");
        serde_json::from_str(&text).expect("the fixture parses")
    })
}

fn open_clip_full() -> &'static ClipTokenizer {
    static TOKENIZER: OnceLock<ClipTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| ClipTokenizer::from_path(fixture("bpe_simple_vocab_16e6.txt.gz")).expect("the vocabulary reads"))
}

/// Compares every case's ids with `reference(case)`; reports all mismatching texts at once.
fn assert_all_match(tokenizer: &ClipTokenizer, reference: impl Fn(&Case) -> Option<&Vec<u32>>, padded: bool) {
    let expected = expected();
    assert_eq!(expected.context_length, CONTEXT_LENGTH);
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in &expected.cases {
        let Some(want) = reference(case) else { continue };
        let got = if padded {
            tokenizer.tokenize(&case.text, CONTEXT_LENGTH).unwrap()
        } else {
            tokenizer.encode_with_specials(&case.text, CONTEXT_LENGTH).unwrap()
        };
        compared += 1;
        if &got != want {
            let short = |text: &str| text.chars().take(80).collect::<String>();
            let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
            failures.push(format!(
                "{:?} (cleaned {:?}): first difference at {first}\n  got  {:?}\n  want {:?}",
                short(&case.text),
                short(&case.cleaned),
                &got[first.saturating_sub(2)..got.len().min(first + 6)],
                &want[first.saturating_sub(2)..want.len().min(first + 6)]
            ));
        }
    }
    assert!(compared >= 30, "only {compared} texts compared");
    assert!(failures.is_empty(), "{} of {compared} texts differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn open_clip_ids_on_every_fixture_text() {
    let tokenizer = open_clip_full();
    assert_eq!((tokenizer.start_id(), tokenizer.end_id(), tokenizer.vocab_size()), (49406, 49407, 49408));
    // The mojibake text is the one place open_clip's ftfy differs: compared below.
    assert_all_match(tokenizer, |case| (!case.mojibake).then_some(&case.open_clip), true);
}

#[test]
fn open_clip_encode_gives_every_id_of_long_texts() {
    let tokenizer = open_clip_full();
    for case in expected().cases.iter().filter(|case| !case.mojibake) {
        assert!(tokenizer.encode(&case.text) == case.open_clip_encode, "{:?}", case.text.chars().take(80).collect::<String>());
    }
    let longest = expected().cases.iter().map(|case| case.text.chars().count()).max().unwrap();
    assert!(longest >= 10_000, "the fixture holds a 10,000-character text");
}

#[test]
fn mojibake_is_left_unrepaired_as_documented() {
    let tokenizer = open_clip_full();
    let case = expected().cases.iter().find(|case| case.mojibake).expect("the fixture holds a mojibake text");
    let unrepaired = case.open_clip_without_fix_encoding.as_ref().unwrap();
    assert_ne!(&case.open_clip, unrepaired, "ftfy repairs this text");
    assert_eq!(&tokenizer.tokenize(&case.text, CONTEXT_LENGTH).unwrap(), unrepaired);
}

#[test]
fn hugging_face_files_read_the_same_bpe_as_open_clip_files() {
    // The same small BPE in both formats, cleaned as open_clip cleans: open_clip's ids.
    let from_json = ClipTokenizer::from_path(fixture("small/vocab.json")).unwrap();
    let from_gz = ClipTokenizer::from_path(fixture("small/bpe_small.txt.gz")).unwrap();
    assert_eq!(from_json.vocab_size(), from_gz.vocab_size());
    // Each format matches the special tokens' names as it spells them, so texts that write one
    // of the names differ between the formats by design.
    let writes_a_special_name = |case: &Case| case.text.contains("_of_text>") || case.text.contains("oftext|>");
    let comparable = |case: &Case| !case.mojibake && !writes_a_special_name(case);
    assert_all_match(&from_json, |case| comparable(case).then_some(&case.open_clip_small), true);
    assert_all_match(&from_gz, |case| (!case.mojibake).then_some(&case.open_clip_small), true);
}

#[test]
fn hugging_face_cleaning_gives_hugging_face_ids() {
    let tokenizer = ClipTokenizer::from_path(fixture("small")).unwrap().with_cleaning(Cleaning::HuggingFace);
    assert_all_match(&tokenizer, |case| Some(&case.hf_small), false);
    // The two references really differ on some texts (html, ftfy, special names), so both checks matter.
    let differing = expected().cases.iter().filter(|case| !case.open_clip_small.starts_with(&case.hf_small)).count();
    assert!(differing >= 5, "only {differing} texts tell the two cleanings apart");
}

#[test]
fn truncation_keeps_the_end_token_and_padding_is_zero() {
    let tokenizer = open_clip_full();
    let a = tokenizer.encode("a")[0];
    for (words, length) in [(75, 77), (76, 77), (200, 77)] {
        let text = vec!["a"; words].join(" ");
        let ids = tokenizer.tokenize(&text, CONTEXT_LENGTH).unwrap();
        assert_eq!(ids.len(), length);
        assert_eq!(ids[0], tokenizer.start_id());
        assert_eq!(ids[76], tokenizer.end_id(), "{words} words");
        assert!(ids[1..76].iter().all(|&id| id == a));
    }
    let short = tokenizer.tokenize("a cat", CONTEXT_LENGTH).unwrap();
    assert_eq!(&short[..4], &[tokenizer.start_id(), a, tokenizer.encode("cat")[0], tokenizer.end_id()]);
    assert!(short[4..].iter().all(|&id| id == PAD_ID));
    assert_eq!(tokenizer.tokenize("", 5).unwrap(), vec![49406, 49407, 0, 0, 0]);
    assert_eq!(tokenizer.tokenize("a cat", 1).unwrap(), vec![49407]);
    assert!(tokenizer.tokenize("a", 0).unwrap_err().to_string().contains("at least 1"));
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn error_of(result: anyhow::Result<ClipTokenizer>) -> String {
    format!("{:#}", result.expect_err("the file is refused"))
}

#[test]
fn bad_vocabulary_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let small = fixture("small");
    let vocab = std::fs::read_to_string(small.join("vocab.json")).unwrap();
    let merges = std::fs::read_to_string(small.join("merges.txt")).unwrap();

    // A merge line with three parts: the file and line are named.
    let mut lines: Vec<&str> = merges.lines().collect();
    lines[4] = "a b c";
    let bad = write(dir.path(), "merges.txt", lines.join("\n").as_bytes());
    write(dir.path(), "vocab.json", vocab.as_bytes());
    let message = error_of(ClipTokenizer::from_path(dir.path().join("vocab.json")));
    assert!(message.contains(&format!("{}:5:", bad.display())) && message.contains("two tokens"), "{message}");

    // A merge whose result is not in the vocabulary.
    lines[4] = "zzzz qqqq";
    write(dir.path(), "merges.txt", lines.join("\n").as_bytes());
    let message = error_of(ClipTokenizer::from_path(dir.path()));
    assert!(message.contains("merges.txt:5:") && message.contains("\"zzzz\"") && message.contains("not in the vocabulary"), "{message}");

    // vocab.json that is not an object of ids, and one without the end token.
    write(dir.path(), "merges.txt", merges.as_bytes());
    write(dir.path(), "vocab.json", b"{\"a\": 1,\n \"b\": \"two\"}");
    let message = error_of(ClipTokenizer::from_path(dir.path()));
    assert!(message.contains("vocab.json:2:") && message.contains("token → id"), "{message}");
    let without_end = vocab.replace("\"<|endoftext|>\"", "\"<|notend|>\"");
    write(dir.path(), "vocab.json", without_end.as_bytes());
    let message = error_of(ClipTokenizer::from_path(dir.path()));
    assert!(message.contains("vocab.json") && message.contains("no end token \"<|endoftext|>\""), "{message}");

    // vocab.json without merges.txt beside it.
    let lonely = tempfile::tempdir().unwrap();
    let path = write(lonely.path(), "vocab.json", vocab.as_bytes());
    let message = error_of(ClipTokenizer::from_path(&path));
    assert!(message.contains("merges.txt") && message.contains("missing"), "{message}");

    // open_clip's format: a gzip file that is cut short, text that is not UTF-8, a bad merge line.
    let gz = std::fs::read(fixture("small/bpe_small.txt.gz")).unwrap();
    let path = write(dir.path(), "cut.txt.gz", &gz[..gz.len() / 2]);
    let message = error_of(ClipTokenizer::from_path(&path));
    assert!(message.contains("cut.txt.gz") && message.contains("gzip"), "{message}");
    let path = write(dir.path(), "latin1.txt", b"header\na b\n\xff\xfe c\n");
    let message = error_of(ClipTokenizer::from_path(&path));
    assert!(message.contains("latin1.txt") && message.contains("not UTF-8"), "{message}");
    let path = write(dir.path(), "short.txt", "header\nh e\nhe llo\n".as_bytes());
    let message = error_of(ClipTokenizer::from_path(&path));
    assert!(message.contains("short.txt:3:") && message.contains("\"llo\""), "{message}");
    let path = write(dir.path(), "empty.txt", b"header only");
    let message = error_of(ClipTokenizer::from_path(&path));
    assert!(message.contains("empty.txt") && message.contains("no merges"), "{message}");
    let message = error_of(ClipTokenizer::from_path(dir.path().join("absent.txt.gz")));
    assert!(message.contains("absent.txt.gz"), "{message}");
    let empty_dir = tempfile::tempdir().unwrap();
    let message = error_of(ClipTokenizer::from_path(empty_dir.path()));
    assert!(message.contains("neither vocab.json"), "{message}");
}

#[test]
fn the_tokenizer_is_shared_across_threads() {
    let tokenizer = open_clip_full();
    let cases = &expected().cases;
    std::thread::scope(|scope| {
        for chunk in cases.chunks(8) {
            scope.spawn(move || {
                for case in chunk.iter().filter(|case| !case.mojibake) {
                    assert!(tokenizer.tokenize(&case.text, CONTEXT_LENGTH).unwrap() == case.open_clip);
                }
            });
        }
    });
}

#[test]
fn cli_tokenize_prints_one_line_of_ids_per_text() {
    let binary = env!("CARGO_BIN_EXE_memefuse");
    let vocab = fixture("bpe_simple_vocab_16e6.txt.gz");
    let cases: Vec<&Case> = expected().cases.iter().filter(|case| !case.mojibake && case.text.len() < 200).take(6).collect();
    let mut command = std::process::Command::new(binary);
    command.arg("tokenize").arg("--vocab").arg(&vocab);
    command.args(cases.iter().map(|case| case.text.as_str()));
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), cases.len(), "{stdout}");
    for (line, case) in lines.iter().zip(&cases) {
        let ids: Vec<u32> = line.split(' ').map(|id| id.parse().unwrap()).collect();
        let end = case.open_clip.iter().rposition(|&id| id == 49407).unwrap();
        assert_eq!(ids, case.open_clip[..=end], "{:?}", case.text);
    }
    let padded = std::process::Command::new(binary)
        .args(["tokenize", "--pad", "--context-length", "8", "--vocab"])
        .arg(&vocab)
        .arg("a photo of a cat")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&padded.stdout), "49406 320 1125 539 320 2368 49407 0\n");

    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.txt", b"header\nno_pair_here\n");
    let failed = std::process::Command::new(binary).arg("tokenize").arg("--vocab").arg(&bad).arg("x").output().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && stderr.contains("bad.txt:2:"), "{stderr}");
}
