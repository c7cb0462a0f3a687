//! Checkpoint files, --init, and mixed precision.
mod trainer_common;

use memefuse::train::checkpoint::{load_checkpoint, read_safetensors, CHECKPOINT_FORMAT};
use memefuse::train::commands::run_train;
use memefuse::train::config::Precision;
use memefuse::train::history::History;
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use trainer_common::{tiny_dataset, train_args};

#[test]
fn checkpoints_hold_weights_optimiser_state_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("image-mlp", &data, &run, 2)).unwrap();
    let path = RunDir::new(&run).checkpoint_path(CheckpointKind::Last);
    let (metadata, tensors) = read_safetensors(&path).unwrap();
    assert_eq!(metadata["format"], CHECKPOINT_FORMAT);
    assert_eq!(metadata["epoch"], "2");
    let config: serde_json::Value = serde_json::from_str(&metadata["config"]).unwrap();
    assert_eq!(config["model"], "image-mlp");
    let names: Vec<&str> = tensors.iter().map(|(name, _)| name.as_str()).collect();
    for expected in ["model.image.hidden.weight", "model.image.hidden.bias", "model.head.weight", "model.head.bias", "optimizer.adam.step", "optimizer.adam.m.head.weight", "optimizer.adam.v.head.weight"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let head = &tensors.iter().find(|(n, _)| n == "model.head.weight").unwrap().1;
    assert_eq!(head.shape, vec![2, 32], "PyTorch layout [out, in]");
    let step = &tensors.iter().find(|(n, _)| n == "optimizer.adam.step").unwrap().1;
    assert_eq!(step.values, vec![16.0], "two epochs of 240/32 → 8 batches");
}

#[test]
fn init_from_a_checkpoint_starts_where_it_left_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let first = dir.path().join("first");
    run_train(train_args("text-bow", &data, &first, 3)).unwrap();
    let checkpoint = RunDir::new(&first).checkpoint_path(CheckpointKind::Last);

    let second = dir.path().join("second");
    let mut args = train_args("text-bow", &data, &second, 1);
    args.init = Some(checkpoint.clone());
    run_train(args).unwrap();
    let fresh = History::load(&first).unwrap().records[0].train_loss;
    let initialised = History::load(&second).unwrap().records[0].train_loss;
    assert!(initialised < fresh, "initialised run's first loss {initialised} is not below a fresh run's {fresh}");

    // Weights of another model do not fit: the error names the tensor.
    let mut args = train_args("image-mlp", &data, &dir.path().join("third"), 1);
    args.init = Some(checkpoint);
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("text.hidden.weight") && error.contains("match no parameter"), "{error}");
}

#[test]
fn mixed_precision_runs_train_and_save_the_loss_scale() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    for precision in [Precision::Fp16, Precision::Bf16] {
        let run = dir.path().join(format!("{precision:?}"));
        let mut args = train_args("fusion-mlp", &data, &run, 3);
        args.precision = Some(precision);
        run_train(args).unwrap();
        let history = History::load(&run).unwrap();
        let (first, last) = (&history.records[0], history.last().unwrap());
        assert!(last.train_loss < first.train_loss, "{precision:?}: loss {} → {}", first.train_loss, last.train_loss);
        let checkpoint = load_checkpoint(&RunDir::new(&run).checkpoint_path(CheckpointKind::Last)).unwrap();
        assert_eq!(checkpoint.config.precision, precision);
        assert_eq!(!checkpoint.loss_scaler.is_empty(), precision == Precision::Fp16, "only fp16 keeps a loss scale");
    }
}

/// Writes torchvision-named f32 tensors as a safetensors file, as `safetensors.torch.save_file` would.
fn write_state_dict(path: &std::path::Path, tensors: &[(String, memefuse::Tensor)]) {
    use safetensors::tensor::TensorView;
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(name, t)| (name.clone(), t.shape().to_vec(), t.to_cpu_storage().unwrap().as_bytes().to_vec())).collect();
    let views: Vec<(String, TensorView)> = encoded.iter().map(|(n, s, b)| (n.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, &None::<std::collections::HashMap<String, String>>, path).unwrap();
}

#[test]
fn init_from_torchvision_weights_replaces_an_imagenet_head() {
    use memefuse::models::{self, ModelConfig};
    use memefuse::util::Rng;
    use memefuse::{Device, Tensor};
    let dir = tempfile::tempdir().unwrap();
    // torchvision-layout weights of vgg16-small's shapes, but with a 1000-class ImageNet head.
    let source = models::build("vgg16-small", &ModelConfig::default(), &mut Rng::new(5), Device::Cpu).unwrap();
    let mut tensors = source.parameters();
    for (name, tensor) in tensors.iter_mut() {
        if name.starts_with("classifier.6.") {
            let mut shape = tensor.shape().to_vec();
            shape[0] = 1000;
            *tensor = Tensor::randn(&shape, 0.01, &mut Rng::new(6), Device::Cpu).unwrap();
        }
    }
    let imagenet = dir.path().join("vgg16_small_imagenet.safetensors");
    write_state_dict(&imagenet, &tensors);

    let model = models::build("vgg16-small", &ModelConfig::default(), &mut Rng::new(7), Device::Cpu).unwrap();
    let fresh_head = model.parameters().iter().find(|(n, _)| n == "classifier.6.weight").unwrap().1.to_vec_f32().unwrap();
    let summary = model.import_weights(&imagenet).unwrap();
    assert_eq!(summary.kept_fresh, vec!["classifier.6.weight", "classifier.6.bias"]);
    let by_name = |m: &dyn models::Model, name: &str| m.parameters().into_iter().find(|(n, _)| n == name).unwrap().1.to_vec_f32().unwrap();
    assert_eq!(by_name(model.as_ref(), "features.0.weight"), by_name(source.as_ref(), "features.0.weight"));
    assert_eq!(by_name(model.as_ref(), "classifier.6.weight"), fresh_head, "the 2-class head keeps its initialisation");

    // The same file starts a training run; a file of another architecture is refused, naming a key.
    let data = tiny_dataset(dir.path());
    let mut args = train_args("vgg16-small", &data, &dir.path().join("pretrained"), 1);
    args.init = Some(imagenet);
    run_train(args).unwrap();
    let mut args = train_args("vgg16-small", &data, &dir.path().join("mismatch"), 1);
    args.init = Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lstm/weights.safetensors"));
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("missing key 'features.0.weight'"), "{error}");
}
