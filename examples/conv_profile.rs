//! One CPU convolution pass at a bench shape (benches/conv.rs), for instruction counts under
//! callgrind, which are repeatable on a loaded machine where timings are not (docs/vgg16.md):
//!
//!     cargo build --release --example conv_profile
//!     valgrind --tool=callgrind target/release/examples/conv_profile forward c64_56_n1
//!
//! Passes: forward, backward_data, backward_weight. Shapes cC_SIDE_nN[_kK] (C in, K out channels,
//! K = C by default): the bench's c64_56_n1, c128_28_n2, c256_14_n2, or any other (VGG16's layers).
//! A third argument REPS times the pass REPS more times and prints the fastest and the mean (a quick check of a
//! kernel change; the recorded figures come from the criterion bench).
use memefuse::autograd::no_grad;
use memefuse::ops::{conv2d_input_gradient, conv2d_weight_gradient, Conv2dOptions, ConvGeometry};
use memefuse::util::Rng;
use memefuse::{Device, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (pass, shape) = (args.get(1).map_or("forward", |s| s.as_str()), args.get(2).map_or("c64_56_n1", |s| s.as_str()));
    // cC_SIDE_nN[_kK]: C input channels, SIDE × SIDE, batch N, K output channels (default C).
    let numbers: Vec<usize> = shape.split('_').map(|part| part.trim_start_matches(char::is_alphabetic).parse().unwrap_or_else(|_| panic!("shape cC_SIDE_nN[_kK], got {shape}"))).collect();
    let (channels, side, batch) = (numbers[0], numbers[1], numbers[2]);
    let out_channels = numbers.get(3).copied().unwrap_or(channels);
    let _no_grad = no_grad();
    let mut rng = Rng::new(1);
    let x = Tensor::randn(&[batch, side, side, channels], 1.0, &mut rng, Device::Cpu).unwrap();
    let w = Tensor::randn(&[out_channels, 3, 3, channels], 0.05, &mut rng, Device::Cpu).unwrap();
    let options = Conv2dOptions::new(1, 1);
    let geometry = ConvGeometry::new(x.shape(), w.shape(), &options).unwrap();
    let dy = Tensor::randn(&geometry.output_shape(), 1.0, &mut rng, Device::Cpu).unwrap();
    let run = || {
        match pass {
            "forward" => x.conv2d_krsc(&w, None, options),
            "backward_data" => conv2d_input_gradient(&dy, &w, &geometry),
            "backward_weight" => conv2d_weight_gradient(&x, &dy, &geometry),
            other => panic!("unknown pass {other}"),
        }
        .unwrap()
    };
    let out = run();
    let reps: usize = args.get(3).map_or(0, |s| s.parse().expect("REPS is a count"));
    if reps > 0 {
        let times: Vec<f64> = (0..reps)
            .map(|_| {
                let start = std::time::Instant::now();
                drop(run());
                start.elapsed().as_secs_f64()
            })
            .collect();
        let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
        // The mean as well: what criterion's samples average, wake-ups and stragglers included.
        let mean = times.iter().sum::<f64>() / reps as f64;
        let gflops = |seconds: f64| geometry.flops() as f64 / seconds / 1e9;
        println!("{pass} {shape}: fastest of {reps} {:.3} ms, {:.0} GFLOP/s; mean {:.3} ms, {:.0} GFLOP/s", fastest * 1e3, gflops(fastest), mean * 1e3, gflops(mean));
    }
    println!("{pass} {shape}: {} GFLOP, sum {}", geometry.flops() as f64 / 1e9, out.sum_all().unwrap().to_vec_f32().unwrap()[0]);
}
