//! Launchers for kernels/norm.cu: layer norm over the last axis of contiguous rows, one warp per
//! row (4 rows a block); the weight and bias gradients are reduced over rows in fixed parts, then
//! the parts in order, so they do not depend on scheduling.
use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::CudaStorage;
use crate::tensor::DType;
use crate::{Error, Result};

const WARPS_PER_BLOCK: usize = 4; // NORM_WARPS_PER_BLOCK
const ROWS_PER_PART: usize = 128; // NORM_ROWS_PER_PART
const PART_THREADS_Y: u32 = 8; // NORM_PART_THREADS_Y

/// An operand: its storage and the element its data starts at.
pub type Operand<'a> = (&'a CudaStorage, usize);

/// What the forward returns: the residual sum (when one was given), the output, and the f32 mean
/// and rstd of each row.
pub struct LayerNormOutputs {
    pub sum: Option<CudaStorage>,
    pub output: CudaStorage,
    pub mean: CudaStorage,
    pub rstd: CudaStorage,
}

fn rows_config(rows: usize) -> Result<LaunchConfig> {
    let blocks = u32::try_from(rows.div_ceil(WARPS_PER_BLOCK)).map_err(|_| Error::shape("layer_norm", format!("{rows} rows exceed the grid")))?;
    Ok(LaunchConfig { grid_dim: (blocks.max(1), 1, 1), block_dim: ((WARPS_PER_BLOCK * 32) as u32, 1, 1), shared_mem_bytes: 0 })
}

fn columns_u32(columns: usize) -> Result<u32> {
    u32::try_from(columns).map_err(|_| Error::shape("layer_norm", format!("width {columns} exceeds 2^32")))
}

/// x (and residual) contiguous [rows, columns] from their offsets; weight and bias contiguous [columns].
pub fn forward(x: Operand, residual: Option<Operand>, weight: Operand, bias: Operand, rows: usize, columns: usize, eps: f32) -> Result<LayerNormOutputs> {
    let device = x.0.device();
    let dtype = x.0.dtype();
    let n = rows * columns;
    let output = CudaStorage::alloc_on(device, dtype, n)?;
    let sum = residual.map(|_| CudaStorage::alloc_on(device, dtype, n)).transpose()?;
    let mean = CudaStorage::alloc_on(device, DType::F32, rows)?;
    let rstd = CudaStorage::alloc_on(device, DType::F32, rows)?;
    if n > 0 {
        let name = format!("layer_norm_forward_{}", dtype.kernel_suffix());
        let function = device.function("norm", &name)?;
        let (rows64, cols) = (rows as u64, columns_u32(columns)?);
        let residual_ptr = residual.map_or(0, |(r, offset)| r.pointer_at(offset));
        let sum_ptr = sum.as_ref().map_or(0, |s| s.pointer_at(0));
        let (x_ptr, w_ptr, b_ptr) = (x.0.pointer_at(x.1), weight.0.pointer_at(weight.1), bias.0.pointer_at(bias.1));
        let (y_ptr, mean_ptr, rstd_ptr) = (output.pointer_at(0), mean.pointer_at(0), rstd.pointer_at(0));
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&rows64).arg(&cols).arg(&eps).arg(&x_ptr).arg(&residual_ptr).arg(&sum_ptr).arg(&w_ptr).arg(&b_ptr).arg(&y_ptr).arg(&mean_ptr).arg(&rstd_ptr);
        // SAFETY: warp r < rows reads row r of x (and of the residual when its pointer is not null),
        // columns elements of weight and bias, and writes row r of y (and of sum), mean[r], rstd[r];
        // every buffer holds rows·columns (or rows, or columns) elements from its pointer.
        checked(device, &name, unsafe { launch.launch(rows_config(rows)?) })?;
    }
    Ok(LayerNormOutputs { sum, output, mean, rstd })
}

/// (dx, dweight, dbias) in x's dtype; x and dy contiguous [rows, columns], mean and rstd f32 [rows].
pub fn backward(x: Operand, weight: Operand, mean: Operand, rstd: Operand, dy: Operand, rows: usize, columns: usize) -> Result<(CudaStorage, CudaStorage, CudaStorage)> {
    let device = x.0.device();
    let dtype = x.0.dtype();
    let suffix = dtype.kernel_suffix();
    let dx = CudaStorage::alloc_on(device, dtype, rows * columns)?;
    let mut d_weight = CudaStorage::alloc_on(device, dtype, columns)?;
    let mut d_bias = CudaStorage::alloc_on(device, dtype, columns)?;
    if columns == 0 {
        return Ok((dx, d_weight, d_bias));
    }
    if rows == 0 {
        super::fill(&mut d_weight, 0.0)?;
        super::fill(&mut d_bias, 0.0)?;
        return Ok((dx, d_weight, d_bias));
    }
    let (rows64, cols) = (rows as u64, columns_u32(columns)?);
    let (x_ptr, w_ptr, mean_ptr, rstd_ptr, dy_ptr) = (x.0.pointer_at(x.1), weight.0.pointer_at(weight.1), mean.0.pointer_at(mean.1), rstd.0.pointer_at(rstd.1), dy.0.pointer_at(dy.1));

    let name = format!("layer_norm_backward_input_{suffix}");
    let function = device.function("norm", &name)?;
    let dx_ptr = dx.pointer_at(0);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&rows64).arg(&cols).arg(&x_ptr).arg(&w_ptr).arg(&mean_ptr).arg(&rstd_ptr).arg(&dy_ptr).arg(&dx_ptr);
    // SAFETY: warp r < rows reads row r of x and dy, mean[r], rstd[r], the weight's columns, and
    // writes row r of dx (rows·columns elements).
    checked(device, &name, unsafe { launch.launch(rows_config(rows)?) })?;

    let parts = rows.div_ceil(ROWS_PER_PART);
    let partial_weight = CudaStorage::alloc_on(device, DType::F32, parts * columns)?;
    let partial_bias = CudaStorage::alloc_on(device, DType::F32, parts * columns)?;
    let (pw_ptr, pb_ptr) = (partial_weight.pointer_at(0), partial_bias.pointer_at(0));
    let parts32 = u32::try_from(parts).ok().filter(|&p| p <= 65_535).ok_or_else(|| Error::shape("layer_norm backward", format!("{rows} rows exceed the grid")))?;
    let name = format!("layer_norm_backward_params_partial_{suffix}");
    let function = device.function("norm", &name)?;
    let config = LaunchConfig { grid_dim: (cols.div_ceil(32), parts32, 1), block_dim: (32, PART_THREADS_Y, 1), shared_mem_bytes: 0 };
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&rows64).arg(&cols).arg(&x_ptr).arg(&mean_ptr).arg(&rstd_ptr).arg(&dy_ptr).arg(&pw_ptr).arg(&pb_ptr);
    // SAFETY: block (cx, p) reads columns 32cx.. (< columns) of rows 128p.. (< rows) of x and dy and
    // their mean/rstd, and writes partial[p][those columns] (parts·columns elements each).
    checked(device, &name, unsafe { launch.launch(config) })?;

    let name = format!("layer_norm_backward_params_finish_{suffix}");
    let function = device.function("norm", &name)?;
    let config = LaunchConfig { grid_dim: (cols.div_ceil(256), 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
    let (dw_ptr, db_ptr) = (d_weight.pointer_at(0), d_bias.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&parts32).arg(&cols).arg(&pw_ptr).arg(&pb_ptr).arg(&dw_ptr).arg(&db_ptr);
    // SAFETY: thread c < columns reads partial[0..parts][c] and writes d_weight[c], d_bias[c].
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok((dx, d_weight, d_bias))
}
