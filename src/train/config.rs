//! A run's configuration: everything that decides what a run computes, resolved from the command
//! line once and saved in the run folder (`config.json`) and in every checkpoint's metadata, so
//! `--resume`, `eval` and `predict` rebuild exactly the same model and data.
use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::data::transforms::{AugmentOptions, ColorJitter};
use crate::models::ModelConfig;
use crate::{DType, Device};

/// Numeric precision of the forward and backward passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    Fp32,
    /// Mixed precision: f32 master weights, f16 compute copies, dynamic loss scaling.
    Fp16,
    /// Mixed precision with bf16 compute copies; bf16 has f32's range, so no loss scaling.
    Bf16,
}

impl Precision {
    /// fp16 on a GPU (its tensor cores want it), fp32 on the CPU (which widens to f32 anyway).
    pub fn default_for(device: Device) -> Self {
        if device.is_cuda() {
            Precision::Fp16
        } else {
            Precision::Fp32
        }
    }

    pub fn compute_dtype(self) -> DType {
        match self {
            Precision::Fp32 => DType::F32,
            Precision::Fp16 => DType::F16,
            Precision::Bf16 => DType::BF16,
        }
    }

    pub fn uses_loss_scaling(self) -> bool {
        self == Precision::Fp16
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient (PyTorch's `Adam`).
    Adam,
    /// Adam with decoupled weight decay (PyTorch's `AdamW`).
    Adamw,
    /// SGD with momentum 0.9.
    Sgd,
}

impl OptimizerKind {
    pub fn default_learning_rate(self) -> f32 {
        match self {
            OptimizerKind::Adam | OptimizerKind::Adamw => 1e-3,
            OptimizerKind::Sgd => 1e-2,
        }
    }

    /// PyTorch's defaults: 0 for Adam and SGD, 0.01 for AdamW.
    pub fn default_weight_decay(self) -> f32 {
        match self {
            OptimizerKind::Adamw => 1e-2,
            OptimizerKind::Adam | OptimizerKind::Sgd => 0.0,
        }
    }
}

/// Training-time image augmentation, as in the seed work: a random rotation (±2° by default) and an
/// optional colour jitter (off by default). Evaluation never augments.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// The angle is uniform in ±this many degrees.
    pub rotation_degrees: f32,
    /// Colour jitter factors, as torchvision's ColorJitter (0 = off).
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
}

impl Default for Augmentation {
    fn default() -> Self {
        Self { rotation_degrees: 2.0, brightness: 0.0, contrast: 0.0, saturation: 0.0, hue: 0.0 }
    }
}

impl Augmentation {
    /// The loader's options, or None when nothing would change an image.
    pub fn loader_options(&self) -> Option<AugmentOptions> {
        let jitter = ColorJitter { brightness: self.brightness, contrast: self.contrast, saturation: self.saturation, hue: self.hue };
        (self.rotation_degrees != 0.0 || !jitter.is_off()).then_some(AugmentOptions { rotation_degrees: self.rotation_degrees, jitter })
    }

    fn validate(&self) -> Result<()> {
        if !(0.0..=180.0).contains(&self.rotation_degrees) {
            bail!("--rotation must be between 0 and 180 degrees, got {}", self.rotation_degrees);
        }
        for (flag, value) in [("--brightness", self.brightness), ("--contrast", self.contrast), ("--saturation", self.saturation)] {
            if !(value >= 0.0 && value.is_finite()) {
                bail!("{flag} must be zero or positive, got {value}");
            }
        }
        if !(0.0..=0.5).contains(&self.hue) {
            bail!("--hue must be between 0 and 0.5, got {}", self.hue);
        }
        Ok(())
    }
}

/// Defaults shared by the command line and the demo.
pub const DEFAULT_EPOCHS: usize = 15;
pub const DEFAULT_BATCH_SIZE: usize = 32;
pub const DEFAULT_IMAGE_SIZE: usize = 64;
pub const DEFAULT_SEED: u64 = 0;
pub const DEFAULT_TRAIN_SPLIT: &str = "train";
pub const DEFAULT_VAL_SPLIT: &str = "dev";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Registry name (see `models::REGISTRY`).
    pub model: String,
    pub model_config: ModelConfig,
    /// The Hateful Memes folder the run was prepared from (absolute).
    pub data_dir: PathBuf,
    pub train_split: String,
    pub val_split: String,
    /// Tokens per caption; the train split's 95th percentile when not given, resolved at preparation.
    pub max_len: Option<usize>,
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    pub learning_rate: f32,
    pub weight_decay: f32,
    /// Gradients are clipped to this global L2 norm when set.
    pub clip_grad_norm: Option<f32>,
    pub precision: Precision,
    pub seed: u64,
    /// The safetensors file the weights started from, if any.
    pub init: Option<PathBuf>,
    /// `--init-remap-vocab`: an `--init` checkpoint of another vocabulary has its token-indexed
    /// rows moved to this run's token order (train::vocab_remap) instead of being refused.
    #[serde(default)]
    pub init_remap_vocab: bool,
    /// Training-time image augmentation (runs saved before it existed get the default).
    #[serde(default)]
    pub augmentation: Augmentation,
    /// Early stopping: end the run once this many epochs in a row have not improved the best
    /// validation AUROC (the `best` checkpoint stays the peak). None: train every epoch.
    #[serde(default)]
    pub patience: Option<usize>,
    /// clip-fusion: epochs of contrastive (InfoNCE) pre-training of the encoders on the train
    /// split's image–text pairs before the classifier is trained (train::contrastive).
    #[serde(default)]
    pub contrastive_epochs: usize,
    /// clip-fusion from a HuggingFace folder that holds its tokenizer (`vocab.json` + `merges.txt`,
    /// or `bpe_simple_vocab_16e6.txt.gz`): that CLIP BPE vocabulary. Splits are then prepared as
    /// CLIP was trained (`Preprocess::Clip`: BPE ids with the end token, bicubic short side and
    /// centre crop, CLIP's mean and std) instead of with the run's word vocabulary.
    #[serde(default)]
    pub clip_vocab: Option<PathBuf>,
}

/// The fusion baselines' default patience: on the study's noisy synthetic data their validation
/// AUROC peaks within 3–5 epochs and then drifts down (docs/study.md).
pub const FUSION_BASELINE_PATIENCE: usize = 3;

/// The image body's learning-rate scale of a from-scratch `vgg16` or `vgg16-lstm`: at Adam 1e-3
/// the first step multiplies the logits a hundredfold (torchvision's init, no batch norm; PyTorch
/// does the same: scripts/study/vgg16_from_scratch.py), at a tenth of it the loss falls (docs/study.md).
pub const FROM_SCRATCH_VGG16_LR_SCALE: f32 = 0.1;

/// `--image-lr-scale`'s default for `model`, started from `--init` weights or not.
pub fn default_image_lr_scale(model: &str, initialised: bool) -> f32 {
    if matches!(model, "vgg16" | "vgg16-lstm") && !initialised { FROM_SCRATCH_VGG16_LR_SCALE } else { 1.0 }
}

/// Whether a run with this progress has stopped early: `patience` epochs since the best one.
pub fn stopped_early(patience: Option<usize>, epoch: usize, best_epoch: Option<usize>) -> bool {
    match (patience, best_epoch) {
        (Some(patience), Some(best)) => epoch.saturating_sub(best) >= patience,
        _ => false,
    }
}

impl TrainConfig {
    /// Checks the values a user can get wrong, naming the option.
    pub fn validate(&self) -> Result<()> {
        crate::models::entry(&self.model)?;
        if self.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            bail!("--lr must be a positive number, got {}", self.learning_rate);
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            bail!("--weight-decay must be zero or positive, got {}", self.weight_decay);
        }
        crate::models::input_size::check_image_size(&self.model, self.model_config.image_size)?;
        if self.max_len == Some(0) {
            bail!("--max-len must be at least 1");
        }
        if self.model_config.hidden == 0 {
            bail!("--hidden must be at least 1");
        }
        if !(0.0..1.0).contains(&self.model_config.dropout) {
            bail!("--dropout must be in [0, 1), got {}", self.model_config.dropout);
        }
        self.augmentation.validate()?;
        if self.patience == Some(0) {
            bail!("--patience must be at least 1 (or leave it out to train every epoch)");
        }
        if self.contrastive_epochs > 0 && self.model != "clip-fusion" {
            bail!("--contrastive-epochs pre-trains CLIP's encoders: it is an option of --model clip-fusion, not {}", self.model);
        }
        if self.contrastive_epochs > 0 && self.model_config.clip_fusion.freeze_encoders {
            bail!("--contrastive-epochs trains the encoders, which --freeze-encoders keeps fixed: give one of them");
        }
        if let Some(max_norm) = self.clip_grad_norm {
            if max_norm.is_nan() || max_norm <= 0.0 {
                bail!("--clip-grad-norm must be positive, got {max_norm}");
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a train config always serializes")
    }
}
