//! Text cleaning and the vocabulary.
use memefuse::data::text::{clean_text, tokenize, Vocabulary, PAD_ID, UNK_ID};
use std::fs;

#[test]
fn cleaning_removes_urls_hashtags_and_punctuation_and_lowercases() {
    assert_eq!(
        clean_text("Check THIS out!!! https://t.co/abc #blessed don't\tstop www.example.com HTTP://X.Y"),
        "check this out dont stop"
    );
    assert_eq!(tokenize("  Émile's café, 2024 — ok?  "), vec!["émiles", "café", "2024", "ok"]);
    assert_eq!(tokenize("!!! ... ###"), Vec::<String>::new());
    assert_eq!(clean_text(""), "");
}

#[test]
fn vocabulary_orders_by_frequency_then_alphabetically() {
    let texts = ["b a a", "c B a", "d", "e e"];
    let vocab = Vocabulary::build(texts, 1, None);
    let tokens: Vec<&str> = (0..vocab.len() as i32).map(|id| vocab.token(id).unwrap()).collect();
    assert_eq!(tokens, ["<pad>", "<unk>", "a", "b", "e", "c", "d"]);
    let min_two = Vocabulary::build(texts, 2, None);
    assert_eq!(min_two.len(), 5);
    assert_eq!(min_two.id("c"), None);
    let capped = Vocabulary::build(texts, 1, Some(3));
    assert_eq!((capped.len(), capped.token(2)), (3, Some("a")));
}

#[test]
fn encoding_post_pads_and_post_truncates() {
    let vocab = Vocabulary::build(["a b c"], 1, None);
    let (a, b, c) = (vocab.id("a").unwrap(), vocab.id("b").unwrap(), vocab.id("c").unwrap());
    assert_eq!(vocab.encode("A, zzz b!", 5), vec![a, UNK_ID, b, PAD_ID, PAD_ID]);
    assert_eq!(vocab.encode("c b a c", 2), vec![c, b]);
    assert_eq!(vocab.encode("", 3), vec![PAD_ID; 3]);
}

#[test]
fn vocabulary_round_trips_through_its_text_file_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vocab.txt");
    let vocab = Vocabulary::build(["the cat saw the dog", "a dog"], 1, None);
    vocab.save(&path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), ["<pad>", "<unk>", "dog", "the", "a", "cat", "saw"]);
    let loaded = Vocabulary::load(&path).unwrap();
    assert_eq!(loaded, vocab);
    assert_eq!(loaded.hash(), vocab.hash());
    assert_eq!(vocab.hash().len(), 64);
    assert_ne!(Vocabulary::build(["the cat"], 1, None).hash(), vocab.hash());
}

#[test]
fn loading_a_bad_vocabulary_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    fs::write(&path, "<pad>\n<unk>\ncat\ndog\ncat\n").unwrap();
    let error = Vocabulary::load(&path).unwrap_err().to_string();
    assert!(error.contains(&format!("{}:5", path.display())) && error.contains("line 3"), "{error}");
    fs::write(&path, "cat\n<unk>\n").unwrap();
    let error = Vocabulary::load(&path).unwrap_err().to_string();
    assert!(error.contains(":1:") && error.contains("<pad>"), "{error}");
    assert!(Vocabulary::load(dir.path().join("missing.txt")).unwrap_err().to_string().contains("missing.txt"));
}
