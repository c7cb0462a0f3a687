//! Decoding meme images. The format is sniffed from the file's content, never its extension (the
//! real dataset has JPEG bytes under `.png` names), and every colour type (grayscale, RGBA, palette,
//! 16-bit) is converted to 8-bit RGB.
use image::{ImageReader, RgbImage};
use std::io::Cursor;
use std::path::Path;

/// Reads and decodes `path` into 8-bit RGB. The error says why, without the path (callers add it).
pub fn decode_rgb(path: &Path) -> Result<RgbImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    decode_rgb_bytes(&bytes)
}

/// Decodes an in-memory image (PNG or JPEG, recognised by content) into 8-bit RGB.
pub fn decode_rgb_bytes(bytes: &[u8]) -> Result<RgbImage, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot sniff the format: {e}"))?;
    if reader.format().is_none() {
        return Err("not a PNG or JPEG image (unrecognised content)".to_string());
    }
    let image = reader.decode().map_err(|e| format!("does not decode: {e}"))?;
    if image.width() == 0 || image.height() == 0 {
        return Err("image has zero width or height".to_string());
    }
    // to_rgb8 drops alpha, expands grayscale/palette and scales 16-bit samples down to 8 bits.
    Ok(image.to_rgb8())
}

/// Encodes an RGB image as PNG bytes (fast compression: synthetic data favours speed over size).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Sub).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(bytes)
}
