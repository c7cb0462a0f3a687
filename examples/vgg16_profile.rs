//! The steps of benches/vgg16.rs, for profiles: builds the model, runs one warm-up step (Adam's
//! moments are allocated there), then STEPS more inside `profiled_steps`:
//!
//!     cargo build --release --example vgg16_profile
//!     valgrind --tool=callgrind --toggle-collect=vgg16_profile::profiled_steps \
//!         target/release/examples/vgg16_profile vgg16-small train 1
//!     mkfifo /tmp/perf.ctl; PERF_CTL_FIFO=/tmp/perf.ctl perf record -e cpu-clock --call-graph dwarf \
//!         -D -1 --control fifo:/tmp/perf.ctl target/release/examples/vgg16_profile vgg16 train 3
//!
//! (with PERF_CTL_FIFO set, the example tells perf to start recording after the warm-up step, so
//! the set-up's random initialisation and Adam's first allocation stay out). Passes: forward, train.
#[path = "../benches/vgg16_step/mod.rs"]
mod vgg16_step;

use std::time::Instant;

use vgg16_step::Vgg16Step;

#[inline(never)]
fn profiled_steps(step: &mut Vgg16Step, pass: &str, steps: usize) {
    for _ in 0..steps {
        match pass {
            "forward" => drop(step.forward()),
            "train" => step.train_step(),
            other => panic!("unknown pass {other}: forward or train"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("vgg16-small", String::as_str);
    let pass = args.get(2).map_or("train", String::as_str);
    let steps: usize = args.get(3).map_or(1, |s| s.parse().expect("STEPS is a count"));
    let start = Instant::now();
    let mut step = Vgg16Step::new(name);
    profiled_steps(&mut step, pass, 1);
    eprintln!("setup done after {:.1} s", start.elapsed().as_secs_f64());
    if let Ok(fifo) = std::env::var("PERF_CTL_FIFO") {
        std::fs::write(fifo, "enable\n").expect("PERF_CTL_FIFO is perf's --control fifo");
    }
    let start = Instant::now();
    profiled_steps(&mut step, pass, steps);
    eprintln!("{name} {pass}: {steps} steps, {:.3} s a step", start.elapsed().as_secs_f64() / steps as f64);
}
