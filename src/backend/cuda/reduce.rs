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
/// The column kernels' block: COLUMN_WIDTH neighbouring columns × COLUMN_ROWS row lanes (reduce.cu).
const COLUMN_WIDTH: usize = 32;
const COLUMN_ROWS: usize = 8;

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
        return reduce_columns(op, x, layout.offset(), (outer, reduced, inner), out);
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

/// inner > 1: tiles of 32 columns, with the reduced axis split into as many chunks as it takes to
/// give the GPU about 8 blocks per multiprocessor, then one pass combining each output's chunks.
fn reduce_columns(op: ReduceOp, x: &CudaStorage, offset: usize, (outer, reduced, inner): (usize, usize, usize), out: CudaStorage) -> Result<CudaStorage> {
    let device = x.device();
    let suffix = x.dtype().kernel_suffix();
    let (column_tiles, slices) = (inner.div_ceil(COLUMN_WIDTH), outer.min(MAX_GRID_Y));
    let wanted_blocks = device.multiprocessors() as usize * 8;
    // Each chunk keeps at least 4 rows per row lane, so its loads amortise the block.
    let most_chunks = reduced.div_ceil(4 * COLUMN_ROWS).clamp(1, MAX_GRID_Y);
    let chunks = wanted_blocks.div_ceil(column_tiles * slices).clamp(1, most_chunks);
    let chunk = reduced.div_ceil(chunks).max(1);
    let partial = CudaStorage::alloc_on(device, DType::F32, outer * chunks * inner)?;

    let code = op as u32;
    let partial_name = format!("reduce_columns_partial_{suffix}");
    let function = device.function("reduce", &partial_name)?;
    let (o, r, i, c, x_ptr, partial_ptr) = (outer as u64, reduced as u64, inner as u64, chunk as u64, x.pointer_at(offset), partial.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&code).arg(&o).arg(&r).arg(&i).arg(&c).arg(&x_ptr).arg(&partial_ptr);
    let config = LaunchConfig {
        grid_dim: (column_tiles as u32, chunks as u32, slices as u32),
        block_dim: (COLUMN_WIDTH as u32, COLUMN_ROWS as u32, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: block (tile, piece, z) reads columns [tile·32, +32) ∩ [0, inner) of rows
    // [piece·chunk, +chunk) ∩ [0, reduced) of slices z, z + gridDim.z, … < outer, all inside the
    // outer·reduced·inner contiguous input, and writes partial[(slice·chunks + piece)·inner + column],
    // which holds outer·chunks·inner floats.
    checked(device, &partial_name, unsafe { launch.launch(config) })?;

    let finish_name = format!("reduce_columns_finish_{suffix}");
    let function = device.function("reduce", &finish_name)?;
    let (chunk_count, out_ptr) = (chunks as u64, out.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&code).arg(&o).arg(&chunk_count).arg(&i).arg(&partial_ptr).arg(&out_ptr);
    // SAFETY: grid-stride over the outer·inner outputs, each reading its `chunks` partials.
    checked(device, &finish_name, unsafe { launch.launch(grid_for(device, outer * inner)) })?;
    Ok(out)
}
