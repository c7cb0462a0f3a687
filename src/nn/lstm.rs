//! A stacked, batch-first LSTM with PyTorch's parameters and names: for each layer K,
//! `{name}.weight_ih_lK` [4H, in], `{name}.weight_hh_lK` [4H, H], `{name}.bias_ih_lK` and
//! `{name}.bias_hh_lK` [4H], gate rows in the order (i, f, g, o). Initial states are zero.
//!
//! Each layer is two steps: the input projection of every time step at once (`Tensor::linear`
//! over [B·T, in], both biases folded into its bias), then the recurrence, which is a single op on the tape
//! (`Tensor::lstm_recurrence`) with its own backpropagation through time.
//!
//! Mixed precision: a layer computes its input projection in its input's dtype (f16/bf16 GEMMs on
//! tensor cores, the f32 parameters cast as `Linear` does) and the recurrence in f32, whose
//! gate sums and cell state accumulate over every time step; it returns its input's dtype.
use crate::util::Rng;
use crate::{DType, Device, Error, Result, Tensor};

/// One layer's parameters.
pub struct LstmLayer {
    pub weight_ih: Tensor,
    pub weight_hh: Tensor,
    pub bias_ih: Tensor,
    pub bias_hh: Tensor,
}

impl LstmLayer {
    /// x [B, T, in] → hidden states [B, T, H].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        // The linear op: one GEMM with both biases (summed, a 4H vector) added in its epilogue.
        let bias = self.bias_ih.add(&self.bias_hh)?.to_dtype(dtype)?;
        let x_proj = x.linear(&self.weight_ih.to_dtype(dtype)?, &bias)?;
        x_proj.to_dtype(DType::F32)?.lstm_recurrence(&self.weight_hh)?.to_dtype(dtype)
    }

    pub fn hidden_size(&self) -> usize {
        self.weight_hh.shape()[1]
    }
}

pub struct Lstm {
    name: String,
    layers: Vec<LstmLayer>,
}

impl Lstm {
    /// PyTorch's initialisation: every weight and bias uniform in ±1/√hidden_size.
    pub fn new(name: &str, input_size: usize, hidden_size: usize, layers: usize, rng: &mut Rng, device: Device) -> Result<Self> {
        if layers == 0 || hidden_size == 0 {
            return Err(Error::shape("Lstm::new", format!("needs at least one layer and a positive hidden size, got {layers} layers of {hidden_size}")));
        }
        let bound = 1.0 / (hidden_size as f32).sqrt();
        let mut uniform = |shape: &[usize]| Tensor::uniform(shape, -bound, bound, rng, device).map(|t| t.with_grad());
        let mut stack = Vec::with_capacity(layers);
        for layer in 0..layers {
            let layer_input = if layer == 0 { input_size } else { hidden_size };
            stack.push(LstmLayer {
                weight_ih: uniform(&[4 * hidden_size, layer_input])?,
                weight_hh: uniform(&[4 * hidden_size, hidden_size])?,
                bias_ih: uniform(&[4 * hidden_size])?,
                bias_hh: uniform(&[4 * hidden_size])?,
            });
        }
        Ok(Self { name: name.to_string(), layers: stack })
    }

    /// x [B, T, in] → (the last layer's hidden states [B, T, H], each layer's last hidden state [B, H]).
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Vec<Tensor>)> {
        if x.rank() != 3 {
            return Err(Error::shape("Lstm::forward", format!("input must be [batch, steps, features], got {:?}", x.shape())));
        }
        let steps = x.shape()[1];
        let mut sequence = x.clone();
        let mut last_hidden = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            sequence = layer.forward(&sequence)?;
            last_hidden.push(sequence.narrow(1, steps.saturating_sub(1), 1.min(steps))?.squeeze(1)?);
        }
        Ok((sequence, last_hidden))
    }

    pub fn layers(&self) -> &[LstmLayer] {
        &self.layers
    }
    pub fn hidden_size(&self) -> usize {
        self.layers[0].hidden_size()
    }
    pub fn input_size(&self) -> usize {
        self.layers[0].weight_ih.shape()[1]
    }

    /// PyTorch's names and order: per layer weight_ih, weight_hh, bias_ih, bias_hh.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut parameters = Vec::with_capacity(4 * self.layers.len());
        for (k, layer) in self.layers.iter().enumerate() {
            parameters.push((format!("{}.weight_ih_l{k}", self.name), layer.weight_ih.clone()));
            parameters.push((format!("{}.weight_hh_l{k}", self.name), layer.weight_hh.clone()));
            parameters.push((format!("{}.bias_ih_l{k}", self.name), layer.bias_ih.clone()));
            parameters.push((format!("{}.bias_hh_l{k}", self.name), layer.bias_hh.clone()));
        }
        parameters
    }
}
