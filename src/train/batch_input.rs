//! Turns a loader `Batch` into a `ModelInput`: only the modalities the model reads, images
//! uploaded once to the device and cast to the compute dtype.
use anyhow::Result;

use crate::data::Batch;
use crate::models::{ModelInput, Needs, TokenIds};
use crate::{DType, Device, Tensor};

pub fn model_input(batch: &Batch, needs: Needs, dtype: DType, device: Device) -> Result<ModelInput> {
    let images = if needs.image {
        let shape = [batch.batch_size, batch.image_size, batch.image_size, 3];
        Some(Tensor::from_slice(&batch.images, &shape, device)?.to_dtype(dtype)?)
    } else {
        None
    };
    let tokens = needs.text.then(|| TokenIds { ids: batch.tokens.clone(), max_len: batch.max_len });
    Ok(ModelInput { batch_size: batch.batch_size, images, tokens, dtype, device })
}

/// Labels as class indices; an unlabelled record in a split that must be labelled is an error.
pub fn class_labels(batch: &Batch, split: &str) -> Result<Vec<u32>> {
    batch
        .labels
        .iter()
        .zip(&batch.ids)
        .map(|(&label, id)| {
            if label == 0.0 || label == 1.0 {
                Ok(label as u32)
            } else {
                anyhow::bail!("record {id:?} of split {split:?} has no label; training and validation need labelled splits")
            }
        })
        .collect()
}
