//! Prepared files for CLIP: `prepare --preprocess clip` stores 224×224 images cropped as CLIP's
//! preprocessing does, CLIP BPE tokens (77, start/end, 0-padded), and says that the images are
//! meant for CLIP normalisation, which the loader then applies.
use memefuse::data::clip_tokenizer::ClipTokenizer;
use memefuse::data::image_io::decode_rgb;
use memefuse::data::prepared::{prepare_split, Expect, PrepareOptions, PreparedSplit, Preprocess};
use memefuse::data::transforms::{resize_square, ImageTransform, Normalization, ResizeMode};
use memefuse::data::{BatchLoader, LoaderOptions};
use memefuse::util::Rng;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn clip_vocab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip_tokenizer/bpe_simple_vocab_16e6.txt.gz")
}

fn fixture_image(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip_image").join(name)
}

const TEXTS: [&str; 3] = ["when you realize it's monday again 😂", "Tom &amp; Jerry", ""];

/// A data folder whose three records use the CLIP fixture's odd-sized images (301×227, 37×61, 53×47).
fn write_dataset(dir: &Path) -> Vec<PathBuf> {
    let img = dir.join("img");
    std::fs::create_dir_all(&img).unwrap();
    let images: Vec<PathBuf> = ["wide.png", "tall.png", "odd.png"]
        .iter()
        .map(|name| {
            let target = img.join(name);
            std::fs::copy(fixture_image(name), &target).unwrap();
            target
        })
        .collect();
    let lines: Vec<String> = ["wide.png", "tall.png", "odd.png"]
        .iter()
        .zip(TEXTS)
        .enumerate()
        .map(|(id, (name, text))| {
            serde_json::json!({"id": id + 1, "img": format!("img/{name}"), "label": id % 2, "text": text}).to_string()
        })
        .collect();
    std::fs::write(dir.join("train.jsonl"), lines.join("\n") + "\n").unwrap();
    images
}

#[test]
fn clip_prepared_files_hold_clip_images_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let images = write_dataset(dir.path());
    let out = dir.path().join("train224.safetensors");
    let summary = prepare_split(dir.path(), "train", &PrepareOptions::clip(&out, clip_vocab())).unwrap();
    assert_eq!((summary.count, summary.max_len, summary.vocab_size), (3, 77, 49408));
    assert!(summary.vocab_path.is_none(), "no word vocabulary is built");

    let tokenizer = ClipTokenizer::from_path(clip_vocab()).unwrap();
    let expect = Expect { image_size: Some(224), vocab_hash: Some(tokenizer.vocab_hash().to_string()), skip_checksum: false };
    let split = Arc::new(PreparedSplit::open(&out, expect).unwrap());
    assert_eq!(split.normalization(), Normalization::Clip);
    let metadata = split.metadata();
    assert_eq!(
        (metadata["preprocess"].as_str(), metadata["tokenizer"].as_str(), metadata["resize"].as_str()),
        ("clip", "clip-bpe", "short-side-center-crop")
    );
    for (index, (path, text)) in images.iter().zip(TEXTS).enumerate() {
        let image = decode_rgb(path).unwrap();
        assert_eq!(split.image(index), resize_square(&image, 224, ResizeMode::ShortSideCenterCrop).as_raw().as_slice());
        let want: Vec<i32> = tokenizer.tokenize(text, 77).unwrap().into_iter().map(|id| id as i32).collect();
        assert_eq!(split.tokens(index), want.as_slice(), "{text:?}");
    }

    // The loader, told the split's normalisation, gives what CLIP's eval transform gives.
    let options = LoaderOptions { batch_size: 3, normalization: split.normalization(), ..LoaderOptions::default() };
    let batch = BatchLoader::new(split.clone(), options).unwrap().epoch(0).next().unwrap();
    let per_image = 224 * 224 * 3;
    for (slot, &index) in batch.indices.iter().enumerate() {
        let want = ImageTransform::clip(224).apply(&decode_rgb(&images[index]).unwrap(), &mut Rng::new(0));
        assert!(batch.images[slot * per_image..(slot + 1) * per_image] == want[..], "record {index}");
    }
}

#[test]
fn seed_prepared_files_say_imagenet() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let out = dir.path().join("train16.safetensors");
    prepare_split(dir.path(), "train", &PrepareOptions { image_size: 16, ..PrepareOptions::new(&out) }).unwrap();
    let split = PreparedSplit::open(&out, Expect::default()).unwrap();
    assert_eq!(split.normalization(), Normalization::ImageNet);
    assert_eq!((split.metadata()["preprocess"].as_str(), split.metadata()["tokenizer"].as_str()), ("seed", "words"));
}

#[test]
fn clip_preprocessing_refuses_what_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let out = dir.path().join("x.safetensors");
    let without_vocab = PrepareOptions { vocab: None, ..PrepareOptions::clip(&out, clip_vocab()) };
    let message = prepare_split(dir.path(), "train", &without_vocab).unwrap_err().to_string();
    assert!(message.contains("CLIP BPE vocabulary"), "{message}");
    let stretched = PrepareOptions { resize: ResizeMode::Stretch, ..PrepareOptions::clip(&out, clip_vocab()) };
    let message = prepare_split(dir.path(), "train", &stretched).unwrap_err().to_string();
    assert!(message.contains("short-side-center-crop"), "{message}");
    let word_vocab = dir.path().join("words.txt");
    std::fs::write(&word_vocab, "<pad>\n<unk>\nhello\n").unwrap();
    let message = format!("{:#}", prepare_split(dir.path(), "train", &PrepareOptions::clip(&out, &word_vocab)).unwrap_err());
    assert!(message.contains("words.txt"), "a word vocabulary is not a BPE file: {message}");
    assert!(!out.exists(), "nothing is written on failure");
    assert_eq!(Preprocess::from_name("clip"), Some(Preprocess::Clip));
}

#[test]
fn cli_prepare_with_clip_preprocessing() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path());
    let out = dir.path().join("cli.safetensors");
    let binary = env!("CARGO_BIN_EXE_memefuse");
    let data = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        Command::new(binary)
            .args(["prepare", "--data", data, "--split", "train", "--out", out.to_str().unwrap(), "--preprocess", "clip"])
            .args(extra)
            .output()
            .unwrap()
    };
    let prepared = run(&["--vocab", clip_vocab().to_str().unwrap(), "--image-size", "32"]);
    let stdout = String::from_utf8_lossy(&prepared.stdout);
    assert!(prepared.status.success(), "{}", String::from_utf8_lossy(&prepared.stderr));
    assert!(stdout.contains("3 records, 32x32 images, max_len 77"), "{stdout}");
    let split = PreparedSplit::open(&out, Expect { image_size: Some(32), ..Expect::default() }).unwrap();
    assert_eq!(split.normalization(), Normalization::Clip);

    let refused = run(&[]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--vocab"));
    let refused = run(&["--vocab", clip_vocab().to_str().unwrap(), "--resize", "stretch"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("short-side-center-crop"));
}
