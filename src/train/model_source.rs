//! The options `predict` and `embed` share: which trained model to run (a run folder, or a registry
//! model with foreign weights and the import options of its format), on which data and device.
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::config::Precision;
use super::run_dir::CheckpointKind;
use crate::io::foreign_weights::{files_read, ImportOptions};
use crate::models::text_lstm::SequenceReadout;
use crate::util::output_guard::refuse_overwriting_inputs;

#[derive(clap::Args, Debug, Clone)]
pub struct ModelSource {
    /// A run folder made by `memefuse train` (or name an architecture with --model and --weights).
    #[arg(long, conflicts_with_all = ["model", "weights"], required_unless_present = "weights")]
    pub run: Option<PathBuf>,
    /// With --weights: the registry model they belong to (lstm, lstm-last-token: a PyTorch text-LSTM
    /// state_dict; vgg16, vgg16-small: a torchvision VGG16 state_dict; clip-fusion or clip: a
    /// HuggingFace CLIP folder, whose fusion head stays untrained).
    #[arg(long, requires = "weights", value_parser = clap::builder::PossibleValuesParser::new(crate::io::foreign_weights::importable_models()))]
    pub model: Option<String>,
    /// With --model: the weights (a safetensors file, or a HuggingFace CLIP folder).
    #[arg(long, requires = "model")]
    pub weights: Option<PathBuf>,
    /// With --run: which checkpoint to use [default: best].
    #[arg(long, value_enum)]
    pub checkpoint: Option<CheckpointKind>,
    /// The data folder (with --weights: required) [default with --run: the run's].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// --model lstm: vocabulary file, one token per line, line number = id; --model clip: the CLIP
    /// BPE (bpe_simple_vocab_16e6.txt.gz, vocab.json or a folder) [default for clip: the --weights folder].
    #[arg(long)]
    pub vocab: Option<PathBuf>,
    /// --model lstm: captions are truncated or post-padded to this many tokens [default: 64; clip: 77].
    #[arg(long)]
    pub max_len: Option<usize>,
    /// --model lstm: which time step the head reads: last-step (as the seed) or last-real-token [default: last-step].
    #[arg(long)]
    pub readout: Option<SequenceReadout>,
    /// --model vgg16 or clip: fp32, fp16 or bf16 [default: fp16 on a GPU, fp32 on the CPU].
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// --model vgg16 or clip: side of the square network input, at least 32 [default: 224].
    #[arg(long)]
    pub image_size: Option<usize>,
}

impl ModelSource {
    /// The run folder `run`, its best checkpoint, its data, on the CPU.
    pub fn run_on_cpu(run: &Path) -> Self {
        Self {
            run: Some(run.to_path_buf()),
            model: None,
            weights: None,
            checkpoint: None,
            data: None,
            device: "cpu".to_string(),
            vocab: None,
            max_len: None,
            readout: None,
            precision: None,
            image_size: None,
        }
    }

    /// The options a weight format's importer reads (io::foreign_weights).
    pub fn import_options(&self, batch_size: usize) -> ImportOptions {
        ImportOptions { vocab: self.vocab.clone(), max_len: self.max_len, readout: self.readout, image_size: self.image_size, batch_size }
    }

    /// Each mode-specific option and whether it was given, for predict_checks::refuse_unused_options.
    pub fn given_mode_options(&self) -> [(&'static str, bool); 6] {
        [
            ("--vocab", self.vocab.is_some()),
            ("--max-len", self.max_len.is_some()),
            ("--readout", self.readout.is_some()),
            ("--image-size", self.image_size.is_some()),
            ("--precision", self.precision.is_some()),
            ("--checkpoint", self.checkpoint.is_some()),
        ]
    }

    /// With --model and --weights: the model's name, the weights and the data folder, once `output`
    /// is known to overwrite none of the files read (the weights, the split, the vocabulary).
    pub fn foreign_weights_for(&self, command: &str, split: &str, output: &Path) -> Result<(&str, &Path, PathBuf)> {
        let (Some(model), Some(weights)) = (self.model.as_deref(), self.weights.as_deref()) else {
            bail!("{command} needs --run RUN_DIR, or --model NAME with --weights W");
        };
        let data = self.data.clone().ok_or_else(|| anyhow!("{command} --weights needs --data DIR"))?;
        let split_file = crate::data::HatefulMemes::open(&data)?.split_file(split)?;
        let weight_files = files_read(weights);
        let mut inputs: Vec<&Path> = weight_files.iter().map(PathBuf::as_path).collect();
        inputs.push(&split_file);
        if let Some(vocab) = &self.vocab {
            inputs.push(vocab);
        }
        refuse_overwriting_inputs("--output", output, &inputs, &[&data])?;
        Ok((model, weights, data))
    }
}
