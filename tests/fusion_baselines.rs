//! The fusion baselines (cnn-lstm, vgg16-lstm; early and late fusion): shapes, the frozen image
//! branch, and, on noisy synthetic data, that fusion beats each single modality.
mod trainer_common;

use memefuse::models::{self, FusionKind, ModelConfig, ModelInput, TokenIds};
use memefuse::nn::loss::cross_entropy;
use memefuse::study::run_summary::{summarise_run, SummaryOptions};
use memefuse::train::commands::TrainArgs;
use memefuse::train::progress::ProgressMode;
use memefuse::train::run_dir::{CheckpointKind, RunDir};
use memefuse::train::trainer::{train_new, TrainOptions};
use memefuse::util::Rng;
use memefuse::{DType, Device, Tensor};

const BATCH: usize = 3;
const VOCAB: usize = 11;

fn batch(image_size: usize) -> ModelInput {
    let mut rng = Rng::new(5);
    let images = Tensor::randn(&[BATCH, image_size, image_size, 3], 1.0, &mut rng, Device::Cpu).unwrap();
    // Rows of different real lengths, post-padded with 0.
    let ids = vec![3, 4, 5, 0, 0, 7, 8, 9, 10, 2, 6, 0, 0, 0, 0];
    ModelInput { batch_size: BATCH, images: Some(images), tokens: Some(TokenIds { ids, max_len: 5 }), dtype: DType::F32, device: Device::Cpu }
}

fn config(fusion: FusionKind, freeze_image: bool) -> ModelConfig {
    ModelConfig { image_size: 32, vocab_size: VOCAB, hidden: 16, dropout: 0.2, fusion, freeze_image, ..Default::default() }
}

#[test]
fn every_fusion_baseline_gives_logits_and_its_fused_embedding() {
    for name in ["cnn-lstm", "vgg16-small-lstm"] {
        let image_width = if name == "cnn-lstm" { 32 } else { 256 };
        for (fusion, embedding_width) in [(FusionKind::Early, 16), (FusionKind::Late, image_width + 64)] {
            let model = models::build(name, &config(fusion, false), &mut Rng::new(0), Device::Cpu).unwrap();
            assert_eq!(model.needs(), models::Needs { image: true, text: true });
            let input = batch(32);
            let logits = model.forward(&input, true, &mut Rng::new(1)).unwrap();
            assert_eq!(logits.shape(), [BATCH, 2], "{name} {fusion}");
            assert!(logits.to_vec_f32().unwrap().iter().all(|v| v.is_finite()));
            let embedding = model.embed(&input).unwrap();
            assert_eq!(embedding.shape(), [BATCH, embedding_width], "{name} {fusion} embeds the fused vector");
            // Evaluation is deterministic: dropout is off.
            let again = model.forward(&input, false, &mut Rng::new(2)).unwrap().to_vec_f32().unwrap();
            assert_eq!(model.forward(&input, false, &mut Rng::new(3)).unwrap().to_vec_f32().unwrap(), again);
            let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
            assert!(names.iter().any(|n| n == "lstm.weight_ih_l0") && names.iter().any(|n| n == "embedding.weight"));
            assert!(!names.iter().any(|n| n.starts_with("fc.") || n.starts_with("classifier.6.")), "unused heads are not parameters: {names:?}");
            if fusion == FusionKind::Late {
                assert!(names.iter().any(|n| n == "fusion.image_weight") && names.iter().any(|n| n == "fusion.text_weight"));
            }
        }
    }
}

#[test]
fn late_fusion_is_the_weighted_sum_of_the_branch_logits() {
    let model = models::build("cnn-lstm", &config(FusionKind::Late, false), &mut Rng::new(0), Device::Cpu).unwrap();
    let input = batch(32);
    let parameter = |name: &str| model.parameters().into_iter().find(|(n, _)| n == name).unwrap().1;
    let before = model.forward(&input, false, &mut Rng::new(0)).unwrap().to_vec_f32().unwrap();
    // Zeroing the text weight leaves only the image branch: doubling the image weight doubles the logits.
    let _no_grad = memefuse::autograd::no_grad();
    parameter("fusion.text_weight").fill_(0.0).unwrap();
    let image_only = model.forward(&input, false, &mut Rng::new(0)).unwrap().to_vec_f32().unwrap();
    parameter("fusion.image_weight").fill_(2.0).unwrap();
    let doubled = model.forward(&input, false, &mut Rng::new(0)).unwrap().to_vec_f32().unwrap();
    for (single, double) in image_only.iter().zip(&doubled) {
        assert!((2.0 * single - double).abs() < 1e-5, "{single} × 2 ≠ {double}");
    }
    assert!(before.iter().zip(&image_only).any(|(a, b)| (a - b).abs() > 1e-4), "the text branch contributed before");
}

#[test]
fn a_frozen_image_branch_gets_no_gradient_while_the_rest_trains() {
    for name in ["cnn-lstm", "vgg16-small-lstm"] {
        for (freeze, image_gets_gradients) in [(true, false), (false, true)] {
            let model = models::build(name, &config(FusionKind::Early, freeze), &mut Rng::new(0), Device::Cpu).unwrap();
            let logits = model.forward(&batch(32), true, &mut Rng::new(1)).unwrap();
            let gradients = cross_entropy(&logits, &[0, 1, 1]).unwrap().backward().unwrap();
            for (parameter, tensor) in model.parameters() {
                let is_image = parameter.starts_with("cnn.") || parameter.starts_with("features.") || parameter.starts_with("classifier.");
                let has_gradient = gradients.get(&tensor).is_some();
                let expected = !is_image || image_gets_gradients;
                assert_eq!(has_gradient, expected, "{name}, freeze {freeze}: {parameter}");
            }
        }
    }
}

/// Trains `model` on `data` and returns its best checkpoint's AUROC on `test`.
fn test_auroc(model: &str, fusion: Option<FusionKind>, data: &std::path::Path, out: &std::path::Path, epochs: usize) -> f64 {
    let run = out.join(format!("{model}-{}", fusion.map_or("single".to_string(), |f| f.to_string())));
    let args = TrainArgs { model: Some(model.into()), data: Some(data.into()), epochs: Some(epochs), fusion, device: "cpu".into(), ..TrainArgs::default() };
    let options = TrainOptions { device: Device::Cpu, progress: ProgressMode::Silent, stop_after_epochs: None };
    train_new(&RunDir::new(&run), args.to_config(Device::Cpu).unwrap(), &options).unwrap();
    let summary_options = SummaryOptions { split: "test".into(), tsne_split: "dev".into(), checkpoint: CheckpointKind::Best, device: Device::Cpu };
    summarise_run(&run, &summary_options).unwrap().evaluation.auroc.expect("test has both classes")
}

/// A reduced version of docs/study.md's comparison: 10 % label noise, the default settings. The
/// label is image cue AND text cue, so neither branch alone can rank as well as both together.
#[test]
fn fusion_beats_each_single_modality_on_noisy_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut synth = memefuse::data::synth::SynthOptions::new(&data);
    (synth.train, synth.dev, synth.test, synth.seed, synth.label_noise) = (800, 200, 400, 3, 0.1);
    memefuse::data::synth::generate(&synth).unwrap();
    let epochs = 5;
    let image_only = test_auroc("cnn", None, &data, dir.path(), epochs);
    let text_only = test_auroc("lstm-last-token", None, &data, dir.path(), epochs);
    let best_single = image_only.max(text_only);
    for fusion in [FusionKind::Early, FusionKind::Late] {
        let fused = test_auroc("cnn-lstm", Some(fusion), &data, dir.path(), epochs);
        eprintln!("cnn-lstm {fusion}: test AUROC {fused:.3}; image-only {image_only:.3}, text-only {text_only:.3}");
        assert!(fused > best_single + 0.03, "cnn-lstm {fusion}: test AUROC {fused:.3} vs image-only {image_only:.3}, text-only {text_only:.3}");
    }
}
