//! Image transforms as in the seed work, written out by hand.
//!
//! * Training: random rotation (±2° by default), colour jitter (brightness, contrast, saturation,
//!   hue; off by default), to tensor, normalisation with ImageNet mean/std, resize to the model size.
//! * Evaluation: resize and normalise.
//! * CLIP: bicubic resize of the short side, centre crop, CLIP mean/std, byte for byte as
//!   open_clip's eval transform (docs/clip.md, "Image preprocessing").
//!
//! Resizing happens first, on the 8-bit image: it is what `prepare` stores, so that the loader only
//! augments and normalises images that already have the model's size. (Rotating and jittering
//! before or after a resize differ only by interpolation detail, and the small image is far cheaper.)
//! Output tensors are HWC `f32`, the engine's NHWC layout for one image.
use super::pil_resize::resize_bicubic;
use crate::util::Rng;
use image::imageops::{self, FilterType};
use image::RgbImage;

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
// The published CLIP constants, verbatim (more digits than f32 holds).
#[allow(clippy::excessive_precision)]
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Per-channel mean/std normalisation applied to pixels scaled to [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Normalization {
    #[default]
    ImageNet,
    Clip,
}

impl Normalization {
    pub fn mean(self) -> [f32; 3] {
        match self {
            Normalization::ImageNet => IMAGENET_MEAN,
            Normalization::Clip => CLIP_MEAN,
        }
    }

    pub fn std(self) -> [f32; 3] {
        match self {
            Normalization::ImageNet => IMAGENET_STD,
            Normalization::Clip => CLIP_STD,
        }
    }

    /// `(value / 255 - mean) / std` for every byte value and channel: the unaugmented loader path
    /// is one table lookup per byte.
    pub fn lookup_table(self) -> NormalizationTable {
        let (mean, std) = (self.mean(), self.std());
        let mut table = [[0.0f32; 256]; 3];
        for (channel, row) in table.iter_mut().enumerate() {
            for (value, entry) in row.iter_mut().enumerate() {
                *entry = (value as f32 / 255.0 - mean[channel]) / std[channel];
            }
        }
        NormalizationTable { table: Box::new(table), mean, inverse_std: std.map(|s| 1.0 / s) }
    }
}

/// Precomputed normalisation for one `Normalization`.
#[derive(Clone, Debug)]
pub struct NormalizationTable {
    table: Box<[[f32; 256]; 3]>,
    mean: [f32; 3],
    inverse_std: [f32; 3],
}

impl NormalizationTable {
    /// Normalises HWC RGB bytes into `out` (same length).
    pub fn normalize_bytes(&self, pixels: &[u8], out: &mut [f32]) {
        assert_eq!(pixels.len(), out.len(), "normalize_bytes: input and output lengths differ");
        let [red, green, blue] = &*self.table;
        for (pixel, target) in pixels.chunks_exact(3).zip(out.chunks_exact_mut(3)) {
            target[0] = red[pixel[0] as usize];
            target[1] = green[pixel[1] as usize];
            target[2] = blue[pixel[2] as usize];
        }
    }

    /// Normalises HWC RGB values already in [0, 1], in place.
    pub fn normalize_unit(&self, values: &mut [f32]) {
        for pixel in values.chunks_exact_mut(3) {
            for ((value, mean), inverse_std) in pixel.iter_mut().zip(self.mean).zip(self.inverse_std) {
                *value = (*value - mean) * inverse_std;
            }
        }
    }
}

/// How an image of any shape becomes `size × size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResizeMode {
    /// Bilinear resize of both sides to `size` (aspect ratio not kept), as torchvision's
    /// `Resize((size, size))` in the seed work.
    #[default]
    Stretch,
    /// CLIP preprocessing as open_clip's (torchvision on PIL images): Pillow's bicubic resize so
    /// that the short side is `size` ([`short_side_size`]), then torchvision's centre crop.
    ShortSideCenterCrop,
}

impl ResizeMode {
    pub fn name(self) -> &'static str {
        match self {
            ResizeMode::Stretch => "stretch",
            ResizeMode::ShortSideCenterCrop => "short-side-center-crop",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [ResizeMode::Stretch, ResizeMode::ShortSideCenterCrop].into_iter().find(|mode| mode.name() == name)
    }
}

/// Resizes to `size × size`. An image that already has that size is returned unchanged, bit for bit.
pub fn resize_square(image: &RgbImage, size: u32, mode: ResizeMode) -> RgbImage {
    assert!(size > 0, "resize_square: size must be positive");
    if image.width() == size && image.height() == size {
        return image.clone();
    }
    match mode {
        ResizeMode::Stretch => imageops::resize(image, size, size, FilterType::Triangle),
        ResizeMode::ShortSideCenterCrop => {
            let (scaled_width, scaled_height) = short_side_size(image.dimensions(), size);
            let scaled = if (scaled_width, scaled_height) == image.dimensions() {
                image.clone()
            } else {
                resize_bicubic(image, scaled_width, scaled_height)
            };
            let left = center_crop_offset(scaled_width, size);
            let top = center_crop_offset(scaled_height, size);
            imageops::crop_imm(&scaled, left, top, size, size).to_image()
        }
    }
}

/// torchvision's `Resize(size)`: the short side becomes `size`, the long side
/// `int(size * long / short)` (truncated, in double precision, as Python computes it).
pub fn short_side_size((width, height): (u32, u32), size: u32) -> (u32, u32) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    let scaled_long = (size as f64 * long as f64 / short as f64) as u32;
    if width <= height {
        (size, scaled_long)
    } else {
        (scaled_long, size)
    }
}

/// torchvision's `CenterCrop`: the offset is `round((length - size) / 2)` with Python's rounding,
/// half to even (a margin of 15 starts the crop at 8, one of 13 at 6).
pub fn center_crop_offset(length: u32, size: u32) -> u32 {
    let margin = length - size;
    let half = margin / 2;
    if margin % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// Colour jitter ranges, as torchvision's `ColorJitter`: brightness, contrast and saturation factors
/// are drawn from `[max(0, 1 - x), 1 + x]`, the hue shift from `[-hue, hue]` (a fraction of the
/// colour wheel, at most 0.5). All zero (the default) means no jitter.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColorJitter {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
}

impl ColorJitter {
    pub fn is_off(&self) -> bool {
        self.brightness == 0.0 && self.contrast == 0.0 && self.saturation == 0.0 && self.hue == 0.0
    }
}

/// Training-time augmentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentOptions {
    /// The rotation angle is uniform in `[-rotation_degrees, rotation_degrees]`.
    pub rotation_degrees: f32,
    pub jitter: ColorJitter,
}

impl Default for AugmentOptions {
    fn default() -> Self {
        Self { rotation_degrees: 2.0, jitter: ColorJitter::default() }
    }
}

/// A full transform from a decoded image to a normalised HWC `f32` tensor of `size × size × 3`.
#[derive(Clone, Debug)]
pub struct ImageTransform {
    pub size: u32,
    pub resize: ResizeMode,
    pub augment: Option<AugmentOptions>,
    pub normalization: Normalization,
    table: NormalizationTable,
}

impl ImageTransform {
    pub fn new(size: u32, resize: ResizeMode, augment: Option<AugmentOptions>, normalization: Normalization) -> Self {
        Self { size, resize, augment, normalization, table: normalization.lookup_table() }
    }

    /// Rotation and colour jitter, then ImageNet normalisation, at `size × size` (bilinear stretch).
    pub fn train(size: u32, augment: AugmentOptions) -> Self {
        Self::new(size, ResizeMode::Stretch, Some(augment), Normalization::ImageNet)
    }

    /// Resize and ImageNet normalisation.
    pub fn eval(size: u32) -> Self {
        Self::new(size, ResizeMode::Stretch, None, Normalization::ImageNet)
    }

    /// CLIP preprocessing: bicubic short-side resize, centre crop, CLIP normalisation.
    pub fn clip(size: u32) -> Self {
        Self::new(size, ResizeMode::ShortSideCenterCrop, None, Normalization::Clip)
    }

    /// Transforms one image; `rng` drives the augmentation (unused without it).
    pub fn apply(&self, image: &RgbImage, rng: &mut Rng) -> Vec<f32> {
        let resized = resize_square(image, self.size, self.resize);
        let mut out = vec![0.0; resized.as_raw().len()];
        self.apply_resized(resized.as_raw(), rng, &mut out);
        out
    }

    /// Transforms HWC bytes that already have `size × size` (as stored by `prepare`) into `out`.
    pub fn apply_resized(&self, pixels: &[u8], rng: &mut Rng, out: &mut [f32]) {
        match &self.augment {
            None => self.table.normalize_bytes(pixels, out),
            Some(augment) => augment_into(pixels, self.size as usize, augment, &self.table, rng, out),
        }
    }
}

/// Rotates, jitters and normalises one `size × size` HWC image into `out`.
pub fn augment_into(
    pixels: &[u8],
    size: usize,
    augment: &AugmentOptions,
    table: &NormalizationTable,
    rng: &mut Rng,
    out: &mut [f32],
) {
    let angle = rng.uniform_in(-augment.rotation_degrees, augment.rotation_degrees);
    rotate_to_unit(pixels, size, angle, out);
    if !augment.jitter.is_off() {
        jitter_unit(out, &augment.jitter, rng);
    }
    table.normalize_unit(out);
}

/// Rotates a square HWC image by `degrees` (counter-clockwise) about its centre with bilinear
/// sampling, filling uncovered corners with black, and scales values to [0, 1].
pub fn rotate_to_unit(pixels: &[u8], size: usize, degrees: f32, out: &mut [f32]) {
    assert_eq!(pixels.len(), size * size * 3, "rotate_to_unit: expected a {size}x{size} RGB image");
    assert_eq!(out.len(), pixels.len(), "rotate_to_unit: output length");
    const SCALE: f32 = 1.0 / 255.0;
    if degrees == 0.0 {
        for (target, &value) in out.iter_mut().zip(pixels) {
            *target = value as f32 * SCALE;
        }
        return;
    }
    let (sin, cos) = degrees.to_radians().sin_cos();
    let centre = (size as f32 - 1.0) / 2.0;
    let last = size as isize - 1;
    for y in 0..size {
        let dy = y as f32 - centre;
        for x in 0..size {
            // Inverse mapping: where in the source does this output pixel come from?
            let dx = x as f32 - centre;
            let source_x = cos * dx - sin * dy + centre;
            let source_y = sin * dx + cos * dy + centre;
            let (x0, y0) = (source_x.floor(), source_y.floor());
            let (fx, fy) = (source_x - x0, source_y - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            // The four neighbours' byte offsets and weights; neighbours outside the image are black.
            let neighbours = [(x0, y0, (1.0 - fx) * (1.0 - fy)), (x0 + 1, y0, fx * (1.0 - fy)), (x0, y0 + 1, (1.0 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)];
            let mut value = [0.0f32; 3];
            for (nx, ny, weight) in neighbours {
                if (0..=last).contains(&nx) && (0..=last).contains(&ny) {
                    let source = &pixels[(ny as usize * size + nx as usize) * 3..][..3];
                    for channel in 0..3 {
                        value[channel] += source[channel] as f32 * weight;
                    }
                }
            }
            let target = &mut out[(y * size + x) * 3..][..3];
            for channel in 0..3 {
                target[channel] = value[channel] * SCALE;
            }
        }
    }
}

const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

fn luma(pixel: &[f32]) -> f32 {
    LUMA[0] * pixel[0] + LUMA[1] * pixel[1] + LUMA[2] * pixel[2]
}

/// Colour jitter on HWC values in [0, 1], in place; the four adjustments run in a random order
/// (as torchvision does), each with its own random factor.
pub fn jitter_unit(values: &mut [f32], jitter: &ColorJitter, rng: &mut Rng) {
    let factor = |rng: &mut Rng, spread: f32| rng.uniform_in((1.0 - spread).max(0.0), 1.0 + spread);
    let mut order = [0usize, 1, 2, 3];
    rng.shuffle(&mut order);
    for step in order {
        match step {
            0 if jitter.brightness > 0.0 => {
                let b = factor(rng, jitter.brightness);
                values.iter_mut().for_each(|v| *v = (*v * b).clamp(0.0, 1.0));
            }
            1 if jitter.contrast > 0.0 => {
                let c = factor(rng, jitter.contrast);
                let pixels = (values.len() / 3).max(1) as f32;
                let mean = values.chunks_exact(3).map(luma).sum::<f32>() / pixels;
                values.iter_mut().for_each(|v| *v = (c * *v + (1.0 - c) * mean).clamp(0.0, 1.0));
            }
            2 if jitter.saturation > 0.0 => {
                let s = factor(rng, jitter.saturation);
                for pixel in values.chunks_exact_mut(3) {
                    let gray = luma(pixel);
                    pixel.iter_mut().for_each(|v| *v = (s * *v + (1.0 - s) * gray).clamp(0.0, 1.0));
                }
            }
            3 if jitter.hue > 0.0 => {
                let limit = jitter.hue.min(0.5);
                let shift = rng.uniform_in(-limit, limit);
                for pixel in values.chunks_exact_mut(3) {
                    let (h, s, v) = rgb_to_hsv(pixel[0], pixel[1], pixel[2]);
                    let (r, g, b) = hsv_to_rgb((h + shift).rem_euclid(1.0), s, v);
                    pixel.copy_from_slice(&[r, g, b]);
                }
            }
            _ => {}
        }
    }
}

/// RGB in [0, 1] to (hue in [0, 1), saturation, value).
pub fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    let saturation = if max > 0.0 { delta / max } else { 0.0 };
    let hue = if delta == 0.0 {
        0.0
    } else if max == r {
        ((g - b) / delta).rem_euclid(6.0) / 6.0
    } else if max == g {
        ((b - r) / delta + 2.0) / 6.0
    } else {
        ((r - g) / delta + 4.0) / 6.0
    };
    (hue, saturation, max)
}

pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let sector = (h * 6.0).rem_euclid(6.0);
    let index = sector.floor();
    let fraction = sector - index;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * fraction), v * (1.0 - s * (1.0 - fraction)));
    match index as u32 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}
