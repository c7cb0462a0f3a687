//! Helpers shared by the data tests: small images of every colour type and a data folder holding
//! every kind of bad record.
#![allow(dead_code)]
use image::{ImageBuffer, Luma, Rgb, RgbImage, Rgba};
use std::fs;
use std::path::Path;

/// Side of the test images: tiny, so that the suite stays fast.
pub const SIDE: u32 = 8;

pub fn noise_image(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut rng = memefuse::util::Rng::new(seed);
    RgbImage::from_fn(width, height, |_, _| Rgb([0; 3].map(|_| rng.below(256) as u8)))
}

pub fn save_rgb(path: &Path, image: &RgbImage) {
    image.save_with_format(path, image::ImageFormat::Png).unwrap();
}

pub fn save_gray(path: &Path, value: u8) {
    ImageBuffer::from_pixel(SIDE, SIDE, Luma([value])).save_with_format(path, image::ImageFormat::Png).unwrap();
}

pub fn save_rgba(path: &Path, rgba: [u8; 4]) {
    ImageBuffer::from_pixel(SIDE, SIDE, Rgba(rgba)).save_with_format(path, image::ImageFormat::Png).unwrap();
}

pub fn save_rgb16(path: &Path, rgb: [u16; 3]) {
    ImageBuffer::<Rgb<u16>, Vec<u16>>::from_pixel(SIDE, SIDE, Rgb(rgb))
        .save_with_format(path, image::ImageFormat::Png)
        .unwrap();
}

/// JPEG bytes under whatever name `path` has (the real dataset has such files named .png).
pub fn save_jpeg(path: &Path, rgb: [u8; 3]) {
    let mut bytes = Vec::new();
    let image = RgbImage::from_pixel(SIDE, SIDE, Rgb(rgb));
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95).encode_image(&image).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A palette (colour type 3) PNG, assembled by hand: the `image` crate cannot write one.
/// Pixel (x, y) uses palette entry (x + y) % palette.len().
pub fn save_palette_png(path: &Path, palette: &[[u8; 3]]) {
    let mut raw = Vec::new();
    for y in 0..SIDE {
        raw.push(0); // filter: none
        raw.extend((0..SIDE).map(|x| ((x + y) as usize % palette.len()) as u8));
    }
    let mut ihdr = Vec::new();
    ihdr.extend(SIDE.to_be_bytes());
    ihdr.extend(SIDE.to_be_bytes());
    ihdr.extend([8, 3, 0, 0, 0]); // bit depth 8, palette, deflate, adaptive filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"PLTE", &palette.concat());
    png_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut png, b"IEND", &[]);
    fs::write(path, png).unwrap();
}

fn png_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    let mut crc_input = kind.to_vec();
    crc_input.extend(data);
    png.extend(&crc_input);
    png.extend(crc32(&crc_input).to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// zlib stream with one stored (uncompressed) deflate block.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    assert!(data.len() < 65536);
    let mut out = vec![0x78, 0x01, 0x01];
    out.extend((data.len() as u16).to_le_bytes());
    out.extend((!(data.len() as u16)).to_le_bytes());
    out.extend(data);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

/// Values used by `write_bad_dataset`'s good images, so tests can check decoded pixels.
pub const GRAY_VALUE: u8 = 77;
pub const RGBA_VALUE: [u8; 4] = [10, 20, 30, 128];
pub const PALETTE: [[u8; 3]; 3] = [[200, 100, 50], [0, 255, 0], [5, 6, 7]];
/// Exact multiples of 257, so 16→8 bit conversion is exact whatever the rounding: 171, 18, 240.
pub const RGB16_VALUE: [u16; 3] = [171 * 257, 18 * 257, 240 * 257];
pub const JPEG_VALUE: [u8; 3] = [180, 60, 90];
pub const LONG_TEXT_CHARS: usize = 2500;

/// The expected outcome of reading `write_bad_dataset`'s train split: (line, reason).
pub const BAD_TRAIN_ISSUES: [(usize, &str); 9] = [
    (3, "malformed_json"),
    (4, "missing_field"),
    (5, "invalid_label"),
    (6, "missing_image"),
    (7, "undecodable_image"),
    (8, "text_truncated"),
    (12, "duplicate_id"),
    (14, "malformed_json"),
    (15, "invalid_label"),
];
/// Ids kept from the train split, in file order.
pub const GOOD_TRAIN_IDS: [&str; 6] = ["1", "0002", "8", "9", "10", "11"];

/// A data folder whose train split holds every kind of bad record next to good ones of every image
/// type, plus a `test.jsonl` without labels and a `dev.jsonl`.
pub fn write_bad_dataset(dir: &Path) {
    let img = dir.join("img");
    fs::create_dir_all(&img).unwrap();
    save_rgb(&img.join("rgb.png"), &noise_image(SIDE, SIDE, 1));
    save_gray(&img.join("gray.png"), GRAY_VALUE);
    save_rgba(&img.join("rgba.png"), RGBA_VALUE);
    save_palette_png(&img.join("palette.png"), &PALETTE);
    save_rgb16(&img.join("rgb16.png"), RGB16_VALUE);
    save_jpeg(&img.join("jpeg.png"), JPEG_VALUE);
    let good_png = fs::read(img.join("rgb.png")).unwrap();
    fs::write(img.join("truncated.png"), &good_png[..good_png.len() / 2]).unwrap();

    let long_text = "word ".repeat(LONG_TEXT_CHARS / 5);
    let train = [
        r#"{"id": 1, "img": "img/rgb.png", "label": 0, "text": "Hello World! #greeting https://t.co/x"}"#.to_string(),
        r#"{"id": "0002", "img": "img/gray.png", "label": 1, "text": ""}"#.to_string(),
        r#"{"id": 3, "img": "img/rgb.png", "label": "#.to_string(),
        r#"{"id": 4, "img": "img/rgb.png", "label": 0}"#.to_string(),
        r#"{"id": 5, "img": "img/rgb.png", "label": 2, "text": "two"}"#.to_string(),
        r#"{"id": 6, "img": "img/nope.png", "label": 0, "text": "no image"}"#.to_string(),
        r#"{"id": 7, "img": "img/truncated.png", "label": 1, "text": "cut short"}"#.to_string(),
        format!(r#"{{"id": 8, "img": "img/rgba.png", "label": 0, "text": "{long_text}"}}"#),
        r#"{"id": 9, "img": "img/palette.png", "label": 1, "text": "palette world"}"#.to_string(),
        r#"{"id": 10, "img": "img/rgb16.png", "label": 0, "text": "deep colour world"}"#.to_string(),
        r#"{"id": 11, "img": "img/jpeg.png", "label": 1, "text": "a jpeg in disguise"}"#.to_string(),
        r#"{"id": 1, "img": "img/rgb.png", "label": 1, "text": "same id again"}"#.to_string(),
        "   ".to_string(),
        "[1, 2]".to_string(),
        r#"{"id": 15, "img": "img/rgb.png", "label": "1", "text": "string label"}"#.to_string(),
    ];
    fs::write(dir.join("train.jsonl"), train.join("\n") + "\n").unwrap();
    let test = [
        r#"{"id": "t1", "img": "img/rgb.png", "text": "no label here"}"#,
        r#"{"id": "t2", "img": "img/jpeg.png", "text": "world"}"#,
    ];
    fs::write(dir.join("test.jsonl"), test.join("\n")).unwrap();
    fs::write(dir.join("dev.jsonl"), r#"{"id": 20, "img": "img/rgb.png", "label": 1, "text": "dev"}"#).unwrap();
}
