//! Launchers for kernels/lstm.cu: the persistent kernels when W_hh fits in shared memory (one launch
//! for the whole sequence), otherwise one fused launch per time step.
use cudarc::driver::sys::CUfunction_attribute as FunctionAttribute;
use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::{CudaDevice, CudaStorage};
use crate::ops::LstmDims;
use crate::tensor::DType;
use crate::{Error, Result};

const THREADS: u32 = 256;
const TILE_ROWS: usize = 32;
const TILE_UNITS: usize = 32;
/// Shared memory a persistent block may use. Ampere (sm_80) allows 163 KB per block and Hopper
/// 227 KB after opting in; 96 KB keeps every sm_80+ part in and admits H = 64 (W_hh = 64 KB).
const PERSISTENT_SHARED_LIMIT: usize = 96 * 1024;

/// The device storages the forward fills.
pub struct LstmForwardStorage {
    pub outputs: CudaStorage,
    pub gates: CudaStorage,
    pub cells: CudaStorage,
}

/// Batch rows per persistent block: the fewest (1, 2 or 4) that keep the grid within one wave.
fn rows_per_block(device: &CudaDevice, batch: usize) -> usize {
    let multiprocessors = device.multiprocessors() as usize;
    [1, 2, 4].into_iter().find(|&rows| batch.div_ceil(rows) <= multiprocessors).unwrap_or(4)
}

fn forward_shared_bytes(hidden: usize, rows: usize) -> usize {
    4 * (4 * hidden * hidden + 2 * rows * hidden + rows * 4 * hidden)
}

fn backward_shared_bytes(hidden: usize, rows: usize) -> usize {
    let parts = (THREADS as usize / hidden.max(1)).max(1);
    4 * (4 * hidden * hidden + rows * 4 * hidden + 2 * rows * hidden + parts * rows * hidden)
}

/// Whether the persistent kernels serve this shape (both directions, so forward and backward agree).
pub fn uses_persistent_kernels(device: &CudaDevice, dims: LstmDims) -> bool {
    let rows = rows_per_block(device, dims.batch);
    forward_shared_bytes(dims.hidden, rows).max(backward_shared_bytes(dims.hidden, rows)) <= PERSISTENT_SHARED_LIMIT
}

fn u32_dims(dims: LstmDims) -> Result<(u32, u32, u32)> {
    let fits = |v: usize| u32::try_from(v).map_err(|_| Error::shape("lstm", format!("size {v} exceeds 2^32")));
    Ok((fits(dims.batch)?, fits(dims.steps)?, fits(dims.hidden)?))
}

fn persistent_config(device: &CudaDevice, function: &cudarc::driver::CudaFunction, name: &str, dims: LstmDims, shared_bytes: usize) -> Result<LaunchConfig> {
    let rows = rows_per_block(device, dims.batch);
    // Above 48 KB of dynamic shared memory a kernel must opt in. Always to the same limit, whatever this
    // launch needs: the function is shared, and a smaller value set by another thread between this
    // call and the launch would make the launch fail.
    function
        .set_attribute(FunctionAttribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, PERSISTENT_SHARED_LIMIT as i32)
        .map_err(|e| Error::cuda(format!("allowing {PERSISTENT_SHARED_LIMIT} B of shared memory for {name}"), e))?;
    Ok(LaunchConfig { grid_dim: (dims.batch.div_ceil(rows) as u32, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: shared_bytes as u32 })
}

fn step_config(dims: LstmDims) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (dims.hidden.div_ceil(TILE_UNITS) as u32, dims.batch.div_ceil(TILE_ROWS) as u32, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// x_proj [B, T, 4H] at `x_offset`, w_hh [4H, H] at `w_offset`, both contiguous f32.
pub fn forward(x_proj: &CudaStorage, x_offset: usize, w_hh: &CudaStorage, w_offset: usize, dims: LstmDims) -> Result<LstmForwardStorage> {
    let device = x_proj.device();
    let LstmDims { batch, steps, hidden } = dims;
    let outputs = CudaStorage::alloc_on(device, DType::F32, batch * steps * hidden)?;
    let gates = CudaStorage::alloc_on(device, DType::F32, batch * steps * 4 * hidden)?;
    let cells = CudaStorage::alloc_on(device, DType::F32, batch * steps * hidden)?;
    if batch * steps * hidden == 0 {
        return Ok(LstmForwardStorage { outputs, gates, cells });
    }
    let (b32, t32, h32) = u32_dims(dims)?;
    let (x_ptr, w_ptr) = (x_proj.pointer_at(x_offset), w_hh.pointer_at(w_offset));
    let (out_ptr, gates_ptr, cells_ptr) = (outputs.pointer_at(0), gates.pointer_at(0), cells.pointer_at(0));
    if uses_persistent_kernels(device, dims) {
        let rows = rows_per_block(device, batch);
        let name = format!("lstm_forward_persistent_b{rows}");
        let function = device.function("lstm", &name)?;
        let config = persistent_config(device, &function, &name, dims, forward_shared_bytes(hidden, rows))?;
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&b32).arg(&t32).arg(&h32).arg(&x_ptr).arg(&w_ptr).arg(&out_ptr).arg(&gates_ptr).arg(&cells_ptr);
        // SAFETY: block k owns batch rows [k·rows, min(k·rows + rows, B)) and reads/writes only their
        // [T, ·] slices of the B·T·4H and B·T·H buffers; W_hh (4H·H) is read whole; the dynamic
        // shared memory holds exactly forward_shared_bytes(H, rows).
        checked(device, &name, unsafe { launch.launch(config) })?;
    } else {
        let function = device.function("lstm", "lstm_forward_step")?;
        for t in 0..t32 {
            let mut launch = device.stream().launch_builder(&function);
            launch.arg(&b32).arg(&t32).arg(&h32).arg(&t).arg(&x_ptr).arg(&w_ptr).arg(&out_ptr).arg(&gates_ptr).arg(&cells_ptr);
            // SAFETY: every access is guarded by b < B, j < H, k < H; step t reads outputs and cells of
            // step t−1 (written by the previous launch on the same stream) and writes step t only.
            checked(device, "lstm_forward_step", unsafe { launch.launch(step_config(dims)) })?;
        }
    }
    Ok(LstmForwardStorage { outputs, gates, cells })
}

/// Each operand is (storage, element offset), contiguous f32, shaped as in `forward`.
pub fn backward(d_outputs: (&CudaStorage, usize), gates: (&CudaStorage, usize), cells: (&CudaStorage, usize), w_hh: (&CudaStorage, usize), dims: LstmDims) -> Result<CudaStorage> {
    let device = w_hh.0.device();
    let LstmDims { batch, steps, hidden } = dims;
    let d_gates = CudaStorage::alloc_on(device, DType::F32, batch * steps * 4 * hidden)?;
    if batch * steps * hidden == 0 {
        return Ok(d_gates);
    }
    let (b32, t32, h32) = u32_dims(dims)?;
    let (dout_ptr, gates_ptr, cells_ptr, w_ptr) = (d_outputs.0.pointer_at(d_outputs.1), gates.0.pointer_at(gates.1), cells.0.pointer_at(cells.1), w_hh.0.pointer_at(w_hh.1));
    let d_gates_ptr = d_gates.pointer_at(0);
    if uses_persistent_kernels(device, dims) {
        let rows = rows_per_block(device, batch);
        let name = format!("lstm_backward_persistent_b{rows}");
        let function = device.function("lstm", &name)?;
        let config = persistent_config(device, &function, &name, dims, backward_shared_bytes(hidden, rows))?;
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&b32).arg(&t32).arg(&h32).arg(&dout_ptr).arg(&gates_ptr).arg(&cells_ptr).arg(&w_ptr).arg(&d_gates_ptr);
        // SAFETY: as the forward: block k touches only its batch rows' slices; shared memory holds
        // exactly backward_shared_bytes(H, rows) with parts = max(1, 256 / H), as the kernel computes.
        checked(device, &name, unsafe { launch.launch(config) })?;
    } else {
        let mut dc_carry = CudaStorage::alloc_on(device, DType::F32, batch * hidden)?;
        super::fill(&mut dc_carry, 0.0)?;
        let dc_ptr = dc_carry.pointer_at(0);
        let function = device.function("lstm", "lstm_backward_step")?;
        for t in (0..t32).rev() {
            let mut launch = device.stream().launch_builder(&function);
            launch.arg(&b32).arg(&t32).arg(&h32).arg(&t).arg(&dout_ptr).arg(&gates_ptr).arg(&cells_ptr).arg(&w_ptr).arg(&d_gates_ptr).arg(&dc_ptr);
            // SAFETY: accesses are guarded by b < B, j < H, r < 4H; step t reads d_gates of step t+1
            // (previous launch) and writes step t; dc_carry (B·H) is owned element-wise by one thread.
            checked(device, "lstm_backward_step", unsafe { launch.launch(step_config(dims)) })?;
        }
        // dc_carry goes back to the allocator; later work on the stream runs after these launches.
        drop(dc_carry);
    }
    Ok(d_gates)
}
