//! Every kernel of kernels/*.cu decodes, and none contains an instruction the engine does not
//! implement (an `Illegal` op would fail a launch only when reached; here we want none at all).

mod common_ptx;

use cuda_cpu::ptx::instr::Op;
use cuda_cpu::ptx::Module;

#[test]
fn every_kernel_decodes_without_illegal_instructions() {
    let mut problems = Vec::new();
    let mut kernels = 0;
    for file in common_ptx::KERNEL_FILES {
        let ptx = common_ptx::kernel_ptx(file);
        let module = Module::load(ptx.as_bytes()).unwrap_or_else(|e| panic!("{file}.ptx: {e}"));
        let names: Vec<String> = module.kernel_names().map(String::from).collect();
        assert!(!names.is_empty(), "{file}.ptx has no entries");
        for name in names {
            kernels += 1;
            let kernel = module.kernel(&name).unwrap();
            let body = kernel.body().unwrap_or_else(|e| panic!("{file}.ptx: {e}"));
            for instr in &body.instrs {
                if let Op::Illegal { text } = &instr.op {
                    problems.push(format!("{file}.ptx:{} in {name}: {text}", instr.line));
                }
            }
        }
    }
    assert!(kernels > 100, "only {kernels} kernels found");
    problems.truncate(40);
    assert!(problems.is_empty(), "instructions the engine does not decode:\n{}", problems.join("\n"));
}

#[test]
fn kernel_metadata_from_the_declarations() {
    let module = Module::load(common_ptx::kernel_ptx("reduce").as_bytes()).unwrap();
    let k = module.kernel("reduce_rows_partial_f32").unwrap();
    assert_eq!(k.params.len(), 6);
    assert_eq!(k.params[0].size, 4);
    assert_eq!(k.params[1].size, 8);
    assert_eq!(k.static_shared_bytes, 128);
    assert!(Module::load(b"not ptx").is_err());
    let gemm = Module::load(common_ptx::kernel_ptx("gemm").as_bytes()).unwrap();
    let g = gemm.kernel("gemm_f32").unwrap();
    assert_eq!(g.params.len(), 1);
    assert_eq!((g.params[0].size, g.params[0].align), (104, 8));
}

#[test]
fn registers_are_compacted_by_live_range() {
    let gemm = Module::load(common_ptx::kernel_ptx("gemm").as_bytes()).unwrap();
    for name in ["gemm_f32", "gemm_f16_arow_bcol_async"] {
        let body = gemm.kernel(name).unwrap().body().unwrap();
        // nvcc declares ~11,000 (gemm_f32) and ~4,500 virtual registers; far fewer are live at once.
        assert!(body.reg_count < 1200, "{name}: {} register slots", body.reg_count);
    }
}
