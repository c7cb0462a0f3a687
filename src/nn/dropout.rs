//! Inverted dropout: in training each element is zeroed with probability p and the survivors are
//! scaled by 1/(1−p), so evaluation is the identity. The mask is drawn from the caller's seeded RNG.
use crate::util::Rng;
use crate::{Device, Error, Result, Tensor};

pub fn dropout(x: &Tensor, p: f32, training: bool, rng: &mut Rng) -> Result<Tensor> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::shape("dropout", format!("probability {p} is outside [0, 1)")));
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let keep_scale = 1.0 / (1.0 - p);
    // On the CPU in a pooled buffer (every element is drawn), as the CPU ops take theirs: a steady
    // training step allocates none (tests/steady_state_allocations.rs). A mask bound for a GPU is
    // uploaded and dropped, never given back, so it must not count as taken from the pool.
    let mut mask = if x.device() == Device::Cpu { crate::backend::cpu::buffer_pool::for_overwrite(x.elem_count()) } else { vec![0.0; x.elem_count()] };
    mask.iter_mut().for_each(|m| *m = if rng.uniform() < p { 0.0 } else { keep_scale });
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x.mul(&mask)
}
