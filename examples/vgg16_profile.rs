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
//! the set-up's random initialisation and Adam's first allocation stay out). Passes: forward, train,
//! and `layers`: each of the network's 13 convolutions on its own at the step's shapes (forward with
//! bias and ReLU, backward-data, backward-weight; fastest of STEPS calls), a markdown table of where
//! the convolution time goes. Each step also prints the buffer pool's fresh allocations.
#[path = "../benches/vgg16_step/mod.rs"]
mod vgg16_step;

use std::time::Instant;

use memefuse::autograd::no_grad;
use memefuse::backend::cpu::buffer_pool;
use memefuse::models::vgg16::Vgg16Config;
use memefuse::ops::{conv2d_input_gradient, conv2d_weight_gradient, Conv2dOptions, ConvGeometry};
use memefuse::util::Rng;
use memefuse::{Device, Tensor};
use vgg16_step::{Vgg16Step, BATCH, SIDE};

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
    if pass == "layers" {
        return layers(name, steps.max(1));
    }
    let start = Instant::now();
    let mut step = Vgg16Step::new(name);
    profiled_steps(&mut step, pass, 1);
    eprintln!("setup done after {:.1} s", start.elapsed().as_secs_f64());
    if let Ok(fifo) = std::env::var("PERF_CTL_FIFO") {
        std::fs::write(fifo, "enable\n").expect("PERF_CTL_FIFO is perf's --control fifo");
    }
    let (start, misses) = (Instant::now(), buffer_pool::misses());
    profiled_steps(&mut step, pass, steps);
    eprintln!("{name} {pass}: {steps} steps, {:.3} s a step", start.elapsed().as_secs_f64() / steps as f64);
    eprintln!("buffer pool: {} fresh buffers a step, {} MB held", (buffer_pool::misses() - misses) / steps as u64, buffer_pool::pooled_bytes() >> 20);
}

/// The fastest of `reps` calls of `f`, in seconds.
fn fastest(reps: usize, mut f: impl FnMut() -> Tensor) -> f64 {
    (0..reps)
        .map(|_| {
            let start = Instant::now();
            drop(f());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn layers(name: &str, reps: usize) {
    let config = Vgg16Config::from_name(name).unwrap();
    let _no_grad = no_grad();
    let mut rng = Rng::new(1);
    let options = Conv2dOptions::new(1, 1).with_relu(true);
    let (mut rows, mut side, mut channels) = (Vec::new(), SIDE, 3);
    for (block, (&width, convs)) in config.block_widths.iter().zip([2, 2, 3, 3, 3]).enumerate() {
        for conv in 0..convs {
            let x = Tensor::randn(&[BATCH, side, side, channels], 1.0, &mut rng, Device::Cpu).unwrap();
            let w = Tensor::randn(&[width, 3, 3, channels], 0.05, &mut rng, Device::Cpu).unwrap();
            let bias = Tensor::zeros(&[width], memefuse::DType::F32, Device::Cpu).unwrap();
            let geometry = ConvGeometry::new(x.shape(), w.shape(), &options).unwrap();
            let dy = Tensor::randn(&geometry.output_shape(), 1.0, &mut rng, Device::Cpu).unwrap();
            let forward = fastest(reps, || x.conv2d_krsc(&w, Some(&bias), options).unwrap());
            // The first layer's input (the images) needs no gradient.
            let data = if channels == 3 { 0.0 } else { fastest(reps, || conv2d_input_gradient(&dy, &w, &geometry).unwrap()) };
            let weight = fastest(reps, || conv2d_weight_gradient(&x, &dy, &geometry).unwrap());
            rows.push((format!("{}.{} C{channels}→{width}@{side}", block + 1, conv + 1), geometry.flops(), [forward, data, weight]));
            channels = width;
        }
        side /= 2;
    }
    let total: f64 = rows.iter().map(|(_, _, t)| t.iter().sum::<f64>()).sum();
    println!("{name}, batch {BATCH}, {SIDE} px, {} threads: fastest of {reps} calls; ms (GFLOP/s)\n", rayon::current_num_threads());
    println!("| layer | forward | backward-data | backward-weight | share of conv time |");
    println!("|---|---:|---:|---:|---:|");
    for (label, flops, times) in &rows {
        let cell = |t: f64| if t == 0.0 { "—".to_string() } else { format!("{:.2} ({:.0})", t * 1e3, flops / t / 1e9) };
        println!("| {label} | {} | {} | {} | {:.1} % |", cell(times[0]), cell(times[1]), cell(times[2]), 100.0 * times.iter().sum::<f64>() / total);
    }
    let pass_total = |i: usize| rows.iter().map(|(_, _, t)| t[i]).sum::<f64>() * 1e3;
    println!("| all | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |", pass_total(0), pass_total(1), pass_total(2), total * 1e3);
}
