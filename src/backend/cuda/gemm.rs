//! Launcher for kernels/gemm.cu: C[batch] = act(alpha · A[batch]·B[batch] + bias), C row-major m×n.
//!
//! fp16/bf16 run on tensor cores with fp32 accumulation, fp32 on a SIMT FMA kernel. The host picks,
//! per operand, how its tile sits in shared memory (row- or column-major, from the strides) and whether
//! 16-byte `cp.async` loads are legal (contiguous dimension, 16-byte aligned address, rows and batches);
//! otherwise the same kernel with element loads ("strided") takes any strides. docs/gemm.md explains.
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::checked;
use super::CudaStorage;
/// The operand description `gemm` takes, re-exported for callers outside the backend.
pub use crate::backend::params::{MatmulDims, MatrixStrides};
use crate::tensor::DType;
use crate::{Error, Result};

/// Block tile of every kernel in gemm.cu (tensor-core and SIMT alike): 128×128 outputs.
pub const BLOCK_M: usize = 128;
pub const BLOCK_N: usize = 128;
const THREADS: u32 = 256;
/// Tile rows a group of consecutive blocks walks down before moving right (`RASTER_GROUP` in gemm.cu).
const RASTER_GROUP: usize = 8;
/// gridDim.z limit: larger batches are launched in chunks.
const MAX_GRID_Z: usize = 65_535;

/// The activation applied after the bias.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    #[default]
    None,
    Relu,
    /// Exact GELU: 0.5·x·(1 + erf(x/√2)), as `Tensor::gelu`.
    Gelu,
}

impl Activation {
    /// `enum Activation` of gemm.cu.
    fn code(self) -> u32 {
        match self {
            Activation::None => 0,
            Activation::Relu => 1,
            Activation::Gelu => 2,
        }
    }
}

/// A bias vector of n elements, contiguous from element `offset` of `storage`, in the inputs' dtype.
#[derive(Clone, Copy)]
pub struct Bias<'a> {
    pub storage: &'a CudaStorage,
    pub offset: usize,
}

/// What happens to each output after the product: `act(alpha·acc + bias[col])`.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    pub alpha: f32,
    pub bias: Option<Bias<'a>>,
    pub activation: Activation,
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Self { alpha: 1.0, bias: None, activation: Activation::None }
    }
}

/// How an operand's tile is arranged in shared memory: its contiguous dimension stays contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// col_stride 1 (or a single column): rows of the operand are contiguous.
    RowMajor,
    /// row_stride 1 (or a single row): columns are contiguous.
    ColMajor,
}

/// How the kernel reads one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperandPlan {
    pub order: Order,
    /// 16-byte cp.async loads (else element loads through the strides).
    pub async_loads: bool,
}

/// (stride along the contiguous dimension, leading dimension, contiguous extent, outer extent).
fn view_as(order: Order, s: &MatrixStrides) -> (usize, usize, usize, usize) {
    match order {
        Order::RowMajor => (s.col_stride, s.row_stride, s.cols, s.rows),
        Order::ColMajor => (s.row_stride, s.col_stride, s.rows, s.cols),
    }
}

/// Picks the operand's arrangement and load path. `address` is the device address of its element
/// (0, 0, 0); `batch` the number of batches launched. cp.async needs every 16-byte chunk start aligned:
/// the address, the leading dimension (unless there is one row of chunks) and the batch stride (unless
/// one batch or broadcast) must be multiples of 16 bytes, and the chunk's elements contiguous.
pub fn plan_operand(s: &MatrixStrides, batch: usize, address: u64, element_size: usize) -> OperandPlan {
    let aligned = |elements: usize| (elements * element_size).is_multiple_of(16);
    let usable = |order| {
        let (contiguous_stride, leading, contiguous_extent, outer_extent) = view_as(order, s);
        (contiguous_stride == 1 || contiguous_extent == 1)
            && (outer_extent == 1 || aligned(leading))
            && (batch <= 1 || s.batch_stride == 0 || aligned(s.batch_stride))
            && address.is_multiple_of(16)
    };
    for order in [Order::RowMajor, Order::ColMajor] {
        if usable(order) {
            return OperandPlan { order, async_loads: true };
        }
    }
    // Element loads: any strides work; keep the smaller stride contiguous in shared memory so that
    // neighbouring threads read neighbouring addresses.
    let order = if s.col_stride <= s.row_stride { Order::RowMajor } else { Order::ColMajor };
    OperandPlan { order, async_loads: false }
}

/// The kernel of gemm.cu for this dtype and these operand plans.
pub fn kernel_name(dtype: DType, a: OperandPlan, b: OperandPlan) -> Result<String> {
    let order = |o| if o == Order::RowMajor { "row" } else { "col" };
    match dtype {
        DType::F32 => Ok("gemm_f32".to_string()),
        DType::F16 | DType::BF16 => {
            // Both operands share one load path: element loads when either needs them.
            let loads = if a.async_loads && b.async_loads { "async" } else { "strided" };
            Ok(format!("gemm_{}_a{}_b{}_{loads}", dtype.kernel_suffix(), order(a.order), order(b.order)))
        }
        DType::I32 => Err(Error::dtype("gemm", "integer matrices are not supported")),
    }
}

/// Which output tile block number `block` computes (`tile_of_block` of gemm.cu, kept in step): blocks
/// go down a group of RASTER_GROUP tile rows before moving right, for L2 reuse.
pub fn tile_of_block(block: usize, tiles_m: usize, tiles_n: usize) -> (usize, usize) {
    let blocks_per_group = RASTER_GROUP * tiles_n;
    let first_m = (block / blocks_per_group) * RASTER_GROUP;
    let group_rows = (tiles_m - first_m).min(RASTER_GROUP);
    let in_group = block % blocks_per_group;
    (first_m + in_group % group_rows, in_group / group_rows)
}

/// One block per 128×128 output tile (along x, raster order of `tile_of_block`), batches along z.
pub fn grid(m: usize, n: usize, batches_in_launch: usize) -> Result<(u32, u32, u32)> {
    let tiles = m.div_ceil(BLOCK_M) * n.div_ceil(BLOCK_N);
    let x = u32::try_from(tiles).ok().filter(|&t| t <= i32::MAX as u32).ok_or_else(|| Error::shape("gemm", format!("{m}×{n} needs too many blocks")))?;
    if batches_in_launch > MAX_GRID_Z {
        return Err(Error::shape("gemm", format!("{batches_in_launch} batches in one launch (limit {MAX_GRID_Z})")));
    }
    Ok((x.max(1), 1, batches_in_launch.max(1) as u32))
}

/// Checks what the kernels assume: dtypes, sizes that fit their 32-bit indices, a bias of n elements.
pub fn validate(dtype: DType, dims: &MatmulDims, out_dtype: DType, bias: Option<(DType, usize, usize)>) -> Result<()> {
    if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
        return Err(Error::dtype("gemm", format!("inputs are {dtype}; expected f32, f16 or bf16")));
    }
    if out_dtype != dtype && out_dtype != DType::F32 {
        return Err(Error::dtype("gemm", format!("output {out_dtype} for {dtype} inputs; expected {dtype} or f32")));
    }
    if [dims.m, dims.n, dims.k].iter().any(|&d| d > i32::MAX as usize) {
        return Err(Error::shape("gemm", format!("{}×{}×{} exceeds the kernels' 32-bit indices", dims.m, dims.n, dims.k)));
    }
    if (dims.a.rows, dims.a.cols, dims.b.rows, dims.b.cols) != (dims.m, dims.k, dims.k, dims.n) {
        return Err(Error::shape("gemm", format!("operands {}×{} and {}×{} do not match m={} n={} k={}", dims.a.rows, dims.a.cols, dims.b.rows, dims.b.cols, dims.m, dims.n, dims.k)));
    }
    if let Some((bias_dtype, offset, len)) = bias {
        if bias_dtype != dtype {
            return Err(Error::dtype("gemm", format!("bias is {bias_dtype}; it must have the inputs' dtype {dtype}")));
        }
        if offset + dims.n > len {
            return Err(Error::shape("gemm", format!("bias needs {} elements from offset {offset}, storage holds {len}", dims.n)));
        }
    }
    Ok(())
}

/// `struct GemmOperand` of gemm.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct KernelOperand {
    pointer: u64,
    batch_stride: u64,
    row_stride: u64,
    col_stride: u64,
}

/// `struct GemmParams` of gemm.cu (104 bytes, 8-byte aligned on both sides).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct GemmParams {
    a: KernelOperand,
    b: KernelOperand,
    c: u64,
    bias: u64,
    m: u32,
    n: u32,
    k: u32,
    alpha: f32,
    activation: u32,
    out_is_f32: u32,
}
// SAFETY: plain-old-data with the same C layout as the kernel-side struct.
unsafe impl DeviceRepr for GemmParams {}

fn kernel_operand(storage: &CudaStorage, s: &MatrixStrides) -> KernelOperand {
    KernelOperand { pointer: storage.pointer_at(s.offset), batch_stride: s.batch_stride as u64, row_stride: s.row_stride as u64, col_stride: s.col_stride as u64 }
}

/// C = act(alpha · A·B + bias) for every batch, written to new contiguous [batch, m, n] storage of
/// `out_dtype` (the inputs' dtype or f32). A and B are read through `dims` (any strides; batch stride 0
/// broadcasts); the bias, when given, is n contiguous elements of the inputs' dtype.
pub fn gemm(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims, epilogue: &Epilogue, out_dtype: DType) -> Result<CudaStorage> {
    let dtype = a.dtype();
    if b.dtype() != dtype {
        return Err(Error::dtype("gemm", format!("operands are {dtype} and {}", b.dtype())));
    }
    validate(dtype, dims, out_dtype, epilogue.bias.map(|bias| (bias.storage.dtype(), bias.offset, bias.storage.len())))?;
    let device = a.device();
    let out = CudaStorage::alloc_on(device, out_dtype, dims.batch * dims.m * dims.n)?;
    if out.is_empty() {
        return Ok(out);
    }
    match split_k_plan(device.multiprocessors() as usize, dims) {
        Some(plan) => gemm_split_k(a, b, dims, epilogue, &plan, out),
        None => {
            launch_gemm(a, b, dims, epilogue, &out, 0)?;
            Ok(out)
        }
    }
}

/// The kernel launches of one GEMM, writing C (m·n per batch, `out`'s dtype) from element
/// `out_offset` of `out` on. The caller validated `dims` and sized `out`.
fn launch_gemm(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims, epilogue: &Epilogue, out: &CudaStorage, out_offset: usize) -> Result<()> {
    let (device, dtype, out_dtype) = (a.device(), a.dtype(), out.dtype());
    let outputs_per_batch = dims.m * dims.n;
    let element_size = dtype.size_in_bytes();
    let a_plan = plan_operand(&dims.a, dims.batch, a.pointer_at(dims.a.offset), element_size);
    let b_plan = plan_operand(&dims.b, dims.batch, b.pointer_at(dims.b.offset), element_size);
    let name = kernel_name(dtype, a_plan, b_plan)?;
    let function = device.function("gemm", &name)?;

    let params = GemmParams {
        a: kernel_operand(a, &dims.a),
        b: kernel_operand(b, &dims.b),
        c: out.pointer_at(out_offset),
        bias: epilogue.bias.map_or(0, |bias| bias.storage.pointer_at(bias.offset)),
        m: dims.m as u32,
        n: dims.n as u32,
        k: dims.k as u32,
        alpha: epilogue.alpha,
        activation: epilogue.activation.code(),
        out_is_f32: (out_dtype == DType::F32) as u32,
    };
    // Batches beyond gridDim.z's limit go in further launches, their pointers moved to the first batch.
    let byte_offset = |batches: usize, stride: usize, size: usize| (batches * stride * size) as u64;
    let mut first = 0;
    while first < dims.batch {
        let count = (dims.batch - first).min(MAX_GRID_Z);
        let config = LaunchConfig { grid_dim: grid(dims.m, dims.n, count)?, block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 };
        let mut chunk = params;
        chunk.a.pointer += byte_offset(first, dims.a.batch_stride, element_size);
        chunk.b.pointer += byte_offset(first, dims.b.batch_stride, element_size);
        chunk.c += byte_offset(first, outputs_per_batch, out_dtype.size_in_bytes());
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&chunk);
        // SAFETY: MatmulDims came from the operands' layouts (checked against their storages when the
        // views were made), or was cut from such dims by gemm_split_k, so every element
        // (batch, i < m, k' < k) of A and (batch, k' < k, j < n) of B lies in a and b; the kernels read
        // nothing else (edges are predicated, cp.async reads only the in-bounds prefix of a chunk and is
        // only chosen when plan_operand found the 16-byte alignment it needs). The chunk's pointers start
        // at batch `first` and gridDim.z = count covers batches first..first+count <= dims.batch. C
        // receives exactly m·n elements per batch from out_offset on, inside `out` (the callers size it);
        // the bias is read at indices < n, inside its storage (validated).
        checked(device, &name, unsafe { launch.launch(config) })?;
        first += count;
    }
    Ok(())
}

/// k below which a slice of a split GEMM would be too short to amortise its block.
const MIN_SPLIT_K: usize = 256;

/// How `gemm_split_k` cuts k: `whole` slices of `slice` (a multiple of 64, so 16-byte alignment of
/// the operands carries over to every slice) and a last one of `remainder` (possibly 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitK {
    pub slice: usize,
    pub whole: usize,
    pub remainder: usize,
}

/// Split-K, for a single GEMM with fewer 128×128 output tiles than the GPU has multiprocessors and a
/// long k (weight gradients, where k = batch·steps; VGG16's classifier at batch 64): one block per
/// tile walking all of k would leave most of the GPU idle. Aims at two blocks per multiprocessor.
/// `MEMEFUSE_GEMM_SPLIT_K=0` turns it off (to isolate it when a parity test fails).
pub fn split_k_plan(multiprocessors: usize, dims: &MatmulDims) -> Option<SplitK> {
    static DISABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *DISABLED.get_or_init(|| std::env::var("MEMEFUSE_GEMM_SPLIT_K").is_ok_and(|v| v == "0")) {
        return None;
    }
    let tiles = dims.m.div_ceil(BLOCK_M) * dims.n.div_ceil(BLOCK_N);
    if dims.batch != 1 || tiles >= multiprocessors || dims.k < 4 * MIN_SPLIT_K {
        return None;
    }
    let splits = (2 * multiprocessors).div_ceil(tiles).min(dims.k / MIN_SPLIT_K);
    let slice = dims.k.div_ceil(splits).next_multiple_of(64);
    let whole = dims.k / slice;
    Some(SplitK { slice, whole, remainder: dims.k - whole * slice })
}

/// The slices' products (alpha applied) as the batches of one launch into fp32 partials, the
/// remainder in a second, then one kernel summing them in order with the bias and activation.
fn gemm_split_k(a: &CudaStorage, b: &CudaStorage, dims: &MatmulDims, epilogue: &Epilogue, plan: &SplitK, out: CudaStorage) -> Result<CudaStorage> {
    let device = a.device();
    let outputs = dims.m * dims.n;
    let splits = plan.whole + usize::from(plan.remainder > 0);
    let partials = CudaStorage::alloc_on(device, DType::F32, splits * outputs)?;
    let product = Epilogue { alpha: epilogue.alpha, bias: None, activation: Activation::None };

    // Batch s of the sliced GEMM reads columns [s·slice, (s+1)·slice) of A and the same rows of B.
    let mut sliced = dims.clone();
    (sliced.batch, sliced.k, sliced.a.cols, sliced.b.rows) = (plan.whole, plan.slice, plan.slice, plan.slice);
    sliced.a.batch_stride = plan.slice * dims.a.col_stride;
    sliced.b.batch_stride = plan.slice * dims.b.row_stride;
    launch_gemm(a, b, &sliced, &product, &partials, 0)?;
    if plan.remainder > 0 {
        let start = plan.whole * plan.slice;
        let mut rest = dims.clone();
        (rest.k, rest.a.cols, rest.b.rows) = (plan.remainder, plan.remainder, plan.remainder);
        rest.a.offset += start * dims.a.col_stride;
        rest.b.offset += start * dims.b.row_stride;
        launch_gemm(a, b, &rest, &product, &partials, plan.whole * outputs)?;
    }

    let name = format!("gemm_split_k_finish_{}_{}", a.dtype().kernel_suffix(), out.dtype().kernel_suffix());
    let function = device.function("gemm", &name)?;
    let (split_count, output_count, n) = (splits as u32, outputs as u64, dims.n as u32);
    let bias = epilogue.bias.map_or(0u64, |bias| bias.storage.pointer_at(bias.offset));
    let (activation, partials_ptr, out_ptr) = (epilogue.activation.code(), partials.pointer_at(0), out.pointer_at(0));
    let mut finish = device.stream().launch_builder(&function);
    finish.arg(&split_count).arg(&output_count).arg(&n).arg(&partials_ptr).arg(&bias).arg(&activation).arg(&out_ptr);
    // SAFETY: reads splits·m·n partials (all written above: `whole` batches, then the remainder's
    // slot) and the bias at indices < n (validated); writes the m·n elements of `out`.
    checked(device, &name, unsafe { finish.launch(super::launch::grid_for(device, outputs)) })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strides(rows: usize, cols: usize, row_stride: usize, col_stride: usize, batch_stride: usize) -> MatrixStrides {
        MatrixStrides { offset: 0, batch_stride, row_stride, col_stride, rows, cols }
    }

    fn dims(m: usize, n: usize, k: usize) -> MatmulDims {
        MatmulDims { batch: 1, m, n, k, a: strides(m, k, k, 1, 0), b: strides(k, n, n, 1, 0) }
    }

    #[test]
    fn split_k_covers_k_exactly_in_aligned_slices() {
        // The LSTM weight gradients of the bench shapes, VGG16's fc6 at batch 64, odd sizes.
        for (m, n, k) in [(256, 64, 4032), (256, 100, 4096), (2048, 512, 32_512), (64, 4096, 25_088), (5, 3, 4096), (37, 45, 1024), (1, 1, 100_003)] {
            let plan = split_k_plan(132, &dims(m, n, k)).unwrap_or_else(|| panic!("{m}×{n}×{k} should split"));
            assert_eq!(plan.whole * plan.slice + plan.remainder, k, "{plan:?}");
            assert!(plan.slice.is_multiple_of(64) && plan.slice >= MIN_SPLIT_K && plan.remainder < plan.slice, "{plan:?}");
            assert!(plan.whole + usize::from(plan.remainder > 0) >= 2, "{m}×{n}×{k}: {plan:?} does not split");
            // At most about two blocks per multiprocessor in all.
            let tiles = m.div_ceil(BLOCK_M) * n.div_ceil(BLOCK_N);
            assert!(tiles * (plan.whole + 1) <= 2 * 132 + tiles, "{m}×{n}×{k}: {plan:?}");
        }
    }

    #[test]
    fn split_k_only_when_the_grid_is_small_and_k_long() {
        assert_eq!(split_k_plan(132, &dims(64, 4096, 1023)), None, "short k");
        assert_eq!(split_k_plan(132, &dims(4096, 4096, 4096)), None, "enough tiles already");
        assert_eq!(split_k_plan(132, &dims(128 * 12, 128 * 11, 8192)), None, "132 tiles fill 132 multiprocessors");
        let mut batched = dims(64, 64, 8192);
        batched.batch = 2;
        assert_eq!(split_k_plan(132, &batched), None, "batched GEMMs keep their batch axis");
    }

    #[test]
    fn row_and_column_major_operands_get_async_loads_when_aligned() {
        let row_major = strides(64, 128, 128, 1, 64 * 128);
        assert_eq!(plan_operand(&row_major, 4, 256, 2), OperandPlan { order: Order::RowMajor, async_loads: true });
        let col_major = strides(64, 128, 1, 64, 64 * 128);
        assert_eq!(plan_operand(&col_major, 4, 256, 2), OperandPlan { order: Order::ColMajor, async_loads: true });
        // fp32 needs a multiple of 4 elements per row for 16 bytes.
        assert!(plan_operand(&strides(3, 12, 12, 1, 0), 1, 0, 4).async_loads);
    }

    #[test]
    fn misalignment_falls_back_to_element_loads() {
        // Leading dimension 65 halves (130 bytes): rows are not 16-byte aligned.
        assert_eq!(plan_operand(&strides(33, 65, 65, 1, 0), 1, 0, 2), OperandPlan { order: Order::RowMajor, async_loads: false });
        // An offset pointer (e.g. a narrowed view starting at element 3).
        assert!(!plan_operand(&strides(64, 64, 64, 1, 0), 1, 6, 2).async_loads);
        // A batch stride that is not a multiple of 8 halves, unless only one batch or broadcast.
        assert!(!plan_operand(&strides(8, 8, 8, 1, 68), 2, 0, 2).async_loads);
        assert!(plan_operand(&strides(8, 8, 8, 1, 68), 1, 0, 2).async_loads);
        assert!(plan_operand(&strides(8, 8, 8, 1, 0), 5, 0, 2).async_loads);
        // Neither dimension contiguous: element loads, the smaller stride kept contiguous in shared memory.
        assert_eq!(plan_operand(&strides(8, 8, 16, 2, 0), 1, 0, 2), OperandPlan { order: Order::RowMajor, async_loads: false });
        assert_eq!(plan_operand(&strides(8, 8, 2, 16, 0), 1, 0, 2), OperandPlan { order: Order::ColMajor, async_loads: false });
    }

    #[test]
    fn vectors_use_the_layout_whose_leading_dimension_does_not_matter() {
        // An m×1 column (strides 1, 1): as a column-major matrix it is one contiguous column.
        assert_eq!(plan_operand(&strides(1000, 1, 1, 1, 0), 1, 0, 2), OperandPlan { order: Order::ColMajor, async_loads: true });
        // A 1×k row with any row stride is one contiguous row.
        assert_eq!(plan_operand(&strides(1, 4096, 3, 1, 0), 1, 0, 2), OperandPlan { order: Order::RowMajor, async_loads: true });
    }

    #[test]
    fn kernel_names_match_gemm_cu() {
        let plan = |order, async_loads| OperandPlan { order, async_loads };
        assert_eq!(kernel_name(DType::F16, plan(Order::RowMajor, true), plan(Order::ColMajor, true)).unwrap(), "gemm_f16_arow_bcol_async");
        assert_eq!(kernel_name(DType::BF16, plan(Order::ColMajor, true), plan(Order::RowMajor, false)).unwrap(), "gemm_bf16_acol_brow_strided");
        assert_eq!(kernel_name(DType::F32, plan(Order::ColMajor, false), plan(Order::RowMajor, true)).unwrap(), "gemm_f32");
        assert!(kernel_name(DType::I32, plan(Order::RowMajor, true), plan(Order::RowMajor, true)).is_err());
        // Every name the launcher can form is instantiated in the kernel source.
        let source = include_str!("../../../kernels/gemm.cu");
        for (dtype, element) in [("f16", "__half"), ("bf16", "__nv_bfloat16")] {
            for (loads, is_async) in [("async", true), ("strided", false)] {
                assert!(source.contains(&format!("GEMM_TC_LAYOUTS({dtype}, {element}, {loads}, {is_async})")), "{dtype} {loads}");
            }
        }
        // (A name, A k-contiguous, B name, B k-contiguous): row-major A and column-major B are k-contiguous.
        for (a, a_k, b, b_k) in [("row", true, "row", false), ("row", true, "col", true), ("col", false, "row", false), ("col", false, "col", true)] {
            assert!(source.contains(&format!("GEMM_TC(SUFFIX, T, {a}, {a_k}, {b}, {b_k}, LOAD_NAME, ASYNC)")), "a{a} b{b}");
        }
        assert!(source.contains("void __launch_bounds__(simt::THREADS) gemm_f32("));
    }

    #[test]
    fn raster_order_covers_every_tile_once() {
        for (tiles_m, tiles_n) in [(1, 1), (1, 7), (7, 1), (8, 8), (9, 3), (17, 5), (64, 64), (33, 2)] {
            let mut seen = vec![false; tiles_m * tiles_n];
            for block in 0..tiles_m * tiles_n {
                let (tm, tn) = tile_of_block(block, tiles_m, tiles_n);
                assert!(tm < tiles_m && tn < tiles_n, "block {block} → ({tm}, {tn}) outside {tiles_m}×{tiles_n}");
                assert!(!std::mem::replace(&mut seen[tm * tiles_n + tn], true), "tile ({tm}, {tn}) twice");
            }
        }
        // Consecutive blocks walk down a column of 8 tile rows first.
        assert_eq!((0..3).map(|b| tile_of_block(b, 16, 16)).collect::<Vec<_>>(), vec![(0, 0), (1, 0), (2, 0)]);
        assert_eq!(tile_of_block(8, 16, 16), (0, 1));
    }

    #[test]
    fn grid_has_one_block_per_tile_and_the_batch_along_z() {
        assert_eq!(grid(1, 1, 1).unwrap(), (1, 1, 1));
        assert_eq!(grid(129, 257, 3).unwrap(), (2 * 3, 1, 3));
        assert_eq!(grid(4096, 4096, 1).unwrap(), (32 * 32, 1, 1));
        assert!(grid(8, 8, MAX_GRID_Z + 1).is_err());
    }

    #[test]
    fn validation_rejects_what_the_kernels_cannot_do() {
        let d = dims(17, 33, 65);
        assert!(validate(DType::F16, &d, DType::F16, None).is_ok());
        assert!(validate(DType::F16, &d, DType::F32, None).is_ok());
        assert!(validate(DType::F32, &d, DType::F16, None).is_err());
        assert!(validate(DType::I32, &d, DType::I32, None).is_err());
        assert!(validate(DType::BF16, &d, DType::BF16, Some((DType::BF16, 0, 33))).is_ok());
        assert!(validate(DType::BF16, &d, DType::BF16, Some((DType::BF16, 1, 33))).is_err(), "bias too short");
        assert!(validate(DType::BF16, &d, DType::BF16, Some((DType::F32, 0, 33))).is_err(), "bias dtype");
        let mut mismatched = dims(4, 4, 4);
        mismatched.b.rows = 5;
        assert!(validate(DType::F32, &mismatched, DType::F32, None).is_err());
        assert!(validate(DType::F32, &dims(1 << 31, 1, 1), DType::F32, None).is_err());
    }

    #[test]
    fn kernel_params_have_the_c_layout() {
        assert_eq!(std::mem::size_of::<KernelOperand>(), 32);
        assert_eq!(std::mem::size_of::<GemmParams>(), 104);
        assert_eq!(std::mem::align_of::<GemmParams>(), 8);
    }
}
