//! A synthetic dataset in exactly the Hateful Memes layout, the default data of the demo and tests.
//!
//! # The rule
//!
//! Every meme carries two binary cues:
//!
//! * **image cue**: the large shape drawn on the image is *warm* (red or orange) rather than *cool*
//!   (blue or green). Background and distractor shapes are unsaturated, so the cue is the only
//!   strongly coloured thing in the picture;
//! * **text cue**: the caption contains one of [`CUE_WORDS`] (the other words come from a neutral list).
//!
//! The label is `image_cue AND text_cue` (before label noise). The four cue combinations are drawn
//! with probability `positive_fraction` for (warm, cue word) and `(1 - positive_fraction) / 3` for each
//! of the three others. So each modality alone is informative (no positive lacks either cue) but
//! leaves the label undetermined: with the default `positive_fraction = 0.35`, an image-only or a
//! text-only model tops out near 78% accuracy, a model using both near 100%, minus `label_noise`
//! (the probability that a label is flipped). This mirrors the "benign confounders" of the real task.
use super::image_io::encode_png;
use crate::util::{write_atomically, Rng};
use anyhow::{ensure, Context};
use image::{Rgb, RgbImage};
use rayon::prelude::*;
use serde_json::json;
use std::path::PathBuf;

/// Words that make up the text cue.
pub const CUE_WORDS: [&str; 4] = ["goblin", "pickle", "thunder", "walrus"];

const NEUTRAL_WORDS: [&str; 40] = [
    "when", "you", "the", "my", "friends", "monday", "coffee", "morning", "finally", "weekend", "me",
    "cat", "dog", "pizza", "again", "really", "every", "time", "that", "feeling", "work", "home", "new",
    "phone", "who", "this", "is", "what", "happens", "nobody", "asked", "mom", "said", "school", "day",
    "best", "life", "look", "at", "us",
];
/// Decorations that text cleaning must remove (URLs, hashtags) or strip (punctuation).
const DECORATIONS: [&str; 5] = ["#mood", "https://example.com/x", "!!", "lol.", "www.memes.net"];

const WARM_COLOURS: [[u8; 3]; 2] = [[215, 35, 35], [235, 135, 20]];
const COOL_COLOURS: [[u8; 3]; 2] = [[35, 75, 215], [35, 185, 70]];

#[derive(Clone, Debug)]
pub struct SynthOptions {
    pub out: PathBuf,
    pub train: usize,
    pub dev: usize,
    /// Size of `test_seen` (labelled) and of `test_unseen` (unlabelled) each.
    pub test: usize,
    pub seed: u64,
    /// Probability that a label is flipped.
    pub label_noise: f32,
    /// Probability of the (warm, cue word) combination, i.e. of a positive before noise.
    pub positive_fraction: f32,
}

impl SynthOptions {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self { out: out.into(), train: 1000, dev: 200, test: 200, seed: 0, label_noise: 0.0, positive_fraction: 0.35 }
    }
}

/// One generated meme before it is written.
#[derive(Clone, Debug)]
pub struct SynthMeme {
    pub image: RgbImage,
    pub text: String,
    pub image_cue: bool,
    pub text_cue: bool,
    /// After label noise.
    pub label: u8,
}

/// The noiseless label.
pub fn label_rule(image_cue: bool, text_cue: bool) -> bool {
    image_cue && text_cue
}

#[derive(Clone, Debug, Default)]
pub struct SynthSummary {
    /// (file name, records, positives); positives are None for the unlabelled file.
    pub splits: Vec<(String, usize, Option<usize>)>,
}

/// Writes `train.jsonl`, `dev_seen.jsonl`, `test_seen.jsonl`, `test_unseen.jsonl` (no labels, string
/// ids) and `img/NNNNN.png` under `options.out`. The same options always give the same bytes.
pub fn generate(options: &SynthOptions) -> anyhow::Result<SynthSummary> {
    ensure!((0.0..=1.0).contains(&options.positive_fraction), "--positive-fraction must be in [0, 1]");
    ensure!((0.0..=1.0).contains(&options.label_noise), "--label-noise must be in [0, 1]");
    let image_dir = options.out.join("img");
    std::fs::create_dir_all(&image_dir).with_context(|| format!("cannot create {}", image_dir.display()))?;
    let splits = [
        ("train.jsonl", options.train, true),
        ("dev_seen.jsonl", options.dev, true),
        ("test_seen.jsonl", options.test, true),
        ("test_unseen.jsonl", options.test, false),
    ];
    let root = Rng::new(options.seed);
    let mut summary = SynthSummary::default();
    let mut first_id = 1usize;
    for (file_name, count, labelled) in splits {
        let ids: Vec<usize> = (first_id..first_id + count).collect();
        first_id += count;
        let lines: Vec<anyhow::Result<(String, u8)>> = ids
            .par_iter()
            .map(|&id| {
                let meme = sample_meme(&mut root.fork(id as u64), options);
                let image_name = format!("img/{id:05}.png");
                let png = encode_png(&meme.image)?;
                write_atomically(options.out.join(&image_name), &png)
                    .with_context(|| format!("cannot write {}", options.out.join(&image_name).display()))?;
                let record = if labelled {
                    json!({ "id": id, "img": image_name, "label": meme.label, "text": meme.text })
                } else {
                    json!({ "id": format!("{id:05}"), "img": image_name, "text": meme.text })
                };
                Ok((record.to_string(), meme.label))
            })
            .collect();
        let mut content = String::new();
        let mut positives = 0;
        for line in lines {
            let (line, label) = line?;
            content.push_str(&line);
            content.push('\n');
            positives += usize::from(labelled && label == 1);
        }
        let path = options.out.join(file_name);
        write_atomically(&path, content.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        summary.splits.push((file_name.to_string(), count, labelled.then_some(positives)));
    }
    Ok(summary)
}

/// `synth --out DIR` writes into an empty or missing folder only, unless `--force`: its files
/// would replace a dataset's own.
pub fn refuse_non_empty(out: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let mut entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(_) if !out.exists() => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", out.display())),
    };
    if entries.next().is_some() && !force {
        anyhow::bail!("{} is not empty; synth writes train.jsonl, dev_seen.jsonl, test_*.jsonl and img/ there: choose an empty folder, or pass --force to replace them", out.display());
    }
    Ok(())
}

/// Draws one meme: cues, image, caption and (noisy) label.
pub fn sample_meme(rng: &mut Rng, options: &SynthOptions) -> SynthMeme {
    let p = options.positive_fraction;
    let draw = rng.uniform();
    let (image_cue, text_cue) = if draw < p {
        (true, true)
    } else {
        match ((draw - p) / (1.0 - p) * 3.0) as usize {
            0 => (true, false),
            1 => (false, true),
            _ => (false, false),
        }
    };
    let mut label = label_rule(image_cue, text_cue);
    if rng.uniform() < options.label_noise {
        label = !label;
    }
    SynthMeme { image: draw_image(rng, image_cue), text: write_caption(rng, text_cue), image_cue, text_cue, label: label as u8 }
}

fn write_caption(rng: &mut Rng, text_cue: bool) -> String {
    // Some memes have no caption at all; they can only lack the cue word.
    if !text_cue && rng.uniform() < 0.03 {
        return String::new();
    }
    let length = 3 + rng.below(7);
    let mut words: Vec<&str> = (0..length).map(|_| NEUTRAL_WORDS[rng.below(NEUTRAL_WORDS.len())]).collect();
    if text_cue {
        let position = rng.below(words.len() + 1);
        words.insert(position, CUE_WORDS[rng.below(CUE_WORDS.len())]);
    }
    if rng.uniform() < 0.15 {
        words.push(DECORATIONS[rng.below(DECORATIONS.len())]);
    }
    let mut caption = words.join(" ");
    if rng.uniform() < 0.5 {
        caption = caption.to_uppercase();
    }
    caption
}

fn draw_image(rng: &mut Rng, image_cue: bool) -> RgbImage {
    let width = 48 + rng.below(97) as u32;
    let height = 48 + rng.below(97) as u32;
    // A muted background: one grey level with a slight tint.
    let grey = 70 + rng.below(121) as i32;
    let background = [0; 3].map(|_| (grey + rng.below(21) as i32 - 10) as u8);
    let mut image = RgbImage::from_pixel(width, height, Rgb(background));
    let short = width.min(height) as f32;
    for _ in 0..rng.below(3) {
        let level = [20u8, 128, 235][rng.below(3)];
        let radius = short * rng.uniform_in(0.1, 0.2);
        draw_shape(&mut image, rng, radius, [level; 3]);
    }
    let palette = if image_cue { &WARM_COLOURS } else { &COOL_COLOURS };
    let base = palette[rng.below(palette.len())];
    let colour = base.map(|c| (c as i32 + rng.below(31) as i32 - 15).clamp(0, 255) as u8);
    let radius = short * rng.uniform_in(0.3, 0.45);
    draw_shape(&mut image, rng, radius, colour);
    add_noise(&mut image, rng, 10);
    image
}

/// A filled circle, square or triangle of the given radius at a random place that keeps it inside.
fn draw_shape(image: &mut RgbImage, rng: &mut Rng, radius: f32, colour: [u8; 3]) {
    let (width, height) = (image.width() as f32, image.height() as f32);
    let cx = rng.uniform_in(radius, (width - radius).max(radius + 1.0));
    let cy = rng.uniform_in(radius, (height - radius).max(radius + 1.0));
    let kind = rng.below(3);
    let inside = |x: f32, y: f32| -> bool {
        let (dx, dy) = (x - cx, y - cy);
        match kind {
            0 => dx * dx + dy * dy <= radius * radius,
            1 => dx.abs() <= radius * 0.85 && dy.abs() <= radius * 0.85,
            // Upward triangle: below the apex, above the base, inside both slanted sides.
            _ => dy <= radius * 0.7 && dy >= -radius && dx.abs() <= (dy + radius) * 0.6,
        }
    };
    let x_range = (cx - radius).floor().max(0.0) as u32..((cx + radius).ceil() as u32).min(image.width());
    for y in (cy - radius).floor().max(0.0) as u32..((cy + radius).ceil() as u32).min(image.height()) {
        for x in x_range.clone() {
            if inside(x as f32 + 0.5, y as f32 + 0.5) {
                image.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

/// Uniform noise in `[-amplitude, amplitude]` on every sample (eight samples per random draw).
fn add_noise(image: &mut RgbImage, rng: &mut Rng, amplitude: i32) {
    let span = (2 * amplitude + 1) as u32;
    for chunk in image.as_mut().chunks_mut(8) {
        let bits = rng.next_u64().to_le_bytes();
        for (sample, random) in chunk.iter_mut().zip(bits) {
            let offset = ((random as u32 * span) >> 8) as i32 - amplitude;
            *sample = (*sample as i32 + offset).clamp(0, 255) as u8;
        }
    }
}
