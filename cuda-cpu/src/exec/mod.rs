//! Kernel execution: CTAs over the cores, warps of 32 lanes, the instruction families, the
//! checkers and the counters.
