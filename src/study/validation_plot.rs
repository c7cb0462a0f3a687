//! One figure with every model's validation AUROC per epoch, for the report's comparison.
use std::path::Path;

use anyhow::{bail, Result};
use plotters::prelude::*;

use crate::train::history::History;
use crate::viz::figure::{padded_range, render_png};
use crate::viz::font::FAMILY;

/// matplotlib's ten default colours, reused in turn.
const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Writes "Validation AUROC per epoch" with one line per `(label, history)` to `path` as a PNG.
/// Epochs with an undefined AUROC are left out; a model without any is left out of the figure.
pub fn plot_validation_auroc(models: &[(String, &History)], path: &Path) -> Result<()> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = models
        .iter()
        .map(|(label, history)| (label.as_str(), history.series(|r| r.val_auroc)))
        .filter(|(_, points)| !points.is_empty())
        .collect();
    if lines.is_empty() {
        bail!("no model has a defined validation AUROC to plot");
    }
    let all = || lines.iter().flat_map(|(_, points)| points.iter().copied());
    let last_epoch = all().map(|(epoch, _)| epoch).fold(1.0, f64::max);
    let (y_low, y_high) = padded_range(all().map(|(_, auroc)| auroc), 0.05);
    render_png(path, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Validation AUROC per epoch", (FAMILY, 28))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..last_epoch + 0.5, y_low..y_high.min(1.02))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("validation AUROC")
            .x_labels((last_epoch as usize).min(10))
            .x_label_formatter(&|epoch| format!("{epoch:.0}"))
            .y_label_formatter(&|value| format!("{value:.2}"))
            .axis_desc_style((FAMILY, 20))
            .label_style((FAMILY, 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (index, (label, points)) in lines.iter().enumerate() {
            let colour = TAB10[index % TAB10.len()];
            chart
                .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart.draw_series(points.iter().map(|&point| Circle::new(point, 3, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FAMILY, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}
