//! One vgg16-small or VGG16 model at 64 px, batch 16, with what the trainer's step needs; shared by
//! benches/vgg16.rs and examples/vgg16_profile.rs, so the profile runs exactly the benched step.
#![allow(dead_code)]
use memefuse::models::{self, Model, ModelConfig, ModelInput};
use memefuse::nn::loss::cross_entropy;
use memefuse::optim::{Adam, AdamConfig, LearningRateGroups, Optimizer};
use memefuse::train::config::default_image_lr_scale;
use memefuse::util::Rng;
use memefuse::{autograd, DType, Device, Tensor};

pub const BATCH: usize = 16;
pub const SIDE: usize = 64;

pub struct Vgg16Step {
    model: Box<dyn Model>,
    parameters: Vec<(String, Tensor)>,
    optimizer: Box<dyn Optimizer>,
    input: ModelInput,
    targets: Vec<u32>,
    dropout: Rng,
}

impl Vgg16Step {
    /// `name`: "vgg16-small" or "vgg16", built as `memefuse train --model NAME` builds it from scratch.
    pub fn new(name: &str) -> Self {
        let device = Device::Cpu;
        let config = ModelConfig { image_size: SIDE, image_lr_scale: default_image_lr_scale(name, false), ..ModelConfig::default() };
        let model = models::build(name, &config, &mut Rng::new(1), device).unwrap();
        let parameters = model.parameters();
        let optimizer = trainer_optimizer(model.as_ref());
        let images = Tensor::randn(&[BATCH, SIDE, SIDE, 3], 1.0, &mut Rng::new(2), device).unwrap();
        let input = ModelInput { batch_size: BATCH, images: Some(images), tokens: None, dtype: DType::F32, device };
        let targets = (0..BATCH as u32).map(|i| i % 2).collect();
        Self { model, parameters, optimizer, input, targets, dropout: Rng::new(3) }
    }

    /// Inference: eval mode, no tape.
    pub fn forward(&mut self) -> Tensor {
        let _no_grad = autograd::no_grad();
        self.model.forward(&self.input, false, &mut self.dropout).unwrap()
    }

    /// The trainer's step: forward with dropout, cross-entropy, backward, optimiser.
    pub fn train_step(&mut self) {
        let logits = self.model.forward(&self.input, true, &mut self.dropout).unwrap();
        let gradients = cross_entropy(&logits, &self.targets).unwrap().backward().unwrap();
        self.optimizer.step(&self.parameters, &gradients).unwrap();
    }
}

/// Adam at the default rate, one group per learning-rate scale, as train::optimizer_choice builds it.
fn trainer_optimizer(model: &dyn Model) -> Box<dyn Optimizer> {
    let adam = |learning_rate| Box::new(Adam::new(AdamConfig { learning_rate, ..AdamConfig::default() })) as Box<dyn Optimizer>;
    let scales: Vec<(String, f32)> = model.parameters().into_iter().map(|(name, _)| (name.clone(), model.learning_rate_scale(&name))).collect();
    if scales.iter().all(|(_, scale)| *scale == 1.0) {
        adam(1e-3)
    } else {
        Box::new(LearningRateGroups::new(1e-3, &scales, adam))
    }
}
