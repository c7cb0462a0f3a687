//! `memefuse embed` writes the features the head sees for every record (for clip-fusion also, as
//! .jsonl, the projected image and text embeddings), and `memefuse tsne` turns a run's split (or an
//! embeddings file) into a PNG and a CSV of points.
mod trainer_common;

use std::path::Path;

use memefuse::io::embeddings::Embeddings;
use memefuse::train::batch_input::model_input;
use memefuse::train::commands::run_train;
use memefuse::train::data_cache::DataCache;
use memefuse::train::embed::{run_embed, EmbedArgs};
use memefuse::train::inference::{evaluation_loader, run_split};
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::train::trainer::load_trained_model;
use memefuse::train::tsne_command::{run_tsne, TsneArgs};
use memefuse::viz::tsne::{Initialisation, LearningRate};
use memefuse::Device;
use trainer_common::{read_json_lines, tiny_dataset, train_args};

fn embed_args(run: &Path, split: &str, output: &Path) -> EmbedArgs {
    EmbedArgs::for_run(run, split, output)
}

fn tsne_args() -> TsneArgs {
    TsneArgs {
        run: None,
        split: None,
        embeddings: None,
        output: None,
        points: None,
        perplexity: 10.0,
        iterations: 300,
        theta: 0.5,
        init: Initialisation::Pca,
        learning_rate: LearningRate::Auto,
        seed: 0,
        checkpoint: CheckpointKind::Best,
        data: None,
        device: "cpu".into(),
    }
}

/// The CSV `tsne` writes: (id, label, x, y) per line after the header.
fn read_points(path: &Path) -> Vec<(String, String, f32, f32)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,label,x,y"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_string(), fields[1].to_string(), fields[2].parse().unwrap(), fields[3].parse().unwrap())
        })
        .collect()
}

#[test]
fn embed_writes_the_features_the_head_sees_and_tsne_plots_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("fusion-mlp", &data, &run, 1)).unwrap();

    let output = dir.path().join("dev.safetensors");
    run_embed(embed_args(&run, "dev", &output)).unwrap();
    let written = Embeddings::read(&output).unwrap();

    // The same features, ids and labels as an evaluation pass over the split asked for embeddings.
    let run_dir = RunDir::open_existing(&run).unwrap();
    let (config, model, progress) = load_trained_model(&run_dir, CheckpointKind::Best, Device::Cpu).unwrap();
    let split = DataCache::new(&run_dir, &config).split("dev").unwrap();
    let reference = run_split(model.as_ref(), &evaluation_loader(split, 128).unwrap(), config.precision.compute_dtype(), Device::Cpu, true).unwrap();
    let (features, dim) = reference.embeddings.clone().unwrap();
    assert_eq!(written.len(), 80);
    assert_eq!((written.dim, &written.features), (dim, &features));
    assert_eq!(written.ids, reference.ids);
    assert_eq!(written.labels, reference.labels);
    assert!(written.labels.iter().all(Option::is_some));
    assert_eq!(written.provenance["model"], "fusion-mlp");
    assert_eq!(written.provenance["split"], "dev");
    assert_eq!(written.provenance["epoch"], progress.epoch.to_string());

    // tsne --run: the PNG decodes, the CSV has every record with its label.
    run_tsne(TsneArgs { run: Some(run.clone()), split: Some("dev".into()), ..tsne_args() }).unwrap();
    let png = image::open(run.join("tsne-dev.png")).unwrap();
    assert!(png.width() > 100 && png.height() > 100);
    let points = read_points(&run.join("tsne-dev.csv"));
    assert_eq!(points.iter().map(|p| p.0.clone()).collect::<Vec<_>>(), written.ids);
    for ((_, label, x, y), written_label) in points.iter().zip(&written.labels) {
        assert_eq!(label, &written_label.unwrap().to_string());
        assert!(x.is_finite() && y.is_finite());
    }

    // tsne --embeddings on the file: the same points (same features, same options).
    let png = dir.path().join("from-file.png");
    run_tsne(TsneArgs { embeddings: Some(output.clone()), output: Some(png.clone()), ..tsne_args() }).unwrap();
    assert_eq!(read_points(&png.with_extension("csv")), points);
}

#[test]
fn embed_covers_unlabelled_splits_and_never_writes_over_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    run_train(train_args("text-bow", &data, &run, 1)).unwrap();

    let output = dir.path().join("unseen.safetensors");
    run_embed(embed_args(&run, "test_unseen", &output)).unwrap();
    let written = Embeddings::read(&output).unwrap();
    assert_eq!(written.len(), 60);
    assert!(written.labels.iter().all(Option::is_none), "test_unseen has no labels");
    assert!(written.ids.iter().all(|id| id.len() == 5), "string ids keep their leading zeros");

    let checkpoint = run.join("checkpoints").join("best.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();
    let error = run_embed(embed_args(&run, "dev", &checkpoint)).unwrap_err().to_string();
    assert!(error.contains("is an input of this command"), "{error}");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before, "the checkpoint is untouched");

    let error = run_tsne(TsneArgs { embeddings: Some(output.clone()), points: Some(output.clone()), ..tsne_args() }).unwrap_err().to_string();
    assert!(error.contains("--points") && error.contains("is an input of this command"), "{error}");
    // Every record unlabelled: no plot, but the points are written.
    run_tsne(TsneArgs { embeddings: Some(output.clone()), ..tsne_args() }).unwrap();
    assert_eq!(read_points(&dir.path().join("unseen-tsne.csv")).len(), 60);
    assert!(!dir.path().join("unseen-tsne.png").exists());
}

/// y = W·x + b for a [out, in] weight, in f64.
fn linear(weight: &[f32], bias: &[f32], x: &[f64]) -> Vec<f64> {
    weight.chunks(x.len()).zip(bias).map(|(row, &b)| row.iter().zip(x).map(|(&w, &v)| w as f64 * v).sum::<f64>() + b as f64).collect()
}

fn normalised(v: &[f64]) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// A clip-fusion run (from scratch, tiny): `.safetensors` holds the fused hidden layer the head
/// reads, with the split's ids and labels; `.jsonl` each record's projected, unnormalised image and
/// text embeddings. Both are checked against each other and the run's predictions: the .jsonl
/// embeddings, L2-normalised and fused as [i, t, i⊙t] through the checkpoint's `fusion.hidden`
/// and a ReLU, give the .safetensors features, and those through `head` the logits of an
/// evaluation pass.
#[test]
fn embed_of_a_clip_fusion_run_writes_its_fused_features_and_projected_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_dataset(dir.path());
    let run = dir.path().join("run");
    let mut args = train_args("clip-fusion", &data, &run, 1);
    // Small and quick: 32 px images (an 8×8 grid of 4 px patches), 12-token captions.
    (args.image_size, args.max_len) = (Some(32), Some(12));
    run_train(args).unwrap();

    let features_file = dir.path().join("dev.safetensors");
    run_embed(embed_args(&run, "dev", &features_file)).unwrap();
    let written = Embeddings::read(&features_file).unwrap();
    let jsonl = dir.path().join("dev.jsonl");
    run_embed(embed_args(&run, "dev", &jsonl)).unwrap();
    let lines = read_json_lines(&jsonl);

    let run_dir = RunDir::open_existing(&run).unwrap();
    let (config, model, _) = load_trained_model(&run_dir, CheckpointKind::Best, Device::Cpu).unwrap();
    let split = DataCache::new(&run_dir, &config).split("dev").unwrap();
    let reference = run_split(model.as_ref(), &evaluation_loader(split, 128).unwrap(), config.precision.compute_dtype(), Device::Cpu, true).unwrap();
    let (features, dim) = reference.embeddings.clone().unwrap();
    assert_eq!((written.len(), written.dim), (80, 256), "one fused hidden vector (fusion.hidden is 256 wide) per dev record");
    assert_eq!(written.features, features);
    assert_eq!(written.ids, reference.ids);
    assert_eq!(written.labels, reference.labels);
    assert!(written.labels.iter().all(Option::is_some));
    assert_eq!(written.provenance["model"], "clip-fusion");

    // The .jsonl holds the model's projected embeddings as they are, not normalised.
    let loader = evaluation_loader(DataCache::new(&run_dir, &config).split("dev").unwrap(), 128).unwrap();
    let batch = loader.epoch(0).next().unwrap();
    let input = model_input(&batch, model.needs(), config.precision.compute_dtype(), Device::Cpu).unwrap();
    let (image, text) = {
        let _no_grad = memefuse::autograd::no_grad();
        model.projected_embeddings(&input).unwrap().expect("clip-fusion has projected embeddings")
    };
    let (image, text) = (image.to_vec_f32().unwrap(), text.to_vec_f32().unwrap());
    for (row, line) in lines.iter().enumerate().take(batch.batch_size) {
        for (key, expected) in [("image_embedding", &image[row * 64..(row + 1) * 64]), ("text_embedding", &text[row * 64..(row + 1) * 64])] {
            let got: Vec<f32> = line[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            assert_eq!(got, expected, "record {row}: {key}");
        }
    }
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(image.chunks(64).chain(text.chunks(64)).any(|v| (norm(v) - 1.0).abs() > 1e-2), "projected embeddings are not unit vectors");

    let parameter = |name: &str| model.parameters().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1.to_vec_f32().unwrap();
    let (hidden_weight, hidden_bias) = (parameter("fusion.hidden.weight"), parameter("fusion.hidden.bias"));
    let (head_weight, head_bias) = (parameter("head.weight"), parameter("head.bias"));
    assert_eq!(lines.len(), 80);
    for (row, line) in lines.iter().enumerate() {
        assert_eq!(line.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "image_embedding", "text_embedding", "true_label"]);
        assert_eq!(line["id"], reference.id_values[row]);
        assert_eq!(line["true_label"].as_u64().map(|l| l as u8), reference.labels[row]);
        let vector = |key: &str| -> Vec<f64> { line[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
        let (image, text) = (normalised(&vector("image_embedding")), normalised(&vector("text_embedding")));
        assert_eq!((image.len(), text.len()), (64, 64), "the from-scratch projection is 64 wide");
        let fused: Vec<f64> = image.iter().chain(&text).copied().chain(image.iter().zip(&text).map(|(i, t)| i * t)).collect();
        let hidden: Vec<f64> = linear(&hidden_weight, &hidden_bias, &fused).into_iter().map(|h| h.max(0.0)).collect();
        let feature_row = &written.features[row * dim..(row + 1) * dim];
        for (expected, &got) in hidden.iter().zip(feature_row) {
            assert!((expected - got as f64).abs() < 1e-4, "record {row}: feature {got} where the .jsonl embeddings give {expected}");
        }
        let logits = linear(&head_weight, &head_bias, &feature_row.iter().map(|&v| v as f64).collect::<Vec<_>>());
        for (expected, &got) in logits.iter().zip(&reference.logits[row]) {
            assert!((expected - got as f64).abs() < 1e-4, "record {row}: logit {got}, the head on the written features gives {expected}");
        }
    }
}
