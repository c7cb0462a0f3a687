//! A kernel fault poisons the context, as on a GPU: the launch reports it (with the engine's
//! message on stderr) and every later call on the context returns the same code. A binary of its
//! own, since the poisoned context is the process's.
use std::ffi::c_void;
use std::ptr::null_mut;

use cuda_cpu::api::*;

const PTX: &str = concat!(include_str!("api_common.ptx"), "\0");

#[test]
fn an_illegal_address_is_sticky() {
    assert_eq!(cuInit(0), code::SUCCESS);
    let (mut context, mut module, mut function) = (null_mut(), null_mut(), null_mut());
    let mut buffer = 0u64;
    unsafe {
        assert_eq!(cuDevicePrimaryCtxRetain(&mut context, 0), code::SUCCESS);
        assert_eq!(cuCtxSetCurrent(context), code::SUCCESS);
        assert_eq!(cuModuleLoadData(&mut module, PTX.as_ptr() as *const c_void), code::SUCCESS);
        assert_eq!(cuModuleGetFunction(&mut function, module, c"store_past_end".as_ptr()), code::SUCCESS);
        assert_eq!(cuMemAlloc_v2(&mut buffer, 256), code::SUCCESS);
    }
    let mut arguments = [&mut buffer as *mut u64 as *mut c_void];
    let launched = unsafe { cuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, null_mut(), arguments.as_mut_ptr(), null_mut()) };
    assert_eq!(launched, code::ILLEGAL_ADDRESS);
    assert_eq!(cuCtxSynchronize(), code::ILLEGAL_ADDRESS);
    assert_eq!(cuStreamSynchronize(null_mut()), code::ILLEGAL_ADDRESS);
    let mut other = 0u64;
    unsafe { assert_eq!(cuMemAlloc_v2(&mut other, 256), code::ILLEGAL_ADDRESS) };
    assert_eq!(cuMemFree_v2(buffer), code::ILLEGAL_ADDRESS);
    // Queries that do not touch the context still answer.
    let mut count = 0;
    unsafe { assert_eq!(cuDeviceGetCount(&mut count), code::SUCCESS) };
    assert_eq!(count, 1);
}
