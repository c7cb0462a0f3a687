//! Device discovery and the per-GPU state: context, stream, allocator, lazily loaded kernel modules.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream};
use cudarc::nvrtc::Ptx;

use super::allocator::{CachingAllocator, DeviceBlock, MemoryStats};
use super::{KERNELS_COMPILED, KERNEL_MODULES, NO_KERNELS_REASON};
use crate::{Error, Result};

pub struct CudaDevice {
    ordinal: usize,
    name: String,
    compute_capability: (i32, i32),
    multiprocessors: u32,
    context: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    allocator: Arc<CachingAllocator>,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<String, CudaFunction>>,
}

/// How many CUDA devices this process can use, or why none. Never panics: a missing driver library
/// (which makes cudarc panic in CudaContext::new) is detected first.
pub fn probe() -> std::result::Result<usize, String> {
    if !KERNELS_COMPILED {
        return Err(NO_KERNELS_REASON.to_string());
    }
    // SAFETY: only tries to dlopen the driver library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("the NVIDIA driver library (libcuda.so) was not found".to_string());
    }
    match std::panic::catch_unwind(CudaContext::device_count) {
        Ok(Ok(0)) => Err("the driver reports no CUDA device".to_string()),
        Ok(Ok(count)) => Ok(count as usize),
        Ok(Err(e)) => Err(format!("the CUDA driver did not initialise: {e}")),
        Err(_) => Err("the CUDA driver library could not be loaded".to_string()),
    }
}

/// The device with this ordinal, created on first use and shared afterwards.
pub fn device(ordinal: usize) -> Result<Arc<CudaDevice>> {
    static DEVICES: OnceLock<Mutex<HashMap<usize, Arc<CudaDevice>>>> = OnceLock::new();
    let mut devices = DEVICES.get_or_init(Default::default).lock().unwrap();
    if let Some(device) = devices.get(&ordinal) {
        return Ok(Arc::clone(device));
    }
    let count = probe().map_err(Error::CudaUnavailable)?;
    if ordinal >= count {
        return Err(Error::CudaUnavailable(format!("cuda:{ordinal} requested but only {count} device(s) found")));
    }
    let device = Arc::new(CudaDevice::new(ordinal)?);
    devices.insert(ordinal, Arc::clone(&device));
    Ok(device)
}

impl CudaDevice {
    fn new(ordinal: usize) -> Result<Self> {
        let context = CudaContext::new(ordinal).map_err(|e| Error::cuda(format!("creating a context on cuda:{ordinal}"), e))?;
        // One stream orders all our work, so cudarc's per-buffer events would only cost time.
        // SAFETY: no CudaSlice exists yet on this context.
        unsafe { context.disable_event_tracking() };
        let stream = context.default_stream();
        let attribute = |a| context.attribute(a).map_err(|e| Error::cuda("reading device attributes", e));
        use cudarc::driver::sys::CUdevice_attribute as Attribute;
        let multiprocessors = attribute(Attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32;
        let compute_capability = context.compute_capability().map_err(|e| Error::cuda("reading the compute capability", e))?;
        let name = context.name().unwrap_or_else(|_| "unknown GPU".to_string());
        let allocator = CachingAllocator::new(Arc::clone(&stream));
        Ok(Self { ordinal, name, compute_capability, multiprocessors, context, stream, allocator, modules: Default::default(), functions: Default::default() })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Whether this is cuda-cpu, our CPU driver (it says so in its device name): it interprets the
    /// kernels on the CPU, thousands of times slower than a GPU and far slower than the CPU backend.
    pub fn is_cpu_driver(&self) -> bool {
        self.name.contains("CPU driver")
    }
    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }
    pub fn multiprocessors(&self) -> u32 {
        self.multiprocessors
    }
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }
    pub fn memory_stats(&self) -> MemoryStats {
        self.allocator.stats()
    }

    pub(crate) fn allocate(&self, bytes: usize) -> Result<DeviceBlock> {
        self.allocator.allocate(bytes)
    }

    /// A device copy of `bytes` (argument tables for multi-tensor kernels).
    pub(crate) fn upload(&self, bytes: &[u8]) -> Result<DeviceBlock> {
        let mut block = self.allocate(bytes.len())?;
        if !bytes.is_empty() {
            self.stream.memcpy_htod(bytes, block.slice_mut()).map_err(|e| Error::cuda("uploading a kernel argument table", e))?;
        }
        Ok(block)
    }

    /// Waits for all queued work; surfaces errors of kernels that failed asynchronously.
    pub fn synchronize(&self) -> Result<()> {
        self.stream.synchronize().map_err(|e| Error::cuda(format!("synchronizing cuda:{}", self.ordinal), e))
    }

    /// The kernel `function` of kernels/`module`.cu, loading the module on first use. On Hopper the
    /// module's sm_90a cubin is used when it has one, else its PTX is JIT-compiled by the driver.
    pub(crate) fn function(&self, module: &'static str, function: &str) -> Result<CudaFunction> {
        // cudarc binds the context for module loads and launches but not for a function lookup or
        // attribute (cuFuncSetAttribute): a thread whose first CUDA call is a kernel another thread
        // loaded would have no current context for them. Cheap when it is bound already.
        self.context.bind_to_thread().map_err(|e| Error::cuda(format!("binding cuda:{} to this thread", self.ordinal), e))?;
        let key = format!("{module}::{function}");
        if let Some(f) = self.functions.lock().unwrap().get(&key) {
            return Ok(f.clone());
        }
        let loaded = self.module(module)?;
        let f = loaded.load_function(function).map_err(|e| Error::cuda(format!("loading kernel {key}"), e))?;
        self.functions.lock().unwrap().insert(key, f.clone());
        Ok(f)
    }

    fn module(&self, name: &'static str) -> Result<Arc<CudaModule>> {
        let mut modules = self.modules.lock().unwrap();
        if let Some(m) = modules.get(name) {
            return Ok(Arc::clone(m));
        }
        let source = KERNEL_MODULES.iter().find(|m| m.name == name).ok_or_else(|| Error::cuda("loading kernels", format!("no compiled module {name}")))?;
        let load_ptx = || self.context.load_module(Ptx::from_src(source.ptx)).map_err(|e| Error::cuda(format!("loading module {name}"), e));
        let module = match source.sm90a_cubin {
            // A cubin the driver refuses (an older driver, a different sm_90 part) still has the
            // PTX, which the driver compiles for whatever GPU this is.
            Some(cubin) if self.compute_capability == (9, 0) => match self.context.load_module(Ptx::from_binary(cubin.to_vec())) {
                Ok(module) => module,
                Err(cubin_error) => {
                    eprintln!("memefuse: the sm_90a build of {name} did not load ({cubin_error}); using its PTX");
                    load_ptx()?
                }
            },
            _ => load_ptx()?,
        };
        modules.insert(name, Arc::clone(&module));
        Ok(module)
    }
}
