//! The optimiser a run's config asks for.
use crate::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};

use super::config::{OptimizerKind, TrainConfig};

/// Momentum of `--optimizer sgd` (the usual choice; plain SGD is rarely what anyone wants).
pub const SGD_MOMENTUM: f32 = 0.9;

/// Initial dynamic loss scale under fp16: PyTorch's GradScaler default, 2^16.
pub const INITIAL_LOSS_SCALE: f32 = 65536.0;

pub fn build_optimizer(config: &TrainConfig) -> Box<dyn Optimizer> {
    let (learning_rate, weight_decay) = (config.learning_rate, config.weight_decay);
    match config.optimizer {
        OptimizerKind::Adam => Box::new(Adam::new(AdamConfig { learning_rate, weight_decay, decoupled_weight_decay: false, ..AdamConfig::default() })),
        OptimizerKind::Adamw => Box::new(Adam::new(AdamConfig { learning_rate, weight_decay, decoupled_weight_decay: true, ..AdamConfig::default() })),
        OptimizerKind::Sgd => Box::new(Sgd::new(SgdConfig { learning_rate, momentum: SGD_MOMENTUM, weight_decay })),
    }
}
