//! The text LSTM classifier: agreement with PyTorch on a committed fixture (weights in PyTorch's
//! layout and its outputs, made by scripts/reference/lstm_reference.py), the predict command end to
//! end, weight export/import, clear errors for bad weight files, and a short training run.
mod common;

use std::path::{Path, PathBuf};

use memefuse::autograd::no_grad;
use memefuse::io::lstm_weights::{load_text_lstm, save_text_lstm};
use memefuse::models::text_lstm::{lengths_of, SequenceReadout, TextLstm, TextLstmConfig};
use memefuse::io::embeddings::Embeddings;
use memefuse::train::commands::{run_predict, PredictArgs};
use memefuse::train::embed::{run_embed, EmbedArgs};
use memefuse::train::model_source::ModelSource;
use memefuse::nn::loss::binary_cross_entropy_with_logits;
use memefuse::optim::{Adam, AdamConfig, Optimizer};
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lstm").join(name)
}

struct Expected {
    texts: Vec<String>,
    ids: Vec<i32>,
    max_len: usize,
    lengths: Vec<usize>,
    json: Value,
}

fn expected() -> Expected {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let max_len = json["max_len"].as_u64().unwrap() as usize;
    let ids = json["ids"].as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i32)).collect();
    let lengths = json["lengths"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let texts = json["texts"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    Expected { texts, ids, max_len, lengths, json }
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

fn assert_within(actual: &[f32], expected: &[f32], tolerance: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tolerance, "{what}[{i}]: {a} vs PyTorch {e}");
    }
}

fn logits_on(device: Device, readout: SequenceReadout) -> Vec<f32> {
    logits_in(device, readout, DType::F32)
}

fn logits_in(device: Device, readout: SequenceReadout, dtype: DType) -> Vec<f32> {
    let expected = expected();
    let _no_grad = no_grad();
    let model = load_text_lstm(fixture("weights.safetensors"), readout, device).unwrap();
    let tokens = Tensor::from_i32(expected.ids.clone(), &[expected.lengths.len(), expected.max_len], Device::Cpu).unwrap();
    let logits = model.forward(&tokens, &expected.lengths, false, dtype).unwrap();
    assert_eq!(logits.dtype(), dtype, "the model computes in the dtype it is asked for");
    logits.to_vec_f32().unwrap()
}

#[test]
fn mixed_precision_stays_close_to_pytorch() {
    // f16/bf16 input projections and head, f32 recurrences: within the 16-bit formats' rounding of
    // PyTorch's f32 logits (the seed's logits are of order 1).
    let expected = floats(&expected().json["last_step_logits"]);
    let mut devices = vec![Device::Cpu];
    devices.extend(common::gpu("text_lstm_mixed_precision"));
    for device in devices {
        for (dtype, tolerance) in [(DType::F16, 2e-2), (DType::BF16, 8e-2)] {
            let logits = logits_in(device, SequenceReadout::LastStep, dtype);
            assert_within(&logits, &expected, tolerance, &format!("{dtype} last-step logits on {device}"));
        }
    }
}

#[test]
fn mixed_precision_gradients_reach_every_f32_parameter() {
    let config = TextLstmConfig { vocab_size: 9, embedding_dim: 6, hidden: 5, layers: 2, readout: SequenceReadout::LastRealToken };
    let model = TextLstm::new(config, &mut Rng::new(7), Device::Cpu).unwrap();
    let ids: Vec<i32> = (0..12).map(|i| (i * 5 % 9) as i32).collect();
    let tokens = Tensor::from_i32(ids.clone(), &[3, 4], Device::Cpu).unwrap();
    let targets = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3], Device::Cpu).unwrap();
    let lengths = lengths_of(&ids, 4);
    let gradients = |dtype: DType| {
        let logits = model.forward(&tokens, &lengths, true, dtype).unwrap().to_dtype(DType::F32).unwrap();
        binary_cross_entropy_with_logits(&logits, &targets).unwrap().backward().unwrap()
    };
    let (full, half) = (gradients(DType::F32), gradients(DType::F16));
    for (name, parameter) in model.parameters() {
        let (g32, g16) = (full.get(&parameter).unwrap(), half.get(&parameter).unwrap_or_else(|| panic!("no f16 gradient for {name}")));
        assert_eq!(g16.dtype(), DType::F32, "{name}: master gradients stay f32");
        let (g32, g16) = (g32.to_vec_f32().unwrap(), g16.to_vec_f32().unwrap());
        let scale = g32.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        assert!(g32.iter().zip(&g16).all(|(a, b)| (a - b).abs() <= 2e-2 * scale), "{name}: f16 gradient far from f32");
    }
}

#[test]
fn agrees_with_pytorch_on_the_fixture() {
    let expected = expected();
    let sigmoid = |v: &[f32]| v.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect::<Vec<f32>>();
    // Our tokenizer and lengths give PyTorch's ids.
    let vocabulary = memefuse::data::text::Vocabulary::load(fixture("vocab.txt")).unwrap();
    let ours: Vec<i32> = expected.texts.iter().flat_map(|t| vocabulary.encode(t, expected.max_len)).collect();
    assert_eq!(ours, expected.ids);
    assert_eq!(lengths_of(&ours, expected.max_len), expected.lengths);

    let mut devices = vec![Device::Cpu];
    devices.extend(common::gpu("text_lstm_pytorch"));
    for device in devices {
        let last_step = logits_on(device, SequenceReadout::LastStep);
        assert_within(&last_step, &floats(&expected.json["last_step_logits"]), 1e-5, &format!("last-step logits on {device}"));
        assert_within(&sigmoid(&last_step), &floats(&expected.json["last_step_probas"]), 1e-5, &format!("last-step probas on {device}"));
        let last_real = logits_on(device, SequenceReadout::LastRealToken);
        assert_within(&sigmoid(&last_real), &floats(&expected.json["last_real_token_probas"]), 1e-5, &format!("last-real-token probas on {device}"));
    }
}

/// A data folder whose unlabelled test split holds the fixture's captions, ids 100, 101, ...
/// The images are empty files: a text model never decodes them.
fn data_of_fixture_texts(expected: &Expected) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("img")).unwrap();
    let mut lines = String::new();
    for (i, text) in expected.texts.iter().enumerate() {
        std::fs::write(data.path().join(format!("img/{i}.png")), b"").unwrap();
        lines.push_str(&serde_json::json!({ "id": 100 + i, "img": format!("img/{i}.png"), "text": text }).to_string());
        lines.push('\n');
    }
    std::fs::write(data.path().join("test_seen.jsonl"), lines).unwrap();
    data
}

/// `--model lstm --weights` of the fixture over `data`, read at `readout`, on the CPU.
fn fixture_weights_source(expected: &Expected, data: &Path, readout: SequenceReadout) -> ModelSource {
    let mut source = ModelSource::run_on_cpu(Path::new("unused"));
    source.run = None;
    source.model = Some("lstm".into());
    source.weights = Some(fixture("weights.safetensors"));
    source.data = Some(data.to_path_buf());
    source.vocab = Some(fixture("vocab.txt"));
    source.max_len = Some(expected.max_len);
    source.readout = Some(readout);
    source
}

#[test]
fn predict_command_writes_pytorch_probabilities() {
    let expected = expected();
    let data = data_of_fixture_texts(&expected);
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("predictions.jsonl");
    let mut args = PredictArgs::for_run(Path::new("unused"), "test", &output);
    args.source = fixture_weights_source(&expected, data.path(), SequenceReadout::LastStep);
    args.batch_size = Some(4);
    run_predict(args).unwrap();
    let predictions: Vec<serde_json::Value> = std::fs::read_to_string(&output).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let probas = floats(&expected.json["last_step_probas"]);
    assert_eq!(predictions.len(), probas.len());
    for (prediction, (i, &proba)) in predictions.iter().zip(probas.iter().enumerate()) {
        assert_eq!(prediction["id"], serde_json::json!(100 + i), "a number id stays a number");
        let ours = prediction["proba"].as_f64().unwrap() as f32;
        assert!((ours - proba).abs() <= 1e-4, "record {i}: proba {ours} vs PyTorch {proba}");
        assert_eq!(prediction["logits"][0], 0.0, "the single logit x is reported as [0, x]");
        assert_eq!(prediction["true_label"], serde_json::Value::Null);
    }
}

#[test]
fn embed_reads_the_hidden_state_at_the_readout_it_is_given() {
    let expected = expected();
    let data = data_of_fixture_texts(&expected);
    let out = tempfile::tempdir().unwrap();
    let embed_with = |readout: SequenceReadout| {
        let output = out.path().join(format!("{readout:?}.safetensors"));
        let mut args = EmbedArgs::for_run(Path::new("unused"), "test", &output);
        args.source = fixture_weights_source(&expected, data.path(), readout);
        run_embed(args).unwrap();
        Embeddings::read(&output).unwrap()
    };
    let (last_step, last_real) = (embed_with(SequenceReadout::LastStep), embed_with(SequenceReadout::LastRealToken));
    let rows = |e: &Embeddings| e.features.chunks(e.dim).map(<[f32]>::to_vec).collect::<Vec<_>>();
    let (last_step_rows, last_real_rows) = (rows(&last_step), rows(&last_real));
    assert_eq!(last_step_rows.len(), expected.lengths.len());
    assert!(expected.lengths.iter().any(|&n| n == expected.max_len) && expected.lengths.iter().any(|&n| n < expected.max_len), "the fixture has full and padded captions");
    for (i, &length) in expected.lengths.iter().enumerate() {
        // Only a padded caption's last real token comes before the last step.
        assert_eq!(last_step_rows[i] == last_real_rows[i], length == expected.max_len, "record {i} (length {length})");
    }
}

#[test]
fn export_then_import_gives_the_same_model() {
    let config = TextLstmConfig { vocab_size: 30, embedding_dim: 4, hidden: 3, layers: 3, readout: SequenceReadout::LastStep };
    let model = TextLstm::new(config.clone(), &mut Rng::new(5), Device::Cpu).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    save_text_lstm(&model, file.path()).unwrap();
    let loaded = load_text_lstm(file.path(), SequenceReadout::LastStep, Device::Cpu).unwrap();
    assert_eq!(loaded.config(), &config, "sizes read from the shapes, layers counted");
    let tokens = Tensor::from_i32((0..20).map(|i| i % 30).collect(), &[2, 10], Device::Cpu).unwrap();
    let (a, b) = (model.forward(&tokens, &[10, 10], false, DType::F32).unwrap(), loaded.forward(&tokens, &[10, 10], false, DType::F32).unwrap());
    assert_eq!(a.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
    let names: Vec<String> = loaded.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "embedding.weight");
    assert_eq!(&names[names.len() - 2..], ["fc.weight", "fc.bias"]);
}

#[test]
fn bad_weight_files_name_the_key() {
    let model = TextLstm::new(TextLstmConfig { vocab_size: 9, embedding_dim: 4, hidden: 3, layers: 2, ..Default::default() }, &mut Rng::new(1), Device::Cpu).unwrap();
    let mut parameters = model.parameters();
    let write = |parameters: &[(String, Tensor)]| {
        let file = tempfile::NamedTempFile::new().unwrap();
        let buffers: Vec<(String, Vec<usize>, Vec<f32>)> = parameters.iter().map(|(n, t)| (n.clone(), t.shape().to_vec(), t.to_vec_f32().unwrap())).collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = buffers
            .iter()
            .map(|(n, s, v)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), bytemuck::cast_slice(v)).unwrap()))
            .collect();
        std::fs::write(file.path(), safetensors::serialize(views, &None).unwrap()).unwrap();
        load_text_lstm(file.path(), SequenceReadout::LastStep, Device::Cpu).err().map(|e| format!("{e:#}"))
    };
    assert_eq!(write(&parameters), None);
    parameters.retain(|(n, _)| n != "lstm.bias_hh_l1");
    let error = write(&parameters).unwrap();
    assert!(error.contains("missing key 'lstm.bias_hh_l1'"), "{error}");
    parameters = model.parameters();
    parameters[8].1 = Tensor::zeros(&[5], memefuse::DType::F32, Device::Cpu).unwrap();
    let error = write(&parameters).unwrap();
    assert!(error.contains("key 'lstm.bias_hh_l1' has shape [5]") && error.contains("[12]"), "{error}");
}

#[test]
fn learns_which_word_marks_a_positive_caption() {
    // Label 1 exactly when token 3 appears somewhere: needs the recurrence to carry it to the end.
    let mut rng = Rng::new(3);
    let (batch, length) = (32, 6);
    let ids: Vec<i32> = (0..batch * length).map(|_| 2 + rng.below(6) as i32).collect();
    let labels: Vec<f32> = ids.chunks(length).map(|row| row.contains(&3) as i32 as f32).collect();
    let tokens = Tensor::from_i32(ids.clone(), &[batch, length], Device::Cpu).unwrap();
    let targets = Tensor::from_vec(labels, &[batch], Device::Cpu).unwrap();
    let config = TextLstmConfig { vocab_size: 8, embedding_dim: 8, hidden: 8, layers: 2, readout: SequenceReadout::LastStep };
    let model = TextLstm::new(config, &mut Rng::new(4), Device::Cpu).unwrap();
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.02, ..Default::default() });
    let lengths = lengths_of(&ids, length);
    let mut losses = Vec::new();
    for _ in 0..60 {
        let loss = binary_cross_entropy_with_logits(&model.forward(&tokens, &lengths, true, DType::F32).unwrap(), &targets).unwrap();
        losses.push(loss.to_scalar().unwrap());
        let grads = loss.backward().unwrap();
        adam.step(&model.parameters(), &grads).unwrap();
    }
    assert!(losses[59] < 0.5 * losses[0], "loss {} → {}", losses[0], losses[59]);
    let features = model.features(&tokens, &lengths, DType::F32).unwrap();
    assert_eq!(features.shape(), &[batch, 8]);
}

/// The bench's training step (forward, BCE, backward, Adam) at a small shape; returns the loss and
/// every parameter after the step.
/// (tests/steady_state_allocations.rs runs the same step and counts its allocations.)
fn train_steps(steps: usize, threads: usize) -> Vec<Vec<f32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        // Batch 37: a ragged last block of batch rows in the CPU recurrence.
        let (vocab, batch, length) = (300, 37, 9);
        let config = TextLstmConfig { vocab_size: vocab, embedding_dim: 12, hidden: 16, layers: 2, readout: SequenceReadout::LastStep };
        let model = TextLstm::new(config, &mut Rng::new(4), Device::Cpu).unwrap();
        let mut rng = Rng::new(5);
        let ids: Vec<i32> = (0..batch * length).map(|_| rng.below(vocab) as i32).collect();
        let tokens = Tensor::from_i32(ids, &[batch, length], Device::Cpu).unwrap();
        let targets = Tensor::from_vec((0..batch).map(|i| (i % 2) as f32).collect(), &[batch], Device::Cpu).unwrap();
        let lengths = vec![length; batch];
        let mut adam = Adam::new(AdamConfig::default());
        for _ in 0..steps {
            let logits = model.forward(&tokens, &lengths, true, DType::F32).unwrap();
            let grads = binary_cross_entropy_with_logits(&logits, &targets).unwrap().backward().unwrap();
            adam.step(&model.parameters(), &grads).unwrap();
        }
        model.parameters().iter().map(|(_, p)| p.to_vec_f32().unwrap()).collect()
    })
}

/// The CPU backend's sums do not depend on how rayon splits the work: three training steps give the
/// same parameters, bit for bit, on 1, 2 and 5 threads.
#[test]
fn cpu_training_steps_are_bit_identical_on_any_thread_count() {
    let one = train_steps(3, 1);
    assert_eq!(one, train_steps(3, 2), "1 vs 2 threads");
    assert_eq!(one, train_steps(3, 5), "1 vs 5 threads");
}

