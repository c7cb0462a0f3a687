//! Bag-of-words features: how often each vocabulary id occurs in a caption, counted on the CPU
//! (there is no embedding kernel) and uploaded as one dense `[B, V]` tensor. Padding is not counted.
use anyhow::{ensure, Result};

use super::TokenIds;
use crate::data::text::PAD_ID;
use crate::{DType, Device, Tensor};

pub fn bag_of_words(tokens: &TokenIds, batch_size: usize, vocab_size: usize, dtype: DType, device: Device) -> Result<Tensor> {
    ensure!(
        tokens.ids.len() == batch_size * tokens.max_len,
        "{} token ids do not fill a batch of {batch_size} × {}",
        tokens.ids.len(),
        tokens.max_len
    );
    let mut counts = vec![0.0f32; batch_size * vocab_size];
    for (row, caption) in tokens.ids.chunks(tokens.max_len.max(1)).enumerate().take(batch_size) {
        for &id in caption {
            ensure!(id >= 0 && (id as usize) < vocab_size, "token id {id} is outside the vocabulary (size {vocab_size})");
            if id != PAD_ID {
                counts[row * vocab_size + id as usize] += 1.0;
            }
        }
    }
    Ok(Tensor::from_vec(counts, &[batch_size, vocab_size], device)?.to_dtype(dtype)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ids_and_skips_padding() {
        let tokens = TokenIds { ids: vec![2, 2, 3, 0, 1, 0, 0, 0], max_len: 4 };
        let bow = bag_of_words(&tokens, 2, 4, DType::F32, Device::Cpu).unwrap();
        assert_eq!(bow.to_vec_f32().unwrap(), vec![0.0, 0.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        let out_of_range = TokenIds { ids: vec![9], max_len: 1 };
        assert!(bag_of_words(&out_of_range, 1, 4, DType::F32, Device::Cpu).is_err());
    }
}
