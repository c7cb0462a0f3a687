//! Image transforms: resize, normalisation, rotation and colour jitter.
mod data_common;
use data_common::noise_image;
use image::{Rgb, RgbImage};
use memefuse::data::transforms::*;
use memefuse::util::Rng;

#[test]
fn resizing_to_the_same_size_is_bit_exact() {
    let image = noise_image(24, 24, 3);
    for mode in [ResizeMode::Stretch, ResizeMode::ShortSideCenterCrop] {
        assert_eq!(resize_square(&image, 24, mode), image, "{mode:?}");
    }
    let out = ImageTransform::eval(24).apply(&image, &mut Rng::new(0));
    let table = Normalization::ImageNet.lookup_table();
    let mut expected = vec![0.0; out.len()];
    table.normalize_bytes(image.as_raw(), &mut expected);
    assert_eq!(out, expected);
}

#[test]
fn stretch_resizes_both_sides_and_keeps_a_flat_colour() {
    let image = RgbImage::from_pixel(50, 30, Rgb([10, 200, 90]));
    let resized = resize_square(&image, 16, ResizeMode::Stretch);
    assert_eq!(resized.dimensions(), (16, 16));
    assert!(resized.pixels().all(|p| p.0 == [10, 200, 90]));
}

#[test]
fn clip_resize_scales_the_short_side_and_crops_the_centre() {
    // 64×32: the short side already is 32, so the crop is exact: columns 16..48.
    let image = noise_image(64, 32, 5);
    let cropped = resize_square(&image, 32, ResizeMode::ShortSideCenterCrop);
    let expected = image::imageops::crop_imm(&image, 16, 0, 32, 32).to_image();
    assert_eq!(cropped, expected);
    // 60×120 → 30×60 (bicubic) → rows 15..45: a tall image with red top, green middle, blue bottom
    // whose bands meet 5 rows outside the crop (beyond the bicubic kernel's reach).
    let tall = RgbImage::from_fn(60, 120, |_, y| Rgb(if y < 20 { [255, 0, 0] } else if y < 100 { [0, 255, 0] } else { [0, 0, 255] }));
    let cropped = resize_square(&tall, 30, ResizeMode::ShortSideCenterCrop);
    assert_eq!(cropped.dimensions(), (30, 30));
    assert!(cropped.pixels().all(|p| p.0 == [0, 255, 0]), "only the centre band survives");
}

#[test]
#[allow(clippy::excessive_precision)] // the published CLIP constants
fn normalisation_uses_imagenet_and_clip_statistics() {
    let image = RgbImage::from_pixel(4, 4, Rgb([255, 0, 128]));
    let out = ImageTransform::eval(4).apply(&image, &mut Rng::new(0));
    let expected = [(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (128.0 / 255.0 - 0.406) / 0.225];
    for (got, want) in out[..3].iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    let out = ImageTransform::clip(4).apply(&image, &mut Rng::new(0));
    let expected = [(1.0 - 0.48145466) / 0.26862954, (0.0 - 0.4578275) / 0.26130258, (128.0 / 255.0 - 0.40821073) / 0.27577711];
    for (got, want) in out[45..48].iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}

#[test]
fn augmentation_without_rotation_or_jitter_equals_evaluation() {
    let image = noise_image(16, 16, 9);
    let none = AugmentOptions { rotation_degrees: 0.0, jitter: ColorJitter::default() };
    let augmented = ImageTransform::train(16, none).apply(&image, &mut Rng::new(4));
    let evaluated = ImageTransform::eval(16).apply(&image, &mut Rng::new(4));
    for (a, b) in augmented.iter().zip(&evaluated) {
        assert!((a - b).abs() < 1e-5);
    }
}

#[test]
fn rotation_is_seeded_and_bounded() {
    let image = noise_image(16, 16, 2);
    let transform = ImageTransform::train(16, AugmentOptions::default());
    let first = transform.apply(&image, &mut Rng::new(11));
    assert_eq!(first, transform.apply(&image, &mut Rng::new(11)), "same seed, same output");
    assert_ne!(first, transform.apply(&image, &mut Rng::new(12)), "another seed rotates differently");
    // A white pixel 7.5 px from the centre moves by at most 0.26 px under ±2°, so most of it stays
    // put; under ±30° it leaves its place for some seed.
    let mut dot = RgbImage::new(16, 16);
    dot.put_pixel(15, 8, Rgb([255; 3]));
    let red_at_dot = |degrees: f32, seed: u64| {
        let out = ImageTransform::train(16, AugmentOptions { rotation_degrees: degrees, jitter: ColorJitter::default() })
            .apply(&dot, &mut Rng::new(seed));
        out[(8 * 16 + 15) * 3] * IMAGENET_STD[0] + IMAGENET_MEAN[0]
    };
    assert!((0..50).all(|seed| red_at_dot(2.0, seed) > 0.6));
    assert!((0..50).any(|seed| red_at_dot(30.0, seed) < 0.3));
}

#[test]
fn rotating_by_ninety_degrees_permutes_pixels() {
    let image = noise_image(8, 8, 7);
    let mut out = vec![0.0; 8 * 8 * 3];
    rotate_to_unit(image.as_raw(), 8, 90.0, &mut out);
    // Inverse mapping with 90°: output (x, y) samples source (7 - y, x).
    for y in 0..8u32 {
        for x in 0..8u32 {
            let source = image.get_pixel(7 - y, x).0;
            for channel in 0..3 {
                let got = out[((y * 8 + x) * 3) as usize + channel];
                assert!((got - source[channel] as f32 / 255.0).abs() < 1e-3, "({x},{y})");
            }
        }
    }
    // Corners of a 45° rotation fall outside the source and are black.
    rotate_to_unit(image.as_raw(), 8, 45.0, &mut out);
    assert_eq!(&out[..3], &[0.0; 3]);
}

#[test]
fn colour_jitter_changes_colours_as_configured() {
    let base: Vec<f32> = noise_image(8, 8, 1).as_raw().iter().map(|&v| v as f32 / 255.0 * 0.5).collect();
    // Brightness alone scales every value by one factor in [0.5, 1.5].
    let mut bright = base.clone();
    jitter_unit(&mut bright, &ColorJitter { brightness: 0.5, ..ColorJitter::default() }, &mut Rng::new(3));
    let (index, _) = base.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
    let factor = bright[index] / base[index];
    assert!((0.5..=1.5).contains(&factor) && (factor - 1.0).abs() > 1e-3, "{factor}");
    for (b, o) in bright.iter().zip(&base) {
        assert!((b - (o * factor).min(1.0)).abs() < 1e-4);
    }
    // Saturation and hue leave a grey image grey.
    let mut grey = vec![0.4f32; 48];
    jitter_unit(&mut grey, &ColorJitter { saturation: 0.9, hue: 0.5, ..ColorJitter::default() }, &mut Rng::new(5));
    assert!(grey.iter().all(|v| (v - 0.4).abs() < 1e-5));
    // Hue moves a pure red elsewhere on the wheel but keeps its value (max channel).
    let mut red = [1.0f32, 0.0, 0.0].repeat(4);
    jitter_unit(&mut red, &ColorJitter { hue: 0.4, ..ColorJitter::default() }, &mut Rng::new(8));
    assert!(red[..3] != [1.0, 0.0, 0.0] && (red[0].max(red[1]).max(red[2]) - 1.0).abs() < 1e-5, "{red:?}");
}

#[test]
fn hsv_round_trip() {
    for rgb in [(0.2f32, 0.7, 0.1), (0.9, 0.9, 0.1), (0.3, 0.3, 0.3), (0.0, 0.1, 0.8), (0.6, 0.0, 0.5)] {
        let (h, s, v) = rgb_to_hsv(rgb.0, rgb.1, rgb.2);
        let back = hsv_to_rgb(h, s, v);
        assert!((back.0 - rgb.0).abs() < 1e-5 && (back.1 - rgb.1).abs() < 1e-5 && (back.2 - rgb.2).abs() < 1e-5, "{rgb:?} -> {back:?}");
    }
}
