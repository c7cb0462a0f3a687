//! Launchers for the fused attention: the flash-style forward (output and log-sum-exp) and the
//! backward in three launches (delta = do·o per query, dq query-major, dk and dv key-major).
//! f16 and bf16 with a head dim that is a multiple of 16 (up to 128) run on tensor cores
//! (kernels/attention_mma.cu); f32, other head dims and operands not 16-byte aligned run the SIMT
//! kernels of kernels/attention.cu. Both save the same log-sum-exp, so either backward follows
//! either forward.
use cudarc::driver::sys::CUfunction_attribute as FunctionAttribute;
use cudarc::driver::{CudaFunction, DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::{CudaDevice, CudaStorage};
use crate::backend::cpu::attention::AttentionDims;
use crate::tensor::DType;
use crate::{Error, Result};

const WARPS: usize = 8; // ATTN_WARPS
/// The largest head dim the kernels hold in shared memory (ATTN_MAX_D).
pub const MAX_HEAD_DIM: usize = 128;

/// Rows a tensor-core block owns and streams per step (attention_mma::ROWS, TILE), its threads,
/// and the padding of each shared row (PAD, in elements).
const MMA_ROWS: usize = 64;
const MMA_THREADS: u32 = 128;
const MMA_PAD: usize = 8;
/// The dynamic shared memory a kernel may use without opting in.
const DEFAULT_SHARED_LIMIT: usize = 48 * 1024;

/// Which kernels run an attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionKernels {
    /// mma.sync m16n8k16 with f32 accumulation (kernels/attention_mma.cu).
    TensorCores,
    /// f32 SIMT arithmetic whatever the storage dtype (kernels/attention.cu).
    Simt,
}

/// The kernels a call in `dtype` with this head dim uses, given 16-byte aligned operands (anything
/// else runs the SIMT kernels too). `MEMEFUSE_ATTENTION=simt` selects the SIMT kernels for every
/// dtype, to tell a tensor-core bug from something else on a new machine.
pub fn kernels_for(dtype: DType, head_dim: usize) -> AttentionKernels {
    let half = matches!(dtype, DType::F16 | DType::BF16);
    if half && head_dim > 0 && head_dim % 16 == 0 && head_dim <= MAX_HEAD_DIM && !simt_requested() {
        AttentionKernels::TensorCores
    } else {
        AttentionKernels::Simt
    }
}

fn simt_requested() -> bool {
    static SIMT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SIMT.get_or_init(|| std::env::var("MEMEFUSE_ATTENTION").is_ok_and(|v| v == "simt"))
}

/// The tensor-core kernels load rows in 16-byte chunks with cp.async: every row operand must start
/// on a 16-byte boundary (a row of a multiple of 16 halves is 32-byte aligned after that).
fn kernels_for_operands(dtype: DType, head_dim: usize, pointers: &[u64]) -> AttentionKernels {
    match kernels_for(dtype, head_dim) {
        AttentionKernels::TensorCores if pointers.iter().all(|p| p % 16 == 0) => AttentionKernels::TensorCores,
        _ => AttentionKernels::Simt,
    }
}

/// `struct AttentionShape` of kernels/attention_shape.cuh.
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

/// Grid (batch·heads, ceil(rows / rows_per_block)).
fn grid(dims: &AttentionDims, rows: usize, rows_per_block: usize) -> Result<(u32, u32, u32)> {
    let bh = u32::try_from(dims.batch * dims.heads).map_err(|_| Error::shape("attention", "batch·heads exceeds 2^32"))?;
    let tiles = u32::try_from(rows.div_ceil(rows_per_block)).ok().filter(|&t| t <= 65_535).ok_or_else(|| Error::shape("attention", format!("sequence length {rows} exceeds the grid")))?;
    Ok((bh, tiles, 1))
}

/// SIMT: a warp per row, WARPS rows a block.
fn rows_config(dims: &AttentionDims, rows: usize) -> Result<LaunchConfig> {
    Ok(LaunchConfig { grid_dim: grid(dims, rows, WARPS)?, block_dim: ((WARPS * 32) as u32, 1, 1), shared_mem_bytes: 0 })
}

/// The tensor-core kernels' dynamic shared memory: `tiles` padded [64][D + 8] tiles of 2-byte
/// elements, then `vectors` arrays of 64 four-byte values (key flags, lse, delta).
fn mma_shared_bytes(head_dim: usize, tiles: usize, vectors: usize) -> usize {
    tiles * MMA_ROWS * (head_dim + MMA_PAD) * 2 + vectors * MMA_ROWS * 4
}

/// Tensor cores: 4 warps of 16 rows a block. Above 48 KB of dynamic shared memory (the larger head
/// dims) the kernel opts in; each function is one head dim, so the value it sets never changes.
fn mma_config(function: &CudaFunction, name: &str, dims: &AttentionDims, rows: usize, shared_bytes: usize) -> Result<LaunchConfig> {
    if shared_bytes > DEFAULT_SHARED_LIMIT {
        function
            .set_attribute(FunctionAttribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, shared_bytes as i32)
            .map_err(|e| Error::cuda(format!("allowing {shared_bytes} B of shared memory for {name}"), e))?;
    }
    Ok(LaunchConfig { grid_dim: grid(dims, rows, MMA_ROWS)?, block_dim: (MMA_THREADS, 1, 1), shared_mem_bytes: shared_bytes as u32 })
}

/// The kernel `kind` (forward, backward_dq, ...) for this call: its function, name and module.
fn kernel(device: &CudaDevice, kernels: AttentionKernels, kind: &str, dtype: DType, head_dim: usize) -> Result<(CudaFunction, String)> {
    let suffix = dtype.kernel_suffix();
    let (module, name) = match kernels {
        AttentionKernels::TensorCores => ("attention_mma", format!("attention_mma_{kind}_{suffix}_d{head_dim}")),
        AttentionKernels::Simt => ("attention", format!("attention_{kind}_{suffix}")),
    };
    Ok((device.function(module, &name)?, name))
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
    let (q_ptr, k_ptr, v_ptr, mask_ptr) = (q.0.pointer_at(q.1), k.0.pointer_at(k.1), v.0.pointer_at(v.1), mask_pointer(mask));
    let kernels = kernels_for_operands(dtype, dims.head_dim, &[q_ptr, k_ptr, v_ptr]);
    let (function, name) = kernel(device, kernels, "forward", dtype, dims.head_dim)?;
    let config = match kernels {
        AttentionKernels::TensorCores => mma_config(&function, &name, &dims, dims.query_len, mma_shared_bytes(dims.head_dim, 3, 1))?,
        AttentionKernels::Simt => rows_config(&dims, dims.query_len)?,
    };
    let (out_ptr, lse_ptr) = (out.pointer_at(0), lse.pointer_at(0));
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&q_ptr).arg(&k_ptr).arg(&v_ptr).arg(&mask_ptr).arg(&out_ptr).arg(&lse_ptr);
    // SAFETY: block (bh, t) reads q rows of head bh (Sq·D elements), all Sk·D elements of k and v
    // of head bh, and mask[b][0..Sk] when the pointer is not null; it writes the out rows and lse
    // of its queries (t·8 + w for SIMT warp w, t·64.. for the tensor-core block), those < Sq only.
    // Every buffer holds B·H·S·D (or B·Sk, B·H·Sq) elements; the tensor-core kernels' 16-byte
    // loads need the alignment kernels_for_operands checked.
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok((out, lse))
}

/// (dq, dk, dv) in q's dtype from the forward's output and log-sum-exp and the output's gradient.
#[allow(clippy::too_many_arguments)]
pub fn backward(q: Operand, k: Operand, v: Operand, out: Operand, d_out: Operand, lse: Operand, mask: Option<Operand>, dims: AttentionDims) -> Result<(CudaStorage, CudaStorage, CudaStorage)> {
    let device = q.0.device();
    let dtype = q.0.dtype();
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
    let kernels = kernels_for_operands(dtype, dims.head_dim, &[q_ptr, k_ptr, v_ptr, do_ptr]);

    // delta is a row reduction, memory-bound: the SIMT kernel serves both paths.
    let (function, name) = kernel(device, AttentionKernels::Simt, "backward_delta", dtype, dims.head_dim)?;
    let (rows64, d32) = (query_rows as u64, dims.head_dim as u32);
    let blocks = u32::try_from(query_rows.div_ceil(WARPS)).map_err(|_| Error::shape("attention backward", "too many query rows for the grid"))?;
    let config = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: ((WARPS * 32) as u32, 1, 1), shared_mem_bytes: 0 };
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&rows64).arg(&d32).arg(&out_ptr).arg(&do_ptr).arg(&delta_ptr);
    // SAFETY: warp r < rows reads row r of out and d_out (rows·D elements) and writes delta[r].
    checked(device, &name, unsafe { launch.launch(config) })?;

    let (function, name) = kernel(device, kernels, "backward_dq", dtype, dims.head_dim)?;
    let config = match kernels {
        AttentionKernels::TensorCores => mma_config(&function, &name, &dims, dims.query_len, mma_shared_bytes(dims.head_dim, 4, 2))?,
        AttentionKernels::Simt => rows_config(&dims, dims.query_len)?,
    };
    let dq_ptr = dq.pointer_at(0);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&shape).arg(&q_ptr).arg(&k_ptr).arg(&v_ptr).arg(&mask_ptr).arg(&do_ptr).arg(&lse_ptr).arg(&delta_ptr).arg(&dq_ptr);
    // SAFETY: as the forward, reading d_out, lse and delta where it read q; a block writes the dq
    // rows of its own queries (< Sq).
    checked(device, &name, unsafe { launch.launch(config) })?;

    if key_rows > 0 {
        let (function, name) = kernel(device, kernels, "backward_dkdv", dtype, dims.head_dim)?;
        let config = match kernels {
            AttentionKernels::TensorCores => mma_config(&function, &name, &dims, dims.key_len, mma_shared_bytes(dims.head_dim, 4, 4))?,
            AttentionKernels::Simt => rows_config(&dims, dims.key_len)?,
        };
        let (dk_ptr, dv_ptr) = (dk.pointer_at(0), dv.pointer_at(0));
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&shape).arg(&q_ptr).arg(&k_ptr).arg(&v_ptr).arg(&mask_ptr).arg(&do_ptr).arg(&lse_ptr).arg(&delta_ptr).arg(&dk_ptr).arg(&dv_ptr);
        // SAFETY: block (bh, t) reads all Sq rows of q, d_out, lse and delta of head bh, and the k,
        // v rows of its own keys; it writes the dk and dv rows of those keys (< Sk).
        checked(device, &name, unsafe { launch.launch(config) })?;
    }
    Ok((dq, dk, dv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_cores_serve_half_types_at_multiples_of_16() {
        for d in (16..=128).step_by(16) {
            assert_eq!(kernels_for(DType::F16, d), AttentionKernels::TensorCores, "f16 d{d}");
            assert_eq!(kernels_for(DType::BF16, d), AttentionKernels::TensorCores, "bf16 d{d}");
            assert_eq!(kernels_for(DType::F32, d), AttentionKernels::Simt, "f32 d{d}");
        }
        for d in [0, 8, 40, 72, 100, 136] {
            assert_eq!(kernels_for(DType::F16, d), AttentionKernels::Simt, "f16 d{d}");
        }
        assert_eq!(kernels_for_operands(DType::F16, 64, &[0, 256, 32]), AttentionKernels::TensorCores);
        assert_eq!(kernels_for_operands(DType::F16, 64, &[0, 258, 32]), AttentionKernels::Simt);
    }

    #[test]
    fn shared_memory_fits_the_opt_in_limit() {
        // 48 KB without opting in up to head dim 112 forward and 80 backward; at most 72 KB (an
        // A100 and an H100 allow 163 KB and 227 KB).
        assert!(mma_shared_bytes(112, 3, 1) <= DEFAULT_SHARED_LIMIT);
        assert!(mma_shared_bytes(80, 4, 4) <= DEFAULT_SHARED_LIMIT);
        assert!(mma_shared_bytes(128, 4, 4) <= 72 * 1024);
    }
}
