//! The one place where an op picks its backend: each function matches on the operands' storage and
//! calls the CPU or CUDA implementation. Ops have already checked shapes, dtypes and devices.
use super::{cpu, cuda};
use super::params::{AdamHyper, MatmulDims, SgdHyper};
use crate::ops::{BinaryOp, ConvGeometry, ReduceOp, UnaryOp};
use crate::tensor::{CpuStorage, DType, Layout, Storage, Tensor};
use crate::{Error, Result};

fn device_mismatch(op: &'static str, a: &Tensor, b: &Tensor) -> Error {
    Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() }
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::elementwise::unary(op, s, x.layout())),
        Storage::Cuda(s) => Storage::Cuda(cuda::elementwise::unary(op, s, x.layout())?),
    })
}

/// `a_layout` and `b_layout` are the operands' layouts broadcast to the output shape.
pub fn binary(op: BinaryOp, a: &Tensor, a_layout: &Layout, b: &Tensor, b_layout: &Layout) -> Result<Storage> {
    Ok(match (&*a.storage(), &*b.storage()) {
        (Storage::Cpu(sa), Storage::Cpu(sb)) => Storage::Cpu(cpu::elementwise::binary(op, sa, a_layout, sb, b_layout)),
        (Storage::Cuda(sa), Storage::Cuda(sb)) => Storage::Cuda(cuda::elementwise::binary(op, sa, a_layout, sb, b_layout)?),
        _ => return Err(device_mismatch("binary op", a, b)),
    })
}

pub fn reduce(op: ReduceOp, x: &Tensor, axis: usize) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::reduce::reduce(op, s, x.layout(), axis)),
        Storage::Cuda(s) => Storage::Cuda(cuda::reduce::reduce(op, s, x.layout(), axis)?),
    })
}

pub fn softmax(x: &Tensor, log: bool) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::softmax::softmax(s, x.layout(), log)),
        Storage::Cuda(s) => Storage::Cuda(cuda::softmax::softmax(s, x.layout(), log)?),
    })
}

pub fn softmax_backward(y: &Tensor, g: &Tensor, log: bool) -> Result<Storage> {
    Ok(match (&*y.storage(), &*g.storage()) {
        (Storage::Cpu(sy), Storage::Cpu(sg)) => Storage::Cpu(cpu::softmax::softmax_backward(sy, y.layout(), sg, g.layout(), log)),
        (Storage::Cuda(sy), Storage::Cuda(sg)) => Storage::Cuda(cuda::softmax::softmax_backward(sy, y.layout(), sg, g.layout(), log)?),
        _ => return Err(device_mismatch("softmax backward", y, g)),
    })
}

pub fn matmul(a: &Tensor, b: &Tensor, dims: &MatmulDims) -> Result<Storage> {
    Ok(match (&*a.storage(), &*b.storage()) {
        (Storage::Cpu(sa), Storage::Cpu(sb)) => Storage::Cpu(cpu::matmul::matmul(sa, a.layout(), sb, b.layout(), dims)),
        (Storage::Cuda(sa), Storage::Cuda(sb)) => Storage::Cuda(cuda::matmul::matmul(sa, sb, dims)?),
        _ => return Err(device_mismatch("matmul", a, b)),
    })
}

/// a·b + bias over rows; `bias` is a vector of n elements.
pub fn linear(a: &Tensor, b: &Tensor, bias: &Tensor, dims: &MatmulDims) -> Result<Storage> {
    Ok(match (&*a.storage(), &*b.storage(), &*bias.storage()) {
        (Storage::Cpu(sa), Storage::Cpu(sb), Storage::Cpu(sc)) => Storage::Cpu(cpu::matmul::linear(sa, a.layout(), sb, b.layout(), dims, sc, bias.layout())),
        (Storage::Cuda(sa), Storage::Cuda(sb), Storage::Cuda(sc)) => Storage::Cuda(cuda::matmul::linear(sa, sb, dims, sc, bias.layout())?),
        _ => return Err(device_mismatch("linear", a, b)),
    })
}

pub fn cast(x: &Tensor, dtype: DType) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::copy::cast(s, x.layout(), dtype)),
        Storage::Cuda(s) => Storage::Cuda(cuda::copy::cast(s, x.layout(), dtype)?),
    })
}

pub fn contiguous(x: &Tensor) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::copy::contiguous(s, x.layout())),
        Storage::Cuda(s) => Storage::Cuda(cuda::copy::contiguous(s, x.layout())?),
    })
}

/// Writes `source`'s elements into `destination`'s storage at the positions of `destination_layout`.
pub fn copy_into(source: &Tensor, destination: &Tensor, destination_layout: &Layout) -> Result<()> {
    let source_storage = source.storage();
    let mut destination_storage = destination.storage_mut();
    match (&*source_storage, &mut *destination_storage) {
        (Storage::Cpu(s), Storage::Cpu(d)) => cpu::copy::copy_into(s, source.layout(), d, destination_layout),
        (Storage::Cuda(s), Storage::Cuda(d)) => cuda::copy::copy_into(s, source.layout(), d, destination_layout)?,
        _ => return Err(device_mismatch("copy_into", source, destination)),
    }
    Ok(())
}

pub fn fill(x: &Tensor, value: f32) -> Result<()> {
    match &mut *x.storage_mut() {
        Storage::Cpu(s) => cpu::copy::fill(s, value),
        Storage::Cuda(s) => cuda::fill(s, value)?,
    }
    Ok(())
}

/// y ← alpha·x + beta·y over whole storages (x None: y ← beta·y).
pub fn axpby(y: &Tensor, alpha: f32, x: Option<&Tensor>, beta: f32) -> Result<()> {
    let x_guard = x.map(|x| x.storage());
    let mut y_storage = y.storage_mut();
    match (&mut *y_storage, x_guard.as_deref()) {
        (Storage::Cpu(sy), None) => cpu::copy::axpby(sy, alpha, None, beta),
        (Storage::Cpu(sy), Some(Storage::Cpu(sx))) => cpu::copy::axpby(sy, alpha, Some(sx), beta),
        (Storage::Cuda(sy), None) => cuda::copy::axpby(sy, alpha, None, beta)?,
        (Storage::Cuda(sy), Some(Storage::Cuda(sx))) => cuda::copy::axpby(sy, alpha, Some(sx), beta)?,
        _ => return Err(device_mismatch("axpy", y, x.expect("mismatch needs x"))),
    }
    Ok(())
}

// ---- losses ------------------------------------------------------------------------------------

/// Per-row losses (f32, [rows]) and the gradient (logits' dtype, scaled by `grad_scale`) of a
/// softmax cross-entropy over contiguous [rows, cols] logits; `targets` is a contiguous i32 tensor.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor, grad_scale: f32) -> Result<(Storage, Storage)> {
    Ok(match (&*logits.storage(), &*targets.storage()) {
        (Storage::Cpu(x), Storage::Cpu(CpuStorage::I32(t))) => {
            let t = &t[targets.layout().offset()..targets.layout().offset() + targets.elem_count()];
            let (loss, grad) = cpu::loss::cross_entropy(x, logits.layout(), t, grad_scale);
            (Storage::Cpu(loss), Storage::Cpu(grad))
        }
        (Storage::Cuda(x), Storage::Cuda(t)) if t.dtype() == DType::I32 => {
            let (loss, grad) = cuda::loss::cross_entropy(x, logits.layout(), t, targets.layout().offset(), grad_scale)?;
            (Storage::Cuda(loss), Storage::Cuda(grad))
        }
        (Storage::Cpu(_), Storage::Cpu(_)) | (Storage::Cuda(_), Storage::Cuda(_)) => return Err(Error::dtype("cross_entropy", "targets must be i32")),
        _ => return Err(device_mismatch("cross_entropy", logits, targets)),
    })
}

/// Element-wise BCE-with-logits losses (f32) and the scaled gradient (logits' dtype).
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor, grad_scale: f32) -> Result<(Storage, Storage)> {
    Ok(match (&*logits.storage(), &*targets.storage()) {
        (Storage::Cpu(x), Storage::Cpu(t)) => {
            let (loss, grad) = cpu::loss::bce_with_logits(x, logits.layout(), t, targets.layout(), grad_scale);
            (Storage::Cpu(loss), Storage::Cpu(grad))
        }
        (Storage::Cuda(x), Storage::Cuda(t)) => {
            let (loss, grad) = cuda::loss::bce_with_logits(x, logits.layout(), t, targets.layout(), grad_scale)?;
            (Storage::Cuda(loss), Storage::Cuda(grad))
        }
        _ => return Err(device_mismatch("bce_with_logits", logits, targets)),
    })
}

// ---- optimiser updates ---------------------------------------------------------------------------

/// The whole f32 buffer of a tensor that owns it (parameters, gradients, optimiser state).
fn whole_f32<'a>(storage: &'a CpuStorage, op: &'static str) -> Result<&'a [f32]> {
    match storage {
        CpuStorage::F32(v) => Ok(v),
        other => Err(Error::dtype(op, format!("optimiser tensors must be f32, found {}", other.dtype()))),
    }
}

fn whole_f32_mut<'a>(storage: &'a mut CpuStorage, op: &'static str) -> Result<&'a mut [f32]> {
    match storage {
        CpuStorage::F32(v) => Ok(v),
        other => Err(Error::dtype(op, format!("optimiser tensors must be f32, found {}", other.dtype()))),
    }
}

/// One Adam step over every (param, grad, first moment, second moment); all f32, contiguous, on
/// one device. On the GPU this is a single launch.
pub fn adam_update(slots: &[[&Tensor; 4]], hyper: &AdamHyper) -> Result<()> {
    let guards: Vec<_> = slots.iter().map(|[p, g, m, v]| (p.storage_mut(), g.storage(), m.storage_mut(), v.storage_mut())).collect();
    let mut cuda_slots = Vec::new();
    for (p, g, m, v) in &guards {
        if let (Storage::Cuda(p), Storage::Cuda(g), Storage::Cuda(m), Storage::Cuda(v)) = (&**p, &**g, &**m, &**v) {
            cuda_slots.push((p, g, m, v));
        }
    }
    if !cuda_slots.is_empty() {
        if cuda_slots.len() != guards.len() {
            return Err(Error::Optimizer("adam: parameters, gradients and state must all be on the same device".into()));
        }
        return cuda::optim::adam(&cuda_slots, hyper);
    }
    drop(cuda_slots);
    for (mut p, g, mut m, mut v) in guards {
        match (&mut *p, &*g, &mut *m, &mut *v) {
            (Storage::Cpu(p), Storage::Cpu(g), Storage::Cpu(m), Storage::Cpu(v)) => {
                cpu::optim::adam(whole_f32_mut(p, "adam")?, whole_f32(g, "adam")?, whole_f32_mut(m, "adam")?, whole_f32_mut(v, "adam")?, hyper)
            }
            _ => return Err(Error::Optimizer("adam: parameters, gradients and state must all be on the same device".into())),
        }
    }
    Ok(())
}

/// One SGD step over every (param, grad, velocity?); f32, contiguous, one device.
pub fn sgd_update(slots: &[(&Tensor, &Tensor, Option<&Tensor>)], hyper: &SgdHyper) -> Result<()> {
    let guards: Vec<_> = slots.iter().map(|(p, g, v)| (p.storage_mut(), g.storage(), v.map(|v| v.storage_mut()))).collect();
    let mut cuda_slots = Vec::new();
    for (p, g, v) in &guards {
        if let (Storage::Cuda(p), Storage::Cuda(g)) = (&**p, &**g) {
            let velocity = match v.as_deref() {
                Some(Storage::Cuda(v)) => Some(v),
                Some(Storage::Cpu(_)) => return Err(Error::Optimizer("sgd: velocity on another device".into())),
                None => None,
            };
            cuda_slots.push((p, g, velocity));
        }
    }
    if !cuda_slots.is_empty() {
        if cuda_slots.len() != guards.len() {
            return Err(Error::Optimizer("sgd: parameters and gradients must all be on the same device".into()));
        }
        return cuda::optim::sgd(&cuda_slots, hyper);
    }
    drop(cuda_slots);
    for (mut p, g, mut v) in guards {
        match (&mut *p, &*g) {
            (Storage::Cpu(p), Storage::Cpu(g)) => {
                let velocity = match v.as_deref_mut() {
                    Some(Storage::Cpu(v)) => Some(whole_f32_mut(v, "sgd")?),
                    Some(Storage::Cuda(_)) => return Err(Error::Optimizer("sgd: velocity on another device".into())),
                    None => None,
                };
                cpu::optim::sgd(whole_f32_mut(p, "sgd")?, whole_f32(g, "sgd")?, velocity, hyper)
            }
            _ => return Err(Error::Optimizer("sgd: parameters and gradients must all be on the same device".into())),
        }
    }
    Ok(())
}

/// True when no element of any of these contiguous f32 tensors is inf or NaN (one launch on a GPU).
pub fn all_finite(tensors: &[Tensor]) -> Result<bool> {
    let guards: Vec<_> = tensors.iter().map(|t| t.storage()).collect();
    let mut cuda_tensors = Vec::new();
    for (tensor, guard) in tensors.iter().zip(&guards) {
        match &**guard {
            Storage::Cpu(s) => {
                let values = super::cpu::read_f32(s, tensor.layout());
                if !values.iter().all(|v| v.is_finite()) {
                    return Ok(false);
                }
            }
            Storage::Cuda(s) => cuda_tensors.push((s, tensor.layout().offset(), tensor.elem_count())),
        }
    }
    cuda::optim::all_finite(&cuda_tensors)
}

/// table: contiguous [vocab, dim]; ids: contiguous i32 → [ids.len, dim].
pub fn embedding_forward(table: &Tensor, ids: &Tensor) -> Result<Storage> {
    let (vocab, dim, positions) = (table.shape()[0], table.shape()[1], ids.elem_count());
    Ok(match (&*table.storage(), &*ids.storage()) {
        (Storage::Cpu(st), Storage::Cpu(_)) => Storage::Cpu(cpu::embedding::forward(st, table.layout(), &ids.to_vec_i32()?)),
        (Storage::Cuda(st), Storage::Cuda(si)) => Storage::Cuda(cuda::embedding::forward(st, table.layout().offset(), vocab, dim, si, ids.layout().offset(), positions)?),
        _ => return Err(device_mismatch("embedding", table, ids)),
    })
}

/// grad: contiguous [.., dim] matching contiguous `ids` → the table's gradient [vocab, dim].
pub fn embedding_backward(grad: &Tensor, ids: &Tensor, vocab: usize) -> Result<Storage> {
    let (dim, positions) = (*grad.shape().last().unwrap_or(&1), ids.elem_count());
    Ok(match (&*grad.storage(), &*ids.storage()) {
        (Storage::Cpu(sg), Storage::Cpu(_)) => Storage::Cpu(cpu::embedding::backward(sg, grad.layout(), &ids.to_vec_i32()?, vocab)),
        (Storage::Cuda(sg), Storage::Cuda(si)) => Storage::Cuda(cuda::embedding::backward(sg, grad.layout().offset(), dim, si, ids.layout().offset(), positions, vocab)?),
        _ => return Err(device_mismatch("embedding backward", grad, ids)),
    })
}

/// The LSTM forward's outputs and what its backward needs (see `ops::lstm`).
pub struct LstmSaved {
    pub outputs: Storage,
    pub gates: Storage,
    pub cells: Storage,
}

/// x_proj: contiguous f32 [B, T, 4H]; w_hh: contiguous f32 [4H, H].
pub fn lstm_forward(x_proj: &Tensor, w_hh: &Tensor, dims: crate::ops::LstmDims) -> Result<LstmSaved> {
    Ok(match (&*x_proj.storage(), &*w_hh.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sw)) => {
            let (x, w) = (cpu::read_f32(sx, x_proj.layout()), cpu::read_f32(sw, w_hh.layout()));
            let saved = cpu::lstm::forward(&x, &w, dims.batch, dims.steps, dims.hidden);
            LstmSaved { outputs: Storage::Cpu(CpuStorage::F32(saved.outputs)), gates: Storage::Cpu(CpuStorage::F32(saved.gates)), cells: Storage::Cpu(CpuStorage::F32(saved.cells)) }
        }
        (Storage::Cuda(sx), Storage::Cuda(sw)) => {
            let saved = cuda::lstm::forward(sx, x_proj.layout().offset(), sw, w_hh.layout().offset(), dims)?;
            LstmSaved { outputs: Storage::Cuda(saved.outputs), gates: Storage::Cuda(saved.gates), cells: Storage::Cuda(saved.cells) }
        }
        _ => return Err(device_mismatch("lstm", x_proj, w_hh)),
    })
}

/// The forward when nothing needs a gradient: the hidden states [B, T, H] only. On the CPU it keeps
/// no gates or cells (cpu/lstm_inference.rs); on the GPU the kernels write them anyway (they are
/// dropped here).
pub fn lstm_inference(x_proj: &Tensor, w_hh: &Tensor, dims: crate::ops::LstmDims) -> Result<Storage> {
    Ok(match (&*x_proj.storage(), &*w_hh.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sw)) => {
            let (x, w) = (cpu::read_f32(sx, x_proj.layout()), cpu::read_f32(sw, w_hh.layout()));
            Storage::Cpu(CpuStorage::F32(cpu::lstm_inference::forward(&x, &w, dims.batch, dims.steps, dims.hidden)))
        }
        (Storage::Cuda(sx), Storage::Cuda(sw)) => Storage::Cuda(cuda::lstm::forward(sx, x_proj.layout().offset(), sw, w_hh.layout().offset(), dims)?.outputs),
        _ => return Err(device_mismatch("lstm", x_proj, w_hh)),
    })
}

/// All operands contiguous f32: d_outputs and cells [B, T, H], gates [B, T, 4H], w_hh [4H, H]
/// → the gradient of the gate pre-activations [B, T, 4H].
pub fn lstm_backward(d_outputs: &Tensor, gates: &Tensor, cells: &Tensor, w_hh: &Tensor, dims: crate::ops::LstmDims) -> Result<Storage> {
    let (sd, sg, sc, sw) = (d_outputs.storage(), gates.storage(), cells.storage(), w_hh.storage());
    Ok(match (&*sd, &*sg, &*sc, &*sw) {
        (Storage::Cpu(sd), Storage::Cpu(sg), Storage::Cpu(sc), Storage::Cpu(sw)) => {
            // Borrowed, not copied: the operands are contiguous f32 already.
            let read = |s, t: &Tensor| cpu::read_f32(s, t.layout());
            let d_gates = cpu::lstm::backward(&read(sd, d_outputs), &read(sg, gates), &read(sc, cells), &read(sw, w_hh), dims.batch, dims.steps, dims.hidden);
            Storage::Cpu(CpuStorage::F32(d_gates))
        }
        (Storage::Cuda(sd), Storage::Cuda(sg), Storage::Cuda(sc), Storage::Cuda(sw)) => Storage::Cuda(cuda::lstm::backward(
            (sd, d_outputs.layout().offset()),
            (sg, gates.layout().offset()),
            (sc, cells.layout().offset()),
            (sw, w_hh.layout().offset()),
            dims,
        )?),
        _ => return Err(device_mismatch("lstm backward", d_outputs, w_hh)),
    })
}

// ---- layer norm (kernels/norm.cu) and attention (kernels/attention.cu) ------------------------------

/// Layer norm's outputs: the residual sum (when one was added), the output, and the f32 per-row
/// mean and rstd.
pub struct LayerNormSaved {
    pub sum: Option<Storage>,
    pub output: Storage,
    pub mean: Tensor,
    pub rstd: Tensor,
}

/// x (and residual) contiguous [.., width]; weight, bias [width] in x's dtype.
pub fn layer_norm_forward(x: &Tensor, residual: Option<&Tensor>, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<LayerNormSaved> {
    let rows = x.elem_count() / x.shape().last().copied().unwrap_or(1).max(1);
    let residual_storage = residual.map(|r| r.storage());
    match (&*x.storage(), residual_storage.as_deref(), &*weight.storage(), &*bias.storage()) {
        (Storage::Cpu(sx), None | Some(Storage::Cpu(_)), Storage::Cpu(sw), Storage::Cpu(sb)) => {
            let r = match residual_storage.as_deref() {
                Some(Storage::Cpu(sr)) => Some((sr, residual.unwrap().layout())),
                _ => None,
            };
            let f = cpu::layer_norm::forward(sx, x.layout(), r, sw, weight.layout(), sb, bias.layout(), eps);
            Ok(LayerNormSaved {
                sum: f.sum.map(Storage::Cpu),
                output: Storage::Cpu(f.output),
                mean: Tensor::from_vec(f.mean, &[rows], crate::Device::Cpu)?,
                rstd: Tensor::from_vec(f.rstd, &[rows], crate::Device::Cpu)?,
            })
        }
        (Storage::Cuda(sx), None | Some(Storage::Cuda(_)), Storage::Cuda(sw), Storage::Cuda(sb)) => {
            let r = match residual_storage.as_deref() {
                Some(Storage::Cuda(sr)) => Some((sr, residual.unwrap().layout().offset())),
                _ => None,
            };
            let columns = x.shape().last().copied().unwrap_or(1);
            let f = cuda::norm::forward((sx, x.layout().offset()), r, (sw, weight.layout().offset()), (sb, bias.layout().offset()), rows, columns, eps)?;
            let per_row = |s| Tensor::from_storage(Storage::Cuda(s), Layout::contiguous(&[rows]), false);
            Ok(LayerNormSaved { sum: f.sum.map(Storage::Cuda), output: Storage::Cuda(f.output), mean: per_row(f.mean), rstd: per_row(f.rstd) })
        }
        _ => Err(device_mismatch("layer_norm", x, weight)),
    }
}

/// (dx, dweight, dbias) in x's dtype; x and dy contiguous, mean and rstd f32 [rows].
pub fn layer_norm_backward(x: &Tensor, weight: &Tensor, mean: &Tensor, rstd: &Tensor, dy: &Tensor) -> Result<(Storage, Storage, Storage)> {
    match (&*x.storage(), &*weight.storage(), &*dy.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sw), Storage::Cpu(sd)) => {
            let (mean, rstd) = (mean.to_vec_f32()?, rstd.to_vec_f32()?);
            let (dx, dw, db) = cpu::layer_norm::backward(sx, x.layout(), sw, weight.layout(), &mean, &rstd, sd, dy.layout());
            Ok((Storage::Cpu(dx), Storage::Cpu(dw), Storage::Cpu(db)))
        }
        (Storage::Cuda(sx), Storage::Cuda(sw), Storage::Cuda(sd)) => {
            let columns = x.shape().last().copied().unwrap_or(1);
            let rows = x.elem_count() / columns.max(1);
            let (mean_storage, rstd_storage) = (mean.storage(), rstd.storage());
            let (Storage::Cuda(sm), Storage::Cuda(sr)) = (&*mean_storage, &*rstd_storage) else { return Err(device_mismatch("layer_norm backward", x, mean)) };
            let (dx, dw, db) = cuda::norm::backward((sx, x.layout().offset()), (sw, weight.layout().offset()), (sm, mean.layout().offset()), (sr, rstd.layout().offset()), (sd, dy.layout().offset()), rows, columns)?;
            Ok((Storage::Cuda(dx), Storage::Cuda(dw), Storage::Cuda(db)))
        }
        _ => Err(device_mismatch("layer_norm backward", x, dy)),
    }
}

/// The key-padding mask on the attention's device (a mask built on the host is copied once).
fn mask_on(q: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
    mask.map(|m| if m.device() == q.device() { Ok(m.clone()) } else { m.to_device(q.device()) }).transpose()
}

fn cuda_operand<'a>(storage: &'a Option<std::sync::RwLockReadGuard<'_, Storage>>, tensor: &Option<Tensor>) -> Result<Option<(&'a cuda::CudaStorage, usize)>> {
    match (storage.as_deref(), tensor) {
        (Some(Storage::Cuda(s)), Some(t)) => Ok(Some((s, t.layout().offset()))),
        (None, _) => Ok(None),
        _ => Err(Error::CudaUnavailable("attention: the key-padding mask is not on the GPU".into())),
    }
}

fn mask_values(mask: Option<&Tensor>) -> Result<Option<Vec<i32>>> {
    mask.map(|m| m.to_vec_i32()).transpose()
}

/// q, k, v contiguous; mask contiguous i32 [batch, key_len]. Returns the output (q's dtype) and
/// the f32 log-sum-exp [batch, heads, query_len].
pub fn attention_forward(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, dims: cpu::attention::AttentionDims) -> Result<(Storage, Storage)> {
    match (&*q.storage(), &*k.storage(), &*v.storage()) {
        (Storage::Cpu(sq), Storage::Cpu(sk), Storage::Cpu(sv)) => {
            let mask = mask_values(mask)?;
            let (out, lse) = cpu::attention::forward(&cpu::read_f32(sq, q.layout()), &cpu::read_f32(sk, k.layout()), &cpu::read_f32(sv, v.layout()), mask.as_deref(), dims);
            Ok((Storage::Cpu(CpuStorage::from_f32(out, q.dtype())), Storage::Cpu(CpuStorage::F32(lse))))
        }
        (Storage::Cuda(sq), Storage::Cuda(sk), Storage::Cuda(sv)) => {
            let mask = mask_on(q, mask)?;
            let mask_storage = mask.as_ref().map(|m| m.storage());
            let (out, lse) = cuda::attention::forward((sq, q.layout().offset()), (sk, k.layout().offset()), (sv, v.layout().offset()), cuda_operand(&mask_storage, &mask)?, dims)?;
            Ok((Storage::Cuda(out), Storage::Cuda(lse)))
        }
        _ => Err(device_mismatch("attention", q, k)),
    }
}

/// (dq, dk, dv) in q's dtype; every operand contiguous.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(q: &Tensor, k: &Tensor, v: &Tensor, out: &Tensor, d_out: &Tensor, lse: &Tensor, mask: Option<&Tensor>, dims: cpu::attention::AttentionDims) -> Result<(Storage, Storage, Storage)> {
    match (&*q.storage(), &*k.storage(), &*v.storage(), &*out.storage(), &*d_out.storage()) {
        (Storage::Cpu(sq), Storage::Cpu(sk), Storage::Cpu(sv), Storage::Cpu(so), Storage::Cpu(sd)) => {
            let mask = mask_values(mask)?;
            let read = |s, t: &Tensor| cpu::read_f32(s, t.layout()).into_owned();
            let (dq, dk, dv) = cpu::attention::backward(&read(sq, q), &read(sk, k), &read(sv, v), &read(so, out), &read(sd, d_out), &lse.to_vec_f32()?, mask.as_deref(), dims);
            let store = |values| Storage::Cpu(CpuStorage::from_f32(values, q.dtype()));
            Ok((store(dq), store(dk), store(dv)))
        }
        (Storage::Cuda(sq), Storage::Cuda(sk), Storage::Cuda(sv), Storage::Cuda(so), Storage::Cuda(sd)) => {
            let mask = mask_on(q, mask)?;
            let mask_storage = mask.as_ref().map(|m| m.storage());
            let lse_storage = lse.storage();
            let Storage::Cuda(sl) = &*lse_storage else { return Err(device_mismatch("attention backward", q, lse)) };
            let at = |s, t: &Tensor| (s, t.layout().offset());
            let (dq, dk, dv) = cuda::attention::backward(at(sq, q), at(sk, k), at(sv, v), at(so, out), at(sd, d_out), at(sl, lse), cuda_operand(&mask_storage, &mask)?, dims)?;
            Ok((Storage::Cuda(dq), Storage::Cuda(dk), Storage::Cuda(dv)))
        }
        _ => Err(device_mismatch("attention backward", q, d_out)),
    }
}

// ---- convolution and pooling (inputs already contiguous: ops/conv.rs, ops/pool.rs) ----------------

pub fn conv2d_forward(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, geometry: &ConvGeometry, relu: bool) -> Result<Storage> {
    if let Some(b) = bias.filter(|b| b.device() != x.device()) {
        return Err(device_mismatch("conv2d", x, b));
    }
    let bias_storage = bias.map(|b| b.storage());
    let bias_layout = bias.map(|b| b.layout());
    Ok(match (&*x.storage(), &*w.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sw)) => {
            let b = match bias_storage.as_deref() {
                Some(Storage::Cpu(sb)) => Some((sb, bias_layout.unwrap())),
                _ => None,
            };
            Storage::Cpu(cpu::conv::conv2d_forward(sx, x.layout(), sw, w.layout(), b, geometry, relu))
        }
        (Storage::Cuda(sx), Storage::Cuda(sw)) => {
            let b = match bias_storage.as_deref() {
                Some(Storage::Cuda(sb)) => Some((sb, bias_layout.unwrap())),
                _ => None,
            };
            Storage::Cuda(cuda::conv::conv2d_forward(sx, x.layout(), sw, w.layout(), b, geometry, relu)?)
        }
        _ => return Err(device_mismatch("conv2d", x, w)),
    })
}

pub fn conv2d_backward_data(dy: &Tensor, w: &Tensor, geometry: &ConvGeometry) -> Result<Storage> {
    Ok(match (&*dy.storage(), &*w.storage()) {
        (Storage::Cpu(sd), Storage::Cpu(sw)) => Storage::Cpu(cpu::conv::conv2d_backward_data(sd, dy.layout(), sw, w.layout(), geometry)),
        (Storage::Cuda(sd), Storage::Cuda(sw)) => Storage::Cuda(cuda::conv::conv2d_backward_data(sd, dy.layout(), sw, w.layout(), geometry)?),
        _ => return Err(device_mismatch("conv2d backward", dy, w)),
    })
}

pub fn conv2d_backward_weight(x: &Tensor, dy: &Tensor, geometry: &ConvGeometry) -> Result<Storage> {
    Ok(match (&*x.storage(), &*dy.storage()) {
        (Storage::Cpu(sx), Storage::Cpu(sd)) => Storage::Cpu(cpu::conv::conv2d_backward_weight(sx, x.layout(), sd, dy.layout(), geometry)),
        (Storage::Cuda(sx), Storage::Cuda(sd)) => Storage::Cuda(cuda::conv::conv2d_backward_weight(sx, x.layout(), sd, dy.layout(), geometry)?),
        _ => return Err(device_mismatch("conv2d backward", x, dy)),
    })
}

/// (values, i32 argmax as flat input indices).
pub fn max_pool2d_2x2(x: &Tensor) -> Result<(Storage, Storage)> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => {
            let (values, argmax) = cpu::pool::max_pool2d_2x2(s, x.layout());
            (Storage::Cpu(values), Storage::Cpu(argmax))
        }
        Storage::Cuda(s) => {
            let (values, argmax) = cuda::pool::max_pool2d_2x2(s, x.layout())?;
            (Storage::Cuda(values), Storage::Cuda(argmax))
        }
    })
}

pub fn max_pool2d_2x2_backward(dy: &Tensor, argmax: &Tensor, input_shape: &[usize]) -> Result<Storage> {
    Ok(match (&*dy.storage(), &*argmax.storage()) {
        (Storage::Cpu(sd), Storage::Cpu(sa)) => Storage::Cpu(cpu::pool::max_pool2d_2x2_backward(sd, dy.layout(), sa, input_shape)),
        (Storage::Cuda(sd), Storage::Cuda(sa)) => Storage::Cuda(cuda::pool::max_pool2d_2x2_backward(sd, dy.layout(), sa, input_shape)?),
        _ => return Err(device_mismatch("max_pool2d backward", dy, argmax)),
    })
}

pub fn adaptive_avg_pool2d(x: &Tensor, out_h: usize, out_w: usize) -> Result<Storage> {
    Ok(match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::pool::adaptive_avg_pool2d(s, x.layout(), out_h, out_w)),
        Storage::Cuda(s) => Storage::Cuda(cuda::pool::adaptive_avg_pool2d(s, x.layout(), out_h, out_w)?),
    })
}

pub fn adaptive_avg_pool2d_backward(dy: &Tensor, input_shape: &[usize]) -> Result<Storage> {
    Ok(match &*dy.storage() {
        Storage::Cpu(s) => Storage::Cpu(cpu::pool::adaptive_avg_pool2d_backward(s, dy.layout(), input_shape)),
        Storage::Cuda(s) => Storage::Cuda(cuda::pool::adaptive_avg_pool2d_backward(s, dy.layout(), input_shape)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;

    /// Targets that start inside their storage (a view) are read from their offset on every device.
    #[test]
    fn cross_entropy_reads_targets_from_their_offset() {
        let logits = Tensor::from_vec(vec![2.0, 0.0, -1.0, 0.5, 0.5, 3.0], &[2, 3], Device::Cpu).unwrap();
        let targets = Tensor::from_i32(vec![9, 2, 0], &[3], Device::Cpu).unwrap().narrow(0, 1, 2).unwrap();
        let losses = |logits: &Tensor, targets: &Tensor| -> Vec<f32> {
            let (loss, _) = cross_entropy(logits, targets, 1.0).unwrap();
            Tensor::from_storage(loss, Layout::contiguous(&[2]), false).to_vec_f32().unwrap()
        };
        let cpu = losses(&logits, &targets);
        // Row 0 with target 2 and row 1 with target 0: −log softmax at those classes.
        let expected = [(2f32.exp() + 1.0 + (-1f32).exp()).ln() + 1.0, (2.0 * 0.5f32.exp() + 3f32.exp()).ln() - 0.5];
        assert!(cpu.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-5), "{cpu:?} vs {expected:?}");
        match cuda::probe() {
            Ok(_) => {
                // The view is taken on the GPU, so its storage there starts with the unused 9.
                let device = Device::Cuda(0);
                let gpu_targets = Tensor::from_i32(vec![9, 2, 0], &[3], device).unwrap().narrow(0, 1, 2).unwrap();
                let gpu = losses(&logits.to_device(device).unwrap(), &gpu_targets);
                assert!(gpu.iter().zip(&cpu).all(|(a, b)| (a - b).abs() < 1e-5), "{gpu:?} vs {cpu:?}");
            }
            Err(reason) => eprintln!("GPU parity skipped (no GPU: {reason})"),
        }
    }
}
