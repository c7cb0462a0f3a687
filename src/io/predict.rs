//! `memefuse predict --model vgg16 --weights FILE --data DIR --split NAME --image-size 64|224
//! --output FILE.jsonl [--device auto|cpu|cuda]`: one JSON line per record,
//! `{"id": "...", "proba": P(hateful), "logits": [l0, l1]}` with proba = softmax(logits)[1].
//!
//! Images are resized to the model size (bilinear stretch; an image already at that size is used
//! bit for bit) and normalised with ImageNet's mean and std, then run through the network in eval
//! mode (no dropout) in f32. Every flag is optional at the parser level so that the trainer's
//! `predict --run RUN_DIR` form can share this struct; this form checks what it needs itself.
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::data::image_io::decode_rgb;
use crate::data::transforms::ImageTransform;
use crate::data::{HatefulMemes, ReadOptions, Record};
use crate::models::vgg16::{Vgg16, Vgg16Config};
use crate::util::Rng;
use crate::{Device, Tensor};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct PredictArgs {
    /// Model: vgg16 or vgg16-small.
    #[arg(long)]
    pub model: Option<String>,
    /// A safetensors state_dict with torchvision's key names (a 1000-class head is replaced).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// The Hateful Memes data folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split to predict (train, dev, dev_seen, dev_unseen, test, test_seen, test_unseen).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Side of the square network input in pixels (64 or 224; any size from 32 works).
    #[arg(long, default_value_t = 224)]
    pub image_size: u32,
    /// Where to write the JSON lines.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

/// One record's prediction.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub id: String,
    pub proba: f64,
    pub logits: Vec<f32>,
}

/// softmax(logits)[1], computed in f64.
pub fn hateful_probability(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    exps[1] / exps.iter().sum::<f64>()
}

/// Runs `model` in eval mode over `records`, `batch_size` images at a time.
pub fn predict_records(model: &Vgg16, records: &[Record], image_size: u32, batch_size: usize, device: Device) -> anyhow::Result<Vec<Prediction>> {
    let transform = ImageTransform::eval(image_size);
    let side = image_size as usize;
    let mut rng = Rng::new(0); // unused: eval transforms and eval-mode dropout draw nothing
    let mut predictions = Vec::with_capacity(records.len());
    let _no_grad = crate::autograd::no_grad();
    for batch in records.chunks(batch_size.max(1)) {
        let mut pixels = Vec::with_capacity(batch.len() * side * side * 3);
        for record in batch {
            let image = decode_rgb(&record.image_path).map_err(anyhow::Error::msg).with_context(|| format!("record {}", record.id))?;
            pixels.extend(transform.apply(&image, &mut rng));
        }
        let images = Tensor::from_vec(pixels, &[batch.len(), side, side, 3], device)?;
        let logits = model.forward(&images, false, &mut rng)?;
        let classes = logits.shape()[1];
        for (record, row) in batch.iter().zip(logits.to_vec_f32()?.chunks(classes)) {
            predictions.push(Prediction { id: record.id.clone(), proba: hateful_probability(row), logits: row.to_vec() });
        }
    }
    Ok(predictions)
}

pub fn run_predict(args: PredictArgs) -> anyhow::Result<()> {
    let Some(model_name) = &args.model else { bail!("predict: --model is required (vgg16 or vgg16-small)") };
    let Some(weights) = &args.weights else { bail!("predict: --weights FILE is required") };
    let Some(data) = &args.data else { bail!("predict: --data DIR is required") };
    let Some(output) = &args.output else { bail!("predict: --output FILE.jsonl is required") };
    if args.image_size < 32 {
        bail!("predict: --image-size {} is below VGG16's minimum of 32", args.image_size);
    }
    let device = crate::backend::resolve_device(&args.device)?;
    let model = Vgg16::new(Vgg16Config::from_name(model_name)?, &mut Rng::new(0), device)?;
    let summary = crate::io::weights::load_vgg16(weights, &model)?;
    if !summary.kept_fresh.is_empty() {
        eprintln!("predict: {} kept freshly initialised (the file's head has another number of classes)", summary.kept_fresh.join(", "));
    }
    let (records, report) = HatefulMemes::open(data)?.read_split(&args.split, &ReadOptions::default())?;
    if !report.issues.is_empty() {
        eprintln!("predict: {} record(s) of {} skipped: see the data reader's report", report.issues.len(), args.split);
    }
    let predictions = predict_records(&model, &records, args.image_size, args.batch_size, device)?;
    let mut lines = String::new();
    for prediction in &predictions {
        lines.push_str(&serde_json::to_string(prediction)?);
        lines.push('\n');
    }
    crate::util::write_atomically(output, lines.as_bytes()).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("predict: {} predictions written to {}", predictions.len(), output.display());
    Ok(())
}
