//! `train --init CHECKPOINT` and vocabularies: a checkpoint records the vocabulary its text
//! weights were trained with (see checkpoint.rs); the same weights read through another vocabulary,
//! even one of the same size in another token order, would be silently scrambled. So `--init`
//! from a checkpoint with another vocabulary is an error, unless `--init-remap-vocab` asks to move
//! the token-indexed rows (the model's [`crate::models::Model::vocabulary_axes`]) to this run's
//! token order; tokens the checkpoint never saw keep their fresh initialisation.
use anyhow::{bail, ensure, Result};

use super::checkpoint::{HostTensor, NamedHostTensors};
use crate::data::text::Vocabulary;
use crate::Tensor;

/// What a remap did, for the one line `train` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemapSummary {
    /// Tokens of this run's vocabulary found in the checkpoint's.
    pub shared_tokens: usize,
    /// Tokens of this run's vocabulary the checkpoint lacks (their rows stay fresh).
    pub new_tokens: usize,
}

/// Refuses `--init` weights trained with `from` for a run encoded with `to`, unless `remap`.
pub fn check_same_vocabulary(init: &std::path::Path, from: &Vocabulary, to: &Vocabulary, remap: bool) -> Result<bool> {
    if from.hash() == to.hash() {
        return Ok(false);
    }
    if !remap {
        bail!(
            "--init {} was trained with another vocabulary ({} tokens, hash {}) than this run's ({} tokens, hash {}); \
             its text weights would read the wrong tokens. Give --init-remap-vocab to remap them by token, \
             or train on data that yields the same vocabulary",
            init.display(),
            from.len(),
            &from.hash()[..12],
            to.len(),
            &to.hash()[..12]
        );
    }
    Ok(true)
}

/// Rewrites the token-indexed tensors of `loaded` (`axes`: name, vocabulary axis) from `from`'s
/// token order to `to`'s. Rows of tokens `from` lacks are taken from `parameters` (the fresh model).
pub fn remap_by_token(loaded: &mut NamedHostTensors, axes: &[(String, usize)], parameters: &[(String, Tensor)], from: &Vocabulary, to: &Vocabulary) -> Result<RemapSummary> {
    let old_ids: Vec<Option<usize>> = (0..to.len()).map(|id| to.token(id as i32).and_then(|token| from.id(token)).map(|id| id as usize)).collect();
    for (name, axis) in axes {
        let Some((_, fresh)) = parameters.iter().find(|(n, _)| n == name) else { bail!("the model has no parameter {name:?} to remap") };
        let Some((_, old)) = loaded.iter_mut().find(|(n, _)| n == name) else { continue };
        ensure!(old.shape.len() == 2 && *axis < 2, "{name}: only 2-d tensors are remapped, found shape {:?}", old.shape);
        ensure!(old.shape[*axis] == from.len(), "{name} has {} rows along axis {axis} but the checkpoint's vocabulary has {} tokens", old.shape[*axis], from.len());
        let shape = fresh.shape().to_vec();
        ensure!(shape[*axis] == to.len() && shape[1 - axis] == old.shape[1 - axis], "{name}: the model's shape {shape:?} does not fit the checkpoint's {:?}", old.shape);
        let mut values = fresh.to_vec_f32()?;
        let other = shape[1 - axis];
        for (new_id, old_id) in old_ids.iter().enumerate() {
            let Some(old_id) = *old_id else { continue };
            for k in 0..other {
                let (to_index, from_index) = if *axis == 0 { (new_id * other + k, old_id * other + k) } else { (k * to.len() + new_id, k * from.len() + old_id) };
                values[to_index] = old.values[from_index];
            }
        }
        *old = HostTensor { shape, values };
    }
    let shared_tokens = old_ids.iter().filter(|id| id.is_some()).count();
    Ok(RemapSummary { shared_tokens, new_tokens: to.len() - shared_tokens })
}
