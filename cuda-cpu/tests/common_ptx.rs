//! Test helper: the PTX of one of memefuse's kernels/*.cu, compiled with the flags build.rs uses
//! (sm_80, -O3, -lineinfo) into the test target directory, once per source change.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

fn find_nvcc() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("NVCC") {
        candidates.push(p.into());
    }
    for root in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(r) = std::env::var_os(root) {
            candidates.push(Path::new(&r).join("bin/nvcc"));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("nvcc")));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/memefuse-cuda/lib/python3.11/site-packages/nvidia/cu13/bin/nvcc"));
    }
    candidates.into_iter().find(|p| p.is_file()).expect("these tests compile kernels/*.cu and need nvcc (see README: the pinned CUDA 13.0 toolchain)")
}

/// PTX text of kernels/<name>.cu.
pub fn kernel_ptx(name: &str) -> String {
    let kernels = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels");
    let source = kernels.join(format!("{name}.cu"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.ptx"));
    let newest_source = std::fs::read_dir(&kernels)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .max()
        .unwrap();
    let fresh = out.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= newest_source);
    if !fresh {
        let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
        let status = std::process::Command::new(find_nvcc())
            .args(["-ptx", "-arch=sm_80", "-O3", "-std=c++17", "-lineinfo"])
            .arg(format!("-I{}", kernels.display()))
            .arg("-o")
            .arg(&tmp)
            .arg(&source)
            .status()
            .expect("run nvcc");
        assert!(status.success(), "nvcc failed on {}", source.display());
        std::fs::rename(&tmp, &out).unwrap();
    }
    std::fs::read_to_string(out).unwrap()
}

pub const KERNEL_FILES: &[&str] = &["conv", "copy", "elementwise", "embedding", "gemm", "loss", "lstm", "matmul", "optim", "pool", "reduce", "softmax"];
