//! CLIP against HuggingFace: two tiny random `CLIPModel`s saved by
//! scripts/reference/clip_reference.py (transformers 5.24) with their inputs and HF's outputs.
//! memefuse must reproduce image_embeds, text_embeds and logits_per_image to 1e-4 in f32, within
//! 2e-2 in f16 and 8e-2 in bf16; import refuses missing, extra and misshapen tensors by name and
//! pickle-only folders; export writes back the same layout.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use memefuse::io::clip_weights::{load_clip_folder, read_clip_config, save_clip_folder};
use memefuse::io::weights::WeightFile;
use memefuse::models::clip::{l2_normalize, ClipModel, TextPooling};
use memefuse::{DType, Device, Tensor};
use safetensors::SafeTensors;

const FIXTURES: [&str; 2] = ["clip_tiny", "clip_tiny_gelu"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Inputs and HF's outputs of one fixture.
struct Reference {
    /// NHWC, as memefuse takes images.
    images: Tensor,
    ids: Vec<i32>,
    mask: Vec<i32>,
    len: usize,
    image_embeds: Vec<f32>,
    text_embeds: Vec<f32>,
    logits_per_image: Vec<f32>,
}

fn read_i32(bytes: &[u8], key: &str) -> (Vec<i32>, Vec<usize>) {
    let tensors = SafeTensors::deserialize(bytes).unwrap();
    let view = tensors.tensor(key).unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::I32, "{key}");
    (view.data().chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(), view.shape().to_vec())
}

fn reference(name: &str) -> Reference {
    let path = fixture(name).join("reference.safetensors");
    let file = WeightFile::open(&path).unwrap();
    let floats = |key: &str| file.read_f32(key, Device::Cpu).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (ids, shape) = read_i32(&bytes, "input_ids");
    let (mask, _) = read_i32(&bytes, "attention_mask");
    Reference {
        images: floats("pixel_values").permute(&[0, 2, 3, 1]).unwrap().contiguous().unwrap(),
        ids,
        mask,
        len: shape[1],
        image_embeds: floats("image_embeds").to_vec_f32().unwrap(),
        text_embeds: floats("text_embeds").to_vec_f32().unwrap(),
        logits_per_image: floats("logits_per_image").to_vec_f32().unwrap(),
    }
}

/// HF's three outputs computed by memefuse in `dtype` (images and text in that dtype; embeddings
/// normalised as CLIPModel returns them).
fn outputs(model: &ClipModel, r: &Reference, dtype: DType) -> [Vec<f32>; 3] {
    let _no_grad = memefuse::autograd::no_grad();
    let image = model.image_features(&r.images.to_dtype(dtype).unwrap()).unwrap();
    let text = model.text_features(&r.ids, r.len, Some(&r.mask), dtype, Device::Cpu).unwrap();
    assert_eq!((image.dtype(), text.dtype()), (dtype, dtype));
    let logits = model.logits_per_image(&image, &text).unwrap();
    [l2_normalize(&image).unwrap(), l2_normalize(&text).unwrap(), logits].map(|t| t.to_vec_f32().unwrap())
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The largest absolute difference of each output, after checking it against `tolerance`.
/// Logits are compared divided by exp(logit_scale): the cosine similarities the tolerance is for.
fn check_against_hf(name: &str, dtype: DType, tolerance: f32) -> [f32; 3] {
    let model = load_clip_folder(fixture(name), Device::Cpu).unwrap();
    let r = reference(name);
    let [image, text, logits] = outputs(&model, &r, dtype);
    let scale = model.logit_scale().to_scalar().unwrap().exp();
    let errors = [
        max_abs_difference(&image, &r.image_embeds),
        max_abs_difference(&text, &r.text_embeds),
        max_abs_difference(&logits, &r.logits_per_image) / scale,
    ];
    eprintln!("{name} {dtype}: max |memefuse − HF| image_embeds {:.2e}, text_embeds {:.2e}, logits_per_image/exp(logit_scale) {:.2e}", errors[0], errors[1], errors[2]);
    for (what, error) in ["image_embeds", "text_embeds", "logits_per_image"].iter().zip(errors) {
        assert!(error <= tolerance, "{name} in {dtype}: {what} differs from HuggingFace by {error:.3e} > {tolerance:.0e}");
    }
    errors
}

#[test]
fn f32_matches_huggingface_to_1e_4() {
    for name in FIXTURES {
        check_against_hf(name, DType::F32, 1e-4);
    }
}

#[test]
fn f32_logits_match_huggingface_unscaled_too() {
    // The logits themselves (scale exp(2.3) ≈ 10) to 1e-4 · scale, and the scale read from the file.
    for name in FIXTURES {
        let model = load_clip_folder(fixture(name), Device::Cpu).unwrap();
        assert!((model.logit_scale().to_scalar().unwrap() - 2.3).abs() < 1e-6, "logit_scale comes from the weights, not the 2.6592 default");
        let r = reference(name);
        let [_, _, logits] = outputs(&model, &r, DType::F32);
        let error = max_abs_difference(&logits, &r.logits_per_image);
        assert!(error <= 1e-3, "{name}: logits_per_image differ by {error}");
    }
}

#[test]
fn f16_within_2e_2_and_bf16_within_8e_2() {
    for name in FIXTURES {
        check_against_hf(name, DType::F16, 2e-2);
        check_against_hf(name, DType::BF16, 8e-2);
    }
}

#[test]
fn configs_are_read_as_written() {
    let tiny = read_clip_config(&fixture("clip_tiny")).unwrap();
    assert_eq!((tiny.vision.image_size, tiny.vision.patch_size, tiny.vision.tokens()), (64, 16, 17));
    assert_eq!((tiny.text.vocab_size, tiny.text.max_position_embeddings, tiny.projection_dim), (300, 16, 24));
    assert_eq!(tiny.text.pooling, TextPooling::FirstEos(299));
    let gelu = read_clip_config(&fixture("clip_tiny_gelu")).unwrap();
    assert_eq!(gelu.text.hidden_act, memefuse::nn::Activation::Gelu);
    assert_eq!(gelu.text.pooling, TextPooling::ArgmaxId, "eos_token_id 2 is transformers' legacy argmax pooling");
    assert_eq!(gelu.vision.layer_norm_eps, 1e-6);
}

#[test]
fn every_parameter_gets_a_gradient() {
    let model = load_clip_folder(fixture("clip_tiny"), Device::Cpu).unwrap();
    let r = reference("clip_tiny");
    let image = model.image_features(&r.images).unwrap();
    let text = model.text_features(&r.ids, r.len, Some(&r.mask), DType::F32, Device::Cpu).unwrap();
    let grads = model.logits_per_image(&image, &text).unwrap().sum_all().unwrap().backward().unwrap();
    for (name, parameter) in model.parameters() {
        let grad = grads.get(&parameter).unwrap_or_else(|| panic!("{name} got no gradient"));
        assert!(grad.to_vec_f32().unwrap().iter().all(|g| g.is_finite()), "{name}");
    }
}

// ---- import errors and export ---------------------------------------------------------------------

/// A copy of the clip_tiny folder whose weights are `edit`ed (key → (shape, f32 values)).
fn edited_copy(edit: impl FnOnce(&mut BTreeMap<String, (Vec<usize>, Vec<f32>)>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("clip_tiny").join("config.json"), dir.path().join("config.json")).unwrap();
    let file = WeightFile::open(fixture("clip_tiny").join("model.safetensors")).unwrap();
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)> = file.shapes().into_iter().map(|(key, shape)| {
        let values = file.read_f32(&key, Device::Cpu).unwrap().to_vec_f32().unwrap();
        (key, (shape, values))
    }).collect();
    edit(&mut tensors);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors.into_iter().map(|(k, (s, v))| (k, s, v.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes.iter().map(|(k, s, b)| (k.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    std::fs::write(dir.path().join("model.safetensors"), safetensors::serialize(views, &None).unwrap()).unwrap();
    dir
}

fn import_error(dir: &Path) -> String {
    format!("{:#}", load_clip_folder(dir, Device::Cpu).err().expect("the import must fail"))
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = edited_copy(|t| {
        t.remove("text_model.encoder.layers.1.mlp.fc2.bias");
    });
    let error = import_error(dir.path());
    assert!(error.contains("text_model.encoder.layers.1.mlp.fc2.bias") && error.contains("missing"), "{error}");
}

#[test]
fn an_extra_tensor_is_named() {
    let dir = edited_copy(|t| {
        t.insert("vision_model.encoder.layers.2.mlp.fc1.weight".into(), (vec![2, 2], vec![0.0; 4]));
    });
    let error = import_error(dir.path());
    assert!(error.contains("vision_model.encoder.layers.2.mlp.fc1.weight"), "{error}");
}

#[test]
fn old_position_ids_buffers_are_accepted() {
    let dir = edited_copy(|t| {
        t.insert("text_model.embeddings.position_ids".into(), (vec![1, 16], (0..16).map(|i| i as f32).collect()));
    });
    load_clip_folder(dir.path(), Device::Cpu).unwrap();
}

#[test]
fn a_misshapen_tensor_is_named_with_both_shapes() {
    let dir = edited_copy(|t| {
        t.insert("visual_projection.weight".into(), (vec![32, 24], vec![0.0; 768]));
    });
    let error = import_error(dir.path());
    assert!(error.contains("visual_projection.weight") && error.contains("[32, 24]") && error.contains("[24, 32]"), "{error}");
}

#[test]
fn a_pickle_only_folder_is_refused_with_the_conversion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("clip_tiny").join("config.json"), dir.path().join("config.json")).unwrap();
    std::fs::write(dir.path().join("pytorch_model.bin"), b"not read").unwrap();
    let error = import_error(dir.path());
    assert!(error.contains("pytorch_model.bin") && error.contains("save_pretrained"), "{error}");
}

#[test]
fn a_bad_config_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(fixture("clip_tiny").join("config.json")).unwrap().replace("\"hidden_act\": \"quick_gelu\"", "\"hidden_act\": \"swish\"");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let error = import_error(dir.path());
    assert!(error.contains("hidden_act") && error.contains("swish"), "{error}");
}

#[test]
fn export_writes_the_same_layout_and_reimports_identically() {
    let model = load_clip_folder(fixture("clip_tiny_gelu"), Device::Cpu).unwrap();
    let out = tempfile::tempdir().unwrap();
    save_clip_folder(&model, out.path()).unwrap();
    let original = WeightFile::open(fixture("clip_tiny_gelu").join("model.safetensors")).unwrap().shapes();
    let exported = WeightFile::open(out.path().join("model.safetensors")).unwrap().shapes();
    assert_eq!(original.into_iter().collect::<BTreeMap<_, _>>(), exported.into_iter().collect::<BTreeMap<_, _>>(), "the same keys with the same shapes");
    assert_eq!(read_clip_config(out.path()).unwrap(), *model.config());
    let reloaded = load_clip_folder(out.path(), Device::Cpu).unwrap();
    let r = reference("clip_tiny_gelu");
    assert_eq!(outputs(&reloaded, &r, DType::F32), outputs(&model, &r, DType::F32), "bit-identical after a round trip");
}

/// A random CLIP folder whose text encoder reads the small HF BPE of the tokenizer fixture (the
/// tiny fixture's 300-id vocabulary holds no real BPE ids), with that BPE's vocab.json and
/// merges.txt beside the weights, as a `save_pretrained` of model and processor leaves them.
fn clip_folder_with_tokenizer(dir: &Path) -> PathBuf {
    let bpe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip_tokenizer/small");
    let tokenizer = memefuse::data::clip_tokenizer::ClipTokenizer::from_path(&bpe).unwrap();
    let mut config = read_clip_config(&fixture("clip_tiny")).unwrap();
    config.text.vocab_size = tokenizer.vocab_size();
    config.text.max_position_embeddings = 77;
    config.text.pooling = TextPooling::FirstEos(tokenizer.end_id() as i32);
    let model = ClipModel::new(&config, &mut memefuse::util::Rng::new(7), Device::Cpu).unwrap();
    let folder = dir.join("clip");
    save_clip_folder(&model, &folder).unwrap();
    for file in ["vocab.json", "merges.txt"] {
        std::fs::copy(bpe.join(file), folder.join(file)).unwrap();
    }
    folder
}

fn memefuse_command(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_memefuse")).args(args).output().unwrap()
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// `predict --model clip --weights DIR` writes the one prediction format, and `embed --model clip
/// --weights DIR --output FILE.jsonl` each record's projected embeddings: those of the CLIP model
/// on the record's image (CLIP's resize, crop and normalisation) and caption (CLIP BPE, 77 ids).
#[test]
fn predict_and_embed_with_a_huggingface_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = clip_folder_with_tokenizer(dir.path());
    let data = dir.path().join("data");
    let mut synth = memefuse::data::synth::SynthOptions::new(&data);
    (synth.train, synth.dev, synth.test) = (6, 5, 3);
    memefuse::data::synth::generate(&synth).unwrap();
    let (folder_arg, data_arg) = (folder.to_str().unwrap(), data.to_str().unwrap());

    let predictions = dir.path().join("predictions.jsonl");
    let out = memefuse_command(&["predict", "--model", "clip", "--weights", folder_arg, "--data", data_arg, "--split", "dev", "--output", predictions.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kept freshly initialised"), "the untrained head is said: {}", String::from_utf8_lossy(&out.stderr));
    let records = json_lines(&data.join("dev_seen.jsonl"));
    let lines = json_lines(&predictions);
    assert_eq!(lines.len(), records.len());
    for (line, record) in lines.iter().zip(&records) {
        assert_eq!(line.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "logits", "proba", "true_label"]);
        assert_eq!((&line["id"], &line["true_label"]), (&record["id"], &record["label"]));
        let logits: Vec<f64> = line["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!((line["proba"].as_f64().unwrap() - 1.0 / (1.0 + (logits[0] - logits[1]).exp())).abs() < 1e-9);
    }

    let embeddings = dir.path().join("embeddings.jsonl");
    let out = memefuse_command(&["embed", "--model", "clip", "--weights", folder_arg, "--data", data_arg, "--split", "dev", "--output", embeddings.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = load_clip_folder(&folder, Device::Cpu).unwrap();
    let tokenizer = memefuse::data::clip_tokenizer::ClipTokenizer::from_path(&folder).unwrap();
    let transform = memefuse::data::transforms::ImageTransform::clip(64);
    let _no_grad = memefuse::autograd::no_grad();
    let lines = json_lines(&embeddings);
    assert_eq!(lines.len(), records.len());
    for (line, record) in lines.iter().zip(&records) {
        assert_eq!((&line["id"], &line["true_label"]), (&record["id"], &record["label"]));
        let image = memefuse::data::image_io::decode_rgb(&data.join(record["img"].as_str().unwrap())).unwrap();
        let pixels = transform.apply(&image, &mut memefuse::util::Rng::new(0));
        let image = model.image_features(&Tensor::from_vec(pixels, &[1, 64, 64, 3], Device::Cpu).unwrap()).unwrap().to_vec_f32().unwrap();
        let ids: Vec<i32> = tokenizer.tokenize(record["text"].as_str().unwrap(), 77).unwrap().into_iter().map(|id| id as i32).collect();
        let text = model.text_features(&ids, 77, None, DType::F32, Device::Cpu).unwrap().to_vec_f32().unwrap();
        for (key, expected) in [("image_embedding", &image), ("text_embedding", &text)] {
            let written: Vec<f32> = line[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            assert_eq!(written.len(), 24, "{key}: projection_dim values");
            assert!(max_abs_difference(&written, expected) < 1e-6, "{key} of {}: {written:?} vs {expected:?}", record["id"]);
        }
    }

    // The tiny HF fixture's text encoder has 300 ids: a real BPE does not fit it, and it says so.
    let out = memefuse_command(&["embed", "--model", "clip", "--weights", fixture("clip_tiny").to_str().unwrap(), "--vocab", folder_arg, "--data", data_arg, "--split", "dev", "--output", embeddings.to_str().unwrap(), "--device", "cpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only 300 rows"), "{}", String::from_utf8_lossy(&out.stderr));
    // Options the CLIP importer does not use are refused.
    let out = memefuse_command(&["predict", "--model", "clip", "--weights", folder_arg, "--readout", "last-step", "--data", data_arg, "--split", "dev", "--output", "-"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--readout would be ignored"), "{}", String::from_utf8_lossy(&out.stderr));
}
