//! A lookup table of learned vectors, one row per token id: `{name}.weight` [vocab, dim].
use crate::util::Rng;
use crate::{Device, Result, Tensor};

pub struct Embedding {
    name: String,
    weight: Tensor,
}

impl Embedding {
    /// PyTorch's default initialisation: weights drawn from N(0, 1).
    pub fn new(name: &str, vocab: usize, dim: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        let weight = Tensor::randn(&[vocab, dim], 1.0, rng, device)?.with_grad();
        Ok(Self { name: name.to_string(), weight })
    }

    /// ids: i32 [..] → [.., dim].
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        self.weight.embedding(ids)
    }

    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        vec![(format!("{}.weight", self.name), self.weight.clone())]
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
    pub fn vocab_size(&self) -> usize {
        self.weight.shape()[0]
    }
    pub fn dim(&self) -> usize {
        self.weight.shape()[1]
    }
}
