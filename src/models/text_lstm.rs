//! The seed work's text classifier: embedding → LSTM(64) returning sequences → LSTM(64) → one time
//! step → linear → sigmoid. Keras' two stacked LSTM(64) layers are one 2-layer LSTM here, named
//! `lstm` so its parameters carry PyTorch's names (`lstm.weight_ih_l0`, ...).
//!
//! The seed consumed post-padded sequences as they are and read the last time step, which for a
//! short caption is many padding steps after its last word; `SequenceReadout::LastRealToken` reads
//! the hidden state at each caption's last real token instead.
use crate::nn::{Embedding, Linear, Lstm};
use crate::tensor::{DType, Device, Tensor};
use crate::util::Rng;
use crate::{Error, Result};

/// Which time step of the top LSTM layer the classifier reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SequenceReadout {
    /// The last position of the (post-padded) sequence, as the seed's Keras model did.
    #[default]
    LastStep,
    /// Position `length − 1` of each sequence (its last real token; position 0 for an empty text).
    LastRealToken,
}

impl std::str::FromStr for SequenceReadout {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "last-step" => Ok(Self::LastStep),
            "last-real-token" => Ok(Self::LastRealToken),
            other => Err(format!("unknown readout {other:?}; use last-step or last-real-token")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TextLstmConfig {
    /// Number of token ids, `<pad>` and `<unk>` included.
    pub vocab_size: usize,
    pub embedding_dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub readout: SequenceReadout,
}

impl Default for TextLstmConfig {
    /// The seed's sizes: embedding 100, two LSTM layers of 64.
    fn default() -> Self {
        Self { vocab_size: 2, embedding_dim: 100, hidden: 64, layers: 2, readout: SequenceReadout::LastStep }
    }
}

pub struct TextLstm {
    config: TextLstmConfig,
    embedding: Embedding,
    lstm: Lstm,
    fc: Linear,
    device: Device,
}

impl TextLstm {
    pub fn new(config: TextLstmConfig, rng: &mut Rng, device: Device) -> Result<Self> {
        let embedding = Embedding::new("embedding", config.vocab_size, config.embedding_dim, rng, device)?;
        let lstm = Lstm::new("lstm", config.embedding_dim, config.hidden, config.layers, rng, device)?;
        let fc = Linear::new("fc", config.hidden, 1, rng, device)?;
        Ok(Self { config, embedding, lstm, fc, device })
    }

    pub fn config(&self) -> &TextLstmConfig {
        &self.config
    }
    pub fn device(&self) -> Device {
        self.device
    }

    /// The top layer's hidden state at the readout step, [B, hidden]: what the head sees (t-SNE).
    /// tokens: i32 [B, L] (on any device); lengths: real tokens per row (used by `LastRealToken`).
    /// Computed in `dtype`: f32, or f16/bf16 for mixed precision (the embeddings are cast, each LSTM
    /// layer projects its input in that dtype and runs its recurrence in f32; see `nn::lstm`).
    pub fn features(&self, tokens: &Tensor, lengths: &[usize], dtype: DType) -> Result<Tensor> {
        if tokens.rank() != 2 || tokens.dtype() != DType::I32 {
            return Err(Error::shape("TextLstm", format!("tokens must be i32 [batch, length], got {:?} {}", tokens.shape(), tokens.dtype())));
        }
        let (batch, steps) = (tokens.shape()[0], tokens.shape()[1]);
        if steps == 0 {
            return Err(Error::shape("TextLstm", "sequences must have at least one position"));
        }
        let tokens = if tokens.device() == self.device {
            tokens.clone()
        } else {
            // Checked on the host, where it is free, before the GPU kernel (which cannot report).
            crate::ops::check_ids(&tokens.to_vec_i32()?, self.config.vocab_size)?;
            tokens.to_device(self.device)?
        };
        let (sequence, _) = self.lstm.forward(&self.embedding.forward(&tokens)?.to_dtype(dtype)?)?;
        match self.config.readout {
            SequenceReadout::LastStep => sequence.narrow(1, steps - 1, 1)?.squeeze(1),
            SequenceReadout::LastRealToken => {
                if lengths.len() != batch {
                    return Err(Error::shape("TextLstm", format!("{} lengths for a batch of {batch}", lengths.len())));
                }
                // A one-hot selection over time, [B, T, 1]: Σ_t h[b, t]·[t = len_b − 1].
                let mut selection = vec![0.0f32; batch * steps];
                for (row, &length) in lengths.iter().enumerate() {
                    selection[row * steps + length.clamp(1, steps) - 1] = 1.0;
                }
                let selection = Tensor::from_vec(selection, &[batch, steps, 1], self.device)?.to_dtype(dtype)?;
                sequence.mul(&selection)?.sum(1, false)
            }
        }
    }

    /// Logits [B] in `dtype` (pre-sigmoid; train with `binary_cross_entropy_with_logits`). The seed
    /// model has no dropout, so `training` changes nothing; it is there for the trainer's uniform call.
    pub fn forward(&self, tokens: &Tensor, lengths: &[usize], training: bool, dtype: DType) -> Result<Tensor> {
        let _ = training;
        let batch = tokens.shape().first().copied().unwrap_or(0);
        self.fc.forward(&self.features(tokens, lengths, dtype)?)?.reshape(&[batch])
    }

    /// embedding.weight, lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_lK, fc.weight, fc.bias.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut parameters = self.embedding.parameters();
        parameters.extend(self.lstm.parameters());
        parameters.extend(self.fc.parameters());
        parameters
    }
}

/// Real-token counts of post-padded rows: the position after the last non-padding id.
pub fn lengths_of(tokens: &[i32], length: usize) -> Vec<usize> {
    tokens
        .chunks(length.max(1))
        .map(|row| row.iter().rposition(|&id| id != crate::data::text::PAD_ID).map_or(0, |last| last + 1))
        .collect()
}
