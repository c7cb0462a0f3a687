//! Training on the GPU end to end, against the same run on the CPU: every kernel of a training step
//! together (forward, losses, backward, the multi-tensor optimiser, the loss scaler), in the
//! trainer's own loop. Without a GPU each test prints that it was skipped.
mod common;
mod trainer_common;

use memefuse::train::commands::run_train;
use memefuse::train::config::Precision;
use memefuse::train::history::History;
use trainer_common::{tiny_dataset, train_args};

/// A smaller synthetic folder for the CPU driver, which interprets every kernel.
fn smaller_dataset(dir: &std::path::Path, train: usize, dev: usize) -> std::path::PathBuf {
    let data = dir.join("data");
    let mut options = memefuse::data::synth::SynthOptions::new(&data);
    (options.train, options.dev, options.test, options.seed) = (train, dev, 16, 11);
    memefuse::data::synth::generate(&options).expect("synthesising the test data");
    data
}

/// Trains `model` for `epochs` on `device` in `precision` and returns its history.
fn train(model: &str, data: &std::path::Path, out: &std::path::Path, device: &str, precision: Precision, epochs: usize) -> History {
    let mut args = train_args(model, data, out, epochs);
    args.device = device.to_string();
    args.precision = Some(precision);
    // 32 px on the CPU driver (the smallest side VGG16 takes): the same kernels at a quarter of the work.
    args.image_size = common::on_cpu_driver().then_some(32);
    run_train(args).unwrap_or_else(|e| panic!("{model} on {device} ({precision:?}): {e:#}"));
    History::load(out).unwrap()
}

#[test]
fn f32_training_on_the_gpu_follows_the_cpu() {
    if common::gpu("f32 training on the GPU").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // On the CPU driver a third of the records: the comparison is per epoch, so as strict.
    let data = if common::on_cpu_driver() { smaller_dataset(dir.path(), 80, 32) } else { tiny_dataset(dir.path()) };
    // Same seed, data order, augmentation and dropout masks (all drawn on the host): the two runs
    // differ only by the order of float additions inside the kernels, which two epochs of Adam
    // amplify a little. A wrong kernel moves the losses by far more than 1 %.
    for model in ["fusion-mlp", "lstm", "vgg16-small"] {
        let cpu = train(model, &data, &dir.path().join(format!("{model}-cpu")), "cpu", Precision::Fp32, 2);
        let gpu = train(model, &data, &dir.path().join(format!("{model}-gpu")), "cuda", Precision::Fp32, 2);
        for (on_cpu, on_gpu) in cpu.records.iter().zip(&gpu.records) {
            for (what, c, g) in [("train loss", on_cpu.train_loss, on_gpu.train_loss), ("validation loss", on_cpu.val_loss, on_gpu.val_loss)] {
                assert!((c - g).abs() <= 1e-2 * c.abs().max(1e-3), "{model} epoch {}: {what} {g} on the GPU, {c} on the CPU", on_cpu.epoch);
            }
        }
    }
}

#[test]
fn mixed_precision_training_on_the_gpu_learns() {
    if common::gpu("mixed-precision training on the GPU").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // On the CPU driver two thirds of the records: enough for the AUROC bar below.
    let data = if common::on_cpu_driver() { smaller_dataset(dir.path(), 160, 64) } else { tiny_dataset(dir.path()) };
    for precision in [Precision::Fp16, Precision::Bf16] {
        let history = train("fusion-mlp", &data, &dir.path().join(format!("{precision:?}")), "cuda", precision, 6);
        let (first, last) = (&history.records[0], history.last().unwrap());
        assert!(history.records.iter().all(|r| r.train_loss.is_finite() && r.val_loss.is_finite()), "{precision:?}: a non-finite loss");
        assert!(last.train_loss < first.train_loss * 0.9, "{precision:?}: training loss did not fall: {} → {}", first.train_loss, last.train_loss);
        // The CPU run of the same model reaches above 0.8 (tests/trainer_learning.rs).
        assert!(last.val_auroc > 0.75, "{precision:?}: validation AUROC {}", last.val_auroc);
    }
}
