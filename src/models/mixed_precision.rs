//! Mixed precision: parameters stay f32 (the master weights the optimiser updates); a forward pass
//! in f16/bf16 casts them to the activations' dtype with `to_dtype`, whose backward rule casts the
//! gradient back, so gradients arrive on the f32 masters.
use anyhow::Result;

use crate::nn::Linear;
use crate::{DType, Tensor};

/// `layer(x)` computed in `x`'s dtype.
pub fn linear_in_input_dtype(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let dtype = x.dtype();
    if dtype == DType::F32 {
        return Ok(layer.forward(x)?);
    }
    let weight = layer.weight().to_dtype(dtype)?;
    let bias = layer.bias().to_dtype(dtype)?;
    Ok(x.matmul(&weight.t()?)?.add(&bias)?)
}
