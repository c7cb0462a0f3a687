//! Figure plumbing shared by all plots: the canvas size, rendering into memory and writing the
//! PNG atomically, and axis ranges.
use std::path::Path;

use anyhow::{Context, Result};
use image::{ImageEncoder, codecs::png::PngEncoder, ExtendedColorType};
use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea};

use crate::util::write_atomically;

/// Width and height, in pixels, of every figure.
pub const FIGURE_SIZE: (u32, u32) = (800, 600);

/// Draws on a white `FIGURE_SIZE` canvas with `draw` and writes the result to `path` as a PNG.
pub(crate) fn render_png(path: &Path, draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>) -> Result<()> {
    super::font::ensure_registered();
    let (width, height) = FIGURE_SIZE;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, FIGURE_SIZE).into_drawing_area();
        root.fill(&plotters::style::colors::WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png).write_image(&rgb, width, height, ExtendedColorType::Rgb8).context("encoding PNG")?;
    write_atomically(path, &png).with_context(|| format!("writing {}", path.display()))
}

/// `[low, high]` covering `values` with a margin, never empty.
pub(crate) fn padded_range(values: impl Iterator<Item = f64>, margin_fraction: f64) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = high - low;
    let margin = if span > 0.0 { span * margin_fraction } else { low.abs().max(1.0) * 0.1 };
    (low - margin, high + margin)
}
