//! Launchers for kernels/reduce.cu. The input is contiguous (the op made it so).
use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::launch::{checked, grid_for, BLOCK};
use super::CudaStorage;
use crate::ops::ReduceOp;
use crate::tensor::{DType, Layout};
use crate::Result;

/// Elements each block of the first pass reduces when a row is split: long enough to amortise the
/// block, short enough that a single row still spreads over the whole GPU.
const ROW_CHUNK: usize = 16 * 1024;
const MAX_GRID_Y: usize = 65_535;

pub fn reduce(op: ReduceOp, x: &CudaStorage, layout: &Layout, axis: usize) -> Result<CudaStorage> {
    let device = x.device();
    let shape = layout.shape();
    let (outer, reduced, inner) = (shape[..axis].iter().product::<usize>(), shape[axis], shape[axis + 1..].iter().product::<usize>());
    let suffix = x.dtype().kernel_suffix();
    let x_ptr = x.pointer_at(layout.offset());
    let outputs = outer * inner;
    if outputs == 0 {
        // Nothing to write, and a launch with an empty grid would be an error.
        return CudaStorage::alloc_on(device, if op == ReduceOp::ArgMax { DType::I32 } else { x.dtype() }, 0);
    }

    if op == ReduceOp::ArgMax {
        let out = CudaStorage::alloc_on(device, DType::I32, outputs)?;
        let name = format!("argmax_{suffix}");
        let function = device.function("reduce", &name)?;
        let (o, r, i, out_ptr) = (outer as u64, reduced as u64, inner as u64, out.pointer_at(0));
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&o).arg(&r).arg(&i).arg(&x_ptr).arg(&out_ptr);
        // SAFETY: reads outer·reduced·inner contiguous elements, writes outer·inner.
        checked(device, &name, unsafe { launch.launch(grid_for(device, outputs)) })?;
        return Ok(out);
    }

    let out = CudaStorage::alloc_on(device, x.dtype(), outputs)?;
    let code = op as u32;
    if inner > 1 {
        let name = format!("reduce_columns_{suffix}");
        let function = device.function("reduce", &name)?;
        let (o, r, i, out_ptr) = (outer as u64, reduced as u64, inner as u64, out.pointer_at(0));
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&code).arg(&o).arg(&r).arg(&i).arg(&x_ptr).arg(&out_ptr);
        // SAFETY: as above.
        checked(device, &name, unsafe { launch.launch(grid_for(device, outputs)) })?;
        return Ok(out);
    }

    // Rows: split each into chunks (one block each), then combine each row's partials.
    let chunks = reduced.div_ceil(ROW_CHUNK).max(1);
    let chunk = reduced.div_ceil(chunks).max(1);
    let partial = CudaStorage::alloc_on(device, DType::F32, outer * chunks)?;
    let partial_name = format!("reduce_rows_partial_{suffix}");
    let function = device.function("reduce", &partial_name)?;
    let (o, r, c, partial_ptr) = (outer as u64, reduced as u64, chunk as u64, partial.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&code).arg(&o).arg(&r).arg(&c).arg(&x_ptr).arg(&partial_ptr);
    // gridDim.y is limited to 65535; the kernel strides over further rows.
    let config = LaunchConfig { grid_dim: (chunks as u32, outer.min(MAX_GRID_Y) as u32, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 };
    // SAFETY: block (piece, y) reads elements [piece·chunk, min((piece+1)·chunk, reduced)) of rows
    // y, y + gridDim.y, … < outer and writes partial[row·chunks + piece]; partial holds outer·chunks floats.
    checked(device, &partial_name, unsafe { launch.launch(config) })?;

    let finish_name = format!("reduce_rows_finish_{suffix}");
    let function = device.function("reduce", &finish_name)?;
    let (chunk_count, out_ptr) = (chunks as u64, out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&code).arg(&chunk_count).arg(&partial_ptr).arg(&out_ptr);
    let config = LaunchConfig { grid_dim: (outer as u32, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 };
    // SAFETY: block `row` reads its `chunks` partials and writes out[row]; out holds `outer` elements.
    checked(device, &finish_name, unsafe { launch.launch(config) })?;
    Ok(out)
}
