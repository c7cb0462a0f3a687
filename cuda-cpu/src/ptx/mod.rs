//! PTX text → decoded kernels, parsed once per module.

/// A PTX module that failed to parse or uses something the interpreter does not know: the message
/// names the instruction, the kernel and the PTX line.
#[derive(Debug, Clone)]
pub struct PtxError {
    pub message: String,
}

/// One `.param` of a kernel entry, as `cuLaunchKernel` must pack it.
#[derive(Debug, Clone, Copy)]
pub struct ParamInfo {
    pub size: usize,
    pub align: usize,
}
