//! `train` options that the chosen model would ignore are errors, not silently dropped: the
//! seed's LSTM and VGG16 have fixed widths (`--hidden`, `--dropout`), a text-only model reads no
//! image (`--rotation` and the colour jitter), an image-only model reads no caption (`--max-len`).
use anyhow::{bail, Result};

use super::commands::TrainArgs;
use crate::models;

/// The models built from `--hidden` and `--dropout` (models::image_mlp, text_bow, fusion_mlp).
const SIZED_BY_HIDDEN: [&str; 3] = ["image-mlp", "text-bow", "fusion-mlp"];

/// The models whose image body `--image-lr-scale` scales.
const HAS_IMAGE_BODY: [&str; 5] = ["vgg16", "vgg16-small", "cnn-lstm", "vgg16-lstm", "vgg16-small-lstm"];

pub fn refuse_options_the_model_ignores(args: &TrainArgs, model: &str) -> Result<()> {
    let needs = models::entry(model)?.needs;
    let sized = SIZED_BY_HIDDEN.contains(&model);
    let checks = [
        ("--hidden", args.hidden.is_some(), sized, "its widths are fixed"),
        ("--dropout", args.dropout.is_some(), sized, "its dropout is fixed"),
        ("--rotation", args.rotation.is_some(), needs.image, "it reads no image"),
        ("--brightness", args.brightness.is_some(), needs.image, "it reads no image"),
        ("--contrast", args.contrast.is_some(), needs.image, "it reads no image"),
        ("--saturation", args.saturation.is_some(), needs.image, "it reads no image"),
        ("--hue", args.hue.is_some(), needs.image, "it reads no image"),
        ("--max-len", args.max_len.is_some(), needs.text, "it reads no caption"),
        ("--image-lr-scale", args.image_lr_scale.is_some(), HAS_IMAGE_BODY.contains(&model), "it has no VGG16 body or fusion image branch"),
    ];
    let ignored: Vec<String> = checks.iter().filter(|(_, given, used, _)| *given && !*used).map(|(flag, _, _, why)| format!("{flag} ({why})")).collect();
    if !ignored.is_empty() {
        bail!("model {model} would ignore {}; leave them out", ignored.join(", "));
    }
    Ok(())
}
