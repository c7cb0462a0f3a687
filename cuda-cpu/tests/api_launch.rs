//! cuLaunchKernel as a program uses it: arguments packed from kernelParams by the kernel's .param
//! list, the real driver's codes for invalid configurations, and dynamic shared memory above 48 KiB
//! only after opting in through cuFuncSetAttribute, as on an A100.
use std::ffi::c_void;
use std::ptr::null_mut;

use cuda_cpu::api::*;

const PTX: &str = concat!(include_str!("api_common.ptx"), "\0");
const MAX_DYNAMIC_SHARED_SIZE_BYTES: i32 = 8;

/// cuInit, the primary context current on this thread, and a kernel of api_common.ptx.
fn kernel(name: &std::ffi::CStr) -> Handle {
    assert_eq!(cuInit(0), code::SUCCESS);
    let (mut context, mut module, mut function) = (null_mut(), null_mut(), null_mut());
    unsafe {
        assert_eq!(cuDevicePrimaryCtxRetain(&mut context, 0), code::SUCCESS);
        assert_eq!(cuCtxSetCurrent(context), code::SUCCESS);
        assert_eq!(cuModuleLoadData(&mut module, PTX.as_ptr() as *const c_void), code::SUCCESS);
        assert_eq!(cuModuleGetFunction(&mut function, module, name.as_ptr()), code::SUCCESS);
    }
    function
}

fn device_buffer(values: &[f32]) -> u64 {
    let mut pointer = 0;
    unsafe {
        assert_eq!(cuMemAlloc_v2(&mut pointer, values.len() * 4), code::SUCCESS);
        assert_eq!(cuMemcpyHtoD_v2(pointer, values.as_ptr() as *const c_void, values.len() * 4), code::SUCCESS);
    }
    pointer
}

fn read_back<T: Copy + Default>(pointer: u64, n: usize) -> Vec<T> {
    let mut values = vec![T::default(); n];
    unsafe { assert_eq!(cuMemcpyDtoH_v2(values.as_mut_ptr() as *mut c_void, pointer, n * std::mem::size_of::<T>()), code::SUCCESS) };
    values
}

/// Launches with kernelParams pointing at `arguments` (each a pointer to one argument's bytes).
unsafe fn launch(function: Handle, grid: [u32; 3], block: [u32; 3], shared: u32, arguments: &mut [*mut c_void]) -> CUresult {
    cuLaunchKernel(function, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared, null_mut(), arguments.as_mut_ptr(), null_mut())
}

#[test]
fn arguments_are_packed_by_the_kernels_param_list() {
    let scale = kernel(c"scale");
    let input: Vec<f32> = (0..384).map(|i| i as f32 - 100.0).collect();
    let mut x = device_buffer(&input);
    let (mut n, mut factor) = (300u32, 2.5f32);
    let mut arguments = [&mut x as *mut u64 as *mut c_void, &mut n as *mut u32 as *mut c_void, &mut factor as *mut f32 as *mut c_void];
    // Three blocks of 128 threads cover 384 elements; the kernel stops at n = 300.
    assert_eq!(unsafe { launch(scale, [3, 1, 1], [128, 1, 1], 0, &mut arguments) }, code::SUCCESS);
    let output: Vec<f32> = read_back(x, 384);
    for (i, (&out, &inp)) in output.iter().zip(&input).enumerate() {
        let expected = if i < 300 { inp * 2.5 } else { inp };
        assert_eq!(out, expected, "element {i}");
    }
    assert_eq!(cuMemFree_v2(x), code::SUCCESS);
}

#[test]
fn invalid_configurations_get_the_real_drivers_codes() {
    let scale = kernel(c"scale");
    let mut x = device_buffer(&[1.0; 64]);
    let (mut n, mut factor) = (64u32, 1.0f32);
    let mut arguments = [&mut x as *mut u64 as *mut c_void, &mut n as *mut u32 as *mut c_void, &mut factor as *mut f32 as *mut c_void];
    let invalid = [
        ([0, 1, 1], [64, 1, 1]),     // an empty grid
        ([1, 65536, 1], [64, 1, 1]), // grid y above 65535
        ([1, 1, 1], [1025, 1, 1]),   // block x above 1024
        ([1, 1, 1], [1, 1, 65]),     // block z above 64
        ([1, 1, 1], [32, 32, 2]),    // 2048 threads in a block
        ([1, 1, 1], [0, 1, 1]),      // an empty block
    ];
    for (grid, block) in invalid {
        assert_eq!(unsafe { launch(scale, grid, block, 0, &mut arguments) }, code::INVALID_VALUE, "grid {grid:?} block {block:?}");
    }
    unsafe {
        assert_eq!(cuLaunchKernel(scale, 1, 1, 1, 64, 1, 1, 0, null_mut(), null_mut(), null_mut()), code::INVALID_VALUE, "no kernelParams");
        let mut extra = [null_mut::<c_void>()];
        assert_eq!(cuLaunchKernel(scale, 1, 1, 1, 64, 1, 1, 0, null_mut(), arguments.as_mut_ptr(), extra.as_mut_ptr()), code::NOT_SUPPORTED);
        assert_eq!(launch(0x99 as Handle, [1, 1, 1], [64, 1, 1], 0, &mut arguments), code::INVALID_HANDLE);
    }
    // A kernel declaring .maxntid 64 cannot take 128 threads: a resource error, as on a GPU.
    let small = kernel(c"at_most_64_threads");
    let mut maximum = 0;
    unsafe { assert_eq!(cuFuncGetAttribute(&mut maximum, 0, small), code::SUCCESS) };
    assert_eq!(maximum, 64);
    assert_eq!(unsafe { launch(small, [1, 1, 1], [128, 1, 1], 0, &mut arguments[..1]) }, code::LAUNCH_OUT_OF_RESOURCES);
    assert_eq!(unsafe { launch(small, [2, 1, 1], [64, 1, 1], 0, &mut arguments[..1]) }, code::SUCCESS);
    // Nothing was poisoned by the refused launches.
    assert_eq!(cuCtxSynchronize(), code::SUCCESS);
}

#[test]
fn dynamic_shared_memory_above_48_kib_needs_the_opt_in() {
    let function = kernel(c"shared_tail");
    let attribute = |which| {
        let mut value = -1;
        unsafe { assert_eq!(cuFuncGetAttribute(&mut value, which, function), code::SUCCESS) };
        value
    };
    assert_eq!(attribute(1), 1024, "static shared bytes");
    assert_eq!(attribute(MAX_DYNAMIC_SHARED_SIZE_BYTES), 48 * 1024 - 1024, "without opt-in: 48 KiB in all");
    let mut out = 0u64;
    unsafe { assert_eq!(cuMemAlloc_v2(&mut out, 64 * 4), code::SUCCESS) };
    let run = |dynamic_bytes: u32| {
        let (mut out, mut words) = (out, dynamic_bytes / 4);
        let mut arguments = [&mut out as *mut u64 as *mut c_void, &mut words as *mut u32 as *mut c_void];
        unsafe { launch(function, [1, 1, 1], [64, 1, 1], dynamic_bytes, &mut arguments) }
    };
    assert_eq!(run(47 * 1024), code::SUCCESS);
    assert_eq!(read_back::<u32>(out, 64), (0..64).collect::<Vec<u32>>());
    assert_eq!(run(47 * 1024 + 4), code::INVALID_VALUE, "above 48 KiB without opt-in");

    // The opt-in reaches 163 KiB, static memory included, and no further.
    assert_eq!(cuFuncSetAttribute(function, MAX_DYNAMIC_SHARED_SIZE_BYTES, 163 * 1024 - 1024 + 1), code::INVALID_VALUE);
    assert_eq!(cuFuncSetAttribute(function, MAX_DYNAMIC_SHARED_SIZE_BYTES, 100 * 1024), code::SUCCESS);
    assert_eq!(attribute(MAX_DYNAMIC_SHARED_SIZE_BYTES), 100 * 1024);
    assert_eq!(run(100 * 1024), code::SUCCESS);
    assert_eq!(read_back::<u32>(out, 64), (0..64).collect::<Vec<u32>>());
    assert_eq!(run(100 * 1024 + 4), code::INVALID_VALUE);
    assert_eq!(cuFuncSetAttribute(function, 1, 0), code::INVALID_VALUE, "the static size cannot be set");
}
