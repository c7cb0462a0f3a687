//! Losses, averaged over the batch, each one fused kernel (kernels/loss.cu) with its CPU twin: one
//! pass computes every row's loss and the gradient with respect to the logits, which the backward
//! rule only scales by the incoming gradient. The value is f32 whatever the logits' dtype (mixed
//! precision keeps losses in f32). The closed-form gradients are exact and stable (e.g. at a logit
//! of exactly 0, where a rule composed through |x| would be wrong).
use crate::autograd::no_grad;
use crate::backend::dispatch;
use crate::tensor::Layout;
use crate::{Error, Result, Tensor};

/// Turns the per-row losses and pre-scaled gradient of a fused loss into the mean loss on the tape.
fn mean_loss_with_gradient(row_losses: Tensor, grad: Tensor, logits: &Tensor) -> Result<Tensor> {
    let value = {
        let _no_grad = no_grad();
        row_losses.mean_all()?
    };
    Ok(Tensor::from_op_output(value, &[logits], move |g| {
        let g = g.to_dtype(grad.dtype())?;
        Ok(vec![Some(grad.mul(&g.broadcast_as(grad.shape())?)?)])
    }))
}

/// Softmax cross-entropy: mean over rows of −log softmax(logits)[target]. logits: [B, C].
pub fn cross_entropy(logits: &Tensor, targets: &[u32]) -> Result<Tensor> {
    if logits.rank() != 2 || logits.shape()[0] != targets.len() {
        return Err(Error::shape("cross_entropy", format!("logits {:?} need shape [batch, classes] with batch = {} targets", logits.shape(), targets.len())));
    }
    let (batch, classes) = (logits.shape()[0], logits.shape()[1]);
    if let Some((row, &t)) = targets.iter().enumerate().find(|(_, &t)| t as usize >= classes) {
        return Err(Error::shape("cross_entropy", format!("target {t} at row {row} is not a class index below {classes}")));
    }
    let target_ids = Tensor::from_i32(targets.iter().map(|&t| t as i32).collect(), &[batch], logits.device())?;
    let contiguous_logits = logits.contiguous()?;
    let (row_losses, grad) = dispatch::cross_entropy(&contiguous_logits, &target_ids, 1.0 / batch.max(1) as f32)?;
    let row_losses = Tensor::from_storage(row_losses, Layout::contiguous(&[batch]), false);
    let grad = Tensor::from_storage(grad, Layout::contiguous(logits.shape()), false);
    mean_loss_with_gradient(row_losses, grad, logits)
}

/// Binary cross-entropy on logits, mean over elements: max(x,0) − x·t + log(1 + e^(−|x|)).
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if logits.shape() != targets.shape() {
        return Err(Error::shape("binary_cross_entropy_with_logits", format!("logits {:?} and targets {:?} differ in shape", logits.shape(), targets.shape())));
    }
    let count = logits.elem_count().max(1);
    let targets = targets.to_dtype(logits.dtype())?.to_device(logits.device())?.detach().contiguous()?;
    let contiguous_logits = logits.contiguous()?;
    let (losses, grad) = dispatch::bce_with_logits(&contiguous_logits, &targets, 1.0 / count as f32)?;
    let losses = Tensor::from_storage(losses, Layout::contiguous(&[logits.elem_count()]), false);
    let grad = Tensor::from_storage(grad, Layout::contiguous(logits.shape()), false);
    mean_loss_with_gradient(losses, grad, logits)
}

/// CLIP's symmetric contrastive loss (InfoNCE) over a batch of matching pairs: with logits
/// exp(logit_scale) · image · textᵀ [B, B] (in f32), the mean of the cross-entropy of each image
/// against all texts and of each text against all images, the matching pair being the target.
/// `image` and `text` are [B, D] (normalised by the caller, as CLIP does); `logit_scale` is the
/// learnable log inverse temperature, a scalar.
pub fn info_nce(image: &Tensor, text: &Tensor, logit_scale: &Tensor) -> Result<Tensor> {
    if image.rank() != 2 || image.shape() != text.shape() || logit_scale.elem_count() != 1 {
        return Err(Error::shape("info_nce", format!("image {:?} and text {:?} must both be [batch, dim], logit_scale {:?} a scalar", image.shape(), text.shape(), logit_scale.shape())));
    }
    let scale = logit_scale.to_dtype(crate::DType::F32)?.exp()?;
    let logits = image.to_dtype(crate::DType::F32)?.matmul(&text.to_dtype(crate::DType::F32)?.t()?)?.mul(&scale)?;
    let targets: Vec<u32> = (0..image.shape()[0] as u32).collect();
    let image_to_text = cross_entropy(&logits, &targets)?;
    let text_to_image = cross_entropy(&logits.t()?, &targets)?;
    image_to_text.add(&text_to_image)?.scale(0.5)
}
