//! The synthetic dataset: layout, determinism and the label rule.
use memefuse::data::dataset::{HatefulMemes, ReadOptions};
use memefuse::data::image_io::decode_rgb;
use memefuse::data::synth::{generate, label_rule, sample_meme, SynthOptions, CUE_WORDS};
use memefuse::data::text::tokenize;
use memefuse::util::Rng;
use std::collections::HashSet;
use std::fs;

/// Reads the image cue back from pixels: strongly warm pixels outnumber strongly cool ones.
fn looks_warm(path: &std::path::Path) -> bool {
    let image = decode_rgb(path).unwrap();
    let (mut warm, mut cool) = (0, 0);
    for pixel in image.pixels() {
        let [r, g, b] = pixel.0.map(i32::from);
        if r > g.max(b) + 50 {
            warm += 1;
        } else if g.max(b) > r + 50 {
            cool += 1;
        }
    }
    assert!(warm + cool > 50, "the cue shape must be clearly visible");
    warm > cool
}

fn has_text_cue(text: &str) -> bool {
    tokenize(text).iter().any(|token| CUE_WORDS.contains(&token.as_str()))
}

#[test]
fn writes_the_hateful_memes_layout_and_follows_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    let options = SynthOptions { train: 120, dev: 20, test: 15, seed: 1, ..SynthOptions::new(dir.path()) };
    let summary = generate(&options).unwrap();
    let files: Vec<(&str, usize)> = summary.splits.iter().map(|(f, n, _)| (f.as_str(), *n)).collect();
    assert_eq!(files, [("train.jsonl", 120), ("dev_seen.jsonl", 20), ("test_seen.jsonl", 15), ("test_unseen.jsonl", 15)]);

    let dataset = HatefulMemes::open(dir.path()).unwrap();
    let read = ReadOptions { strict: true, decode_images: true, ..ReadOptions::default() };
    let mut all_ids = HashSet::new();
    let mut sizes = HashSet::new();
    for split in ["train", "dev", "test_seen"] {
        let (records, report) = dataset.read_split(split, &read).unwrap();
        assert!(report.issues.is_empty());
        for record in &records {
            assert!(all_ids.insert(record.id.clone()), "ids are unique across splits");
            let label = record.label.expect("labelled split");
            assert_eq!(label == 1, label_rule(looks_warm(&record.image_path), has_text_cue(&record.text)), "record {}", record.id);
            sizes.insert(decode_rgb(&record.image_path).unwrap().dimensions());
        }
    }
    assert!(sizes.len() > 20, "images come in varied sizes");
    let (unseen, _) = dataset.read_split("test_unseen", &read).unwrap();
    assert_eq!(unseen.len(), 15);
    assert!(unseen.iter().all(|r| r.label.is_none() && r.id.len() == 5), "unlabelled, zero-padded string ids");
    let raw = fs::read_to_string(dir.path().join("test_unseen.jsonl")).unwrap();
    assert!(raw.lines().all(|line| line.contains(r#""id":"0"#) && !line.contains("label")), "{raw}");
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, seed) in [(&a, 5), (&b, 5)] {
        generate(&SynthOptions { train: 12, dev: 3, test: 3, seed, ..SynthOptions::new(dir.path()) }).unwrap();
    }
    for file in ["train.jsonl", "test_unseen.jsonl", "img/00001.png", "img/00018.png"] {
        assert_eq!(fs::read(a.path().join(file)).unwrap(), fs::read(b.path().join(file)).unwrap(), "{file}");
    }
    let c = tempfile::tempdir().unwrap();
    generate(&SynthOptions { train: 12, dev: 3, test: 3, seed: 6, ..SynthOptions::new(c.path()) }).unwrap();
    assert_ne!(fs::read(a.path().join("train.jsonl")).unwrap(), fs::read(c.path().join("train.jsonl")).unwrap());
}

#[test]
fn cue_frequencies_and_label_noise_follow_the_options() {
    let options = SynthOptions { positive_fraction: 0.4, label_noise: 0.1, ..SynthOptions::new("unused") };
    let root = Rng::new(2);
    let samples = 2000;
    let (mut both, mut image_only, mut flipped, mut empty) = (0, 0, 0, 0);
    for index in 0..samples {
        let meme = sample_meme(&mut root.fork(index), &options);
        both += usize::from(meme.image_cue && meme.text_cue);
        image_only += usize::from(meme.image_cue && !meme.text_cue);
        flipped += usize::from((meme.label == 1) != label_rule(meme.image_cue, meme.text_cue));
        empty += usize::from(meme.text.is_empty());
        assert_eq!(has_text_cue(&meme.text), meme.text_cue, "{:?}", meme.text);
    }
    let fraction = |n: usize| n as f64 / samples as f64;
    assert!((fraction(both) - 0.4).abs() < 0.04, "{both}");
    assert!((fraction(image_only) - 0.2).abs() < 0.04, "{image_only}");
    assert!((fraction(flipped) - 0.1).abs() < 0.03, "{flipped}");
    assert!(empty > 0, "some memes have no caption");
    assert!(generate(&SynthOptions { positive_fraction: 1.5, ..SynthOptions::new("unused") }).is_err());
}
