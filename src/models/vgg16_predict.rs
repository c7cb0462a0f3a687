//! `memefuse predict --model vgg16 --weights FILE --data DIR --split NAME --image-size N (N ≥ 32)
//! --output FILE.jsonl [--device auto|cpu|cuda]`: one prediction per record, written by
//! [`crate::io::predictions`] (the format every `predict` mode shares), proba = softmax(logits)[1].
//!
//! Images are resized to the model size (bilinear stretch; an image already at that size is used
//! bit for bit) and normalised with ImageNet's mean and std, then run through the network in eval
//! mode (no dropout) in the chosen dtype: f32, or f16/bf16 (the f32 weights are cast by the layers;
//! `--precision` defaults to fp16 on a GPU, whose tensor-core kernels want it, and fp32 on the CPU). The flags live in train::commands::PredictArgs, shared with the
//! `predict --run RUN_DIR` and `--model lstm` forms.
use std::path::PathBuf;

use anyhow::Context;

use crate::data::image_io::decode_rgb;
use crate::data::transforms::ImageTransform;
use crate::data::{HatefulMemes, ReadOptions, Record};
use crate::io::predictions::Prediction;
use crate::models::vgg16::{Vgg16, Vgg16Config};
use crate::util::Rng;
use crate::{DType, Device, Tensor};

/// Runs `model` in eval mode over `records`, `batch_size` images at a time, computing in `dtype`.
pub fn predict_records(model: &Vgg16, records: &[Record], image_size: u32, batch_size: usize, device: Device, dtype: DType) -> anyhow::Result<Vec<Prediction>> {
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
        let images = Tensor::from_vec(pixels, &[batch.len(), side, side, 3], device)?.to_dtype(dtype)?;
        let logits = model.forward(&images, false, &mut rng)?;
        let classes = logits.shape()[1];
        anyhow::ensure!(classes == 2, "the VGG16 head has {classes} classes; predictions need 2");
        for (record, row) in batch.iter().zip(logits.to_vec_f32()?.chunks(classes)) {
            predictions.push(Prediction { id: record.id_value(), logits: [row[0], row[1]], true_label: record.label });
        }
    }
    Ok(predictions)
}

/// What `memefuse predict --model vgg16|vgg16-small --weights FILE` needs.
pub struct Vgg16PredictOptions {
    /// "vgg16" or "vgg16-small".
    pub model: String,
    /// A safetensors state_dict with torchvision's key names (a 1000-class head is replaced).
    pub weights: PathBuf,
    pub data: PathBuf,
    pub split: String,
    /// Side of the square network input (any size from 32).
    pub image_size: u32,
    pub batch_size: usize,
    pub device: Device,
    /// The compute dtype (F32, F16 or BF16).
    pub dtype: DType,
}

/// Refuses, in one line, a batch whose images cannot fit in memory: the f32 input batch on the
/// host, and on the CPU also the first block's two activations (the largest of the network).
fn check_batch_memory(config: &Vgg16Config, options: &Vgg16PredictOptions) -> anyhow::Result<()> {
    use crate::util::memory_budget::{ensure_fits, product};
    let pixels = product(&[options.batch_size.max(1) as u128, options.image_size as u128, options.image_size as u128]);
    let bytes_per_pixel = if options.device.is_cuda() { 3 * 4 } else { 3 * 4 + 2 * config.block_widths[0] as u128 * 4 };
    let needed = pixels.and_then(|pixels| pixels.checked_mul(bytes_per_pixel));
    let what = format!("a batch of {} images at --image-size {}", options.batch_size, options.image_size);
    ensure_fits(&what, needed, "use a smaller --image-size or --batch-size")
}

/// Loads the weights and predicts every record of the split.
pub fn predict_vgg16(options: &Vgg16PredictOptions) -> anyhow::Result<Vec<Prediction>> {
    crate::models::input_size::check_image_size(&options.model, options.image_size as usize)?;
    let config = Vgg16Config::from_name(&options.model)?;
    check_batch_memory(&config, options)?;
    let model = Vgg16::new(config, &mut Rng::new(0), options.device)?;
    let summary = crate::io::weights::load_vgg16(&options.weights, &model)?;
    if !summary.kept_fresh.is_empty() {
        eprintln!("memefuse: {} kept freshly initialised (the file's head has another number of classes)", summary.kept_fresh.join(", "));
    }
    let (records, report) = HatefulMemes::open(&options.data)?.read_split(&options.split, &ReadOptions::default())?;
    if !report.issues.is_empty() {
        eprintln!("memefuse: {} record(s) of {} skipped or changed; see `memefuse inspect`", report.issues.len(), options.split);
    }
    predict_records(&model, &records, options.image_size, options.batch_size, options.device, options.dtype)
}
