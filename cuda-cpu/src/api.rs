//! The CUDA driver API, as `extern "C"` functions with the real driver's names, signatures and
//! error codes: argument checks and CUresult codes here, state in `context`, execution in `exec`.
//!
//! Every function goes through [`call`], which catches panics (nothing unwinds into the caller),
//! logs the call when CUDA_CPU_TRACE=1, and turns a failure into its code after printing why on
//! stderr (the real driver only returns the code; saying why is the point of this one).
//! Functions cudarc can reach that this driver does not provide are exported at the end of the
//! file and fail loudly with CUDA_ERROR_NOT_SUPPORTED.
#![allow(non_snake_case, clippy::missing_safety_doc, clippy::too_many_arguments)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use crate::context::{self, limits, Driver};
use crate::exec::{self, LaunchConfig, LaunchErrorKind, LaunchOptions};
use crate::memory::MemError;
use crate::ptx::Module;

pub type CUresult = c_uint;
pub type CUdevice = c_int;
pub type CUdeviceptr = u64;
/// Contexts, streams, events, modules and functions are opaque pointers to the program; here
/// they are numbers from `context` that point at nothing.
pub type Handle = *mut c_void;

/// The CUresult codes this driver returns, with the real driver's values.
pub mod code {
    use super::CUresult;
    pub const SUCCESS: CUresult = 0;
    pub const INVALID_VALUE: CUresult = 1;
    pub const OUT_OF_MEMORY: CUresult = 2;
    pub const NOT_INITIALIZED: CUresult = 3;
    pub const INVALID_DEVICE: CUresult = 101;
    pub const NO_BINARY_FOR_GPU: CUresult = 209;
    pub const INVALID_CONTEXT: CUresult = 201;
    pub const INVALID_PTX: CUresult = 218;
    pub const INVALID_HANDLE: CUresult = 400;
    pub const NOT_FOUND: CUresult = 500;
    pub const NOT_READY: CUresult = 600;
    pub const ILLEGAL_ADDRESS: CUresult = 700;
    pub const LAUNCH_OUT_OF_RESOURCES: CUresult = 701;
    pub const LAUNCH_TIMEOUT: CUresult = 702;
    pub const ILLEGAL_INSTRUCTION: CUresult = 715;
    pub const MISALIGNED_ADDRESS: CUresult = 716;
    pub const LAUNCH_FAILED: CUresult = 719;
    pub const NOT_SUPPORTED: CUresult = 801;
    pub const UNKNOWN: CUresult = 999;
}

/// (code, name, the real driver's description) for cuGetErrorName / cuGetErrorString.
const ERRORS: &[(CUresult, &CStr, &CStr)] = &[
    (0, c"CUDA_SUCCESS", c"no error"),
    (1, c"CUDA_ERROR_INVALID_VALUE", c"invalid argument"),
    (2, c"CUDA_ERROR_OUT_OF_MEMORY", c"out of memory"),
    (3, c"CUDA_ERROR_NOT_INITIALIZED", c"initialization error"),
    (4, c"CUDA_ERROR_DEINITIALIZED", c"driver shutting down"),
    (100, c"CUDA_ERROR_NO_DEVICE", c"no CUDA-capable device is detected"),
    (101, c"CUDA_ERROR_INVALID_DEVICE", c"invalid device ordinal"),
    (200, c"CUDA_ERROR_INVALID_IMAGE", c"device kernel image is invalid"),
    (201, c"CUDA_ERROR_INVALID_CONTEXT", c"invalid device context"),
    (209, c"CUDA_ERROR_NO_BINARY_FOR_GPU", c"no kernel image is available for execution on the device"),
    (218, c"CUDA_ERROR_INVALID_PTX", c"a PTX JIT compilation failed"),
    (222, c"CUDA_ERROR_UNSUPPORTED_PTX_VERSION", c"the provided PTX was compiled with an unsupported toolchain."),
    (400, c"CUDA_ERROR_INVALID_HANDLE", c"invalid resource handle"),
    (500, c"CUDA_ERROR_NOT_FOUND", c"named symbol not found"),
    (600, c"CUDA_ERROR_NOT_READY", c"device not ready"),
    (700, c"CUDA_ERROR_ILLEGAL_ADDRESS", c"an illegal memory access was encountered"),
    (701, c"CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", c"too many resources requested for launch"),
    (702, c"CUDA_ERROR_LAUNCH_TIMEOUT", c"the launch timed out and was terminated"),
    (715, c"CUDA_ERROR_ILLEGAL_INSTRUCTION", c"an illegal instruction was encountered"),
    (716, c"CUDA_ERROR_MISALIGNED_ADDRESS", c"misaligned address"),
    (719, c"CUDA_ERROR_LAUNCH_FAILED", c"unspecified launch failure"),
    (801, c"CUDA_ERROR_NOT_SUPPORTED", c"operation not supported"),
    (999, c"CUDA_ERROR_UNKNOWN", c"unknown error"),
];

fn error_name(result: CUresult) -> String {
    ERRORS.iter().find(|e| e.0 == result).map_or_else(|| format!("CUresult {result}"), |e| e.1.to_string_lossy().into_owned())
}

/// A failed call: its code (the message was printed when it was made).
type Failure = CUresult;
type Outcome = Result<(), Failure>;

/// Prints why a call fails and returns its code.
fn fail(result: CUresult, why: impl std::fmt::Display) -> Failure {
    eprintln!("cuda-cpu: {}: {why}", error_name(result));
    result
}

/// Runs one API call: panics become CUDA_ERROR_UNKNOWN, and with CUDA_CPU_TRACE=1 the call, its
/// arguments and its result are logged.
fn call(name: &str, arguments: impl FnOnce() -> String, body: impl FnOnce() -> Outcome) -> CUresult {
    let traced = context::trace_enabled().then(arguments);
    let result = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => code::SUCCESS,
        Ok(Err(result)) => result,
        Err(panic) => {
            let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            fail(code::UNKNOWN, format!("internal error of the CPU driver in {name}: {}", what.unwrap_or_else(|| "(panic)".into())))
        }
    };
    if let Some(arguments) = traced {
        eprintln!("cuda-cpu trace: {name}({arguments}) -> {}", error_name(result));
    }
    result
}

/// The driver after cuInit, else CUDA_ERROR_NOT_INITIALIZED.
fn initialised() -> Result<&'static Driver, Failure> {
    context::driver().ok_or(code::NOT_INITIALIZED)
}

/// The driver for a call that works on the context: initialised, a context current on this
/// thread, and not poisoned by an earlier kernel fault (then that fault's code, as the real
/// driver's sticky errors).
fn usable() -> Result<&'static Driver, Failure> {
    let driver = initialised()?;
    if context::current_context() == 0 {
        return Err(fail(code::INVALID_CONTEXT, "no context is current on this thread (cuCtxSetCurrent first)"));
    }
    if let Some(sticky) = driver.sticky_error() {
        return Err(sticky.code);
    }
    Ok(driver)
}

fn device_ok(device: CUdevice) -> Outcome {
    if device == 0 {
        Ok(())
    } else {
        Err(fail(code::INVALID_DEVICE, format!("device {device} does not exist (the CPU driver has one device, 0)")))
    }
}

fn stream_ok(driver: &Driver, stream: Handle) -> Outcome {
    if driver.is_stream(stream as usize) {
        Ok(())
    } else {
        Err(fail(code::INVALID_HANDLE, format!("{stream:?} is not a stream")))
    }
}

/// Writes `value` through an out-pointer, failing on null.
unsafe fn put<T>(out: *mut T, value: T) -> Outcome {
    if out.is_null() {
        return Err(code::INVALID_VALUE);
    }
    out.write(value);
    Ok(())
}

fn memory_failure(operation: &str, error: MemError) -> Failure {
    match error {
        // Not printed: the program may well handle it (the product's allocator frees its cache and
        // retries), and the real driver prints nothing either.
        MemError::OutOfMemory { .. } => code::OUT_OF_MEMORY,
        other => fail(code::INVALID_VALUE, format!("{operation}: {other}")),
    }
}

// ---- initialisation, version, device ----

#[no_mangle]
pub extern "C" fn cuInit(flags: c_uint) -> CUresult {
    call("cuInit", || format!("{flags}"), || {
        if flags != 0 {
            return Err(fail(code::INVALID_VALUE, "cuInit flags must be 0"));
        }
        context::init();
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDriverGetVersion(version: *mut c_int) -> CUresult {
    call("cuDriverGetVersion", String::new, || put(version, context::DRIVER_VERSION))
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetCount(count: *mut c_int) -> CUresult {
    call("cuDeviceGetCount", String::new, || {
        initialised()?;
        put(count, 1)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceGet(device: *mut CUdevice, ordinal: c_int) -> CUresult {
    call("cuDeviceGet", || format!("{ordinal}"), || {
        initialised()?;
        device_ok(ordinal)?;
        put(device, 0)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetName(name: *mut c_char, length: c_int, device: CUdevice) -> CUresult {
    call("cuDeviceGetName", || format!("{length}, {device}"), || {
        initialised()?;
        device_ok(device)?;
        if name.is_null() || length <= 0 {
            return Err(code::INVALID_VALUE);
        }
        // Truncated to the buffer, always NUL-terminated, as the real driver does.
        let bytes = context::DEVICE_NAME.as_bytes();
        let n = bytes.len().min(length as usize - 1);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), name as *mut u8, n);
        *name.add(n) = 0;
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetAttribute(value: *mut c_int, attribute: c_int, device: CUdevice) -> CUresult {
    call("cuDeviceGetAttribute", || format!("{attribute}, {device}"), || {
        initialised()?;
        device_ok(device)?;
        match context::device_attribute(attribute) {
            Some(v) => put(value, v),
            None => Err(fail(code::INVALID_VALUE, format!("device attribute {attribute} is not known to the CPU driver"))),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceTotalMem_v2(bytes: *mut usize, device: CUdevice) -> CUresult {
    call("cuDeviceTotalMem_v2", || format!("{device}"), || {
        let driver = initialised()?;
        device_ok(device)?;
        put(bytes, driver.memory.total_bytes() as usize)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetUuid(uuid: *mut [u8; 16], device: CUdevice) -> CUresult {
    call("cuDeviceGetUuid", || format!("{device}"), || {
        initialised()?;
        device_ok(device)?;
        put(uuid, context::DEVICE_UUID)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetUuid_v2(uuid: *mut [u8; 16], device: CUdevice) -> CUresult {
    cuDeviceGetUuid(uuid, device)
}

#[no_mangle]
pub unsafe extern "C" fn cuDeviceComputeCapability(major: *mut c_int, minor: *mut c_int, device: CUdevice) -> CUresult {
    call("cuDeviceComputeCapability", || format!("{device}"), || {
        initialised()?;
        device_ok(device)?;
        put(major, limits::COMPUTE_CAPABILITY.0)?;
        put(minor, limits::COMPUTE_CAPABILITY.1)
    })
}

// ---- the primary context and the current context ----

#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxRetain(context: *mut Handle, device: CUdevice) -> CUresult {
    call("cuDevicePrimaryCtxRetain", || format!("{device}"), || {
        let driver = initialised()?;
        device_ok(device)?;
        if context.is_null() {
            return Err(code::INVALID_VALUE);
        }
        put(context, driver.retain_primary() as Handle)
    })
}

#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxRelease_v2(device: CUdevice) -> CUresult {
    call("cuDevicePrimaryCtxRelease_v2", || format!("{device}"), || {
        let driver = initialised()?;
        device_ok(device)?;
        // The device's memory and modules outlive the last release: the process is the only user,
        // and the real driver's reset is the program's own business.
        if driver.release_primary() {
            Ok(())
        } else {
            Err(fail(code::INVALID_CONTEXT, "cuDevicePrimaryCtxRelease without a matching retain"))
        }
    })
}

#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxRelease(device: CUdevice) -> CUresult {
    cuDevicePrimaryCtxRelease_v2(device)
}

#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxSetFlags_v2(device: CUdevice, flags: c_uint) -> CUresult {
    call("cuDevicePrimaryCtxSetFlags_v2", || format!("{device}, {flags:#x}"), || {
        let driver = initialised()?;
        device_ok(device)?;
        driver.set_primary_flags(flags);
        Ok(())
    })
}

#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxSetFlags(device: CUdevice, flags: c_uint) -> CUresult {
    cuDevicePrimaryCtxSetFlags_v2(device, flags)
}

#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxGetState(device: CUdevice, flags: *mut c_uint, active: *mut c_int) -> CUresult {
    call("cuDevicePrimaryCtxGetState", || format!("{device}"), || {
        let driver = initialised()?;
        device_ok(device)?;
        let (current_flags, is_active) = driver.primary_state();
        put(flags, current_flags)?;
        put(active, is_active as c_int)
    })
}

fn context_ok(context: Handle) -> Outcome {
    if context as usize == context::PRIMARY_CONTEXT {
        Ok(())
    } else {
        Err(fail(code::INVALID_CONTEXT, format!("{context:?} is not a context (the CPU driver has only the primary context)")))
    }
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetCurrent(context: *mut Handle) -> CUresult {
    call("cuCtxGetCurrent", String::new, || {
        initialised()?;
        put(context, context::current_context() as Handle)
    })
}

#[no_mangle]
pub extern "C" fn cuCtxSetCurrent(context: Handle) -> CUresult {
    call("cuCtxSetCurrent", || format!("{context:?}"), || {
        initialised()?;
        if !context.is_null() {
            context_ok(context)?;
        }
        context::set_current_context(context as usize);
        Ok(())
    })
}

#[no_mangle]
pub extern "C" fn cuCtxPushCurrent_v2(context: Handle) -> CUresult {
    call("cuCtxPushCurrent_v2", || format!("{context:?}"), || {
        initialised()?;
        context_ok(context)?;
        context::push_context(context as usize);
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxPopCurrent_v2(context: *mut Handle) -> CUresult {
    call("cuCtxPopCurrent_v2", String::new, || {
        initialised()?;
        match context::pop_context() {
            Some(popped) if context.is_null() => {
                let _ = popped;
                Ok(())
            }
            Some(popped) => put(context, popped as Handle),
            None => Err(fail(code::INVALID_CONTEXT, "cuCtxPopCurrent with no current context")),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetDevice(device: *mut CUdevice) -> CUresult {
    call("cuCtxGetDevice", String::new, || {
        initialised()?;
        if context::current_context() == 0 {
            return Err(fail(code::INVALID_CONTEXT, "cuCtxGetDevice with no current context"));
        }
        put(device, 0)
    })
}

#[no_mangle]
pub extern "C" fn cuCtxSynchronize() -> CUresult {
    call("cuCtxSynchronize", String::new, || usable().map(|_| ()))
}

#[no_mangle]
pub extern "C" fn cuCtxSetFlags(flags: c_uint) -> CUresult {
    call("cuCtxSetFlags", || format!("{flags:#x}"), || {
        let driver = usable()?;
        driver.set_primary_flags(flags);
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetFlags(flags: *mut c_uint) -> CUresult {
    call("cuCtxGetFlags", String::new, || {
        let driver = usable()?;
        put(flags, driver.primary_state().0)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetApiVersion(context: Handle, version: *mut c_uint) -> CUresult {
    call("cuCtxGetApiVersion", || format!("{context:?}"), || {
        initialised()?;
        context_ok(context)?;
        put(version, 3020)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetStreamPriorityRange(least: *mut c_int, greatest: *mut c_int) -> CUresult {
    call("cuCtxGetStreamPriorityRange", String::new, || {
        usable()?;
        // Either pointer may be null.
        if !least.is_null() {
            *least = 0;
        }
        if !greatest.is_null() {
            *greatest = -5;
        }
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetCacheConfig(config: *mut c_int) -> CUresult {
    call("cuCtxGetCacheConfig", String::new, || {
        usable()?;
        put(config, 0)
    })
}

#[no_mangle]
pub extern "C" fn cuCtxSetCacheConfig(config: c_int) -> CUresult {
    call("cuCtxSetCacheConfig", || format!("{config}"), || usable().map(|_| ()))
}

/// CUlimit values: 0 stack size, 1 printf FIFO, 2 malloc heap (others: not tracked).
const LIMITS: [usize; 3] = [1024, 1 << 20, 8 << 20];

#[no_mangle]
pub unsafe extern "C" fn cuCtxGetLimit(value: *mut usize, limit: c_int) -> CUresult {
    call("cuCtxGetLimit", || format!("{limit}"), || {
        usable()?;
        match LIMITS.get(limit as usize) {
            Some(&v) => put(value, v),
            None => Err(fail(code::NOT_SUPPORTED, format!("context limit {limit} is not provided by the CPU driver"))),
        }
    })
}

#[no_mangle]
pub extern "C" fn cuCtxSetLimit(limit: c_int, value: usize) -> CUresult {
    call("cuCtxSetLimit", || format!("{limit}, {value}"), || {
        usable()?;
        Err(fail(code::NOT_SUPPORTED, format!("cuCtxSetLimit({limit}, {value}) is not provided by the CPU driver")))
    })
}

// ---- streams and events: work runs at the call, so both are always complete ----

#[no_mangle]
pub unsafe extern "C" fn cuStreamCreate(stream: *mut Handle, flags: c_uint) -> CUresult {
    call("cuStreamCreate", || format!("{flags:#x}"), || {
        let driver = usable()?;
        if stream.is_null() {
            return Err(code::INVALID_VALUE);
        }
        put(stream, driver.create_stream() as Handle)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuStreamCreateWithPriority(stream: *mut Handle, flags: c_uint, priority: c_int) -> CUresult {
    let _ = priority;
    cuStreamCreate(stream, flags)
}

#[no_mangle]
pub extern "C" fn cuStreamDestroy_v2(stream: Handle) -> CUresult {
    call("cuStreamDestroy_v2", || format!("{stream:?}"), || {
        let driver = initialised()?;
        if driver.destroy_stream(stream as usize) {
            Ok(())
        } else {
            Err(fail(code::INVALID_HANDLE, format!("cuStreamDestroy of {stream:?}, which is not a created stream")))
        }
    })
}

#[no_mangle]
pub extern "C" fn cuStreamSynchronize(stream: Handle) -> CUresult {
    call("cuStreamSynchronize", || format!("{stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)
    })
}

#[no_mangle]
pub extern "C" fn cuStreamQuery(stream: Handle) -> CUresult {
    call("cuStreamQuery", || format!("{stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)
    })
}

#[no_mangle]
pub extern "C" fn cuStreamWaitEvent(stream: Handle, event: Handle, flags: c_uint) -> CUresult {
    call("cuStreamWaitEvent", || format!("{stream:?}, {event:?}, {flags:#x}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        driver.event(event as usize).map(|_| ()).ok_or_else(|| fail(code::INVALID_HANDLE, format!("{event:?} is not an event")))
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuStreamIsCapturing(stream: Handle, status: *mut c_int) -> CUresult {
    call("cuStreamIsCapturing", || format!("{stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        put(status, 0) // CU_STREAM_CAPTURE_STATUS_NONE: graphs are not provided
    })
}

/// A host function queued on a stream runs at once: everything before it has finished.
#[no_mangle]
pub unsafe extern "C" fn cuLaunchHostFunc(stream: Handle, function: Option<unsafe extern "C" fn(*mut c_void)>, data: *mut c_void) -> CUresult {
    call("cuLaunchHostFunc", || format!("{stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        let function = function.ok_or(code::INVALID_VALUE)?;
        function(data);
        Ok(())
    })
}

/// CU_EVENT_DISABLE_TIMING.
const EVENT_DISABLE_TIMING: c_uint = 2;

#[no_mangle]
pub unsafe extern "C" fn cuEventCreate(event: *mut Handle, flags: c_uint) -> CUresult {
    call("cuEventCreate", || format!("{flags:#x}"), || {
        let driver = usable()?;
        if event.is_null() {
            return Err(code::INVALID_VALUE);
        }
        put(event, driver.create_event(flags & EVENT_DISABLE_TIMING == 0) as Handle)
    })
}

#[no_mangle]
pub extern "C" fn cuEventDestroy_v2(event: Handle) -> CUresult {
    call("cuEventDestroy_v2", || format!("{event:?}"), || {
        let driver = initialised()?;
        if driver.destroy_event(event as usize) {
            Ok(())
        } else {
            Err(fail(code::INVALID_HANDLE, format!("cuEventDestroy of {event:?}, which is not an event")))
        }
    })
}

#[no_mangle]
pub extern "C" fn cuEventRecord(event: Handle, stream: Handle) -> CUresult {
    call("cuEventRecord", || format!("{event:?}, {stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        if driver.record_event(event as usize) {
            Ok(())
        } else {
            Err(fail(code::INVALID_HANDLE, format!("cuEventRecord of {event:?}, which is not an event")))
        }
    })
}

#[no_mangle]
pub extern "C" fn cuEventRecordWithFlags(event: Handle, stream: Handle, flags: c_uint) -> CUresult {
    let _ = flags;
    cuEventRecord(event, stream)
}

fn event_exists(driver: &Driver, event: Handle) -> Outcome {
    driver.event(event as usize).map(|_| ()).ok_or_else(|| fail(code::INVALID_HANDLE, format!("{event:?} is not an event")))
}

#[no_mangle]
pub extern "C" fn cuEventSynchronize(event: Handle) -> CUresult {
    call("cuEventSynchronize", || format!("{event:?}"), || event_exists(usable()?, event))
}

#[no_mangle]
pub extern "C" fn cuEventQuery(event: Handle) -> CUresult {
    call("cuEventQuery", || format!("{event:?}"), || event_exists(usable()?, event))
}

/// Milliseconds of host time between two recorded events (the time the CPU took, not a GPU's).
#[no_mangle]
pub unsafe extern "C" fn cuEventElapsedTime(milliseconds: *mut f32, start: Handle, end: Handle) -> CUresult {
    call("cuEventElapsedTime", || format!("{start:?}, {end:?}"), || {
        let driver = usable()?;
        let recorded = |event: Handle| match driver.event(event as usize) {
            None => Err(fail(code::INVALID_HANDLE, format!("{event:?} is not an event"))),
            Some((false, _)) => Err(fail(code::INVALID_HANDLE, format!("event {event:?} was created with CU_EVENT_DISABLE_TIMING"))),
            Some((true, None)) => Err(fail(code::INVALID_HANDLE, format!("event {event:?} was never recorded"))),
            Some((true, Some(at))) => Ok(at),
        };
        let (from, to) = (recorded(start)?, recorded(end)?);
        let ms = if to >= from { (to - from).as_secs_f64() * 1e3 } else { -((from - to).as_secs_f64() * 1e3) };
        put(milliseconds, ms as f32)
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuEventElapsedTime_v2(milliseconds: *mut f32, start: Handle, end: Handle) -> CUresult {
    cuEventElapsedTime(milliseconds, start, end)
}

// ---- memory ----

unsafe fn allocate(name: &str, pointer: *mut CUdeviceptr, bytes: usize, zero_is_null: bool) -> CUresult {
    call(name, || format!("{bytes}"), || {
        let driver = usable()?;
        if pointer.is_null() {
            return Err(code::INVALID_VALUE);
        }
        if bytes == 0 {
            // cuMemAlloc refuses 0 bytes; the stream-ordered allocator hands out a null pointer.
            return if zero_is_null { put(pointer, 0) } else { Err(fail(code::INVALID_VALUE, format!("{name} of 0 bytes"))) };
        }
        let address = driver.memory.alloc(bytes as u64).map_err(|e| memory_failure(name, e))?;
        put(pointer, address)
    })
}

fn release(name: &str, pointer: CUdeviceptr) -> CUresult {
    call(name, || format!("{pointer:#x}"), || {
        // Freeing needs no current context here (cudarc frees from destructors on any thread);
        // a poisoned context still refuses it, as the real driver does.
        let driver = initialised()?;
        if let Some(sticky) = driver.sticky_error() {
            return Err(sticky.code);
        }
        if pointer == 0 {
            return Ok(());
        }
        driver.memory.free(pointer).map_err(|e| memory_failure(name, e))
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuMemAlloc_v2(pointer: *mut CUdeviceptr, bytes: usize) -> CUresult {
    allocate("cuMemAlloc_v2", pointer, bytes, false)
}

#[no_mangle]
pub unsafe extern "C" fn cuMemAllocAsync(pointer: *mut CUdeviceptr, bytes: usize, stream: Handle) -> CUresult {
    if let Some(driver) = context::driver() {
        if !driver.is_stream(stream as usize) {
            return fail(code::INVALID_HANDLE, format!("cuMemAllocAsync on {stream:?}, which is not a stream"));
        }
    }
    allocate("cuMemAllocAsync", pointer, bytes, true)
}

#[no_mangle]
pub extern "C" fn cuMemFree_v2(pointer: CUdeviceptr) -> CUresult {
    release("cuMemFree_v2", pointer)
}

#[no_mangle]
pub extern "C" fn cuMemFreeAsync(pointer: CUdeviceptr, stream: Handle) -> CUresult {
    let _ = stream;
    release("cuMemFreeAsync", pointer)
}

#[no_mangle]
pub unsafe extern "C" fn cuMemGetInfo_v2(free: *mut usize, total: *mut usize) -> CUresult {
    call("cuMemGetInfo_v2", String::new, || {
        let driver = usable()?;
        let total_bytes = driver.memory.total_bytes();
        put(free, (total_bytes - driver.memory.used_bytes()) as usize)?;
        put(total, total_bytes as usize)
    })
}

unsafe fn copy_host_to_device(name: &str, device: CUdeviceptr, host: *const c_void, bytes: usize, stream: Handle) -> CUresult {
    call(name, || format!("{device:#x}, {host:?}, {bytes}, {stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        if bytes == 0 {
            return Ok(());
        }
        if host.is_null() {
            return Err(fail(code::INVALID_VALUE, format!("{name}: null host pointer")));
        }
        let source = std::slice::from_raw_parts(host as *const u8, bytes);
        driver.memory.write_from_host(device, source).map_err(|e| memory_failure(name, e))
    })
}

unsafe fn copy_device_to_host(name: &str, host: *mut c_void, device: CUdeviceptr, bytes: usize, stream: Handle) -> CUresult {
    call(name, || format!("{host:?}, {device:#x}, {bytes}, {stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        if bytes == 0 {
            return Ok(());
        }
        if host.is_null() {
            return Err(fail(code::INVALID_VALUE, format!("{name}: null host pointer")));
        }
        let destination = std::slice::from_raw_parts_mut(host as *mut u8, bytes);
        driver.memory.read_to_host(device, destination).map_err(|e| memory_failure(name, e))
    })
}

fn copy_device_to_device(name: &str, to: CUdeviceptr, from: CUdeviceptr, bytes: usize, stream: Handle) -> CUresult {
    call(name, || format!("{to:#x}, {from:#x}, {bytes}, {stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        driver.memory.copy(to, from, bytes as u64).map_err(|e| memory_failure(name, e))
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuMemcpyHtoD_v2(device: CUdeviceptr, host: *const c_void, bytes: usize) -> CUresult {
    copy_host_to_device("cuMemcpyHtoD_v2", device, host, bytes, std::ptr::null_mut())
}

#[no_mangle]
pub unsafe extern "C" fn cuMemcpyHtoDAsync_v2(device: CUdeviceptr, host: *const c_void, bytes: usize, stream: Handle) -> CUresult {
    copy_host_to_device("cuMemcpyHtoDAsync_v2", device, host, bytes, stream)
}

#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoH_v2(host: *mut c_void, device: CUdeviceptr, bytes: usize) -> CUresult {
    copy_device_to_host("cuMemcpyDtoH_v2", host, device, bytes, std::ptr::null_mut())
}

#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoHAsync_v2(host: *mut c_void, device: CUdeviceptr, bytes: usize, stream: Handle) -> CUresult {
    copy_device_to_host("cuMemcpyDtoHAsync_v2", host, device, bytes, stream)
}

#[no_mangle]
pub extern "C" fn cuMemcpyDtoD_v2(to: CUdeviceptr, from: CUdeviceptr, bytes: usize) -> CUresult {
    copy_device_to_device("cuMemcpyDtoD_v2", to, from, bytes, std::ptr::null_mut())
}

#[no_mangle]
pub extern "C" fn cuMemcpyDtoDAsync_v2(to: CUdeviceptr, from: CUdeviceptr, bytes: usize, stream: Handle) -> CUresult {
    copy_device_to_device("cuMemcpyDtoDAsync_v2", to, from, bytes, stream)
}

fn memset(name: &str, device: CUdeviceptr, pattern: &[u8], count: usize, stream: Handle) -> CUresult {
    call(name, || format!("{device:#x}, {pattern:?}, {count}, {stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        if device % pattern.len() as u64 != 0 {
            return Err(fail(code::INVALID_VALUE, format!("{name}: {device:#x} is not aligned to {} bytes", pattern.len())));
        }
        driver.memory.memset(device, pattern, count as u64).map_err(|e| memory_failure(name, e))
    })
}

#[no_mangle]
pub extern "C" fn cuMemsetD8_v2(device: CUdeviceptr, value: u8, count: usize) -> CUresult {
    memset("cuMemsetD8_v2", device, &[value], count, std::ptr::null_mut())
}

#[no_mangle]
pub extern "C" fn cuMemsetD8Async(device: CUdeviceptr, value: u8, count: usize, stream: Handle) -> CUresult {
    memset("cuMemsetD8Async", device, &[value], count, stream)
}

#[no_mangle]
pub extern "C" fn cuMemsetD16_v2(device: CUdeviceptr, value: u16, count: usize) -> CUresult {
    memset("cuMemsetD16_v2", device, &value.to_le_bytes(), count, std::ptr::null_mut())
}

#[no_mangle]
pub extern "C" fn cuMemsetD16Async(device: CUdeviceptr, value: u16, count: usize, stream: Handle) -> CUresult {
    memset("cuMemsetD16Async", device, &value.to_le_bytes(), count, stream)
}

#[no_mangle]
pub extern "C" fn cuMemsetD32_v2(device: CUdeviceptr, value: u32, count: usize) -> CUresult {
    memset("cuMemsetD32_v2", device, &value.to_le_bytes(), count, std::ptr::null_mut())
}

#[no_mangle]
pub extern "C" fn cuMemsetD32Async(device: CUdeviceptr, value: u32, count: usize, stream: Handle) -> CUresult {
    memset("cuMemsetD32Async", device, &value.to_le_bytes(), count, stream)
}

// ---- modules and functions ----

/// ELF magic: a cubin, which a CPU has no use for (the product loads PTX on compute capability 8.0).
const ELF_MAGIC: &[u8] = b"\x7fELF";

#[no_mangle]
pub unsafe extern "C" fn cuModuleLoadData(module: *mut Handle, image: *const c_void) -> CUresult {
    call("cuModuleLoadData", || format!("{image:?}"), || {
        let driver = usable()?;
        if module.is_null() || image.is_null() {
            return Err(code::INVALID_VALUE);
        }
        // The image's length is not passed: PTX text ends at its NUL (a cubin would say its size
        // in its ELF header, but cubins are refused before that matters).
        let head = std::slice::from_raw_parts(image as *const u8, 4);
        if head == ELF_MAGIC {
            return Err(fail(code::NO_BINARY_FOR_GPU, "cuModuleLoadData: the image is a cubin; the CPU driver runs PTX only"));
        }
        let text = CStr::from_ptr(image as *const c_char).to_bytes_with_nul();
        let replacement = replacement_for(text);
        let text = replacement.as_deref().unwrap_or(text);
        let loaded = Module::load(text).map_err(|e| fail(code::INVALID_PTX, format!("cuModuleLoadData: {e}")))?;
        put(module, driver.add_module(loaded) as Handle)
    })
}

/// The kernel names a PTX text declares (`.entry NAME(`), which identify a module.
fn entry_names(ptx: &[u8]) -> std::collections::BTreeSet<String> {
    String::from_utf8_lossy(ptx)
        .lines()
        .filter_map(|line| line.split_once(".entry ").map(|(_, rest)| rest))
        .map(|rest| rest.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or("").to_string())
        .collect()
}

/// CUDA_CPU_PTX_REPLACE=FILE[:FILE...], for mutation testing (scripts/cpu-driver/mutate.sh): a
/// module that declares exactly the kernels a FILE declares is loaded from that FILE instead (another
/// build of the same .cu file), so a changed kernel is tested without rebuilding the program.
fn replacement_for(image: &[u8]) -> Option<Vec<u8>> {
    type Replacement = (std::path::PathBuf, Vec<u8>, std::collections::BTreeSet<String>);
    static REPLACEMENTS: std::sync::OnceLock<Vec<Replacement>> = std::sync::OnceLock::new();
    let replacements = REPLACEMENTS.get_or_init(|| {
        let Some(paths) = std::env::var_os("CUDA_CPU_PTX_REPLACE") else { return Vec::new() };
        std::env::split_paths(&paths)
            .filter_map(|path| match std::fs::read(&path) {
                Ok(text) => {
                    let names = entry_names(&text);
                    Some((path, text, names))
                }
                Err(e) => {
                    eprintln!("cuda-cpu: CUDA_CPU_PTX_REPLACE: {}: {e}", path.display());
                    None
                }
            })
            .collect()
    });
    if replacements.is_empty() {
        return None;
    }
    let names = entry_names(image);
    let (path, text, _) = replacements.iter().find(|(_, _, replacement_names)| *replacement_names == names)?;
    eprintln!("cuda-cpu: loading the module from {} (CUDA_CPU_PTX_REPLACE) instead of the program's PTX", path.display());
    Some(text.clone())
}

#[no_mangle]
pub unsafe extern "C" fn cuModuleLoadDataEx(module: *mut Handle, image: *const c_void, options: c_uint, option_keys: *mut c_int, option_values: *mut *mut c_void) -> CUresult {
    let _ = (options, option_keys, option_values); // JIT options have no meaning for an interpreter
    cuModuleLoadData(module, image)
}

#[no_mangle]
pub extern "C" fn cuModuleUnload(module: Handle) -> CUresult {
    call("cuModuleUnload", || format!("{module:?}"), || {
        let driver = initialised()?;
        if driver.unload_module(module as usize) {
            Ok(())
        } else {
            Err(fail(code::INVALID_HANDLE, format!("cuModuleUnload of {module:?}, which is not a loaded module")))
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuModuleGetFunction(function: *mut Handle, module: Handle, name: *const c_char) -> CUresult {
    let kernel_name = if name.is_null() { String::new() } else { CStr::from_ptr(name).to_string_lossy().into_owned() };
    call("cuModuleGetFunction", || format!("{module:?}, {kernel_name}"), || {
        let driver = usable()?;
        if function.is_null() || name.is_null() {
            return Err(code::INVALID_VALUE);
        }
        let loaded = driver.module(module as usize).ok_or_else(|| fail(code::INVALID_HANDLE, format!("{module:?} is not a loaded module")))?;
        let kernel = loaded.kernel(&kernel_name).ok_or_else(|| fail(code::NOT_FOUND, format!("the module has no kernel {kernel_name}")))?;
        put(function, driver.function_handle(module as usize, kernel) as Handle)
    })
}

/// CUfunction_attribute numbers.
mod function_attribute {
    pub const MAX_THREADS_PER_BLOCK: i32 = 0;
    pub const SHARED_SIZE_BYTES: i32 = 1;
    pub const CONST_SIZE_BYTES: i32 = 2;
    pub const LOCAL_SIZE_BYTES: i32 = 3;
    pub const NUM_REGS: i32 = 4;
    pub const PTX_VERSION: i32 = 5;
    pub const BINARY_VERSION: i32 = 6;
    pub const CACHE_MODE_CA: i32 = 7;
    pub const MAX_DYNAMIC_SHARED_SIZE_BYTES: i32 = 8;
    pub const PREFERRED_SHARED_MEMORY_CARVEOUT: i32 = 9;
}

fn function_of(driver: &Driver, function: Handle) -> Result<std::sync::Arc<context::Function>, Failure> {
    driver.function(function as usize).ok_or_else(|| fail(code::INVALID_HANDLE, format!("{function:?} is not a kernel function (or its module was unloaded)")))
}

#[no_mangle]
pub unsafe extern "C" fn cuFuncGetAttribute(value: *mut c_int, attribute: c_int, function: Handle) -> CUresult {
    call("cuFuncGetAttribute", || format!("{attribute}, {function:?}"), || {
        use function_attribute::*;
        let driver = usable()?;
        let f = function_of(driver, function)?;
        let kernel = &f.kernel;
        let v = match attribute {
            MAX_THREADS_PER_BLOCK => kernel.max_threads_per_block.min(limits::MAX_THREADS_PER_BLOCK) as c_int,
            SHARED_SIZE_BYTES => kernel.static_shared_bytes as c_int,
            CONST_SIZE_BYTES => 0,
            LOCAL_SIZE_BYTES => kernel.local_bytes_per_thread as c_int,
            NUM_REGS => kernel.registers_per_thread as c_int,
            PTX_VERSION | BINARY_VERSION => limits::COMPUTE_CAPABILITY.0 * 10 + limits::COMPUTE_CAPABILITY.1,
            CACHE_MODE_CA => 0,
            MAX_DYNAMIC_SHARED_SIZE_BYTES => f.max_dynamic_shared.load(Ordering::Relaxed) as c_int,
            PREFERRED_SHARED_MEMORY_CARVEOUT => f.carveout.load(Ordering::Relaxed),
            _ => return Err(fail(code::INVALID_VALUE, format!("function attribute {attribute} is not known to the CPU driver"))),
        };
        put(value, v)
    })
}

#[no_mangle]
pub extern "C" fn cuFuncSetAttribute(function: Handle, attribute: c_int, value: c_int) -> CUresult {
    call("cuFuncSetAttribute", || format!("{function:?}, {attribute}, {value}"), || {
        use function_attribute::*;
        let driver = usable()?;
        let f = function_of(driver, function)?;
        match attribute {
            MAX_DYNAMIC_SHARED_SIZE_BYTES => {
                // As on an A100: static plus dynamic shared memory may reach the opt-in maximum.
                let most = limits::SHARED_PER_BLOCK_OPTIN - f.kernel.static_shared_bytes.min(limits::SHARED_PER_BLOCK_OPTIN);
                if value < 0 || value as u32 > most {
                    return Err(fail(code::INVALID_VALUE, format!("{}: {value} bytes of dynamic shared memory asked, at most {most} possible ({} static, {} per block)", f.kernel.name, f.kernel.static_shared_bytes, limits::SHARED_PER_BLOCK_OPTIN)));
                }
                f.max_dynamic_shared.store(value as u32, Ordering::Relaxed);
                Ok(())
            }
            PREFERRED_SHARED_MEMORY_CARVEOUT => {
                if !(-1..=100).contains(&value) {
                    return Err(fail(code::INVALID_VALUE, format!("shared memory carveout {value} is not -1..=100")));
                }
                f.carveout.store(value, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(fail(code::INVALID_VALUE, format!("function attribute {attribute} cannot be set"))),
        }
    })
}

#[no_mangle]
pub extern "C" fn cuFuncSetCacheConfig(function: Handle, config: c_int) -> CUresult {
    call("cuFuncSetCacheConfig", || format!("{function:?}, {config}"), || function_of(usable()?, function).map(|_| ()))
}

// ---- launch ----

/// The code a kernel fault returns, and whether it poisons the context (as the real driver's
/// faults do: after an illegal address every later call fails).
fn fault_code(kind: LaunchErrorKind) -> (CUresult, bool) {
    use LaunchErrorKind::*;
    match kind {
        IllegalAddress => (code::ILLEGAL_ADDRESS, true),
        MisalignedAddress => (code::MISALIGNED_ADDRESS, true),
        IllegalInstruction => (code::ILLEGAL_INSTRUCTION, true),
        // No hardware reports these; compute-sanitizer's verdict is a failed launch.
        SharedRace | GlobalRace | UninitialisedRead | MaskMismatch | UndefinedResult => (code::LAUNCH_FAILED, true),
        // A hung kernel: what a watchdog reports.
        Deadlock | BudgetExceeded => (code::LAUNCH_TIMEOUT, true),
        // Refused before it ran: nothing happened to the context.
        InvalidConfig => (code::INVALID_VALUE, false),
    }
}

/// The launch configuration checks of the real driver, with its codes.
fn check_geometry(kernel_name: &str, grid: [u32; 3], block: [u32; 3], max_threads: u32) -> Outcome {
    let axes = ["x", "y", "z"];
    for axis in 0..3 {
        if grid[axis] == 0 || grid[axis] > limits::MAX_GRID[axis] {
            return Err(fail(code::INVALID_VALUE, format!("launching {kernel_name}: grid {axis_name} = {} is not in 1..={}", grid[axis], limits::MAX_GRID[axis], axis_name = axes[axis])));
        }
        if block[axis] == 0 || block[axis] > limits::MAX_BLOCK[axis] {
            return Err(fail(code::INVALID_VALUE, format!("launching {kernel_name}: block {axis_name} = {} is not in 1..={}", block[axis], limits::MAX_BLOCK[axis], axis_name = axes[axis])));
        }
    }
    let threads = block.iter().map(|&b| b as u64).product::<u64>();
    if threads > limits::MAX_THREADS_PER_BLOCK as u64 {
        return Err(fail(code::INVALID_VALUE, format!("launching {kernel_name}: {threads} threads per block, at most {}", limits::MAX_THREADS_PER_BLOCK)));
    }
    if threads > max_threads as u64 {
        return Err(fail(code::LAUNCH_OUT_OF_RESOURCES, format!("launching {kernel_name}: {threads} threads per block, its .maxntid allows {max_threads}")));
    }
    Ok(())
}

#[no_mangle]
pub unsafe extern "C" fn cuLaunchKernel(
    function: Handle,
    grid_x: c_uint,
    grid_y: c_uint,
    grid_z: c_uint,
    block_x: c_uint,
    block_y: c_uint,
    block_z: c_uint,
    shared_bytes: c_uint,
    stream: Handle,
    kernel_params: *mut *mut c_void,
    extra: *mut *mut c_void,
) -> CUresult {
    let grid = [grid_x, grid_y, grid_z];
    let block = [block_x, block_y, block_z];
    call("cuLaunchKernel", || format!("{function:?}, grid {grid:?}, block {block:?}, {shared_bytes} B shared, {stream:?}"), || {
        let driver = usable()?;
        stream_ok(driver, stream)?;
        let f = function_of(driver, function)?;
        let kernel = &f.kernel;
        if !extra.is_null() {
            return Err(fail(code::NOT_SUPPORTED, format!("launching {}: arguments through `extra` are not provided by the CPU driver (use kernelParams)", kernel.name)));
        }
        check_geometry(&kernel.name, grid, block, kernel.max_threads_per_block)?;
        let allowed = f.max_dynamic_shared.load(Ordering::Relaxed);
        if shared_bytes > allowed {
            return Err(fail(code::INVALID_VALUE, format!(
                "launching {}: {shared_bytes} bytes of dynamic shared memory, at most {allowed} (raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to opt in to more)",
                kernel.name
            )));
        }
        if !kernel.params.is_empty() && kernel_params.is_null() {
            return Err(fail(code::INVALID_VALUE, format!("launching {}: kernelParams is null, the kernel takes {} parameters", kernel.name, kernel.params.len())));
        }
        // kernelParams holds one pointer per .param; each points at that argument's bytes.
        let mut params: Vec<&[u8]> = Vec::with_capacity(kernel.params.len());
        for (i, info) in kernel.params.iter().enumerate() {
            let argument = *kernel_params.add(i);
            if argument.is_null() {
                return Err(fail(code::INVALID_VALUE, format!("launching {}: kernelParams[{i}] is null", kernel.name)));
            }
            params.push(std::slice::from_raw_parts(argument as *const u8, info.size));
        }
        let config = LaunchConfig { grid, block, dynamic_shared_bytes: shared_bytes };
        let options = launch_options();
        match exec::launch(kernel, &config, &params, &driver.memory, options) {
            Ok(report) => {
                if let Some(counters) = report.counters {
                    eprintln!("cuda-cpu counters: {} grid {grid:?} block {block:?} shared {shared_bytes} B: {counters}", kernel.name);
                }
                Ok(())
            }
            Err(error) => {
                let (result, sticky) = fault_code(error.kind);
                let poisons = sticky && driver.sticky_faults;
                if poisons {
                    driver.set_sticky_error(result, &error.message);
                }
                let after = if poisons { " (the context is now unusable, as after a fault on a GPU; CUDA_CPU_STICKY=0 keeps it usable)" } else { "" };
                Err(fail(result, format!("{:?} in {}: {}{after}", error.kind, kernel.name, error.message)))
            }
        }
    })
}

/// The environment's launch options, read once per process.
fn launch_options() -> &'static LaunchOptions {
    static OPTIONS: std::sync::OnceLock<LaunchOptions> = std::sync::OnceLock::new();
    OPTIONS.get_or_init(LaunchOptions::default)
}

// ---- errors ----

#[no_mangle]
pub unsafe extern "C" fn cuGetErrorString(error: CUresult, text: *mut *const c_char) -> CUresult {
    call("cuGetErrorString", || format!("{error}"), || match ERRORS.iter().find(|e| e.0 == error) {
        Some(e) => put(text, e.2.as_ptr()),
        None => {
            put(text, std::ptr::null())?;
            Err(code::INVALID_VALUE)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn cuGetErrorName(error: CUresult, text: *mut *const c_char) -> CUresult {
    call("cuGetErrorName", || format!("{error}"), || match ERRORS.iter().find(|e| e.0 == error) {
        Some(e) => put(text, e.1.as_ptr()),
        None => {
            put(text, std::ptr::null())?;
            Err(code::INVALID_VALUE)
        }
    })
}

// ---- what cudarc can reach but the CPU driver does not provide: exported, and loud ----

/// Says on stderr which function the program called, and returns CUDA_ERROR_NOT_SUPPORTED.
/// Declared without parameters: under the C calling convention the caller's arguments are
/// simply not read.
macro_rules! not_supported {
    ($($name:ident),* $(,)?) => {$(
        #[no_mangle]
        pub extern "C" fn $name() -> CUresult {
            call(stringify!($name), String::new, || Err(fail(code::NOT_SUPPORTED, concat!(stringify!($name), " is not provided by the CPU driver"))))
        }
    )*};
}

not_supported!(
    cuCtxCreate_v2, cuCtxCreate_v3, cuCtxCreate_v4, cuCtxDestroy_v2, cuDevicePrimaryCtxReset_v2,
    cuDeviceGetDefaultMemPool, cuDeviceGetMemPool, cuDeviceSetMemPool, cuMemPoolCreate, cuMemPoolDestroy,
    cuMemPoolGetAttribute, cuMemPoolSetAttribute, cuMemPoolTrimTo, cuMemAllocFromPoolAsync,
    cuMemAllocManaged, cuMemHostAlloc, cuMemAllocHost_v2, cuMemFreeHost, cuMemHostRegister_v2, cuMemHostUnregister,
    cuMemAdvise_v2, cuMemPrefetchAsync_v2, cuMemcpyPeerAsync, cuMemcpy, cuMemcpyAsync, cuStreamAttachMemAsync,
    cuModuleLoad, cuModuleGetGlobal_v2, cuLaunchCooperativeKernel, cuLaunchKernelEx,
    cuOccupancyAvailableDynamicSMemPerBlock, cuOccupancyMaxActiveBlocksPerMultiprocessor,
    cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, cuOccupancyMaxActiveClusters,
    cuOccupancyMaxPotentialBlockSize, cuOccupancyMaxPotentialBlockSizeWithFlags, cuOccupancyMaxPotentialClusterSize,
    cuStreamBeginCapture_v2, cuStreamEndCapture, cuGraphDestroy, cuGraphExecDestroy, cuGraphInstantiateWithFlags,
    cuGraphLaunch, cuGraphUpload, cuImportExternalMemory, cuDestroyExternalMemory, cuExternalMemoryGetMappedBuffer,
    cuProfilerStart, cuProfilerStop, cuPointerGetAttribute, cuGetProcAddress_v2,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_call_becomes_an_unknown_error_instead_of_unwinding_into_the_caller() {
        assert_eq!(call("cuTest", String::new, || panic!("boom")), code::UNKNOWN);
        assert_eq!(call("cuTest", String::new, || Err(code::NOT_FOUND)), code::NOT_FOUND);
    }

    #[test]
    fn modules_are_identified_by_the_kernels_they_declare() {
        let ptx = b".version 9.0\n.target sm_80\n.visible .entry add_f32(\n\t.param .u64 a\n)\n{\n}\n.visible .entry scale (\n";
        assert_eq!(entry_names(ptx), ["add_f32", "scale"].map(String::from).into_iter().collect());
    }

    #[test]
    fn every_code_the_driver_returns_has_a_name_and_a_string() {
        for result in [code::SUCCESS, code::INVALID_VALUE, code::OUT_OF_MEMORY, code::NOT_INITIALIZED, code::INVALID_DEVICE, code::NO_BINARY_FOR_GPU, code::INVALID_CONTEXT, code::INVALID_PTX, code::INVALID_HANDLE, code::NOT_FOUND, code::NOT_READY, code::ILLEGAL_ADDRESS, code::LAUNCH_OUT_OF_RESOURCES, code::LAUNCH_TIMEOUT, code::ILLEGAL_INSTRUCTION, code::MISALIGNED_ADDRESS, code::LAUNCH_FAILED, code::NOT_SUPPORTED, code::UNKNOWN] {
            assert!(ERRORS.iter().any(|e| e.0 == result), "{result}");
        }
    }
}
