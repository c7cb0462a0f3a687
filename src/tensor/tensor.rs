//! The `Tensor` handle: cheap to clone (an `Arc`), immutable in shape, sharing storage between views.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{CpuStorage, DType, Device, Layout, Storage};
use crate::autograd;
use crate::backend::cuda;
use crate::util::Rng;
use crate::{Error, Result};

/// Identifies a tensor on the autograd tape. Views get their own id: each is a node of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn next() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        TensorId(COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Clone)]
pub struct Tensor(Arc<TensorInner>);

struct TensorInner {
    id: TensorId,
    storage: Arc<RwLock<Storage>>,
    layout: Layout,
    dtype: DType,
    device: Device,
    requires_grad: bool,
}

impl Drop for TensorInner {
    /// The last tensor viewing a CPU f32 (or i32) storage hands its buffer to the CPU backend's pool, so the
    /// next op that needs one of that length reuses it instead of asking the system for fresh pages.
    fn drop(&mut self) {
        if let Some(lock) = Arc::get_mut(&mut self.storage) {
            match lock.get_mut() {
                Ok(Storage::Cpu(CpuStorage::F32(values))) => crate::backend::cpu::buffer_pool::give(std::mem::take(values)),
                Ok(Storage::Cpu(CpuStorage::I32(values))) => crate::backend::cpu::buffer_pool::give_i32(std::mem::take(values)),
                _ => {}
            }
        }
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?}, {}, {}{})", self.shape(), self.dtype(), self.device(), if self.requires_grad() { ", grad" } else { "" })
    }
}

impl Tensor {
    // ---- construction -------------------------------------------------------------------------

    pub(crate) fn from_storage(storage: Storage, layout: Layout, requires_grad: bool) -> Self {
        let dtype = storage.dtype();
        let device = match &storage {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(s) => Device::Cuda(s.ordinal()),
        };
        Self(Arc::new(TensorInner { id: TensorId::next(), storage: Arc::new(RwLock::new(storage)), layout, dtype, device, requires_grad }))
    }

    /// A new view of this tensor's storage (same storage, other layout), as produced by view ops.
    pub(crate) fn view_with_layout(&self, layout: Layout, requires_grad: bool) -> Self {
        Self(Arc::new(TensorInner {
            id: TensorId::next(),
            storage: Arc::clone(&self.0.storage),
            layout,
            dtype: self.0.dtype,
            device: self.0.device,
            requires_grad,
        }))
    }

    /// Creates the output of an op and, when gradients are being recorded and an input requires one,
    /// records the op's backward rule on the tape. `backward` maps the output's gradient to one
    /// optional gradient per input, in the order of `inputs`.
    pub(crate) fn from_op(
        storage: Storage,
        layout: Layout,
        inputs: &[&Tensor],
        backward: impl FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>> + 'static,
    ) -> Self {
        Self::from_op_output(Self::from_storage(storage, layout, false), inputs, backward)
    }

    /// Like `from_op`, for an output that already exists (because the backward rule needs it).
    pub(crate) fn from_op_output(
        output: Tensor,
        inputs: &[&Tensor],
        backward: impl FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>> + 'static,
    ) -> Self {
        if !(autograd::is_recording() && inputs.iter().any(|t| t.requires_grad())) {
            return output;
        }
        let output = output.view_with_layout(output.layout().clone(), true);
        autograd::record(&output, inputs, Box::new(backward));
        output
    }

    pub fn from_cpu_storage(storage: CpuStorage, shape: &[usize], device: Device) -> Result<Self> {
        let expected: usize = shape.iter().product();
        if storage.len() != expected {
            return Err(Error::shape("from_vec", format!("{} values cannot fill shape {shape:?} ({expected} elements)", storage.len())));
        }
        let storage = match device {
            Device::Cpu => Storage::Cpu(storage),
            Device::Cuda(ordinal) => Storage::Cuda(cuda::CudaStorage::from_cpu(&storage, ordinal)?),
        };
        Ok(Self::from_storage(storage, Layout::contiguous(shape), false))
    }

    pub fn from_vec(values: Vec<f32>, shape: &[usize], device: Device) -> Result<Self> {
        Self::from_cpu_storage(CpuStorage::F32(values), shape, device)
    }

    pub fn from_slice(values: &[f32], shape: &[usize], device: Device) -> Result<Self> {
        Self::from_vec(values.to_vec(), shape, device)
    }

    pub fn from_i32(values: Vec<i32>, shape: &[usize], device: Device) -> Result<Self> {
        Self::from_cpu_storage(CpuStorage::I32(values), shape, device)
    }

    pub fn scalar(value: f32, device: Device) -> Result<Self> {
        Self::from_vec(vec![value], &[], device)
    }

    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Self> {
        Self::full(shape, 0.0, dtype, device)
    }

    pub fn ones(shape: &[usize], dtype: DType, device: Device) -> Result<Self> {
        Self::full(shape, 1.0, dtype, device)
    }

    pub fn full(shape: &[usize], value: f32, dtype: DType, device: Device) -> Result<Self> {
        let len = shape.iter().product();
        let storage = match device {
            Device::Cpu => {
                let mut values = crate::backend::cpu::buffer_pool::for_overwrite(len);
                values.fill(value);
                Storage::Cpu(CpuStorage::from_f32(values, dtype))
            }
            Device::Cuda(ordinal) => {
                let mut storage = cuda::CudaStorage::alloc(ordinal, dtype, len)?;
                cuda::fill(&mut storage, value)?;
                Storage::Cuda(storage)
            }
        };
        Ok(Self::from_storage(storage, Layout::contiguous(shape), false))
    }

    /// Normal(0, std²) values drawn on the CPU from `rng`, so a seed gives the same tensor on every device.
    pub fn randn(shape: &[usize], std: f32, rng: &mut Rng, device: Device) -> Result<Self> {
        let values = (0..shape.iter().product()).map(|_| rng.normal() * std).collect();
        Self::from_vec(values, shape, device)
    }

    /// Uniform values in [low, high), drawn on the CPU from `rng`.
    pub fn uniform(shape: &[usize], low: f32, high: f32, rng: &mut Rng, device: Device) -> Result<Self> {
        let values = (0..shape.iter().product()).map(|_| rng.uniform_in(low, high)).collect();
        Self::from_vec(values, shape, device)
    }

    // ---- accessors ---------------------------------------------------------------------------

    pub fn id(&self) -> TensorId {
        self.0.id
    }
    pub fn shape(&self) -> &[usize] {
        self.0.layout.shape()
    }
    pub fn rank(&self) -> usize {
        self.0.layout.rank()
    }
    pub fn elem_count(&self) -> usize {
        self.0.layout.elem_count()
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.device
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The size of `axis`; negative axes count from the end.
    pub fn dim(&self, axis: isize) -> Result<usize> {
        Ok(self.shape()[self.normalize_axis(axis)?])
    }

    pub fn normalize_axis(&self, axis: isize) -> Result<usize> {
        let rank = self.rank() as isize;
        let normalized = if axis < 0 { axis + rank } else { axis };
        if normalized < 0 || normalized >= rank {
            return Err(Error::shape("axis", format!("axis {axis} out of range for shape {:?}", self.shape())));
        }
        Ok(normalized as usize)
    }

    pub fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.storage.read().expect("tensor storage lock poisoned")
    }

    /// Write access for in-place updates (optimisers, `fill_`). Views share storage, so every view sees it.
    pub fn storage_mut(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.storage.write().expect("tensor storage lock poisoned")
    }

    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    // ---- autograd flags ----------------------------------------------------------------------

    /// A leaf that requires a gradient (a parameter), sharing this tensor's storage.
    pub fn with_grad(&self) -> Tensor {
        self.view_with_layout(self.layout().clone(), true)
    }

    /// The same values, cut from the tape: no gradient flows through the result.
    pub fn detach(&self) -> Tensor {
        self.view_with_layout(self.layout().clone(), false)
    }

    // ---- reading values back -----------------------------------------------------------------

    /// A contiguous CPU copy of the values in row-major order.
    pub fn to_cpu_storage(&self) -> Result<CpuStorage> {
        let contiguous = self.contiguous()?;
        let storage = contiguous.storage();
        let (start, len) = (contiguous.layout().offset(), contiguous.elem_count());
        Ok(match &*storage {
            Storage::Cpu(cpu) => crate::backend::cpu::copy::slice(cpu, start, len),
            Storage::Cuda(cuda) => cuda.to_cpu(start, len)?,
        })
    }

    /// The values as f32 in row-major order, whatever the dtype and device.
    pub fn to_vec_f32(&self) -> Result<Vec<f32>> {
        Ok(match self.to_cpu_storage()? {
            CpuStorage::F32(v) => v,
            CpuStorage::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            CpuStorage::BF16(v) => v.iter().map(|x| x.to_f32()).collect(),
            CpuStorage::I32(v) => v.iter().map(|&x| x as f32).collect(),
        })
    }

    pub fn to_vec_i32(&self) -> Result<Vec<i32>> {
        match self.to_cpu_storage()? {
            CpuStorage::I32(v) => Ok(v),
            other => Err(Error::dtype("to_vec_i32", format!("tensor holds {}, not i32", other.dtype()))),
        }
    }

    /// The single value of a one-element tensor.
    pub fn to_scalar(&self) -> Result<f32> {
        if self.elem_count() != 1 {
            return Err(Error::shape("to_scalar", format!("tensor of shape {:?} is not a scalar", self.shape())));
        }
        Ok(self.to_vec_f32()?[0])
    }

    /// A copy on another device (the same tensor when it is already there). Gradients flow back across.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let cpu = self.to_cpu_storage()?;
        let storage = match device {
            Device::Cpu => Storage::Cpu(cpu),
            Device::Cuda(ordinal) => Storage::Cuda(cuda::CudaStorage::from_cpu(&cpu, ordinal)?),
        };
        let source_device = self.device();
        Ok(Tensor::from_op(storage, Layout::contiguous(self.shape()), &[self], move |grad| {
            Ok(vec![Some(grad.to_device(source_device)?)])
        }))
    }
}
