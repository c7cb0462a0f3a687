//! Weight import from safetensors: by name, f32/f16/bf16, a 1000-class head replaced, a 2-class head
//! kept, and errors that name the key for a missing key or a wrong shape.
use std::collections::HashMap;
use std::path::Path;

use memefuse::io::weights::{load_vgg16, WeightFile};
use memefuse::models::vgg16::{Vgg16, Vgg16Config};
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

/// Writes `tensors` (name → f32 tensor) to `path` in `dtype`.
fn write_file(path: &Path, tensors: &[(String, Tensor)], dtype: DType) {
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let storage = t.to_dtype(dtype).unwrap().to_cpu_storage().unwrap();
            (name.clone(), t.shape().to_vec(), storage.as_bytes().to_vec())
        })
        .collect();
    let st_dtype = match dtype {
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I32 => Dtype::I32,
    };
    let views: Vec<(String, TensorView)> = encoded.iter().map(|(n, s, b)| (n.clone(), TensorView::new(st_dtype, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, &None::<HashMap<String, String>>, path).unwrap();
}

fn small_model(seed: u64) -> Vgg16 {
    Vgg16::new(Vgg16Config::small(), &mut Rng::new(seed), Device::Cpu).unwrap()
}

fn values(model: &Vgg16) -> HashMap<String, Vec<f32>> {
    model.parameters().into_iter().map(|(n, t)| (n, t.to_vec_f32().unwrap())).collect()
}

#[test]
fn a_state_dict_loads_by_name_in_every_float_type() {
    let dir = tempfile::tempdir().unwrap();
    let source = small_model(1);
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        let path = dir.path().join(format!("w-{dtype}.safetensors"));
        // Reverse order: loading goes by name, not position.
        let mut tensors = source.parameters();
        tensors.reverse();
        write_file(&path, &tensors, dtype);
        let target = small_model(2);
        let summary = load_vgg16(&path, &target).unwrap();
        assert_eq!(summary.loaded.len(), 32);
        let (expected, got) = (values(&source), values(&target));
        for (name, want) in &expected {
            let rounded: Vec<f32> = Tensor::from_slice(want, &[want.len()], Device::Cpu).unwrap().to_dtype(dtype).unwrap().to_vec_f32().unwrap();
            assert_eq!(&got[name], &rounded, "{name} ({dtype})");
        }
        assert!(target.parameters().iter().all(|(_, p)| p.dtype() == DType::F32 && p.requires_grad()));
    }
}

#[test]
fn an_imagenet_head_is_replaced_and_a_two_class_head_kept() {
    let dir = tempfile::tempdir().unwrap();
    let source = small_model(3);
    let mut rng = Rng::new(4);
    let mut tensors: Vec<(String, Tensor)> = source.parameters().into_iter().filter(|(n, _)| !n.starts_with("classifier.6.")).collect();
    tensors.push(("classifier.6.weight".into(), Tensor::randn(&[1000, 256], 0.01, &mut rng, Device::Cpu).unwrap()));
    tensors.push(("classifier.6.bias".into(), Tensor::zeros(&[1000], DType::F32, Device::Cpu).unwrap()));
    let path = dir.path().join("imagenet.safetensors");
    write_file(&path, &tensors, DType::F32);
    let target = small_model(5);
    let fresh_head = values(&target)["classifier.6.weight"].clone();
    let summary = load_vgg16(&path, &target).unwrap();
    assert_eq!(summary.kept_fresh, vec!["classifier.6.weight".to_string(), "classifier.6.bias".to_string()]);
    assert_eq!(summary.loaded.len(), 30);
    let got = values(&target);
    assert_eq!(got["classifier.6.weight"], fresh_head);
    assert_eq!(got["features.28.weight"], values(&source)["features.28.weight"]);

    let two_class = dir.path().join("two.safetensors");
    write_file(&two_class, &source.parameters(), DType::F32);
    let target = small_model(6);
    assert!(load_vgg16(&two_class, &target).unwrap().kept_fresh.is_empty());
    assert_eq!(values(&target)["classifier.6.weight"], values(&source)["classifier.6.weight"]);
}

#[test]
fn missing_keys_and_wrong_shapes_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let source = small_model(7);
    let missing = dir.path().join("missing.safetensors");
    write_file(&missing, &source.parameters().into_iter().filter(|(n, _)| n != "features.12.bias").collect::<Vec<_>>(), DType::F32);
    let err = load_vgg16(&missing, &small_model(8)).unwrap_err().to_string();
    assert!(err.contains("missing key 'features.12.bias'"), "{err}");

    // Full-size torchvision keys in a file meant for vgg16-small: the first one is reported.
    let mut rng = Rng::new(9);
    let mut tensors: Vec<(String, Tensor)> = source.parameters();
    tensors[0] = ("features.0.weight".into(), Tensor::randn(&[64, 3, 3, 3], 0.1, &mut rng, Device::Cpu).unwrap());
    tensors[1] = ("features.0.bias".into(), Tensor::randn(&[64], 0.1, &mut rng, Device::Cpu).unwrap());
    let wrong = dir.path().join("wrong.safetensors");
    write_file(&wrong, &tensors, DType::F16);
    let err = load_vgg16(&wrong, &small_model(10)).unwrap_err().to_string();
    assert!(err.contains("'features.0.weight'") && err.contains("[64, 3, 3, 3]") && err.contains("[4, 3, 3, 3]"), "{err}");

    let not_safetensors = dir.path().join("junk.safetensors");
    std::fs::write(&not_safetensors, b"not a safetensors file at all").unwrap();
    assert!(load_vgg16(&not_safetensors, &small_model(11)).unwrap_err().to_string().contains("not a safetensors file"));
    assert!(WeightFile::open(dir.path().join("absent.safetensors")).is_err());
}

#[test]
fn full_size_keys_read_with_their_shapes() {
    // A few of torchvision VGG16's keys at full size, read back as f32 whatever the file's type.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(12);
    let full = Vgg16Config::full().parameter_shapes();
    let picked: Vec<(String, Tensor)> = ["features.0.weight", "features.0.bias", "features.28.weight", "classifier.6.bias"]
        .iter()
        .map(|name| {
            let shape = &full.iter().find(|(n, _)| n == name).unwrap().1;
            (name.to_string(), Tensor::randn(shape, 0.05, &mut rng, Device::Cpu).unwrap())
        })
        .collect();
    let path = dir.path().join("partial.safetensors");
    write_file(&path, &picked, DType::BF16);
    let file = WeightFile::open(&path).unwrap();
    for (name, tensor) in &picked {
        let read = file.read_f32(name, Device::Cpu).unwrap();
        assert_eq!(read.shape(), tensor.shape());
        assert_eq!(read.dtype(), DType::F32);
        assert_eq!(read.to_vec_f32().unwrap(), tensor.to_dtype(DType::BF16).unwrap().to_vec_f32().unwrap());
    }
    assert!(file.read_f32("classifier.0.weight", Device::Cpu).unwrap_err().to_string().contains("missing key 'classifier.0.weight'"));
}
