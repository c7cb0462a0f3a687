//! `--contrastive-epochs N`: before the classifier is trained, CLIP-style models pre-train their
//! encoders for N epochs on the train split's image–text pairs with CLIP's symmetric InfoNCE loss
//! (learnable temperature; labels unused). Each batch's pairs are its positives, every other pair
//! of the batch a negative. The phase has its own Adam state (at the run's learning rates), so the
//! classifier's training starts as it would from a pretrained `--init`.
use std::time::Instant;

use anyhow::{bail, Result};

use super::batch_input::model_input;
use super::config::TrainConfig;
use super::optimizer_choice::build_optimizer;
use crate::data::BatchLoader;
use crate::models::Model;
use crate::DType;
use crate::Device;

/// The data order of contrastive epoch k is the loader's shuffle for epoch `ORDER_OFFSET + k`,
/// apart from the classifier's epochs 1, 2, ...
const ORDER_OFFSET: u64 = 1 << 32;

/// One contrastive epoch, as printed and returned.
#[derive(Clone, Debug, PartialEq)]
pub struct ContrastiveEpoch {
    pub epoch: usize,
    /// Sample-weighted mean InfoNCE loss (ln B for random embeddings, B the batch size).
    pub loss: f64,
    /// exp(logit_scale) after the epoch.
    pub logit_scale: f64,
    pub seconds: f64,
}

/// Runs `config.contrastive_epochs` epochs of InfoNCE on `loader`'s batches.
pub fn pretrain(model: &dyn Model, loader: &BatchLoader, config: &TrainConfig, dtype: DType, device: Device) -> Result<Vec<ContrastiveEpoch>> {
    let parameters = model.parameters();
    let mut optimizer = build_optimizer(config, model);
    let mut epochs = Vec::new();
    for epoch in 1..=config.contrastive_epochs {
        let started = Instant::now();
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for batch in loader.epoch(ORDER_OFFSET + epoch as u64) {
            // A batch of one pair has no negatives: its loss is 0 and teaches nothing.
            if batch.batch_size < 2 {
                continue;
            }
            let input = model_input(&batch, model.needs(), dtype, device)?;
            let Some(loss) = model.contrastive_loss(&input)? else { bail!("{} has no contrastive pre-training (--contrastive-epochs)", model.name()) };
            let gradients = loss.backward()?;
            optimizer.step(&parameters, &gradients)?;
            let value = loss.to_scalar()? as f64;
            if !value.is_finite() {
                bail!("contrastive pre-training diverged: the InfoNCE loss of epoch {epoch} is {value}; try a lower --lr");
            }
            loss_sum += value * batch.batch_size as f64;
            seen += batch.batch_size;
        }
        let logit_scale = parameters.iter().find(|(name, _)| name == "logit_scale").map_or(Ok(f32::NAN), |(_, p)| p.to_scalar())?;
        let record = ContrastiveEpoch { epoch, loss: loss_sum / seen.max(1) as f64, logit_scale: (logit_scale as f64).exp(), seconds: started.elapsed().as_secs_f64() };
        eprintln!(
            "contrastive epoch {}/{}: InfoNCE {:.4} (chance ln {} = {:.4}), logit scale {:.2}, {:.1} s",
            record.epoch,
            config.contrastive_epochs,
            record.loss,
            config.batch_size,
            (config.batch_size as f64).ln(),
            record.logit_scale,
            record.seconds
        );
        epochs.push(record);
    }
    Ok(epochs)
}
