//! Training refuses what it cannot do honestly (issue 11): `--init` weights of another vocabulary
//! (unless remapped by token), sizes that cannot fit in memory, options the model ignores; `best`
//! checkpoints hold weights only.
mod trainer_common;

use std::path::{Path, PathBuf};

use memefuse::data::text::Vocabulary;
use memefuse::train::checkpoint::{load_checkpoint, HostTensor};
use memefuse::train::commands::{run_predict, run_train, PredictArgs};
use memefuse::train::config::{OptimizerKind, TrainConfig};
use memefuse::train::memory_estimate::{estimate, parameter_count};
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::train::vocab_remap::remap_by_token;
use memefuse::util::Rng;
use memefuse::{Device, Tensor};
use trainer_common::{read_json_lines, tiny_dataset, train_args};

/// A copy of `data` whose captions swap the words `a` and `b` everywhere: the same tokens (so a
/// vocabulary of the same size) in another frequency order.
fn with_words_swapped(data: &Path, out: &Path, a: &str, b: &str) -> PathBuf {
    std::fs::create_dir_all(out).unwrap();
    for entry in std::fs::read_dir(data).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.path().is_dir() {
            std::os::unix::fs::symlink(entry.path(), out.join(&name)).unwrap();
            continue;
        }
        let mut text = String::new();
        for mut record in read_json_lines(&entry.path()) {
            let caption = record["text"].as_str().unwrap().split(' ').map(|w| if w == a { b } else if w == b { a } else { w }).collect::<Vec<_>>().join(" ");
            record["text"] = caption.into();
            text += &(record.to_string() + "\n");
        }
        std::fs::write(out.join(&name), text).unwrap();
    }
    out.to_path_buf()
}

fn checkpoint(run: &Path, kind: CheckpointKind) -> PathBuf {
    RunDir::new(run).checkpoint_path(kind)
}

fn tensor<'a>(tensors: &'a [(String, HostTensor)], name: &str) -> &'a HostTensor {
    &tensors.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing")).1
}

#[test]
fn init_from_another_vocabulary_is_refused_unless_remapped_by_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let first = dir.path().join("first");
    run_train(train_args("text-bow", &data, &first, 2)).unwrap();
    let source = load_checkpoint(&checkpoint(&first, CheckpointKind::Last)).unwrap();
    let from = source.vocabulary.clone().expect("checkpoints record their vocabulary");
    let (a, b) = (from.token(2).unwrap().to_string(), from.token(from.len() as i32 - 1).unwrap().to_string());
    let other_data = with_words_swapped(&data, &dir.path().join("swapped"), &a, &b);

    let refused = dir.path().join("refused");
    let mut args = train_args("text-bow", &other_data, &refused, 1);
    args.init = Some(checkpoint(&first, CheckpointKind::Last));
    let error = format!("{:#}", run_train(args).unwrap_err());
    assert!(error.contains("another vocabulary") && error.contains("--init-remap-vocab"), "{error}");

    // Remapped: each token's column of text.hidden.weight moves to the token's new id. A learning
    // rate of 1e-30 leaves the initial weights as they were after the one epoch.
    let remapped = dir.path().join("remapped");
    let mut args = train_args("text-bow", &other_data, &remapped, 1);
    args.init = Some(checkpoint(&first, CheckpointKind::Last));
    args.init_remap_vocab = true;
    args.learning_rate = Some(1e-30);
    run_train(args).unwrap();
    let result = load_checkpoint(&checkpoint(&remapped, CheckpointKind::Last)).unwrap();
    let to = result.vocabulary.clone().unwrap();
    assert_eq!(to.len(), from.len(), "the same tokens");
    assert_ne!(to.hash(), from.hash(), "in another order");
    assert_ne!(to.id(&a), from.id(&a));
    let (old, new) = (tensor(&source.model, "text.hidden.weight"), tensor(&result.model, "text.hidden.weight"));
    let hidden = old.shape[0];
    for new_id in 0..to.len() {
        let old_id = from.id(to.token(new_id as i32).unwrap()).unwrap() as usize;
        for h in 0..hidden {
            assert_eq!(new.values[h * to.len() + new_id], old.values[h * from.len() + old_id], "token {:?}, row {h}", to.token(new_id as i32));
        }
    }
}

#[test]
fn remapping_moves_rows_of_either_axis_and_keeps_new_tokens_fresh() {
    let from = Vocabulary::from_text("<pad>\n<unk>\ncat\ndog\n", "from").unwrap();
    let to = Vocabulary::from_text("<pad>\n<unk>\ndog\nemu\ncat\n", "to").unwrap();
    let mut rng = Rng::new(5);
    let fresh_rows = Tensor::randn(&[5, 2], 1.0, &mut rng, Device::Cpu).unwrap();
    let fresh_columns = Tensor::randn(&[2, 5], 1.0, &mut rng, Device::Cpu).unwrap();
    let parameters = vec![("embedding.weight".to_string(), fresh_rows.clone()), ("text.hidden.weight".to_string(), fresh_columns.clone())];
    // Row i of the old embedding holds i*10 + k; column i of the old linear weight holds 100*h + i.
    let rows = HostTensor { shape: vec![4, 2], values: (0..4).flat_map(|i| [i as f32 * 10.0, i as f32 * 10.0 + 1.0]).collect() };
    let columns = HostTensor { shape: vec![2, 4], values: (0..2).flat_map(|h| (0..4).map(move |i| (100 * h + i) as f32)).collect() };
    let mut loaded = vec![("embedding.weight".to_string(), rows), ("text.hidden.weight".to_string(), columns)];
    let axes = [("embedding.weight".to_string(), 0), ("text.hidden.weight".to_string(), 1)];
    let summary = remap_by_token(&mut loaded, &axes, &parameters, &from, &to).unwrap();
    assert_eq!((summary.shared_tokens, summary.new_tokens), (4, 1));
    let fresh = fresh_rows.to_vec_f32().unwrap();
    // New ids: <pad> 0←0, <unk> 1←1, dog 2←3, emu 3 (new), cat 4←2.
    assert_eq!(loaded[0].1.values, vec![0.0, 1.0, 10.0, 11.0, 30.0, 31.0, fresh[6], fresh[7], 20.0, 21.0]);
    let fresh = fresh_columns.to_vec_f32().unwrap();
    assert_eq!(loaded[1].1.values, vec![0.0, 1.0, 3.0, fresh[3], 2.0, 100.0, 101.0, 103.0, fresh[8], 102.0]);
}

#[test]
fn best_checkpoints_hold_weights_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("image-mlp", &data, &run, 1)).unwrap();
    let best = load_checkpoint(&checkpoint(&run, CheckpointKind::Best)).unwrap();
    let last = load_checkpoint(&checkpoint(&run, CheckpointKind::Last)).unwrap();
    assert!(best.optimizer.is_empty() && !last.optimizer.is_empty());
    assert_eq!(best.model, last.model, "after one epoch both hold the same weights");
    let size = |kind| std::fs::metadata(checkpoint(&run, kind)).unwrap().len();
    assert!(size(CheckpointKind::Best) * 2 < size(CheckpointKind::Last), "best {} vs last {}", size(CheckpointKind::Best), size(CheckpointKind::Last));
}

#[test]
fn the_memory_estimate_counts_every_parameter_and_refuses_what_cannot_fit() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let config = |model: &str| TrainConfig {
        model: model.to_string(),
        model_config: memefuse::models::ModelConfig { image_size: 32, vocab_size: 37, hidden: 9, dropout: 0.1, ..Default::default() },
        ..train_args(model, &data, dir.path(), 1).to_config(Device::Cpu).unwrap()
    };
    for entry in memefuse::models::REGISTRY.iter().filter(|entry| entry.name != "vgg16") {
        let config = config(entry.name);
        let model = memefuse::models::build(entry.name, &config.model_config, &mut Rng::new(0), Device::Cpu).unwrap();
        let actual: usize = model.parameters().iter().map(|(_, p)| p.shape().iter().product::<usize>()).sum();
        assert_eq!(parameter_count(&config), actual, "{}", entry.name);
    }
    let adam = estimate(&config("text-bow"), 32, true);
    let sgd = estimate(&TrainConfig { optimizer: OptimizerKind::Sgd, ..config("text-bow") }, 32, true);
    assert_eq!(adam.parameter_bytes, adam.parameters as f64 * 16.0, "weights, gradients and two moments");
    assert_eq!(sgd.parameter_bytes, sgd.parameters as f64 * 12.0);

    // Refused in one line, before the model is built.
    let mut huge = train_args("text-bow", &data, &dir.path().join("huge"), 1);
    huge.hidden = Some(1_000_000_000);
    let error = run_train(huge).unwrap_err().to_string();
    assert!(error.contains("would need about") && error.contains("--hidden"), "{error}");
    let mut huge_batch = train_args("image-mlp", &data, &dir.path().join("huge_batch"), 1);
    huge_batch.batch_size = Some(1_000_000_000);
    let error = run_train(huge_batch).unwrap_err().to_string();
    assert!(error.contains("would need about") && error.contains("a batch of 1000000000"), "{error}");

    let run = dir.path().join("run");
    run_train(train_args("image-mlp", &data, &run, 1)).unwrap();
    let mut predict = PredictArgs::for_run(&run, "dev", &dir.path().join("p.jsonl"));
    predict.batch_size = Some(1_000_000_000);
    let error = run_predict(predict).unwrap_err().to_string();
    assert!(error.contains("would need about"), "{error}");
}

#[test]
fn options_the_model_ignores_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let mut lstm = train_args("lstm", &data, &dir.path().join("lstm"), 1);
    lstm.hidden = Some(512);
    let error = run_train(lstm).unwrap_err().to_string();
    assert!(error.contains("lstm would ignore --hidden"), "{error}");
    let mut text = train_args("text-bow", &data, &dir.path().join("text"), 1);
    text.rotation = Some(5.0);
    let error = run_train(text).unwrap_err().to_string();
    assert!(error.contains("--rotation (it reads no image)"), "{error}");
    let mut image = train_args("image-mlp", &data, &dir.path().join("image"), 1);
    image.max_len = Some(8);
    assert!(run_train(image).unwrap_err().to_string().contains("--max-len (it reads no caption)"));
    assert!(!dir.path().join("lstm").exists() && !dir.path().join("text").exists(), "refused before any folder is made");
}
