//! Launchers for kernels/conv.cu. Each pass picks the tensor-core implicit GEMM when the shape
//! allows it (f16/bf16, the reduction's channel axis a multiple of 8, 16-byte aligned pointers) and
//! the direct kernel otherwise. `MEMEFUSE_CONV_DIRECT=1` forces the direct kernels (to bisect a
//! parity failure on the GPU).
use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::launch::{checked, grid_for};
use super::{copy, CudaStorage};
use crate::ops::ConvGeometry;
use crate::tensor::{DType, Layout};
use crate::{Error, Result};

/// Tile sizes and shared memory of the tensor-core kernels (TC_* in kernels/conv.cu).
const TILE_M: usize = 128;
const TILE_N: usize = 128;
const TILE_K: usize = 32;
const STAGES: usize = 3;
const THREADS: u32 = 256;
/// Two [STAGES][128][32] tiles of 2-byte elements: 48 KiB, the most a kernel gets without opting in.
const TENSOR_CORE_SHARED_BYTES: u32 = (2 * STAGES * TILE_M * TILE_K * 2) as u32;

/// `struct ConvGeometry` of kernels/conv.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct KernelGeometry {
    batch: i32,
    in_h: i32,
    in_w: i32,
    in_c: i32,
    out_c: i32,
    kernel_h: i32,
    kernel_w: i32,
    stride_h: i32,
    stride_w: i32,
    pad_h: i32,
    pad_w: i32,
    out_h: i32,
    out_w: i32,
}
// SAFETY: plain-old-data with the kernel-side C layout (13 ints).
unsafe impl DeviceRepr for KernelGeometry {}

impl KernelGeometry {
    fn new(g: &ConvGeometry) -> Result<Self> {
        // Kernels index tensors with 64-bit offsets but pixels and taps with 32-bit ints.
        let too_big = [g.output_pixels(), g.batch * g.in_h * g.in_w, g.filter_len() * g.out_c].iter().any(|&v| v > i32::MAX as usize);
        if too_big {
            return Err(Error::shape("conv2d", format!("{g:?} exceeds the kernels' 32-bit pixel indexing")));
        }
        let i = |v: usize| v as i32;
        Ok(Self {
            batch: i(g.batch),
            in_h: i(g.in_h),
            in_w: i(g.in_w),
            in_c: i(g.in_c),
            out_c: i(g.out_c),
            kernel_h: i(g.kernel_h),
            kernel_w: i(g.kernel_w),
            stride_h: i(g.stride_h),
            stride_w: i(g.stride_w),
            pad_h: i(g.pad_h),
            pad_w: i(g.pad_w),
            out_h: i(g.out_h),
            out_w: i(g.out_w),
        })
    }
}

fn direct_forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| std::env::var("MEMEFUSE_CONV_DIRECT").is_ok_and(|v| v == "1"))
}

/// Whether the tensor-core kernels can take operands of this dtype whose gathered channel axis has
/// `channels` elements: 16-byte chunks need channels % 8 == 0 and 16-byte aligned base pointers.
fn tensor_cores_fit(dtype: DType, channels: usize, pointers: &[u64]) -> bool {
    matches!(dtype, DType::F16 | DType::BF16) && channels.is_multiple_of(8) && pointers.iter().all(|p| p % 16 == 0) && !direct_forced()
}

fn tensor_core_config(grid: (usize, usize, usize)) -> LaunchConfig {
    LaunchConfig { grid_dim: (grid.0 as u32, grid.1 as u32, grid.2 as u32), block_dim: (THREADS, 1, 1), shared_mem_bytes: TENSOR_CORE_SHARED_BYTES }
}

/// y = relu?(conv(x, w) + bias), x NHWC, w KRSC, y NHWC, all contiguous.
pub fn conv2d_forward(x: &CudaStorage, x_layout: &Layout, w: &CudaStorage, w_layout: &Layout, bias: Option<(&CudaStorage, &Layout)>, g: &ConvGeometry, relu: bool) -> Result<CudaStorage> {
    let device = x.device();
    let out = CudaStorage::alloc_on(device, x.dtype(), g.output_pixels() * g.out_c)?;
    let bias_ptr = bias.map(|(b, l)| b.pointer_at(l.offset()));
    let (x_ptr, w_ptr) = (x.pointer_at(x_layout.offset()), w.pointer_at(w_layout.offset()));
    if let Some(padded) = channel_padding(x.dtype(), g.in_c) {
        // Zero channels add nothing to the sums: conv over C padded to a multiple of 8 is the same.
        let x_padded = pad_channels(x, x_ptr, g.batch * g.in_h * g.in_w, g.in_c, padded)?;
        let w_padded = pad_channels(x, w_ptr, g.out_c * g.kernel_h * g.kernel_w, g.in_c, padded)?;
        let widened = ConvGeometry { in_c: padded, ..*g };
        forward_into(x, x_padded.pointer_at(0), w_padded.pointer_at(0), bias_ptr, &out, &widened, relu)?;
        return Ok(out);
    }
    forward_into(x, x_ptr, w_ptr, bias_ptr, &out, g, relu)?;
    Ok(out)
}

/// The channel count to pad `channels` to so that the tensor-core kernels apply (f16/bf16 only),
/// or None when no padding is needed or it would not help.
fn channel_padding(dtype: DType, channels: usize) -> Option<usize> {
    let wanted = matches!(dtype, DType::F16 | DType::BF16) && !channels.is_multiple_of(8) && !direct_forced();
    wanted.then(|| channels.next_multiple_of(8))
}

/// A zero-padded copy [pixels, padded] of the [pixels, channels] data at `source_ptr`.
fn pad_channels(like: &CudaStorage, source_ptr: u64, pixels: usize, channels: usize, padded: usize) -> Result<CudaStorage> {
    let device = like.device();
    let out = CudaStorage::alloc_on(device, like.dtype(), pixels * padded)?;
    if out.is_empty() {
        return Ok(out);
    }
    let name = format!("conv_pad_channels_{}", like.dtype().kernel_suffix());
    let function = device.function("conv", &name)?;
    let (out_ptr, pixel_count, channels_arg, padded_arg) = (out.pointer_at(0), pixels as u64, channels as i32, padded as i32);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&source_ptr).arg(&out_ptr).arg(&pixel_count).arg(&channels_arg).arg(&padded_arg);
    // SAFETY: one thread per destination element (pixels·padded, the size of `out`); it reads the
    // source at pixel·channels + j with j < channels, inside the pixels·channels source.
    checked(device, &name, unsafe { launch.launch(grid_for(device, pixels * padded)) })?;
    Ok(out)
}

/// The forward on raw pointers (backward-data reuses it with dY and flipped weights).
fn forward_into(like: &CudaStorage, x_ptr: u64, w_ptr: u64, bias_ptr: Option<u64>, out: &CudaStorage, g: &ConvGeometry, relu: bool) -> Result<()> {
    let device = like.device();
    let count = g.output_pixels() * g.out_c;
    if count == 0 {
        return Ok(());
    }
    let geometry = KernelGeometry::new(g)?;
    let (bias_ptr, y_ptr, relu_flag) = (bias_ptr.unwrap_or(0), out.pointer_at(0), relu as i32);
    let dtype = like.dtype();
    if tensor_cores_fit(dtype, g.in_c, &[x_ptr, w_ptr]) {
        let name = format!("conv_forward_tc_{}", dtype.kernel_suffix());
        let function = device.function("conv", &name)?;
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&geometry).arg(&x_ptr).arg(&w_ptr).arg(&bias_ptr).arg(&y_ptr).arg(&relu_flag);
        let config = tensor_core_config((g.output_pixels().div_ceil(TILE_M), g.out_c.div_ceil(TILE_N), 1));
        // SAFETY: x holds batch·in_h·in_w·in_c elements, w out_c·filter_len, bias out_c (or is null),
        // y output_pixels·out_c; the kernel predicates every load on m < M, n < K, tap < R·S·C and the
        // padding bounds, and every store on m < M, n < K. in_c % 8 == 0 and 16-byte aligned pointers
        // (checked above) keep each 16-byte cp.async inside one pixel's channels.
        return checked(device, &name, unsafe { launch.launch(config) });
    }
    let name = format!("conv_forward_direct_{}", dtype.kernel_suffix());
    let function = device.function("conv", &name)?;
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&geometry).arg(&x_ptr).arg(&w_ptr).arg(&bias_ptr).arg(&y_ptr).arg(&relu_flag);
    // SAFETY: one thread per output element (grid-stride, bounded by the output size); reads stay
    // inside x and w by the padding checks.
    checked(device, &name, unsafe { launch.launch(grid_for(device, count)) })
}

/// dx = the gradient of the forward with respect to x (x's shape), from dy (y's shape) and w (KRSC).
pub fn conv2d_backward_data(dy: &CudaStorage, dy_layout: &Layout, w: &CudaStorage, w_layout: &Layout, g: &ConvGeometry) -> Result<CudaStorage> {
    let device = dy.device();
    let dtype = dy.dtype();
    let dx = CudaStorage::alloc_on(device, dtype, g.batch * g.in_h * g.in_w * g.in_c)?;
    if dx.is_empty() {
        return Ok(dx);
    }
    let geometry = KernelGeometry::new(g)?;
    let (dy_ptr, w_ptr, dx_ptr) = (dy.pointer_at(dy_layout.offset()), w.pointer_at(w_layout.offset()), dx.pointer_at(0));
    // With stride 1, dx = conv(dy, W') with W'[c, r, s, k] = W[k, R−1−r, S−1−s, c] and padding
    // R−1−pad: the forward's tensor-core kernel does the work.
    let transposed = g.data_gradient_as_forward().filter(|_| tensor_cores_fit(dtype, g.out_c, &[dy_ptr, w_ptr]));
    if let Some(transposed) = transposed {
        let flipped = CudaStorage::alloc_on(device, dtype, g.out_c * g.filter_len())?;
        let name = format!("conv_flip_weights_{}", dtype.kernel_suffix());
        let function = device.function("conv", &name)?;
        let flipped_ptr = flipped.pointer_at(0);
        let mut launch = device.stream().launch_builder(&function);
        launch.arg(&geometry).arg(&w_ptr).arg(&flipped_ptr);
        // SAFETY: one thread per weight element (grid-stride); w and flipped both hold K·R·S·C elements.
        checked(device, &name, unsafe { launch.launch(grid_for(device, g.out_c * g.filter_len())) })?;
        debug_assert_eq!(transposed.out_h, g.out_h + 2 * transposed.pad_h + 1 - g.kernel_h);
        forward_into(dy, dy_ptr, flipped_ptr, None, &dx, &transposed, false)?;
        return Ok(dx);
    }
    let name = format!("conv_backward_data_direct_{}", dtype.kernel_suffix());
    let function = device.function("conv", &name)?;
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&geometry).arg(&dy_ptr).arg(&w_ptr).arg(&dx_ptr);
    // SAFETY: one thread per dx element (grid-stride); dy and w are read only at in-range (p, q).
    checked(device, &name, unsafe { launch.launch(grid_for(device, dx.len())) })?;
    Ok(dx)
}

/// dw (KRSC) = the gradient of the forward with respect to w, from x and dy.
pub fn conv2d_backward_weight(x: &CudaStorage, x_layout: &Layout, dy: &CudaStorage, dy_layout: &Layout, g: &ConvGeometry) -> Result<CudaStorage> {
    let device = x.device();
    let dtype = x.dtype();
    let weights = g.out_c * g.filter_len();
    let (x_ptr, dy_ptr) = (x.pointer_at(x_layout.offset()), dy.pointer_at(dy_layout.offset()));
    if weights == 0 {
        return CudaStorage::alloc_on(device, dtype, 0);
    }
    // dY is gathered along K: it needs K % 8 == 0 (and the dtype and alignment checks).
    let dy_fits = tensor_cores_fit(dtype, g.out_c, &[dy_ptr]);
    if dy_fits && tensor_cores_fit(dtype, g.in_c, &[x_ptr]) {
        let sums = weight_gradient_tensor_cores(x, x_ptr, dy_ptr, g)?;
        return copy::cast(&sums, &Layout::contiguous(&[weights]), dtype);
    }
    if let (true, Some(padded)) = (dy_fits, channel_padding(dtype, g.in_c)) {
        // The gradient over zero-padded channels, then its first in_c channels of each tap.
        let x_padded = pad_channels(x, x_ptr, g.batch * g.in_h * g.in_w, g.in_c, padded)?;
        let widened = ConvGeometry { in_c: padded, ..*g };
        let sums = weight_gradient_tensor_cores(x, x_padded.pointer_at(0), dy_ptr, &widened)?;
        let wide_shape = [g.out_c, g.kernel_h, g.kernel_w, padded];
        let real_channels = Layout::contiguous(&wide_shape).narrow(3, 0, g.in_c)?;
        return copy::cast(&sums, &real_channels, dtype);
    }
    weight_gradient_tiled(x, x_ptr, dy_ptr, g)
}

/// Tile sizes of the tiled SIMT weight gradient (WG_* in kernels/conv.cu).
const WG_TILE: usize = 64;
const WG_STEP: usize = 16;
const WG_THREADS: u32 = 256;
/// Most reduction slices (each a K·R·S·C f32 workspace) the tiled weight gradient splits into.
const WG_MAX_SLICES: usize = 32;

/// dW (KRSC, x's dtype) by the tiled SIMT kernel: per-slice partial sums in f32, then a finish
/// kernel that adds the slices in slice order (bitwise reproducible) and rounds once.
fn weight_gradient_tiled(like: &CudaStorage, x_ptr: u64, dy_ptr: u64, g: &ConvGeometry) -> Result<CudaStorage> {
    let device = like.device();
    let dtype = like.dtype();
    let geometry = KernelGeometry::new(g)?;
    let weights = g.out_c * g.filter_len();
    let (k_tiles, j_tiles) = (g.out_c.div_ceil(WG_TILE), g.filter_len().div_ceil(WG_TILE));
    if j_tiles > 65535 {
        return Err(Error::shape("conv2d", format!("{g:?}: {j_tiles} weight tiles exceed the grid's y limit")));
    }
    // Split the pixel reduction so that about four blocks per SM run, but keep each slice at least
    // 16 steps long (the partial tiles' traffic stays small next to the reduction's).
    let steps = g.output_pixels().div_ceil(WG_STEP).max(1);
    let wanted_blocks = 4 * device.multiprocessors() as usize;
    let slices = wanted_blocks.div_ceil(k_tiles * j_tiles).min(steps.div_ceil(16)).clamp(1, WG_MAX_SLICES);
    let steps_per_slice = steps.div_ceil(slices);
    let slices = steps.div_ceil(steps_per_slice);
    let partials = CudaStorage::alloc_on(device, DType::F32, slices * weights)?;
    let suffix = dtype.kernel_suffix();
    let name = format!("conv_backward_weight_tiled_{suffix}");
    let function = device.function("conv", &name)?;
    let (partials_ptr, per_slice) = (partials.pointer_at(0), steps_per_slice as i32);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&geometry).arg(&x_ptr).arg(&dy_ptr).arg(&partials_ptr).arg(&per_slice);
    let config = LaunchConfig { grid_dim: (k_tiles as u32, j_tiles as u32, slices as u32), block_dim: (WG_THREADS, 1, 1), shared_mem_bytes: 0 };
    // SAFETY: partials holds slices·K·R·S·C f32 and block (kx, jy, z) writes only its tile of slice z
    // (predicated on k < K, j < R·S·C); loads are predicated on pixel < N·P·Q, k < K, j < R·S·C and
    // the padding bounds, so they stay inside x and dy.
    checked(device, &name, unsafe { launch.launch(config) })?;
    let dw = CudaStorage::alloc_on(device, dtype, weights)?;
    let name = format!("conv_weight_gradient_finish_{suffix}");
    let function = device.function("conv", &name)?;
    let (dw_ptr, slice_count, weight_count) = (dw.pointer_at(0), slices as i32, weights as u64);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&partials_ptr).arg(&slice_count).arg(&weight_count).arg(&dw_ptr);
    // SAFETY: one thread per weight (grid-stride, bounded by `weights`); it reads partials[z·weights + i]
    // for z < slices, inside the slices·weights workspace, and writes dw[i].
    checked(device, &name, unsafe { launch.launch(grid_for(device, weights)) })?;
    Ok(dw)
}

/// Σ over pixels of dYᵀ · im2col(X) in f32 [K, R, S, C] by the tensor-core kernel (C % 8 == 0,
/// K % 8 == 0, aligned pointers: the caller checked).
fn weight_gradient_tensor_cores(like: &CudaStorage, x_ptr: u64, dy_ptr: u64, g: &ConvGeometry) -> Result<CudaStorage> {
    let device = like.device();
    let geometry = KernelGeometry::new(g)?;
    // Split the reduction over pixels so that the small K×RSC output still fills the GPU.
    let tiles = g.out_c.div_ceil(TILE_M) * g.filter_len().div_ceil(TILE_N);
    let reduction_tiles = g.output_pixels().div_ceil(TILE_K).max(1);
    let wanted_blocks = 4 * device.multiprocessors() as usize;
    let splits = wanted_blocks.div_ceil(tiles).clamp(1, reduction_tiles);
    let tiles_per_split = reduction_tiles.div_ceil(splits);
    let splits = reduction_tiles.div_ceil(tiles_per_split);
    let mut sums = CudaStorage::alloc_on(device, DType::F32, g.out_c * g.filter_len())?;
    super::fill(&mut sums, 0.0)?;
    let name = format!("conv_backward_weight_tc_{}", like.dtype().kernel_suffix());
    let function = device.function("conv", &name)?;
    let (sums_ptr, per_split) = (sums.pointer_at(0), tiles_per_split as i32);
    let mut launch = device.stream().launch_builder(&function);
    launch.arg(&geometry).arg(&x_ptr).arg(&dy_ptr).arg(&sums_ptr).arg(&per_split);
    let config = tensor_core_config((g.out_c.div_ceil(TILE_M), g.filter_len().div_ceil(TILE_N), splits));
    // SAFETY: sums holds K·R·S·C f32; loads are predicated on pixel < N·P·Q, k < K, tap < R·S·C
    // and the padding bounds, atomics on k < K and tap < R·S·C. in_c % 8 == 0, out_c % 8 == 0 and
    // aligned pointers keep each 16-byte cp.async inside one pixel's channels.
    checked(device, &name, unsafe { launch.launch(config) })?;
    Ok(sums)
}
