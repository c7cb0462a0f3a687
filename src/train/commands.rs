//! The `train`, `eval`, `predict` and `demo` subcommands: clap arguments and run functions.
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::config::{Augmentation, OptimizerKind, Precision, TrainConfig, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, DEFAULT_SEED, DEFAULT_TRAIN_SPLIT, DEFAULT_VAL_SPLIT};
use super::data_cache::DataCache;
use super::demo::{run_demo_with, DemoOptions};
use super::inference::{evaluation_loader, run_split, SplitOutputs};
use super::metrics::{Evaluation, TargetNames};
use super::progress::ProgressMode;
use super::run_dir::{CheckpointKind, RunDir};
use super::trainer::{load_trained_model, resume, train_new, TrainOptions};
use crate::backend::resolve_device;
use crate::models::{self, ModelConfig};
use crate::util::AtomicFile;
use crate::Device;

/// Batch size of evaluation and prediction passes (no gradients, so larger than training's).
const INFERENCE_BATCH_SIZE: usize = 128;

#[derive(clap::Args, Debug, Default)]
pub struct TrainArgs {
    /// Model to train (see `models::REGISTRY`: image-mlp, text-bow, fusion-mlp, lstm, vgg16, ...).
    #[arg(long)]
    pub model: Option<String>,
    /// Hateful Memes folder (train.jsonl, dev_seen.jsonl, img/ ...).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder to create.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint (only --epochs and --device may be given with it).
    #[arg(long, conflicts_with_all = ["model", "data", "out"])]
    pub resume: Option<PathBuf>,
    /// Epochs to train [default: 15].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training batch size [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate [default: 1e-3 for adam/adamw, 1e-2 for sgd].
    #[arg(long = "lr")]
    pub learning_rate: Option<f32>,
    /// Optimiser [default: adam].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Weight decay [default: 0, or 0.01 for adamw].
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Seed of initialisation, data order and dropout [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Image side, 64 or 224 [default: 64].
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Tokens per caption [default: the train split's 95th percentile].
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Hidden layer width [default: 256].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Dropout probability [default: 0.3].
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Clip gradients to this global L2 norm [default: no clipping].
    #[arg(long)]
    pub clip_grad_norm: Option<f32>,
    /// fp32, fp16 (mixed, loss-scaled) or bf16 (mixed) [default: fp16 on a GPU, fp32 on the CPU].
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// Validation split [default: dev].
    #[arg(long)]
    pub val_split: Option<String>,
    /// Training images are rotated by a random angle in ±this many degrees [default: 2].
    #[arg(long)]
    pub rotation: Option<f32>,
    /// Colour jitter of training images: brightness factor [default: 0, off].
    #[arg(long)]
    pub brightness: Option<f32>,
    /// Colour jitter: contrast factor [default: 0, off].
    #[arg(long)]
    pub contrast: Option<f32>,
    /// Colour jitter: saturation factor [default: 0, off].
    #[arg(long)]
    pub saturation: Option<f32>,
    /// Colour jitter: hue shift, at most 0.5 [default: 0, off].
    #[arg(long)]
    pub hue: Option<f32>,
    /// Fusion baselines (cnn-lstm, vgg16-lstm): early (features concatenated, then an MLP) or late
    /// (each branch classifies, logits combined with learned weights) [default: early].
    #[arg(long)]
    pub fusion: Option<models::FusionKind>,
    /// Fusion baselines: keep the image branch as --init loaded it (no gradients).
    #[arg(long)]
    pub freeze_image: bool,
    /// Start from the weights in this safetensors file (a checkpoint or named weights).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Stop after this many epochs, as if the process had been killed (to test --resume).
    #[arg(long, hide = true)]
    pub stop_after_epochs: Option<usize>,
}

impl TrainArgs {
    /// The options that fix what a run computes: they cannot change on resume.
    fn config_options_given(&self) -> Vec<&'static str> {
        let given = [
            ("--batch-size", self.batch_size.is_some()),
            ("--lr", self.learning_rate.is_some()),
            ("--optimizer", self.optimizer.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--seed", self.seed.is_some()),
            ("--image-size", self.image_size.is_some()),
            ("--max-len", self.max_len.is_some()),
            ("--hidden", self.hidden.is_some()),
            ("--dropout", self.dropout.is_some()),
            ("--clip-grad-norm", self.clip_grad_norm.is_some()),
            ("--precision", self.precision.is_some()),
            ("--val-split", self.val_split.is_some()),
            ("--init", self.init.is_some()),
            ("--fusion", self.fusion.is_some()),
            ("--freeze-image", self.freeze_image),
            ("--rotation", self.rotation.is_some()),
            ("--brightness", self.brightness.is_some()),
            ("--contrast", self.contrast.is_some()),
            ("--saturation", self.saturation.is_some()),
            ("--hue", self.hue.is_some()),
        ];
        given.into_iter().filter(|(_, is_given)| *is_given).map(|(name, _)| name).collect()
    }

    /// The config of a new run, defaults filled in.
    pub fn to_config(&self, device: Device) -> Result<TrainConfig> {
        let Some(model) = self.model.clone() else { bail!("--model is required (available: {})", models::available().join(", ")) };
        let Some(data) = &self.data else { bail!("--data is required: the Hateful Memes folder to train on") };
        let data_dir = std::path::absolute(data).with_context(|| format!("resolving --data {}", data.display()))?;
        let optimizer = self.optimizer.unwrap_or(OptimizerKind::Adam);
        let defaults = ModelConfig::default();
        let init = match &self.init {
            Some(path) => Some(std::path::absolute(path).with_context(|| format!("resolving --init {}", path.display()))?),
            None => None,
        };
        Ok(TrainConfig {
            model,
            model_config: ModelConfig {
                image_size: self.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
                vocab_size: defaults.vocab_size,
                hidden: self.hidden.unwrap_or(defaults.hidden),
                dropout: self.dropout.unwrap_or(defaults.dropout),
                fusion: self.fusion.unwrap_or(defaults.fusion),
                freeze_image: self.freeze_image,
            },
            data_dir,
            train_split: DEFAULT_TRAIN_SPLIT.to_string(),
            val_split: self.val_split.clone().unwrap_or_else(|| DEFAULT_VAL_SPLIT.to_string()),
            max_len: self.max_len,
            epochs: self.epochs.unwrap_or(DEFAULT_EPOCHS),
            batch_size: self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            optimizer,
            learning_rate: self.learning_rate.unwrap_or(optimizer.default_learning_rate()),
            weight_decay: self.weight_decay.unwrap_or(optimizer.default_weight_decay()),
            clip_grad_norm: self.clip_grad_norm,
            precision: self.precision.unwrap_or(Precision::default_for(device)),
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            init,
            augmentation: {
                let default = Augmentation::default();
                Augmentation {
                    rotation_degrees: self.rotation.unwrap_or(default.rotation_degrees),
                    brightness: self.brightness.unwrap_or(default.brightness),
                    contrast: self.contrast.unwrap_or(default.contrast),
                    saturation: self.saturation.unwrap_or(default.saturation),
                    hue: self.hue.unwrap_or(default.hue),
                }
            },
        })
    }
}

pub fn run_train(args: TrainArgs) -> Result<()> {
    let device = resolve_device(&args.device)?;
    let options = TrainOptions { device, progress: ProgressMode::detect(), stop_after_epochs: args.stop_after_epochs };
    let summary = match &args.resume {
        Some(run_dir) => {
            let fixed = args.config_options_given();
            if !fixed.is_empty() {
                bail!("{} cannot change when resuming: a resumed run keeps its config (only --epochs and --device may be given)", fixed.join(", "));
            }
            resume(&RunDir::open_existing(run_dir)?, args.epochs, &options)?
        }
        None => {
            let Some(out) = &args.out else { bail!("--out is required: the run folder to create (or use --resume RUN_DIR)") };
            train_new(&RunDir::new(out), args.to_config(device)?, &options)?
        }
    };
    match (summary.progress.best_epoch, summary.progress.best_val_auroc) {
        (Some(epoch), Some(auroc)) => eprintln!("memefuse: best validation AUROC {auroc:.4} at epoch {epoch}"),
        _ => eprintln!("memefuse: no epoch had a defined validation AUROC"),
    }
    Ok(())
}

/// A trained run, ready to run over splits.
struct LoadedRun {
    run: RunDir,
    config: TrainConfig,
    model: Box<dyn models::Model>,
    epoch: usize,
    device: Device,
}

fn load_run(run_dir: &PathBuf, checkpoint: CheckpointKind, data: &Option<PathBuf>, device: &str) -> Result<LoadedRun> {
    let run = RunDir::open_existing(run_dir)?;
    let device = resolve_device(device)?;
    let (mut config, model, progress) = load_trained_model(&run, checkpoint, device)?;
    if let Some(data) = data {
        config.data_dir = std::path::absolute(data)?;
    }
    Ok(LoadedRun { run, config, model, epoch: progress.epoch, device })
}

impl LoadedRun {
    fn outputs(&self, split: &str) -> Result<SplitOutputs> {
        let prepared = DataCache::new(&self.run, &self.config).split(split)?;
        let loader = evaluation_loader(prepared, INFERENCE_BATCH_SIZE)?;
        run_split(self.model.as_ref(), &loader, self.config.precision.compute_dtype(), self.device, false)
    }
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A run folder made by `memefuse train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Labelled split to evaluate (train, dev, dev_seen, dev_unseen, test, test_seen).
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Which checkpoint to evaluate.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointKind,
    /// Print the JSON (also written to RUN_DIR/eval-SPLIT.json) instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Read splits from this folder instead of the one the run was trained on.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// The JSON `eval` writes: the evaluation (sklearn's report dict, confusion matrix, AUROC,
/// warnings) plus where it came from.
pub fn evaluation_json(evaluation: &Evaluation, split: &str, checkpoint: CheckpointKind, epoch: usize, loss: f64) -> serde_json::Value {
    let mut value = serde_json::to_value(evaluation).expect("an evaluation always serializes");
    let object = value.as_object_mut().expect("an evaluation serializes to an object");
    object.insert("split".into(), json!(split));
    object.insert("checkpoint".into(), json!(checkpoint.name()));
    object.insert("epoch".into(), json!(epoch));
    object.insert("samples".into(), json!(evaluation.confusion_matrix.total()));
    object.insert("accuracy".into(), json!(evaluation.accuracy()));
    object.insert("loss".into(), if loss.is_finite() { json!(loss) } else { serde_json::Value::Null });
    value
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    let loaded = load_run(&args.run, args.checkpoint, &args.data, &args.device)?;
    let outputs = loaded.outputs(&args.split)?;
    if !outputs.is_fully_labelled() {
        bail!("split {:?} has unlabelled records; evaluation needs labels (use `memefuse predict` for unlabelled splits)", args.split);
    }
    let (labels, scores) = outputs.labelled();
    let evaluation = Evaluation::from_scores(&labels, &scores, TargetNames::hateful_memes())?;
    let value = evaluation_json(&evaluation, &args.split, args.checkpoint, loaded.epoch, outputs.mean_loss());
    let path = loaded.run.eval_path(&args.split);
    let text = serde_json::to_string_pretty(&value)?;
    crate::util::write_atomically(&path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    if args.json {
        println!("{text}");
    } else {
        let names = &evaluation.classification_report.target_names.0;
        println!("{} on {:?} ({} checkpoint, epoch {}), {} samples\n", loaded.config.model, args.split, args.checkpoint.name(), loaded.epoch, labels.len());
        print!("{}", evaluation.to_text());
        println!("accuracy: {:.4}", evaluation.accuracy());
        println!("\nconfusion matrix (rows: true class, columns: predicted class)\n{}", evaluation.confusion_matrix.to_text([names[0].as_str(), names[1].as_str()]));
        eprintln!("memefuse: wrote {}", path.display());
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A run folder made by `memefuse train` (or name an architecture with --model and --weights).
    #[arg(long, conflicts_with_all = ["model", "weights"], required_unless_present = "weights")]
    pub run: Option<PathBuf>,
    /// With --weights: the architecture they belong to (lstm: a PyTorch text-LSTM state_dict;
    /// vgg16 or vgg16-small: a torchvision VGG16 state_dict).
    #[arg(long, requires = "weights")]
    pub model: Option<String>,
    /// With --model: weights saved from PyTorch as safetensors.
    #[arg(long, requires = "model")]
    pub weights: Option<PathBuf>,
    /// Split to predict, labelled or not (e.g. test_unseen).
    #[arg(long)]
    pub split: String,
    /// JSON-lines file to write: {"id", "proba", "logits", ...} per record.
    #[arg(long)]
    pub output: PathBuf,
    /// With --run: which checkpoint to use.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointKind,
    /// The data folder (with --run: overrides the run's; with --weights: required).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// lstm: vocabulary file, one token per line, line number = id.
    #[arg(long)]
    pub vocab: Option<PathBuf>,
    /// lstm: captions are truncated or post-padded to this many tokens.
    #[arg(long, default_value_t = 64)]
    pub max_len: usize,
    /// lstm: which time step the head reads: last-step (as the seed) or last-real-token.
    #[arg(long, default_value = "last-step")]
    pub readout: crate::models::text_lstm::SequenceReadout,
    /// vgg16: fp32, fp16 or bf16 [default: fp16 on a GPU, fp32 on the CPU] (with --run: the run's).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// vgg16: side of the square network input (64 or 224).
    #[arg(long, default_value_t = 224)]
    pub image_size: u32,
    /// With --weights: records per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

impl PredictArgs {
    /// `predict --run RUN --split SPLIT --output OUTPUT` with every other option at its default.
    pub fn for_run(run: &std::path::Path, split: &str, output: &std::path::Path) -> Self {
        Self {
            run: Some(run.to_path_buf()),
            model: None,
            weights: None,
            split: split.to_string(),
            output: output.to_path_buf(),
            checkpoint: CheckpointKind::Best,
            data: None,
            device: "cpu".to_string(),
            vocab: None,
            max_len: 64,
            readout: Default::default(),
            precision: None,
            image_size: 224,
            batch_size: 64,
        }
    }
}

pub fn run_predict(args: PredictArgs) -> Result<()> {
    let Some(run) = &args.run else { return predict_with_weights(args) };
    let loaded = load_run(run, args.checkpoint, &args.data, &args.device)?;
    let outputs = loaded.outputs(&args.split)?;
    let mut file = AtomicFile::create(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    for (((id, probability), logits), label) in outputs.ids.iter().zip(&outputs.probabilities).zip(&outputs.logits).zip(&outputs.labels) {
        let line = json!({ "id": id, "proba": probability, "logits": logits, "label": label });
        writeln!(file, "{line}")?;
    }
    file.commit().with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("memefuse: wrote {} predictions for {:?} to {}", outputs.ids.len(), args.split, args.output.display());
    Ok(())
}

/// `predict --model NAME --weights FILE --data DIR`: scoring with imported (PyTorch) weights.
fn predict_with_weights(args: PredictArgs) -> Result<()> {
    let (Some(model), Some(weights)) = (args.model.as_deref(), args.weights.clone()) else {
        bail!("predict needs --run RUN_DIR, or --model NAME with --weights FILE");
    };
    let data = args.data.clone().ok_or_else(|| anyhow::anyhow!("predict --weights needs --data DIR"))?;
    let count = match model {
        "lstm" => {
            let vocab = args.vocab.clone().ok_or_else(|| anyhow::anyhow!("predict --model lstm needs --vocab FILE"))?;
            crate::models::text_lstm_predict::predict_lstm(&crate::models::text_lstm_predict::LstmPredictOptions {
                weights,
                data,
                split: args.split.clone(),
                vocab,
                max_len: args.max_len,
                output: args.output.clone(),
                readout: args.readout,
                batch_size: args.batch_size,
                device: crate::backend::resolve_device(&args.device)?,
            })?
        }
        "vgg16" | "vgg16-small" => {
            let device = crate::backend::resolve_device(&args.device)?;
            crate::models::vgg16_predict::predict_vgg16(&crate::models::vgg16_predict::Vgg16PredictOptions {
                model: model.to_string(),
                weights,
                data,
                split: args.split.clone(),
                image_size: args.image_size,
                output: args.output.clone(),
                batch_size: args.batch_size,
                device,
                dtype: args.precision.unwrap_or(Precision::default_for(device)).compute_dtype(),
            })?
        }
        other => bail!("predict --weights: no importer for model {other:?}; available: lstm, vgg16, vgg16-small"),
    };
    eprintln!("memefuse: wrote {count} predictions to {}", args.output.display());
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Report folder to write (the synthetic data and the runs go inside it).
    #[arg(long, default_value = "demo-report")]
    pub out: PathBuf,
    /// Epochs per model (the fusion models peak within a few; the best checkpoint is reported).
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    /// Synthetic training records (dev and test get a third each).
    #[arg(long, default_value_t = 1000)]
    pub train_size: usize,
    /// Models to train (comma-separated) [default: all but the full-size vgg16].
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

pub fn run_demo(args: DemoArgs) -> Result<()> {
    let device = resolve_device(&args.device)?;
    let models = if args.models.is_empty() { models::demo_models().into_iter().map(String::from).collect() } else { args.models.clone() };
    let options = DemoOptions { out: args.out.clone(), epochs: args.epochs, train_size: args.train_size, models, seed: args.seed, device, progress: ProgressMode::Silent };
    let report = run_demo_with(&options)?;
    println!("{}", report.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::PredictArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        predict: PredictArgs,
    }

    #[test]
    fn predict_takes_a_run_or_model_weights_but_not_both() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["predict"], args].concat()).map(|c| c.predict);
        let from_run = parse(&["--run", "r", "--split", "dev", "--output", "o.jsonl"]).unwrap();
        assert!(from_run.run.is_some() && from_run.weights.is_none());
        let from_weights = parse(&["--model", "lstm", "--weights", "w.safetensors", "--data", "d", "--split", "dev", "--output", "o"]).unwrap();
        assert_eq!(from_weights.model.as_deref(), Some("lstm"));
        assert!(parse(&["--run", "r", "--weights", "w", "--model", "lstm", "--split", "dev", "--output", "o"]).is_err(), "both forms at once");
        assert!(parse(&["--split", "dev", "--output", "o"]).is_err(), "neither form");
        assert!(parse(&["--weights", "w", "--split", "dev", "--output", "o"]).is_err(), "--weights without --model");
    }
}
