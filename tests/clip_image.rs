//! CLIP image preprocessing against open_clip's and HuggingFace's, on the images of
//! tests/fixtures/clip_image/ (scripts/reference/clip_image_reference.py).
use memefuse::data::image_io::decode_rgb;
use memefuse::data::transforms::{center_crop_offset, resize_square, short_side_size, ImageTransform, ResizeMode};
use memefuse::util::Rng;
use safetensors::SafeTensors;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip_image").join(name)
}

/// (image, target size) pairs of the fixture.
const CASES: [(&str, u32); 7] =
    [("wide", 224), ("wide", 32), ("tall", 32), ("odd", 32), ("small", 32), ("crop_only", 32), ("square", 32)];

struct Reference {
    bytes: Vec<u8>,
}

impl Reference {
    fn bytes(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("the fixture parses")
    }

    fn u8(&self, key: &str) -> Vec<u8> {
        self.bytes().tensor(key).unwrap_or_else(|_| panic!("{key} is in the fixture")).data().to_vec()
    }

    fn f32(&self, key: &str) -> Vec<f32> {
        let tensors = self.bytes();
        let view = tensors.tensor(key).unwrap_or_else(|_| panic!("{key} is in the fixture"));
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }
}

fn reference() -> Reference {
    Reference { bytes: std::fs::read(fixture("expected.safetensors")).unwrap() }
}

fn clip_bytes(name: &str, size: u32) -> Vec<u8> {
    let image = decode_rgb(&fixture(&format!("{name}.png"))).unwrap();
    let out = resize_square(&image, size, ResizeMode::ShortSideCenterCrop);
    assert_eq!(out.dimensions(), (size, size));
    out.into_raw()
}

/// Largest difference between two byte images, in levels of 255.
fn max_level_difference(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap()
}

#[test]
fn clip_resize_and_crop_give_open_clips_bytes_exactly() {
    let reference = reference();
    for (name, size) in CASES {
        let ours = clip_bytes(name, size);
        let theirs = reference.u8(&format!("{name}.{size}.open_clip_u8"));
        assert_eq!(max_level_difference(&ours, &theirs), 0, "{name} at {size}");
    }
}

#[test]
fn clip_transform_gives_open_clips_tensor() {
    let reference = reference();
    for (name, size) in CASES.into_iter().filter(|&(_, size)| size == 32) {
        let image = decode_rgb(&fixture(&format!("{name}.png"))).unwrap();
        let ours = ImageTransform::clip(size).apply(&image, &mut Rng::new(0));
        let theirs = reference.f32(&format!("{name}.{size}.open_clip"));
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        // The same bytes, normalised by the same f32 operations as torchvision's.
        assert!(worst <= 1e-6, "{name}: {worst}");
    }
}

/// HuggingFace's centre crop starts at `(length - size) / 2` rounded down, torchvision's at the
/// same rounded half to even: they differ when the margin is 4k + 3 pixels (an odd half, 2k + 1.5).
fn hugging_face_crop_agrees(name: &str, size: u32) -> bool {
    let image = decode_rgb(&fixture(&format!("{name}.png"))).unwrap();
    let (width, height) = short_side_size(image.dimensions(), size);
    [width, height].into_iter().all(|length| center_crop_offset(length, size) == (length - size) / 2)
}

#[test]
fn hugging_face_pil_processor_differs_only_in_the_crop_rounding() {
    let reference = reference();
    let mut disagreeing = 0;
    for (name, size) in CASES {
        let ours = clip_bytes(name, size);
        let pil = reference.u8(&format!("{name}.{size}.hf_pil_u8"));
        if hugging_face_crop_agrees(name, size) {
            assert_eq!(max_level_difference(&ours, &pil), 0, "{name} at {size}");
        } else {
            disagreeing += 1;
            assert!(max_level_difference(&ours, &pil) > 0, "{name} at {size}: the crops are a pixel apart");
        }
    }
    assert_eq!(disagreeing, 2, "small and crop_only have margins of 19 and 15");
}

#[test]
fn hugging_face_torchvision_processor_is_within_one_level() {
    // CLIPImageProcessor's default (torchvision) backend resizes tensors, not PIL images: its
    // bicubic kernel is the same, its arithmetic is not, so bytes differ by at most one level.
    let reference = reference();
    for (name, size) in CASES.into_iter().filter(|&(name, size)| hugging_face_crop_agrees(name, size)) {
        let ours = clip_bytes(name, size);
        let hf = reference.u8(&format!("{name}.{size}.hf_u8"));
        assert!(max_level_difference(&ours, &hf) <= 1, "{name} at {size}");
    }
}

#[test]
fn torchvision_geometry() {
    // The long side is truncated, not rounded: 224 × 451 / 300 = 336.75 → 336.
    assert_eq!(short_side_size((451, 300), 224), (336, 224));
    assert_eq!(short_side_size((300, 451), 224), (224, 336));
    assert_eq!(short_side_size((13, 21), 32), (32, 51));
    assert_eq!(short_side_size((40, 40), 32), (32, 32));
    // round((length - size) / 2) with Python's half-to-even rounding.
    assert_eq!([47, 45, 46, 51, 49].map(|length| center_crop_offset(length, 32)), [8, 6, 7, 10, 8]);
}
