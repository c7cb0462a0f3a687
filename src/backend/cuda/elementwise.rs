//! Launchers for kernels/elementwise.cu.
use cudarc::driver::PushKernelArg;

use super::launch::{checked, grid_for, StridedLayout};
use super::CudaStorage;
use crate::ops::{BinaryOp, UnaryOp};
use crate::tensor::Layout;
use crate::{Error, Result};

pub fn unary(op: UnaryOp, x: &CudaStorage, layout: &Layout) -> Result<CudaStorage> {
    let device = x.device();
    let n = layout.elem_count();
    let out = CudaStorage::alloc_on(device, x.dtype(), n)?;
    let name = format!("unary_{}", x.dtype().kernel_suffix());
    let function = device.function("elementwise", &name)?;
    let (code, (p0, p1)) = (op.code(), op.params());
    let (count, (x_layout, contiguous)) = (n as u64, StridedLayout::unless_contiguous(layout)?);
    let (x_ptr, out_ptr) = (x.pointer_at(layout.offset()), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&code).arg(&p0).arg(&p1).arg(&count).arg(&x_ptr).arg(&x_layout).arg(&contiguous).arg(&out_ptr);
    // SAFETY: the kernel reads n elements of x through its layout (checked against its storage when the
    // view was made) and writes n elements of `out`, which holds n.
    checked(device, &name, unsafe { launch.launch(grid_for(device, n)) })?;
    Ok(out)
}

/// Both layouts are broadcast to the output shape already.
pub fn binary(op: BinaryOp, a: &CudaStorage, a_layout: &Layout, b: &CudaStorage, b_layout: &Layout) -> Result<CudaStorage> {
    if a.dtype() != b.dtype() {
        return Err(Error::dtype("binary op", "operands must share a dtype"));
    }
    let device = a.device();
    let n = a_layout.elem_count();
    let out = CudaStorage::alloc_on(device, a.dtype(), n)?;
    let name = format!("binary_{}", a.dtype().kernel_suffix());
    let function = device.function("elementwise", &name)?;
    let (code, count) = (op as u32, n as u64);
    let ((al, a_contiguous), (bl, b_contiguous)) = (StridedLayout::unless_contiguous(a_layout)?, StridedLayout::unless_contiguous(b_layout)?);
    let (a_ptr, b_ptr, out_ptr) = (a.pointer_at(a_layout.offset()), b.pointer_at(b_layout.offset()), out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&code).arg(&count).arg(&a_ptr).arg(&al).arg(&a_contiguous).arg(&b_ptr).arg(&bl).arg(&b_contiguous).arg(&out_ptr);
    // SAFETY: as for `unary`, with both inputs read through layouts of n elements.
    checked(device, &name, unsafe { launch.launch(grid_for(device, n)) })?;
    Ok(out)
}
