//! How much memory a run will need, estimated from its config before anything is allocated, so
//! that `--hidden 10000000` or `--batch-size 100000000` is refused in one line instead of
//! climbing to gigabytes and being killed (or aborting on a failed allocation).
//!
//! The estimate counts f32 bytes of: the parameters, their gradients and the optimiser's state
//! (Adam: two moments, SGD: one); a batch's activations kept for the backward pass (a rough count
//! per model, doubled for their gradients); and the loader's batches in flight. It is checked
//! against the memory the operating system reports available (Linux: `MemAvailable` in
//! /proc/meminfo) when the run is on the CPU; a GPU's own allocator reports an out-of-memory as
//! an error, so there the estimate is not enforced.
use anyhow::{bail, Result};

use super::config::{OptimizerKind, TrainConfig};
use crate::models::vgg16::Vgg16Config;
use crate::Device;

const BYTES_PER_FLOAT: f64 = 4.0;
/// image-mlp and fusion-mlp pool images to an 8×8 grid (models::image_mlp::POOL_GRID).
const POOLED_INPUTS: usize = 8 * 8 * 3;
/// The seed's LSTM sizes (models::lstm_classifier).
const LSTM_EMBEDDING: usize = 100;
const LSTM_HIDDEN: usize = 64;
const LSTM_LAYERS: usize = 2;

/// A run's memory needs, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    pub parameters: usize,
    /// Weights, gradients and optimiser state (training) or weights alone (inference).
    pub parameter_bytes: f64,
    /// Activations of one batch (and their gradients when training), plus the loader's batches.
    pub batch_bytes: f64,
    pub batch_size: usize,
}

impl MemoryEstimate {
    pub fn total_bytes(&self) -> f64 {
        self.parameter_bytes + self.batch_bytes
    }
}

/// Parameter count of the model `config` describes (the same numbers `Model::parameters` holds).
pub fn parameter_count(config: &TrainConfig) -> usize {
    let (h, v) = (config.model_config.hidden, config.model_config.vocab_size);
    let head = 2 * h + 2;
    match config.model.as_str() {
        "image-mlp" => POOLED_INPUTS * h + h + head,
        "text-bow" => v * h + h + head,
        "fusion-mlp" => (POOLED_INPUTS * h + h) + (v * h + h) + 2 * (h * h + h) + head,
        "lstm" | "lstm-last-token" => {
            let layers: usize = (0..LSTM_LAYERS)
                .map(|layer| {
                    let input = if layer == 0 { LSTM_EMBEDDING } else { LSTM_HIDDEN };
                    4 * LSTM_HIDDEN * (input + LSTM_HIDDEN) + 8 * LSTM_HIDDEN
                })
                .sum();
            v * LSTM_EMBEDDING + layers + LSTM_HIDDEN + 1
        }
        name => match Vgg16Config::from_name(name) {
            Ok(vgg) => vgg.parameter_shapes().iter().map(|(_, shape)| shape.iter().product::<usize>()).sum(),
            Err(_) => counted_at_small_widths(config),
        },
    }
}

/// The models without a formula above (the fusion baselines, clip-fusion): their parameter count
/// is a polynomial of degree at most 2 in `--hidden` (Linear layers of hidden × features and
/// hidden × hidden), so it is read off the model built at hidden 1, 2 and 3, which allocates little
/// whatever the real width, and extrapolated (saturating) to the config's width.
fn counted_at_small_widths(config: &TrainConfig) -> usize {
    let count_at = |hidden: usize| -> i128 {
        let model_config = crate::models::ModelConfig { hidden, ..config.model_config.clone() };
        crate::models::build(&config.model, &model_config, &mut crate::util::Rng::new(0), Device::Cpu)
            .map_or(0, |model| model.parameters().iter().map(|(_, p)| p.shape().iter().product::<usize>() as i128).sum())
    };
    let (c1, c2, c3) = (count_at(1), count_at(2), count_at(3));
    // Newton's forward differences: c(h) = c1 + (h-1)·Δ1 + (h-1)(h-2)/2·Δ2.
    let (first, second) = (c2 - c1, c3 - 2 * c2 + c1);
    let h = config.model_config.hidden as i128 - 1;
    let count = c1.saturating_add(h.saturating_mul(first)).saturating_add(h.saturating_mul(h - 1).saturating_mul(second) / 2);
    usize::try_from(count.max(0)).unwrap_or(usize::MAX)
}

/// Floats one sample keeps alive through a forward pass (input, hidden activations).
fn activations_per_sample(config: &TrainConfig) -> f64 {
    let (h, v) = (config.model_config.hidden as f64, config.model_config.vocab_size as f64);
    let side = config.model_config.image_size as f64;
    let image = side * side * 3.0;
    let tokens = config.max_len.unwrap_or(64) as f64;
    match config.model.as_str() {
        "image-mlp" => image + POOLED_INPUTS as f64 + 3.0 * h,
        "text-bow" => tokens + v + 3.0 * h,
        "fusion-mlp" => image + POOLED_INPUTS as f64 + v + 8.0 * h,
        "lstm" | "lstm-last-token" => tokens * (LSTM_EMBEDDING as f64 + LSTM_LAYERS as f64 * 7.0 * LSTM_HIDDEN as f64),
        name => match Vgg16Config::from_name(name) {
            // Each convolution's output and its ReLU, block by block at a halving side.
            Ok(vgg) => {
                let convs = [2.0, 2.0, 3.0, 3.0, 3.0];
                let maps: f64 = vgg.block_widths.iter().zip(convs).enumerate().map(|(block, (&width, count))| count * 2.0 * width as f64 * (side / f64::powi(2.0, block as i32)).powi(2)).sum();
                image + maps + 3.0 * vgg.hidden as f64
            }
            Err(_) => image,
        },
    }
}

/// The memory of training `config` (`training`) or of running it over batches of `batch_size`.
pub fn estimate(config: &TrainConfig, batch_size: usize, training: bool) -> MemoryEstimate {
    let parameters = parameter_count(config);
    let optimizer_slots = match config.optimizer {
        OptimizerKind::Adam | OptimizerKind::Adamw => 2.0,
        OptimizerKind::Sgd => 1.0,
    };
    let copies = if training { 2.0 + optimizer_slots } else { 1.0 };
    let side = config.model_config.image_size as f64;
    let loader_batches = 3.0; // the batch in use and the prefetched ones (at least two)
    let loader = loader_batches * batch_size as f64 * side * side * 3.0 * BYTES_PER_FLOAT;
    let activation_copies = if training { 2.0 } else { 1.0 };
    MemoryEstimate {
        parameters,
        parameter_bytes: parameters as f64 * copies * BYTES_PER_FLOAT,
        batch_bytes: batch_size as f64 * activations_per_sample(config) * activation_copies * BYTES_PER_FLOAT + loader,
        batch_size,
    }
}

/// Memory the operating system says is available, in bytes (None where it cannot tell).
pub fn available_memory() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn gigabytes(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// Refuses a run whose estimate exceeds `available` bytes; warns when it needs over half of it.
pub fn check_fits(estimate: &MemoryEstimate, available: Option<f64>, device: Device, what: &str) -> Result<()> {
    let Some(available) = available else { return Ok(()) };
    if device.is_cuda() {
        return Ok(());
    }
    let needed = estimate.total_bytes();
    let detail = format!(
        "{} parameters: {}; a batch of {}: {}",
        estimate.parameters,
        gigabytes(estimate.parameter_bytes),
        estimate.batch_size,
        gigabytes(estimate.batch_bytes)
    );
    if needed > available {
        bail!(
            "{what} would need about {} of memory ({detail}) but {} is available; lower --hidden, --batch-size or --image-size",
            gigabytes(needed),
            gigabytes(available)
        );
    }
    if needed > available / 2.0 {
        eprintln!("memefuse: warning: {what} needs about {} of the {} available ({detail})", gigabytes(needed), gigabytes(available));
    }
    Ok(())
}
