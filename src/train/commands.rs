//! The `train`, `eval`, `predict` and `demo` subcommands: clap arguments and run functions.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::config::{Augmentation, OptimizerKind, Precision, TrainConfig, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, DEFAULT_SEED, DEFAULT_TRAIN_SPLIT, DEFAULT_VAL_SPLIT};
use super::data_cache::{DataCache, DataSource};
use super::demo::{run_demo_with, DemoOptions};
use super::inference::{evaluation_loader, run_split, SplitOutputs};
use super::metrics::{Evaluation, TargetNames};
use super::model_source::ModelSource;
use super::progress::ProgressMode;
use super::run_dir::{CheckpointKind, RunDir};
use super::trainer::{load_trained_model, resume, train_new, TrainOptions};
use crate::backend::resolve_device;
use crate::models::{self, ModelConfig};
use crate::io::foreign_weights::{import, ForeignWeights, ImportedModel};
use crate::io::predictions::{PredictionFormat, PredictionOutput};
use crate::Device;

/// Batch size of evaluation and prediction passes (no gradients, so larger than training's).
const INFERENCE_BATCH_SIZE: usize = 128;

#[derive(clap::Args, Debug, Default)]
pub struct TrainArgs {
    /// Model to train (docs/trainer.md describes each).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(models::available()))]
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
    /// Image side: VGG16 any from 32, the MLPs a multiple of 8 [default: 64].
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
    /// Validation split: a Hateful Memes name or NAME for NAME.jsonl of the data folder [default: dev].
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
    /// vgg16, vgg16-small and the fusion baselines: the learning rate of the image body (VGG16
    /// without its 2-class head; the fusion baselines' whole image branch) as a fraction of --lr
    /// [default: 0.1 for vgg16 and vgg16-lstm without --init, which diverge at Adam 1e-3 from
    /// scratch; 1 otherwise].
    #[arg(long)]
    pub image_lr_scale: Option<f32>,
    /// Start from the weights in this safetensors file (a checkpoint or named weights), or for
    /// clip-fusion from a HuggingFace CLIP folder (config.json + model.safetensors) [default: a
    /// seeded random initialisation].
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// With --init: a checkpoint trained with another vocabulary has its text weights remapped by
    /// token (tokens it lacks keep their fresh initialisation) instead of being refused.
    #[arg(long, requires = "init")]
    pub init_remap_vocab: bool,
    /// clip-fusion: how the normalised image and text embeddings are combined [default: both].
    #[arg(long, value_enum)]
    pub fusion_features: Option<models::FusionMode>,
    /// clip-fusion: keep the encoders fixed and train the head alone.
    #[arg(long)]
    pub freeze_encoders: bool,
    /// clip-fusion: the encoders' learning rate as a fraction of --lr [default: 1].
    #[arg(long)]
    pub encoder_lr_scale: Option<f32>,
    /// Early stopping: stop once this many epochs in a row bring no better validation AUROC; 0
    /// trains every epoch [default: 3 for cnn-lstm, vgg16-lstm and vgg16-small-lstm, 0 otherwise].
    #[arg(long)]
    pub patience: Option<usize>,
    /// clip-fusion: epochs of contrastive (InfoNCE) pre-training of the encoders on the train
    /// split's image–text pairs before the classifier trains [default: 0].
    #[arg(long)]
    pub contrastive_epochs: Option<usize>,
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
            ("--init-remap-vocab", self.init_remap_vocab),
            ("--fusion", self.fusion.is_some()),
            ("--freeze-image", self.freeze_image),
            ("--image-lr-scale", self.image_lr_scale.is_some()),
            ("--rotation", self.rotation.is_some()),
            ("--brightness", self.brightness.is_some()),
            ("--contrast", self.contrast.is_some()),
            ("--saturation", self.saturation.is_some()),
            ("--hue", self.hue.is_some()),
            ("--fusion-features", self.fusion_features.is_some()),
            ("--freeze-encoders", self.freeze_encoders),
            ("--encoder-lr-scale", self.encoder_lr_scale.is_some()),
            ("--patience", self.patience.is_some()),
            ("--contrastive-epochs", self.contrastive_epochs.is_some()),
        ];
        given.into_iter().filter(|(_, is_given)| *is_given).map(|(name, _)| name).collect()
    }

    /// The config of a new run, defaults filled in.
    pub fn to_config(&self, device: Device) -> Result<TrainConfig> {
        let Some(model) = self.model.clone() else { bail!("--model is required (available: {})", models::available().join(", ")) };
        super::train_checks::refuse_options_the_model_ignores(self, &model)?;
        let Some(data) = &self.data else { bail!("--data is required: the Hateful Memes folder to train on") };
        let data_dir = std::path::absolute(data).with_context(|| format!("resolving --data {}", data.display()))?;
        let optimizer = self.optimizer.unwrap_or(OptimizerKind::Adam);
        let defaults = ModelConfig::default();
        let init = match &self.init {
            Some(path) => Some(std::path::absolute(path).with_context(|| format!("resolving --init {}", path.display()))?),
            None => None,
        };
        let clip_fusion = self.clip_fusion_options(&model, init.as_deref())?;
        // A pretrained CLIP fixes the image size it was trained at.
        let image_size = match (&clip_fusion.encoders, self.image_size) {
            (Some(encoders), None) => encoders.vision.image_size,
            (_, given) => given.unwrap_or(DEFAULT_IMAGE_SIZE),
        };
        // A HuggingFace CLIP folder with its tokenizer: the data are prepared as CLIP's.
        let clip_vocab = match (&clip_fusion.encoders, &init) {
            (Some(_), Some(dir)) => clip_tokenizer_in(dir),
            _ => None,
        };
        let patience = match self.patience {
            Some(0) => None,
            Some(patience) => Some(patience),
            None => crate::study::study::is_fusion_baseline(&model).then_some(super::config::FUSION_BASELINE_PATIENCE),
        };
        let image_lr_scale = self.image_lr_scale.unwrap_or_else(|| super::config::default_image_lr_scale(&model, init.is_some()));
        Ok(TrainConfig {
            model,
            model_config: ModelConfig {
                image_size,
                vocab_size: defaults.vocab_size,
                hidden: self.hidden.unwrap_or(defaults.hidden),
                dropout: self.dropout.unwrap_or(defaults.dropout),
                clip_fusion,
                fusion: self.fusion.unwrap_or(defaults.fusion),
                freeze_image: self.freeze_image,
                image_lr_scale,
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
            init_remap_vocab: self.init_remap_vocab,
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
            patience,
            contrastive_epochs: self.contrastive_epochs.unwrap_or(0),
            clip_vocab,
        })
    }
}

impl TrainArgs {
    /// clip-fusion's options; with `--init DIR` (a HuggingFace CLIP folder) the encoders' sizes
    /// come from its config.json. The options are refused for other models.
    fn clip_fusion_options(&self, model: &str, init: Option<&std::path::Path>) -> Result<models::ClipFusionOptions> {
        let defaults = models::ClipFusionOptions::default();
        if model != "clip-fusion" {
            if self.fusion_features.is_some() || self.freeze_encoders || self.encoder_lr_scale.is_some() {
                bail!("--fusion-features, --freeze-encoders and --encoder-lr-scale are options of --model clip-fusion");
            }
            return Ok(defaults);
        }
        let encoders = match init {
            Some(dir) if dir.is_dir() => Some(crate::io::clip_weights::read_clip_config(dir)?),
            _ => None,
        };
        Ok(models::ClipFusionOptions {
            fusion: self.fusion_features.unwrap_or(defaults.fusion),
            freeze_encoders: self.freeze_encoders,
            encoder_lr_scale: self.encoder_lr_scale.unwrap_or(defaults.encoder_lr_scale),
            encoders,
        })
    }
}

/// The CLIP tokenizer a HuggingFace folder carries (`vocab.json` with `merges.txt`, as
/// `CLIPTokenizer.save_pretrained` writes them, or open_clip's `bpe_simple_vocab_16e6.txt.gz`).
pub fn clip_tokenizer_in(dir: &std::path::Path) -> Option<PathBuf> {
    if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
        return Some(dir.join("vocab.json"));
    }
    Some(dir.join("bpe_simple_vocab_16e6.txt.gz")).filter(|path| path.is_file())
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
    /// `--data`: read splits from this folder instead of the one the run was trained on.
    data: Option<PathBuf>,
}

fn load_run(run_dir: &PathBuf, checkpoint: CheckpointKind, data: &Option<PathBuf>, device: &str) -> Result<LoadedRun> {
    let run = RunDir::open_existing(run_dir)?;
    let device = resolve_device(device)?;
    let (config, model, progress) = load_trained_model(&run, checkpoint, device)?;
    Ok(LoadedRun { run, config, model, epoch: progress.epoch, device, data: data.clone() })
}

impl LoadedRun {
    /// The model's outputs on `split` over batches of `batch_size`, and which data they come from.
    fn outputs(&self, split: &str, batch_size: usize) -> Result<(SplitOutputs, DataSource)> {
        let data_dir = self.data.as_ref().unwrap_or(&self.config.data_dir);
        // A split the data folder does not have is refused before anything is prepared.
        crate::data::HatefulMemes::open(data_dir)?.split_file(split)?;
        let needs = super::memory_estimate::estimate(&self.config, batch_size, false);
        super::memory_estimate::check_fits(&needs, super::memory_estimate::available_memory(), self.device, &format!("running {} over batches of {batch_size}", self.config.model))?;
        let cache = match &self.data {
            Some(data) => DataCache::for_data(&self.run, &self.config, data)?,
            None => DataCache::new(&self.run, &self.config),
        };
        let prepared = cache.split(split)?;
        let source = DataSource::of(&prepared);
        let loader = evaluation_loader(prepared, batch_size)?;
        Ok((run_split(self.model.as_ref(), &loader, self.config.precision.compute_dtype(), self.device, false)?, source))
    }
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A run folder made by `memefuse train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Labelled split to evaluate (train, dev, dev_seen, dev_unseen, test, test_seen, or NAME for NAME.jsonl).
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Which checkpoint to evaluate.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointKind,
    /// Print the JSON (also written to RUN_DIR/eval-SPLIT.json) instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Read splits from this folder instead of the one the run was trained on (cached apart from it).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
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
    let (outputs, source) = loaded.outputs(&args.split, INFERENCE_BATCH_SIZE)?;
    if !outputs.is_fully_labelled() {
        bail!("split {:?} has unlabelled records; evaluation needs labels (use `memefuse predict` for unlabelled splits)", args.split);
    }
    let (labels, scores) = outputs.labelled();
    let evaluation = Evaluation::from_scores(&labels, &scores, TargetNames::hateful_memes())?;
    let mut value = evaluation_json(&evaluation, &args.split, args.checkpoint, loaded.epoch, outputs.mean_loss());
    value["data"] = serde_json::to_value(&source)?;
    let path = loaded.run.eval_path(&args.split);
    let text = serde_json::to_string_pretty(&value)?;
    if args.json {
        println!("{text}");
    } else {
        let names = &evaluation.classification_report.target_names.0;
        println!("{} on {:?} ({} checkpoint, epoch {}), {} samples", loaded.config.model, args.split, args.checkpoint.name(), loaded.epoch, labels.len());
        println!("data: {source}\n");
        print!("{}", evaluation.to_text());
        println!("accuracy: {:.4}", evaluation.accuracy());
        println!("\nconfusion matrix (rows: true class, columns: predicted class)\n{}", evaluation.confusion_matrix.to_text([names[0].as_str(), names[1].as_str()]));
    }
    // The report is out; a run folder that cannot take the JSON (read-only, or locked by a
    // running train) costs only the saved copy.
    match super::run_lock::write_locked(loaded.run.root(), "eval", &path, text.as_bytes()) {
        Ok(()) => eprintln!("memefuse: wrote {}", path.display()),
        Err(error) => eprintln!("memefuse: could not save {}: {error:#}", path.display()),
    }
    Ok(())
}


#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub source: ModelSource,
    /// Split to predict, labelled or not (e.g. test_unseen, or NAME for NAME.jsonl).
    #[arg(long)]
    pub split: String,
    /// File to write (.jsonl or .csv; `-` for standard output): id, proba, logits, true_label per record.
    #[arg(long)]
    pub output: PathBuf,
    /// jsonl, csv, or submission (id,proba,label CSV, label = predicted class) [default: from the --output extension].
    #[arg(long, value_enum)]
    pub format: Option<PredictionFormat>,
    /// Records per forward pass [default: 128 with --run, 64 with --weights].
    #[arg(long)]
    pub batch_size: Option<usize>,
}

impl PredictArgs {
    /// `predict --run RUN --split SPLIT --output OUTPUT` on the CPU with every other option at its default.
    pub fn for_run(run: &std::path::Path, split: &str, output: &std::path::Path) -> Self {
        Self { source: ModelSource::run_on_cpu(run), split: split.to_string(), output: output.to_path_buf(), format: None, batch_size: None }
    }
}

pub fn run_predict(args: PredictArgs) -> Result<()> {
    super::predict_checks::check_predict_options(&args)?;
    let output = PredictionOutput::resolve(&args.output, args.format)?;
    let Some(run) = &args.source.run else { return predict_with_weights(args, output) };
    let checkpoint = args.source.checkpoint.unwrap_or(CheckpointKind::Best);
    let loaded = load_run(run, checkpoint, &args.source.data, &args.source.device)?;
    let data_dir = loaded.data.as_ref().unwrap_or(&loaded.config.data_dir);
    super::predict_checks::refuse_overwriting_run_inputs(&args.output, &loaded.run, data_dir, &args.split)?;
    let (outputs, source) = loaded.outputs(&args.split, args.batch_size.unwrap_or(INFERENCE_BATCH_SIZE))?;
    output.write(&outputs.predictions())?;
    eprintln!("memefuse: wrote {} predictions for {:?} to {}; data: {source}", outputs.ids.len(), args.split, output.describe());
    Ok(())
}

/// `predict --model NAME --weights W --data DIR`: the registry model with imported weights
/// (io::foreign_weights), run over the split by the same batched inference and written by the
/// same writer as `predict --run`.
fn predict_with_weights(args: PredictArgs, output: PredictionOutput) -> Result<()> {
    let source = &args.source;
    let (model, weights, data) = source.foreign_weights_for("predict", &args.split, &args.output)?;
    let device = resolve_device(&source.device)?;
    let batch_size = args.batch_size.unwrap_or(WEIGHTS_BATCH_SIZE);
    let imported = import(model, weights, &source.import_options(batch_size), device)?;
    let (split, data_source, _folder) = super::imported_split::prepare_for_import(&imported, &data, &args.split)?;
    let loader = evaluation_loader(split, batch_size)?;
    let dtype = imported_dtype(&imported, source.precision, device);
    let outputs = run_split(imported.model.as_ref(), &loader, dtype, device, false)?;
    output.write(&outputs.predictions())?;
    eprintln!("memefuse: wrote {} predictions for {:?} to {}; data: {data_source}", outputs.ids.len(), args.split, output.describe());
    Ok(())
}

/// Records per forward pass with --weights (a full VGG16 at 224 px is heavy).
pub const WEIGHTS_BATCH_SIZE: usize = 64;

/// The compute dtype of an imported model: `--precision` or the device's default; the text LSTM
/// always f32 (its promise is PyTorch's outputs to 1e-5, and its forward is cheap).
pub fn imported_dtype(imported: &ImportedModel, precision: Option<Precision>, device: Device) -> crate::DType {
    match imported.format {
        ForeignWeights::PytorchTextLstm => crate::DType::F32,
        _ => precision.unwrap_or(Precision::default_for(device)).compute_dtype(),
    }
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
    /// Models to train, comma-separated [default: all but the full-size vgg16 and vgg16-lstm].
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(models::available()))]
    pub models: Vec<String>,
    /// Seed of the synthetic data and of every run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto (GPU 0 when usable, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
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
        assert!(from_run.source.run.is_some() && from_run.source.weights.is_none());
        let from_weights = parse(&["--model", "lstm", "--weights", "w.safetensors", "--data", "d", "--split", "dev", "--output", "o"]).unwrap();
        assert_eq!(from_weights.source.model.as_deref(), Some("lstm"));
        assert!(parse(&["--run", "r", "--weights", "w", "--model", "lstm", "--split", "dev", "--output", "o"]).is_err(), "both forms at once");
        assert!(parse(&["--split", "dev", "--output", "o"]).is_err(), "neither form");
        assert!(parse(&["--weights", "w", "--split", "dev", "--output", "o"]).is_err(), "--weights without --model");
    }
}
