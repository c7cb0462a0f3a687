//! Running a model over a whole split without gradients: logits, P(hateful), loss and metrics.
use anyhow::Result;

use super::batch_input::model_input;
use crate::autograd::no_grad;
use crate::data::{BatchLoader, LoaderOptions, PreparedSplit};
use crate::io::predictions::Prediction;
use crate::models::Model;
use crate::train::metrics::roc_auc;
use crate::util::Rng;
use crate::{DType, Device};
use std::sync::Arc;

/// Everything one pass over a split produced, in the split's record order.
#[derive(Clone, Debug, Default)]
pub struct SplitOutputs {
    pub ids: Vec<String>,
    /// The ids as the dataset wrote them (JSON numbers or strings), for prediction files.
    pub id_values: Vec<serde_json::Value>,
    /// `None` for unlabelled records.
    pub labels: Vec<Option<u8>>,
    pub logits: Vec<[f32; 2]>,
    /// softmax(logits)[1] = P(hateful).
    pub probabilities: Vec<f32>,
    /// `[N, dim]` row-major, when requested.
    pub embeddings: Option<(Vec<f32>, usize)>,
}

impl SplitOutputs {
    /// One prediction per record, for [`crate::io::predictions`].
    pub fn predictions(&self) -> Vec<Prediction> {
        self.id_values
            .iter()
            .zip(&self.logits)
            .zip(&self.labels)
            .map(|((id, logits), label)| Prediction { id: id.clone(), logits: *logits, true_label: *label })
            .collect()
    }

    /// Labels and scores of the labelled records (all of them for a labelled split).
    pub fn labelled(&self) -> (Vec<u8>, Vec<f32>) {
        self.labels.iter().zip(&self.probabilities).filter_map(|(label, &p)| label.map(|l| (l, p))).unzip()
    }

    pub fn is_fully_labelled(&self) -> bool {
        self.labels.iter().all(Option::is_some)
    }

    /// Mean cross-entropy over the labelled records (NaN when there are none), from the logits in f64.
    pub fn mean_loss(&self) -> f64 {
        let losses: Vec<f64> = self
            .labels
            .iter()
            .zip(&self.logits)
            .filter_map(|(label, logits)| label.map(|l| cross_entropy(logits, l as usize)))
            .collect();
        losses.iter().sum::<f64>() / losses.len() as f64
    }

    /// Accuracy at P(hateful) ≥ 0.5 over the labelled records.
    pub fn accuracy(&self) -> f64 {
        let (labels, scores) = self.labelled();
        let correct = labels.iter().zip(&scores).filter(|(&l, &s)| (s >= crate::train::metrics::DECISION_THRESHOLD) == (l == 1)).count();
        correct as f64 / labels.len() as f64
    }

    /// AUROC over the labelled records; NaN when undefined (one class only).
    pub fn auroc(&self) -> f64 {
        let (labels, scores) = self.labelled();
        roc_auc(&labels, &scores).unwrap_or(f64::NAN)
    }
}

fn cross_entropy(logits: &[f32; 2], label: usize) -> f64 {
    let (a, b) = (logits[0] as f64, logits[1] as f64);
    let max = a.max(b);
    let log_sum = max + ((a - max).exp() + (b - max).exp()).ln();
    log_sum - logits[label] as f64
}

/// P(class 1) of a two-class softmax.
pub fn hateful_probability(logits: [f32; 2]) -> f32 {
    (1.0 / (1.0 + ((logits[0] - logits[1]) as f64).exp())) as f32
}

/// Evaluation batches: in record order, no augmentation, normalised as the split was prepared for.
pub fn evaluation_loader(split: Arc<PreparedSplit>, batch_size: usize) -> Result<BatchLoader> {
    let normalization = split.normalization();
    BatchLoader::new(split, LoaderOptions { batch_size, shuffle: false, drop_last: false, augment: None, workers: 1, normalization, ..LoaderOptions::default() })
}

/// One pass over `loader`'s split in evaluation mode.
pub fn run_split(model: &dyn Model, loader: &BatchLoader, dtype: DType, device: Device, with_embeddings: bool) -> Result<SplitOutputs> {
    let _no_grad = no_grad();
    let mut outputs = SplitOutputs::default();
    let mut embeddings = Vec::new();
    let mut embedding_dim = 0;
    // Evaluation draws no dropout masks; the generator is only there to satisfy the signature.
    let mut unused_rng = Rng::new(0);
    for batch in loader.epoch(0) {
        let input = model_input(&batch, model.needs(), dtype, device)?;
        let logits = model.forward(&input, false, &mut unused_rng)?.to_vec_f32()?;
        anyhow::ensure!(logits.len() == batch.batch_size * 2, "model {} returned {} logits for {} records", model.name(), logits.len(), batch.batch_size);
        for (row, label) in logits.chunks_exact(2).zip(&batch.labels) {
            let pair = [row[0], row[1]];
            outputs.logits.push(pair);
            outputs.probabilities.push(hateful_probability(pair));
            outputs.labels.push((*label >= 0.0).then_some(*label as u8));
        }
        outputs.ids.extend(batch.ids.iter().cloned());
        outputs.id_values.extend(batch.indices.iter().map(|&index| loader.split().id_value(index)));
        if with_embeddings {
            let features = model.embed(&input)?;
            embedding_dim = features.dim(-1)?;
            embeddings.extend(features.to_vec_f32()?);
        }
    }
    if with_embeddings {
        outputs.embeddings = Some((embeddings, embedding_dim));
    }
    Ok(outputs)
}
