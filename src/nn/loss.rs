//! Losses, averaged over the batch. Each computes its value without recording the intermediate ops
//! and records one backward rule with the closed-form gradient, which is exact and numerically
//! stable (e.g. at a logit of exactly 0, where |x| has no derivative).
use crate::autograd::no_grad;
use crate::{Error, Result, Tensor};

fn one_hot(targets: &[u32], classes: usize, like: &Tensor) -> Result<Tensor> {
    let mut values = vec![0.0f32; targets.len() * classes];
    for (row, &t) in targets.iter().enumerate() {
        if t as usize >= classes {
            return Err(Error::shape("cross_entropy", format!("target {t} at row {row} is not a class index below {classes}")));
        }
        values[row * classes + t as usize] = 1.0;
    }
    Tensor::from_vec(values, &[targets.len(), classes], like.device())?.to_dtype(like.dtype())
}

/// Softmax cross-entropy: mean over rows of −log softmax(logits)[target]. logits: [B, C].
pub fn cross_entropy(logits: &Tensor, targets: &[u32]) -> Result<Tensor> {
    if logits.rank() != 2 || logits.shape()[0] != targets.len() {
        return Err(Error::shape("cross_entropy", format!("logits {:?} need shape [batch, classes] with batch = {} targets", logits.shape(), targets.len())));
    }
    let (batch, classes) = (logits.shape()[0], logits.shape()[1]);
    let target_mask = one_hot(targets, classes, logits)?;
    let value = {
        let _no_grad = no_grad();
        logits.log_softmax_last()?.mul(&target_mask)?.sum_all()?.scale(-1.0 / batch as f32)?
    };
    let saved_logits = logits.detach();
    Ok(Tensor::from_op_output(value, &[logits], move |g| {
        // d/dlogits = (softmax − one_hot) / B
        let grad = saved_logits.softmax_last()?.sub(&target_mask)?.scale(1.0 / batch as f32)?;
        Ok(vec![Some(grad.mul(&g.broadcast_as(grad.shape())?)?)])
    }))
}

/// Binary cross-entropy on logits, mean over elements: max(x,0) − x·t + log(1 + e^(−|x|)).
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if logits.shape() != targets.shape() {
        return Err(Error::shape("binary_cross_entropy_with_logits", format!("logits {:?} and targets {:?} differ in shape", logits.shape(), targets.shape())));
    }
    let count = logits.elem_count().max(1) as f32;
    let targets = targets.to_dtype(logits.dtype())?.to_device(logits.device())?.detach();
    let value = {
        let _no_grad = no_grad();
        let softplus_of_minus_abs = logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
        logits.relu()?.sub(&logits.mul(&targets)?)?.add(&softplus_of_minus_abs)?.sum_all()?.scale(1.0 / count)?
    };
    let saved_logits = logits.detach();
    Ok(Tensor::from_op_output(value, &[logits], move |g| {
        // d/dx = (σ(x) − t) / N
        let grad = saved_logits.sigmoid()?.sub(&targets)?.scale(1.0 / count)?;
        Ok(vec![Some(grad.mul(&g.broadcast_as(grad.shape())?)?)])
    }))
}
