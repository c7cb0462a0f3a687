//! The optimiser a run's config asks for.
use crate::models::Model;
use crate::optim::{Adam, AdamConfig, LearningRateGroups, Optimizer, Sgd, SgdConfig};

use super::config::{OptimizerKind, TrainConfig};

/// Momentum of `--optimizer sgd` (the usual choice; plain SGD is rarely what anyone wants).
pub const SGD_MOMENTUM: f32 = 0.9;

/// Initial dynamic loss scale under fp16: PyTorch's GradScaler default, 2^16.
pub const INITIAL_LOSS_SCALE: f32 = 65536.0;

/// The run's optimiser; when the model asks for other learning rates for some parameters (a
/// pretrained encoder fine-tuned slower than its head), one optimiser per rate.
pub fn build_optimizer(config: &TrainConfig, model: &dyn Model) -> Box<dyn Optimizer> {
    let scales: Vec<(String, f32)> = model.parameters().into_iter().map(|(name, _)| {
        let scale = model.learning_rate_scale(&name);
        (name, scale)
    }).collect();
    if scales.iter().all(|(_, scale)| *scale == 1.0) {
        return build_single_optimizer(config, config.learning_rate);
    }
    Box::new(LearningRateGroups::new(config.learning_rate, &scales, |rate| build_single_optimizer(config, rate)))
}

fn build_single_optimizer(config: &TrainConfig, learning_rate: f32) -> Box<dyn Optimizer> {
    let weight_decay = config.weight_decay;
    match config.optimizer {
        OptimizerKind::Adam => Box::new(Adam::new(AdamConfig { learning_rate, weight_decay, decoupled_weight_decay: false, ..AdamConfig::default() })),
        OptimizerKind::Adamw => Box::new(Adam::new(AdamConfig { learning_rate, weight_decay, decoupled_weight_decay: true, ..AdamConfig::default() })),
        OptimizerKind::Sgd => Box::new(Sgd::new(SgdConfig { learning_rate, momentum: SGD_MOMENTUM, weight_decay })),
    }
}
