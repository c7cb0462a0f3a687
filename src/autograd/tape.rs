//! The tape is a list, not a web: each differentiable op that sees an input requiring a gradient
//! appends one `Record` (its output's id, its inputs' ids, its backward rule). `backward(loss)` walks
//! the list from the end, handing each rule the gradient of its output and accumulating what it
//! returns into a map from tensor id to gradient. The tape is per thread; `backward` consumes it.
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::tensor::{Tensor, TensorId};
use crate::{Error, Result};

/// Maps the gradient of an op's output to one optional gradient per input.
pub(crate) type BackwardFn = Box<dyn FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>>>;

struct Record {
    output: TensorId,
    /// Each input's id, whether it wants a gradient, and its shape (to check what the rule returns).
    inputs: Vec<(TensorId, bool, Vec<usize>)>,
    backward: BackwardFn,
}

thread_local! {
    static TAPE: RefCell<Vec<Record>> = const { RefCell::new(Vec::new()) };
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside a `no_grad` scope.
pub fn is_recording() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

pub(crate) fn record(output: &Tensor, inputs: &[&Tensor], backward: BackwardFn) {
    let inputs = inputs.iter().map(|t| (t.id(), t.requires_grad(), t.shape().to_vec())).collect();
    TAPE.with(|tape| tape.borrow_mut().push(Record { output: output.id(), inputs, backward }));
}

/// Number of records on this thread's tape (for tests and leak checks).
pub fn tape_len() -> usize {
    TAPE.with(|tape| tape.borrow().len())
}

/// Drops every record, e.g. after a forward pass whose loss will not be differentiated.
pub fn clear_tape() {
    TAPE.with(|tape| tape.borrow_mut().clear());
}

/// While the guard lives, ops record nothing: evaluation, optimiser updates, backward rules themselves.
pub struct NoGradGuard {
    previous: bool,
}

pub fn no_grad() -> NoGradGuard {
    NoGradGuard { previous: GRAD_ENABLED.with(|g| g.replace(false)) }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Gradients by tensor id, as filled by `backward`.
#[derive(Default)]
pub struct Gradients(HashMap<TensorId, Tensor>);

impl Gradients {
    pub fn get(&self, tensor: &Tensor) -> Option<&Tensor> {
        self.0.get(&tensor.id())
    }
    pub fn remove(&mut self, tensor: &Tensor) -> Option<Tensor> {
        self.0.remove(&tensor.id())
    }
    /// Replaces the gradient of `tensor` (used by clipping and loss unscaling).
    pub fn insert(&mut self, tensor: &Tensor, gradient: Tensor) {
        self.0.insert(tensor.id(), gradient);
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn accumulate(&mut self, id: TensorId, gradient: Tensor) -> Result<()> {
        let sum = match self.0.remove(&id) {
            Some(existing) => existing.add(&gradient)?,
            None => gradient,
        };
        self.0.insert(id, sum);
        Ok(())
    }
}

/// Back-propagates from a scalar `loss`, consuming this thread's tape. Every tensor that requires a
/// gradient and contributed to `loss` gets one; a tensor used several times gets the sum.
pub fn backward(loss: &Tensor) -> Result<Gradients> {
    if loss.elem_count() != 1 {
        return Err(Error::Autograd(format!("backward needs a scalar loss, got shape {:?}", loss.shape())));
    }
    let mut records = TAPE.with(|tape| std::mem::take(&mut *tape.borrow_mut()));
    let _no_grad = no_grad();
    let mut grads = Gradients::default();
    grads.0.insert(loss.id(), Tensor::ones(loss.shape(), loss.dtype(), loss.device())?);
    for record in records.drain(..).rev() {
        // Intermediate gradients are released as soon as they have been propagated.
        let Some(output_grad) = grads.0.remove(&record.output) else { continue };
        let input_grads = (record.backward)(&output_grad)?;
        for ((id, wants_grad, shape), grad) in record.inputs.into_iter().zip(input_grads) {
            let Some(grad) = grad else { continue };
            if !wants_grad {
                continue;
            }
            if grad.shape() != shape.as_slice() {
                return Err(Error::Autograd(format!("a backward rule returned a gradient of shape {:?} for an input of shape {shape:?}", grad.shape())));
            }
            grads.accumulate(id, grad)?;
        }
    }
    // The emptied list goes back (nothing records under no_grad), so the next step's tape reuses
    // its capacity instead of growing it again.
    TAPE.with(|tape| {
        let mut tape = tape.borrow_mut();
        if tape.is_empty() {
            *tape = records;
        }
    });
    Ok(grads)
}

impl Tensor {
    /// See [`backward`].
    pub fn backward(&self) -> Result<Gradients> {
        backward(self)
    }
}
