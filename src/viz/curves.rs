//! Training curves in the style of the Keras figures of the seed work: "Model loss" and
//! "Model accuracy", training and validation against epochs, with a legend.
//!
//! Epochs whose value is NaN (e.g. no validation that epoch) are left out of that line.
use std::path::Path;

use anyhow::{bail, Result};
use plotters::prelude::*;

use super::font::FAMILY;
use super::figure::{padded_range, render_png};
use crate::train::history::History;

/// Colours of the two lines, matplotlib's first two defaults (blue, orange).
pub const TRAINING_COLOUR: RGBColor = RGBColor(31, 119, 180);
pub const VALIDATION_COLOUR: RGBColor = RGBColor(255, 127, 14);

/// Writes "`title_prefix`: Model loss" (training and validation loss per epoch) to `path` as a PNG;
/// an empty prefix gives just "Model loss".
pub fn plot_loss(history: &History, title_prefix: &str, path: impl AsRef<Path>) -> Result<()> {
    let lines = [
        Line { label: "training", points: history.series(|r| r.train_loss), colour: TRAINING_COLOUR },
        Line { label: "validation", points: history.series(|r| r.val_loss), colour: VALIDATION_COLOUR },
    ];
    plot_curves(&figure_title(title_prefix, "Model loss"), "loss", &lines, SeriesLabelPosition::UpperRight, path.as_ref())
}

/// Writes "`title_prefix`: Model accuracy" (training and validation accuracy per epoch) to `path`.
pub fn plot_accuracy(history: &History, title_prefix: &str, path: impl AsRef<Path>) -> Result<()> {
    let lines = [
        Line { label: "training", points: history.series(|r| r.train_accuracy), colour: TRAINING_COLOUR },
        Line { label: "validation", points: history.series(|r| r.val_accuracy), colour: VALIDATION_COLOUR },
    ];
    plot_curves(&figure_title(title_prefix, "Model accuracy"), "accuracy", &lines, SeriesLabelPosition::LowerRight, path.as_ref())
}

fn figure_title(prefix: &str, title: &str) -> String {
    if prefix.is_empty() {
        title.to_string()
    } else {
        format!("{prefix}: {title}")
    }
}

/// One labelled line of `(epoch, value)` points.
struct Line {
    label: &'static str,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
}

fn plot_curves(
    title: &str,
    y_label: &str,
    lines: &[Line],
    legend_position: SeriesLabelPosition,
    path: &Path,
) -> Result<()> {
    let points = || lines.iter().flat_map(|line| line.points.iter().copied());
    if points().next().is_none() {
        bail!("nothing to plot for {title:?}: the history has no finite values");
    }
    let epochs = || points().map(|(epoch, _)| epoch);
    let first_epoch = epochs().fold(f64::INFINITY, f64::min);
    let last_epoch = epochs().fold(f64::NEG_INFINITY, f64::max);
    // A single epoch gets an axis one epoch wide on either side.
    let (first_epoch, last_epoch) = if first_epoch == last_epoch { (first_epoch - 1.0, last_epoch + 1.0) } else { (first_epoch, last_epoch) };
    let (y_low, y_high) = padded_range(points().map(|(_, value)| value), 0.05);
    // At most one tick per epoch, so the integer labels never repeat.
    let x_ticks = ((last_epoch - first_epoch) as usize + 1).min(10);

    render_png(path, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 28))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(first_epoch..last_epoch, y_low..y_high)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_label)
            .x_labels(x_ticks)
            .x_label_formatter(&|epoch| format!("{epoch:.0}"))
            .y_label_formatter(&|value| format!("{value:.3}"))
            .axis_desc_style((FAMILY, 20))
            .label_style((FAMILY, 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for line in lines {
            let colour = line.colour;
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), colour.stroke_width(2)))?
                .label(line.label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            // Markers, so that a single epoch is still visible.
            chart.draw_series(line.points.iter().map(|&point| Circle::new(point, 3, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(legend_position)
            .label_font((FAMILY, 18))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}
