//! The PNG figures: they exist, decode, have the figure size, and hold curves, points and text.
use std::path::Path;

use image::RgbImage;
use memefuse::train::history::{EpochRecord, History};
use memefuse::viz::{curves, scatter, FIGURE_SIZE};

fn history(epochs: usize) -> History {
    History::from_records(
        (1..=epochs)
            .map(|epoch| {
                let e = epoch as f64;
                EpochRecord {
                    epoch,
                    train_loss: 0.7 / e.sqrt(),
                    train_accuracy: 0.5 + 0.4 * (1.0 - 1.0 / e),
                    val_loss: 0.72 / e.powf(0.3),
                    val_accuracy: 0.5 + 0.15 * (1.0 - 1.0 / e),
                    val_auroc: 0.6,
                    samples_per_second: 900.0,
                    seconds: 30.0,
                    learning_rate: 1e-4,
                }
            })
            .collect(),
    )
}

fn decode(path: &Path) -> RgbImage {
    let image = image::open(path).unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display())).to_rgb8();
    assert_eq!(image.dimensions(), FIGURE_SIZE);
    image
}

/// Pixels close to `colour` (anti-aliasing blends edges, so allow some distance).
fn count_near(image: &RgbImage, colour: [u8; 3], region: (u32, u32, u32, u32)) -> usize {
    let (x0, y0, x1, y1) = region;
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| image.get_pixel(x, y).0.iter().zip(colour).all(|(&a, b)| (a as i32 - b as i32).abs() <= 40))
        .count()
}

/// Dark (text-like) pixels in the title band at the top of the figure.
fn title_ink(image: &RgbImage) -> usize {
    count_near(image, [0, 0, 0], (0, 0, image.width(), 45))
}

#[test]
fn loss_and_accuracy_curves_are_drawn_with_titles() {
    let dir = tempfile::tempdir().unwrap();
    let history = history(12);
    let loss_path = dir.path().join("loss.png");
    let accuracy_path = dir.path().join("accuracy.png");
    curves::plot_loss(&history, "Late fusion", &loss_path).unwrap();
    curves::plot_accuracy(&history, "", &accuracy_path).unwrap();

    for path in [&loss_path, &accuracy_path] {
        let image = decode(path);
        let whole = (0, 0, image.width(), image.height());
        let training = count_near(&image, curves::TRAINING_COLOUR.into_rgb(), whole);
        let validation = count_near(&image, curves::VALIDATION_COLOUR.into_rgb(), whole);
        assert!(training > 500 && validation > 500, "{}: {training} training and {validation} validation pixels", path.display());
        assert!(title_ink(&image) > 100, "{}: no title text", path.display());
    }
    // Only the committed PNGs remain: the atomic write left no temporary files behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_single_epoch_still_plots_and_an_empty_history_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.png");
    curves::plot_loss(&history(1), "one epoch", &path).unwrap();
    let image = decode(&path);
    assert!(count_near(&image, curves::VALIDATION_COLOUR.into_rgb(), (0, 0, image.width(), image.height())) > 20);
    assert!(curves::plot_loss(&History::default(), "", dir.path().join("none.png")).is_err());
}

#[test]
fn embedding_scatter_shows_both_classes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("embedding.png");
    let points: Vec<[f32; 2]> = (0..200).map(|i| {
        let t = i as f32 * 0.1;
        if i % 2 == 0 { [t.cos() * 3.0 - 5.0, t.sin() * 3.0] } else { [t.cos() * 3.0 + 5.0, t.sin() * 3.0] }
    }).collect();
    let labels: Vec<u8> = (0..200).map(|i| (i % 2) as u8).collect();
    scatter::plot_embedding_2d(&points, &labels, "t-SNE of fused embeddings", &path).unwrap();

    let image = decode(&path);
    let (w, h) = (image.width(), image.height());
    // Class 0 sits on the left half, class 1 on the right (legend aside, top right).
    // A lone translucent point over the white background.
    let on_white = |c: [u8; 3]| c.map(|v| (v as f64 * scatter::POINT_OPACITY + 255.0 * (1.0 - scatter::POINT_OPACITY)).round() as u8);
    let blue = on_white(scatter::CLASS_COLOURS[0].into_rgb());
    let red = on_white(scatter::CLASS_COLOURS[1].into_rgb());
    assert!(count_near(&image, blue, (0, 100, w / 2, h)) > 300);
    assert!(count_near(&image, red, (w / 2, 100, w, h)) > 300);
    assert!(count_near(&image, red, (0, 100, w / 2, h)) < 20, "hateful points drawn on the wrong side");
    assert!(title_ink(&image) > 100, "no title text");

    assert!(scatter::plot_embedding_2d(&points, &labels[..10], "mismatch", dir.path().join("bad.png")).is_err());
}

trait IntoRgb {
    fn into_rgb(self) -> [u8; 3];
}
impl IntoRgb for plotters::style::RGBColor {
    fn into_rgb(self) -> [u8; 3] {
        [self.0, self.1, self.2]
    }
}
