//! Launchers for kernels/attention.cu: the flash-style forward (output and log-sum-exp) and the
//! backward in three launches (delta = do·o per query, dq query-major, dk and dv key-major).
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::CudaStorage;
use crate::backend::cpu::attention::AttentionDims;
use crate::tensor::DType;
use crate::{Error, Result};

const WARPS: usize = 8; // ATTN_WARPS
/// The largest head dim the kernels hold in shared memory (ATTN_MAX_D).
pub const MAX_HEAD_DIM: usize = 128;

/// `struct AttentionShape` of kernels/attention.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct AttentionShape {
    heads: u32,
    query_len: u32,
    key_len: u32,
    head_dim: u32,
    causal: i32,
    scale: f32,
}

// SAFETY: plain-old-data with the same C layout as the kernel-side struct.
unsafe impl DeviceRepr for AttentionShape {}

/// An operand: its storage and the element its (contiguous) data starts at.
pub type Operand<'a> = (&'a CudaStorage, usize);

fn shape_of(dims: &AttentionDims) -> Result<AttentionShape> {
    if dims.head_dim > MAX_HEAD_DIM {
        return Err(Error::shape("attention", format!("head_dim {} exceeds the CUDA kernel's limit of {MAX_HEAD_DIM}", dims.head_dim)));
    }
    let fits = |what: &str, v: usize| u32::try_from(v).map_err(|_| Error::shape("attention", format!("{what} {v} exceeds 2^32")));
    Ok(AttentionShape {
        heads: fits("heads", dims.heads)?,
        query_len: fits("query length", dims.query_len)?,
        key_len: fits("key length", dims.key_len)?,
        head_dim: dims.head_dim as u32,
        causal: dims.causal as i32,
        scale: dims.scale(),
    })
}

/// Grid (batch·heads, ceil(rows / WARPS)), a warp per row.
fn rows_config(dims: &AttentionDims, rows: usize) -> Result<LaunchConfig> {
    let bh = u32::try_from(dims.batch * dims.heads).map_err(|_| Error::shape("attention", "batch·heads exceeds 2^32"))?;
    let tiles = u32::try_from(rows.div_ceil(WARPS)).ok().filter(|&t| t <= 65_535).ok_or_else(|| Error::shape("attention", format!("sequence length {rows} exceeds the grid")))?;
    Ok(LaunchConfig { grid_dim: (bh, tiles, 1), block_dim: ((WARPS * 32) as u32, 1, 1), shared_mem_bytes: 0 })
}

fn mask_pointer(mask: Option<Operand>) -> u64 {
    mask.map_or(0, |(m, offset)| m.pointer_at(offset))
}

/// The output (q's dtype) [B, H, Sq, D] and the f32 log-sum-exp [B, H, Sq]; mask i32 [B, Sk] on the device.
pub fn forward(q: Operand, k: Operand, v: Operand, mask: Option<Operand>, dims: AttentionDims) -> Result<(CudaStorage, CudaStorage)> {
    let device = q.0.device();
    let dtype = q.0.dtype();
    let rows = dims.batch * dims.heads * dims.query_len;
    let out = CudaStorage::alloc_on(device, dtype, rows * dims.head_dim)?;
    let lse = CudaStorage::alloc_on(device, DType::F32, rows)?;
    if rows == 0 {
        return Ok((out, lse));
    }
    let shape = shape_of(&dims)?;
    let name = format!("attention_forward_{}", dtype.kernel_suffix());
    let function = device.function("attention", &name)?;
    let (q_ptr, k_ptr, v_ptr, mask_ptr) = (q.0.pointer_at(q.1), k.0.pointer_at(k.1), v.0.pointer_at(v.1), mask_pointer(mask));
    let (out_ptr, lse_ptr) = (out.pointer_at(0), lse.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&q_ptr).arg(&k_ptr).arg(&v_ptr).arg(&mask_ptr).arg(&out_ptr).arg(&lse_ptr);
    // SAFETY: block (bh, t) reads q rows of head bh (Sq·D elements), all Sk·D elements of k and v
    // of head bh, and mask[b][0..Sk] when the pointer is not null; warp w writes out row
    // t·8 + w (< Sq) and its lse. Every buffer holds B·H·S·D (or B·Sk, B·H·Sq) elements.
    checked(device, &name, unsafe { launch.launch(rows_config(&dims, dims.query_len)?) })?;
    Ok((out, lse))
}

/// (dq, dk, dv) in q's dtype from the forward's output and log-sum-exp and the output's gradient.
#[allow(clippy::too_many_arguments)]
pub fn backward(q: Operand, k: Operand, v: Operand, out: Operand, d_out: Operand, lse: Operand, mask: Option<Operand>, dims: AttentionDims) -> Result<(CudaStorage, CudaStorage, CudaStorage)> {
    let device = q.0.device();
    let dtype = q.0.dtype();
    let suffix = dtype.kernel_suffix();
    let bh = dims.batch * dims.heads;
    let (query_rows, key_rows) = (bh * dims.query_len, bh * dims.key_len);
    let dq = CudaStorage::alloc_on(device, dtype, query_rows * dims.head_dim)?;
    let mut dk = CudaStorage::alloc_on(device, dtype, key_rows * dims.head_dim)?;
    let mut dv = CudaStorage::alloc_on(device, dtype, key_rows * dims.head_dim)?;
    if query_rows == 0 || dims.head_dim == 0 {
        if key_rows * dims.head_dim > 0 {
            super::fill(&mut dk, 0.0)?;
            super::fill(&mut dv, 0.0)?;
        }
        return Ok((dq, dk, dv));
    }
    let shape = shape_of(&dims)?;
    let delta = CudaStorage::alloc_on(device, DType::F32, query_rows)?;
    let (q_ptr, k_ptr, v_ptr, mask_ptr) = (q.0.pointer_at(q.1), k.0.pointer_at(k.1), v.0.pointer_at(v.1), mask_pointer(mask));
    let (out_ptr, do_ptr, lse_ptr, delta_ptr) = (out.0.pointer_at(out.1), d_out.0.pointer_at(d_out.1), lse.0.pointer_at(lse.1), delta.pointer_at(0));

    let name = format!("attention_backward_delta_{suffix}");
    let function = device.function("attention", &name)?;
    let (rows64, d32) = (query_rows as u64, dims.head_dim as u32);
    let blocks = u32::try_from(query_rows.div_ceil(WARPS)).map_err(|_| Error::shape("attention backward", "too many query rows for the grid"))?;
    let config = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: ((WARPS * 32) as u32, 1, 1), shared_mem_bytes: 0 };
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&rows64).arg(&d32).arg(&out_ptr).arg(&do_ptr).arg(&delta_ptr);
    // SAFETY: warp r < rows reads row r of out and d_out (rows·D elements) and writes delta[r].
    checked(device, &name, unsafe { launch.launch(config) })?;

    let name = format!("attention_backward_dq_{suffix}");
    let function = device.function("attention", &name)?;
    let dq_ptr = dq.pointer_at(0);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&q_ptr).arg(&k_ptr).arg(&v_ptr).arg(&mask_ptr).arg(&do_ptr).arg(&lse_ptr).arg(&delta_ptr).arg(&dq_ptr);
    // SAFETY: as the forward, reading d_out, lse and delta where it read q; warp w writes dq row t·8 + w.
    checked(device, &name, unsafe { launch.launch(rows_config(&dims, dims.query_len)?) })?;

    if key_rows > 0 {
        let name = format!("attention_backward_dkdv_{suffix}");
        let function = device.function("attention", &name)?;
        let (dk_ptr, dv_ptr) = (dk.pointer_at(0), dv.pointer_at(0));
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&shape).arg(&q_ptr).arg(&k_ptr).arg(&v_ptr).arg(&mask_ptr).arg(&do_ptr).arg(&lse_ptr).arg(&delta_ptr).arg(&dk_ptr).arg(&dv_ptr);
        // SAFETY: block (bh, t) reads all Sq rows of q, d_out, lse and delta of head bh, and k, v
        // rows t·8 + w (< Sk); warp w writes dk and dv row t·8 + w.
        checked(device, &name, unsafe { launch.launch(rows_config(&dims, dims.key_len)?) })?;
    }
    Ok((dq, dk, dv))
}
