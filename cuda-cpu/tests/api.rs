//! The driver API as a program sees it: device queries, contexts, memory, modules and errors, with
//! the real driver's codes. (Kernel launches are in api_launch.rs; a fault poisons the process's
//! context, so the sticky-error test has a binary of its own, api_sticky.rs.)
use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};

use cuda_cpu::api::*;

/// cuInit, and the primary context current on this thread.
fn setup() {
    assert_eq!(cuInit(0), code::SUCCESS);
    let mut context = null_mut();
    unsafe {
        assert_eq!(cuDevicePrimaryCtxRetain(&mut context, 0), code::SUCCESS);
        assert!(!context.is_null());
    }
    assert_eq!(cuCtxSetCurrent(context), code::SUCCESS);
}

fn attribute(number: i32) -> (CUresult, i32) {
    let mut value = -1;
    let result = unsafe { cuDeviceGetAttribute(&mut value, number, 0) };
    (result, value)
}

#[test]
fn the_device_is_an_sm80_with_a100_limits_and_says_it_is_the_cpu_driver() {
    setup();
    let mut count = 0;
    unsafe { assert_eq!(cuDeviceGetCount(&mut count), code::SUCCESS) };
    assert_eq!(count, 1);
    let mut device = -1;
    unsafe {
        assert_eq!(cuDeviceGet(&mut device, 0), code::SUCCESS);
        assert_eq!(cuDeviceGet(&mut device, 1), code::INVALID_DEVICE);
    }
    let mut name = [0i8; 128];
    unsafe { assert_eq!(cuDeviceGetName(name.as_mut_ptr(), 128, 0), code::SUCCESS) };
    let name = unsafe { CStr::from_ptr(name.as_ptr()) }.to_str().unwrap().to_string();
    assert!(name.contains("CPU driver"), "{name}");
    // A short buffer gets a truncated, terminated name.
    let mut short = [1i8; 6];
    unsafe { assert_eq!(cuDeviceGetName(short.as_mut_ptr(), 6, 0), code::SUCCESS) };
    assert_eq!(short[5], 0);
    assert_eq!(unsafe { CStr::from_ptr(short.as_ptr()) }.to_bytes(), &name.as_bytes()[..5]);

    for (number, expected) in [(75, 8), (76, 0), (16, 108), (1, 1024), (2, 1024), (4, 64), (5, i32::MAX), (6, 65535), (8, 48 * 1024), (97, 163 * 1024), (10, 32), (115, 1)] {
        assert_eq!(attribute(number), (code::SUCCESS, expected), "attribute {number}");
    }
    assert_eq!(attribute(100_000).0, code::INVALID_VALUE);
    let mut value = 0;
    unsafe { assert_eq!(cuDeviceGetAttribute(&mut value, 16, 3), code::INVALID_DEVICE) };
    let mut version = 0;
    unsafe { assert_eq!(cuDriverGetVersion(&mut version), code::SUCCESS) };
    assert!(version >= 13000, "PTX ISA 9.0 needs a CUDA 13 driver, reported {version}");
}

#[test]
fn memory_copies_and_memsets_round_trip_and_bounds_are_checked() {
    setup();
    let mut free_before = 0;
    let mut total = 0;
    unsafe { assert_eq!(cuMemGetInfo_v2(&mut free_before, &mut total), code::SUCCESS) };
    assert!(free_before <= total && total > 0);

    let (mut a, mut b) = (0u64, 0u64);
    unsafe {
        assert_eq!(cuMemAlloc_v2(&mut a, 1000), code::SUCCESS);
        assert_eq!(cuMemAllocAsync(&mut b, 1000, null_mut()), code::SUCCESS);
    }
    assert!(a != 0 && b != 0 && a != b);
    assert_eq!(a % 256, 0, "allocations are 256-aligned");
    let mut free_after = 0;
    unsafe { assert_eq!(cuMemGetInfo_v2(&mut free_after, &mut total), code::SUCCESS) };
    assert!(free_after <= free_before - 2000, "{free_after} free after allocating 2000 of {free_before}");

    let data: Vec<u8> = (0..1000).map(|i| (i * 7 % 251) as u8).collect();
    let mut back = vec![0u8; 1000];
    unsafe {
        assert_eq!(cuMemcpyHtoDAsync_v2(a, data.as_ptr() as *const c_void, 1000, null_mut()), code::SUCCESS);
        assert_eq!(cuMemcpyDtoDAsync_v2(b, a, 1000, null_mut()), code::SUCCESS);
        assert_eq!(cuMemcpyDtoHAsync_v2(back.as_mut_ptr() as *mut c_void, b, 1000, null_mut()), code::SUCCESS);
    }
    assert_eq!(back, data);

    // Memsets of each width, at an offset inside the allocation.
    assert_eq!(cuMemsetD32Async(a + 4, 0xdead_beef, 2, null_mut()), code::SUCCESS);
    assert_eq!(cuMemsetD16_v2(a + 12, 0x1234, 1), code::SUCCESS);
    assert_eq!(cuMemsetD8Async(a + 14, 0xab, 3, null_mut()), code::SUCCESS);
    let mut head = [0u8; 18];
    unsafe { assert_eq!(cuMemcpyDtoH_v2(head.as_mut_ptr() as *mut c_void, a, 18), code::SUCCESS) };
    let mut expected = data[..18].to_vec();
    expected[4..12].copy_from_slice(&[0xef, 0xbe, 0xad, 0xde, 0xef, 0xbe, 0xad, 0xde]);
    expected[12..14].copy_from_slice(&[0x34, 0x12]);
    expected[14..17].copy_from_slice(&[0xab; 3]);
    assert_eq!(head.to_vec(), expected);
    assert_eq!(cuMemsetD32_v2(a + 2, 0, 1), code::INVALID_VALUE, "a 32-bit memset needs 4-byte alignment");

    // Past the end of an allocation, into the gap after it, and a double free.
    unsafe {
        assert_eq!(cuMemcpyHtoD_v2(a + 990, data.as_ptr() as *const c_void, 20), code::INVALID_VALUE);
        assert_eq!(cuMemcpyDtoH_v2(back.as_mut_ptr() as *mut c_void, a + 1000, 1), code::INVALID_VALUE);
    }
    assert_eq!(cuMemsetD8_v2(b + 999, 0, 2), code::INVALID_VALUE);
    assert_eq!(cuMemFree_v2(a), code::SUCCESS);
    assert_eq!(cuMemFree_v2(a), code::INVALID_VALUE);
    assert_eq!(cuMemFreeAsync(b, null_mut()), code::SUCCESS);
    unsafe {
        assert_eq!(cuMemcpyDtoH_v2(back.as_mut_ptr() as *mut c_void, b, 1), code::INVALID_VALUE, "a use after free is caught");
        assert_eq!(cuMemAlloc_v2(&mut a, 0), code::INVALID_VALUE, "cuMemAlloc refuses 0 bytes");
        assert_eq!(cuMemAllocAsync(&mut a, 0, null_mut()), code::SUCCESS);
    }
    assert_eq!(a, 0, "the stream-ordered allocator returns null for 0 bytes");
    let mut huge = 0;
    unsafe { assert_eq!(cuMemAlloc_v2(&mut huge, total + 1), code::OUT_OF_MEMORY) };
}

#[test]
fn a_thread_without_a_current_context_cannot_allocate() {
    setup();
    std::thread::spawn(|| {
        let mut current = 1 as Handle;
        unsafe { assert_eq!(cuCtxGetCurrent(&mut current), code::SUCCESS) };
        assert!(current.is_null());
        let mut pointer = 0;
        unsafe { assert_eq!(cuMemAlloc_v2(&mut pointer, 64), code::INVALID_CONTEXT) };
        assert_eq!(cuCtxSynchronize(), code::INVALID_CONTEXT);
    })
    .join()
    .unwrap();
}

#[test]
fn contexts_push_and_pop() {
    setup();
    let mut primary = null_mut();
    unsafe { assert_eq!(cuCtxGetCurrent(&mut primary), code::SUCCESS) };
    assert_eq!(cuCtxPushCurrent_v2(primary), code::SUCCESS);
    let mut popped = null_mut();
    unsafe { assert_eq!(cuCtxPopCurrent_v2(&mut popped), code::SUCCESS) };
    assert_eq!(popped, primary);
    assert_eq!(cuCtxPushCurrent_v2(0x1234 as Handle), code::INVALID_CONTEXT);
    let mut device = -1;
    unsafe { assert_eq!(cuCtxGetDevice(&mut device), code::SUCCESS) };
    assert_eq!(device, 0);
}

#[test]
fn streams_and_events_are_complete_at_once() {
    setup();
    let (mut stream, mut start, mut end, mut untimed) = (null_mut(), null_mut(), null_mut(), null_mut());
    unsafe {
        assert_eq!(cuStreamCreate(&mut stream, 1), code::SUCCESS);
        assert_eq!(cuEventCreate(&mut start, 0), code::SUCCESS);
        assert_eq!(cuEventCreate(&mut end, 0), code::SUCCESS);
        assert_eq!(cuEventCreate(&mut untimed, 2), code::SUCCESS);
    }
    assert_eq!(cuEventRecord(start, stream), code::SUCCESS);
    assert_eq!(cuStreamQuery(stream), code::SUCCESS);
    assert_eq!(cuStreamWaitEvent(null_mut(), start, 0), code::SUCCESS);
    assert_eq!(cuEventRecord(end, null_mut()), code::SUCCESS);
    assert_eq!(cuEventRecord(untimed, null_mut()), code::SUCCESS);
    assert_eq!(cuEventSynchronize(end), code::SUCCESS);
    let mut ms = -1.0f32;
    unsafe {
        assert_eq!(cuEventElapsedTime_v2(&mut ms, start, end), code::SUCCESS);
        assert_eq!(cuEventElapsedTime(&mut ms, start, untimed), code::INVALID_HANDLE, "timing was disabled");
    }
    assert!(ms >= 0.0);
    assert_eq!(cuStreamSynchronize(stream), code::SUCCESS);
    assert_eq!(cuStreamDestroy_v2(stream), code::SUCCESS);
    assert_eq!(cuStreamSynchronize(stream), code::INVALID_HANDLE, "a destroyed stream is gone");
    for event in [start, end, untimed] {
        assert_eq!(cuEventDestroy_v2(event), code::SUCCESS);
    }
    assert_eq!(cuEventQuery(start), code::INVALID_HANDLE);
}

#[test]
fn error_names_and_strings_are_the_real_drivers() {
    let text = |f: unsafe extern "C" fn(CUresult, *mut *const std::ffi::c_char) -> CUresult, error| {
        let mut s = null();
        let result = unsafe { f(error, &mut s) };
        (result, (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string()))
    };
    assert_eq!(text(cuGetErrorName, 700), (code::SUCCESS, Some("CUDA_ERROR_ILLEGAL_ADDRESS".into())));
    assert_eq!(text(cuGetErrorString, 700), (code::SUCCESS, Some("an illegal memory access was encountered".into())));
    assert_eq!(text(cuGetErrorString, 1), (code::SUCCESS, Some("invalid argument".into())));
    assert_eq!(text(cuGetErrorString, 12345), (code::INVALID_VALUE, None));
}

#[test]
fn modules_must_be_ptx_and_unknown_names_are_not_found() {
    setup();
    let mut module = null_mut();
    let cubin = b"\x7fELF\x02\x01\x01\0\0\0";
    unsafe {
        assert_eq!(cuModuleLoadData(&mut module, cubin.as_ptr() as *const c_void), code::NO_BINARY_FOR_GPU);
        assert_eq!(cuModuleLoadData(&mut module, c"this is not PTX".as_ptr() as *const c_void), code::INVALID_PTX);
    }
    assert_eq!(cuModuleUnload(0x42 as Handle), code::INVALID_HANDLE);
    let mut function = null_mut();
    unsafe { assert_eq!(cuModuleGetFunction(&mut function, 0x42 as Handle, c"k".as_ptr()), code::INVALID_HANDLE) };
}

#[test]
fn what_the_driver_does_not_provide_fails_loudly() {
    setup();
    assert_eq!(cuLaunchCooperativeKernel(), code::NOT_SUPPORTED);
    assert_eq!(cuMemAllocManaged(), code::NOT_SUPPORTED);
    assert_eq!(cuCtxCreate_v4(), code::NOT_SUPPORTED);
}
