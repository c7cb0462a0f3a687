//! Gradient checking by central finite differences. The analytic gradient of
//! `L(x) = Σ f(x) ⊙ w` (w random, so every output element matters) is compared with
//! `(L(x + ε e_i) − L(x − ε e_i)) / 2ε` for every element i of every input.
use crate::tensor::{Device, Tensor};
use crate::util::Rng;
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct GradCheck {
    pub epsilon: f32,
    pub absolute_tolerance: f32,
    pub relative_tolerance: f32,
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        Self { epsilon: 1e-3, absolute_tolerance: 2e-3, relative_tolerance: 2e-2, seed: 0 }
    }
}

fn weighted_sum(output: &Tensor, weights: &[f32]) -> Result<f64> {
    let values = output.to_vec_f32()?;
    Ok(values.iter().zip(weights).map(|(&v, &w)| v as f64 * w as f64).sum())
}

/// Checks the gradients `f` produces with respect to each of `inputs` (f32 CPU tensors).
/// Returns an error naming the input, the element and both values on the first mismatch.
pub fn check_gradients(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor], options: &GradCheck) -> Result<()> {
    let leaves: Vec<Tensor> = inputs.iter().map(|x| x.detach().contiguous().map(|c| c.with_grad())).collect::<Result<_>>()?;
    let output = f(&leaves)?;
    let mut rng = Rng::new(options.seed);
    let weights: Vec<f32> = (0..output.elem_count()).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    let weight_tensor = Tensor::from_vec(weights.clone(), output.shape(), Device::Cpu)?.to_dtype(output.dtype())?;
    let loss = output.mul(&weight_tensor)?.sum_all()?;
    let grads = loss.backward()?;

    for (input_index, leaf) in leaves.iter().enumerate() {
        let analytic = match grads.get(leaf) {
            Some(g) => g.to_vec_f32()?,
            None => vec![0.0; leaf.elem_count()],
        };
        let base = leaf.to_vec_f32()?;
        for element in 0..base.len() {
            let evaluate = |delta: f32| -> Result<f64> {
                let _no_grad = crate::autograd::no_grad();
                let mut perturbed = base.clone();
                perturbed[element] += delta;
                let moved: Vec<Tensor> = leaves
                    .iter()
                    .enumerate()
                    .map(|(i, x)| if i == input_index { Tensor::from_vec(perturbed.clone(), x.shape(), Device::Cpu) } else { Ok(x.clone()) })
                    .collect::<Result<_>>()?;
                weighted_sum(&f(&moved)?, &weights)
            };
            let numeric = ((evaluate(options.epsilon)? - evaluate(-options.epsilon)?) / (2.0 * options.epsilon as f64)) as f32;
            let difference = (analytic[element] - numeric).abs();
            let tolerance = options.absolute_tolerance + options.relative_tolerance * numeric.abs();
            // NaN on either side is a mismatch too.
            if difference.is_nan() || difference > tolerance {
                return Err(Error::Autograd(format!(
                    "gradient mismatch for input {input_index} (shape {:?}) at element {element}: analytic {} vs numeric {numeric}",
                    leaf.shape(),
                    analytic[element]
                )));
            }
        }
    }
    Ok(())
}
