//! A 2-D scatter plot of embeddings (e.g. from [`super::tsne::tsne`]), one colour per class.
use std::path::Path;

use anyhow::{bail, Result};
use plotters::prelude::*;

use super::font::FAMILY;
use super::figure::{padded_range, render_png};

/// Class 0 ("not hateful") and class 1 ("hateful") colours: blue and red.
pub const CLASS_COLOURS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
pub const CLASS_NAMES: [&str; 2] = ["not hateful", "hateful"];
/// Points are drawn translucent so that dense regions show darker.
pub const POINT_OPACITY: f64 = 0.7;

/// Writes a scatter plot of `points`, coloured by `labels` (0 or 1), titled `title`, to `path`.
pub fn plot_embedding_2d(points: &[[f32; 2]], labels: &[u8], title: &str, path: impl AsRef<Path>) -> Result<()> {
    if points.len() != labels.len() {
        bail!("{} points but {} labels", points.len(), labels.len());
    }
    if let Some(index) = labels.iter().position(|&l| l > 1) {
        bail!("label[{index}] = {} is not a class (expected 0 or 1)", labels[index]);
    }
    if let Some(index) = points.iter().position(|p| !p[0].is_finite() || !p[1].is_finite()) {
        bail!("point[{index}] = {:?} is not finite", points[index]);
    }
    if points.is_empty() {
        bail!("no points to plot");
    }
    let (x_low, x_high) = padded_range(points.iter().map(|p| p[0] as f64), 0.05);
    let (y_low, y_high) = padded_range(points.iter().map(|p| p[1] as f64), 0.05);

    render_png(path.as_ref(), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 28))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)?;
        chart
            .configure_mesh()
            .label_style((FAMILY, 15))
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for class in 0..2u8 {
            let colour = CLASS_COLOURS[class as usize];
            let class_points = points
                .iter()
                .zip(labels)
                .filter(move |(_, &label)| label == class)
                .map(move |(p, _)| Circle::new((p[0] as f64, p[1] as f64), 3, colour.mix(POINT_OPACITY).filled()));
            chart
                .draw_series(class_points)?
                .label(CLASS_NAMES[class as usize])
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 18))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}
