//! `lstm` and `lstm-last-token`: the seed's text LSTM (models::text_lstm) behind the [`Model`]
//! interface, so train, eval, predict and demo drive it like any other model.
//!
//! The seed trains one sigmoid output with binary cross-entropy. The trainer's head is a 2-class
//! softmax; giving it the logits [0, x] makes the two identical: softmax([0, x])[1] = σ(x) and the
//! cross-entropy of [0, x] is the BCE of x. The recurrence runs in f32 whatever `--precision` says.
use anyhow::Result;

use super::text_lstm::{lengths_of, SequenceReadout, TextLstm, TextLstmConfig};
use super::{Model, ModelConfig, ModelInput, Needs};
use crate::util::Rng;
use crate::{Device, Tensor};

pub struct LstmClassifier {
    name: &'static str,
    inner: TextLstm,
}

impl LstmClassifier {
    /// The seed's sizes (embedding 100, two LSTM layers of 64) over the run's vocabulary.
    pub fn new(name: &'static str, config: &ModelConfig, readout: SequenceReadout, rng: &mut Rng, device: Device) -> Result<Self> {
        let lstm_config = TextLstmConfig { vocab_size: config.vocab_size, readout, ..TextLstmConfig::default() };
        Ok(Self { name, inner: TextLstm::new(lstm_config, rng, device)? })
    }

    /// Any sizes, e.g. read off a PyTorch state_dict (io::lstm_weights).
    pub fn from_text_lstm(name: &'static str, inner: TextLstm) -> Self {
        Self { name, inner }
    }

}

/// The batch's token ids as an i32 tensor [B, L] (on the host) and each row's real length.
pub(super) fn token_tensor(input: &ModelInput) -> Result<(Tensor, Vec<usize>)> {
    let tokens = input.tokens()?;
    let ids = Tensor::from_i32(tokens.ids.clone(), &[input.batch_size, tokens.max_len], Device::Cpu)?;
    Ok((ids, lengths_of(&tokens.ids, tokens.max_len)))
}

impl Model for LstmClassifier {
    fn name(&self) -> &str {
        self.name
    }

    fn needs(&self) -> Needs {
        Needs { image: false, text: true }
    }

    fn forward(&self, input: &ModelInput, training: bool, _rng: &mut Rng) -> Result<Tensor> {
        let (ids, lengths) = token_tensor(input)?;
        let logit = self.inner.forward(&ids, &lengths, training, input.dtype)?;
        // [B] → [B, 2] = [0, x] by broadcasting x[B, 1] against [[0, 1]].
        let pick_second = Tensor::from_vec(vec![0.0, 1.0], &[1, 2], logit.device())?.to_dtype(logit.dtype())?;
        Ok(logit.unsqueeze(1)?.mul(&pick_second)?)
    }

    fn embed(&self, input: &ModelInput) -> Result<Tensor> {
        let (ids, lengths) = token_tensor(input)?;
        Ok(self.inner.features(&ids, &lengths, input.dtype)?)
    }

    fn vocabulary_axes(&self) -> Vec<(String, usize)> {
        vec![("embedding.weight".to_string(), 0)]
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        self.inner.parameters()
    }
}
