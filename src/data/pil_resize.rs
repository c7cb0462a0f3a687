//! Pillow's bicubic resize of 8-bit RGB, bit for bit (Pillow's `libImaging/Resample.c`): what
//! open_clip's and HuggingFace's PIL preprocessing run, so that CLIP sees the same bytes here.
//!
//! Separable: a horizontal pass, rounded to bytes, then a vertical pass. Each output sample is a
//! weighted sum over the input samples within the kernel's support (2 pixels, widened by the
//! scale when shrinking, which is the anti-aliasing), with weights normalised to sum to 1 and
//! held in fixed point with 22 fractional bits; results are rounded and clamped to 0..=255.
use image::RgbImage;

/// Fractional bits of the fixed-point weights: `32 - 8 - 2`, Pillow's `PRECISION_BITS`.
const PRECISION_BITS: u32 = 22;
/// The bicubic kernel reaches 2 input pixels on each side (before scaling).
const BICUBIC_SUPPORT: f64 = 2.0;

/// Pillow's cubic convolution kernel with a = -0.5 (Keys' kernel, as Catmull–Rom).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output position: the first input index, and fixed-point weights for the inputs from it.
struct Taps {
    first: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

/// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`.
fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = BICUBIC_SUPPORT * filter_scale;
    let (mut first, mut weights) = (Vec::with_capacity(out_size), Vec::with_capacity(out_size));
    for out in 0..out_size {
        let center = (out as f64 + 0.5) * scale;
        // C's `(int)` truncates toward zero, as Rust's `as` does.
        let start = ((center - support + 0.5) as i64).max(0) as usize;
        let end = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        // Pillow multiplies by the reciprocal; dividing would differ in the last bit.
        let inverse_scale = 1.0 / filter_scale;
        let raw: Vec<f64> = (start..end).map(|index| bicubic((index as f64 - center + 0.5) * inverse_scale)).collect();
        let total: f64 = raw.iter().sum();
        let fixed = raw
            .iter()
            .map(|&weight| {
                let weight = if total != 0.0 { weight / total } else { weight };
                let scaled = weight * (1u32 << PRECISION_BITS) as f64;
                (if weight < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
            })
            .collect();
        first.push(start);
        weights.push(fixed);
    }
    Taps { first, weights }
}

/// A fixed-point sum back to a byte: Pillow's `clip8`.
fn to_byte(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

const ROUNDING: i64 = 1 << (PRECISION_BITS - 1);

/// Resizes HWC RGB bytes of `width × height` along x to `out_width`.
fn resize_horizontal(pixels: &[u8], width: usize, height: usize, out_width: usize) -> Vec<u8> {
    let taps = taps(width, out_width);
    let mut out = vec![0u8; out_width * height * 3];
    for y in 0..height {
        let row = &pixels[y * width * 3..(y + 1) * width * 3];
        let out_row = &mut out[y * out_width * 3..(y + 1) * out_width * 3];
        for (x, target) in out_row.chunks_exact_mut(3).enumerate() {
            let mut sums = [ROUNDING; 3];
            for (offset, &weight) in taps.weights[x].iter().enumerate() {
                let source = &row[(taps.first[x] + offset) * 3..][..3];
                for channel in 0..3 {
                    sums[channel] += source[channel] as i64 * weight as i64;
                }
            }
            for channel in 0..3 {
                target[channel] = to_byte(sums[channel]);
            }
        }
    }
    out
}

/// Resizes HWC RGB bytes of `width × height` along y to `out_height`.
fn resize_vertical(pixels: &[u8], width: usize, height: usize, out_height: usize) -> Vec<u8> {
    let taps = taps(height, out_height);
    let stride = width * 3;
    let mut out = vec![0u8; stride * out_height];
    let mut sums = vec![0i64; stride];
    for y in 0..out_height {
        sums.fill(ROUNDING);
        for (offset, &weight) in taps.weights[y].iter().enumerate() {
            let row = &pixels[(taps.first[y] + offset) * stride..][..stride];
            for (sum, &value) in sums.iter_mut().zip(row) {
                *sum += value as i64 * weight as i64;
            }
        }
        for (target, &sum) in out[y * stride..(y + 1) * stride].iter_mut().zip(&sums) {
            *target = to_byte(sum);
        }
    }
    out
}

/// `image.resize((width, height), Image.BICUBIC)` as Pillow computes it.
pub fn resize_bicubic(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    assert!(width > 0 && height > 0, "resize_bicubic: the output must not be empty");
    let (in_width, in_height) = (image.width() as usize, image.height() as usize);
    let (out_width, out_height) = (width as usize, height as usize);
    let mut pixels = image.as_raw().clone();
    if out_width != in_width {
        pixels = resize_horizontal(&pixels, in_width, in_height, out_width);
    }
    if out_height != in_height {
        pixels = resize_vertical(&pixels, out_width, in_height, out_height);
    }
    RgbImage::from_raw(width, height, pixels).expect("the buffer has width × height × 3 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (in_size, out_size) in [(301, 224), (13, 32), (47, 47), (1000, 7)] {
            let taps = taps(in_size, out_size);
            for weights in &taps.weights {
                let total: i32 = weights.iter().sum();
                assert!((total - (1 << PRECISION_BITS)).abs() <= weights.len() as i32, "{in_size}→{out_size}: {total}");
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let image = RgbImage::from_pixel(37, 61, image::Rgb([3, 128, 254]));
        let resized = resize_bicubic(&image, 20, 90);
        assert!(resized.pixels().all(|pixel| pixel.0 == [3, 128, 254]));
    }
}
