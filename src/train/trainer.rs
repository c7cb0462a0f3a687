//! The training loop: epochs of mini-batch steps, a validation pass after each, the history line,
//! and the `last` / `best` checkpoints. A resumed run continues from `last` and computes exactly
//! what the uninterrupted run would have: every random stream is derived from the seed and the
//! epoch number (data order: the loader's `(seed, epoch)` shuffle; dropout: [`dropout_rng`]).
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::batch_input::{class_labels, model_input};
use super::checkpoint::{self, assign_parameters, load_checkpoint, save_checkpoint, CheckpointContents, LoadedCheckpoint, TrainingProgress};
use super::config::{stopped_early, TrainConfig};
use super::data_cache::DataCache;
use super::history::{EpochRecord, History, HistoryWriter};
use super::inference::{evaluation_loader, run_split};
use super::optimizer_choice::{build_optimizer, INITIAL_LOSS_SCALE};
use super::progress::{EpochProgress, ProgressMode};
use super::run_dir::{CheckpointKind, RunDir};
use super::memory_estimate;
use super::run_state;
use super::vocab_remap;
use crate::data::prepared::vocab_path_for;
use crate::data::text::Vocabulary;
use crate::data::{BatchLoader, LoaderOptions};
use crate::models::{self, Model};
use crate::nn::loss::cross_entropy;
use crate::optim::{clip_grad_norm, LossScaler, Optimizer};
use crate::util::{write_atomically, Rng};
use crate::{DType, Device};

/// Labels that keep the initialisation and dropout streams apart from each other and from the loader's.
const INIT_STREAM: u64 = 0x494E_4954;
const DROPOUT_STREAM: u64 = 0x4452_4F50;

/// How to run, as opposed to what to compute (which is the config).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub device: Device,
    pub progress: ProgressMode,
    /// Stop after this many epochs in this invocation, as if killed (for resume tests).
    pub stop_after_epochs: Option<usize>,
}

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    pub history: History,
    pub progress: TrainingProgress,
}

/// The model a config describes, with its seeded initial weights.
pub fn build_model(config: &TrainConfig, device: Device) -> Result<Box<dyn Model>> {
    let mut rng = Rng::new(config.seed).fork(INIT_STREAM);
    models::build(&config.model, &config.model_config, &mut rng, device)
}

/// Dropout masks of `epoch` (1-based) are drawn from this stream, batch after batch.
pub fn dropout_rng(seed: u64, epoch: usize) -> Rng {
    Rng::new(seed).fork(DROPOUT_STREAM.wrapping_add(epoch as u64))
}

/// The trained model of a run, from its `best` or `last` checkpoint.
pub fn load_trained_model(run: &RunDir, kind: CheckpointKind, device: Device) -> Result<(TrainConfig, Box<dyn Model>, TrainingProgress)> {
    let path = run.checkpoint_for_reading(kind)?;
    let loaded = load_checkpoint(&path)?;
    let model = build_model(&loaded.config, device)?;
    assign_parameters(&model.parameters(), &loaded.model, &path, true)?;
    Ok((loaded.config, model, loaded.progress))
}

/// Starts a new run in `run`.
pub fn train_new(run: &RunDir, mut config: TrainConfig, options: &TrainOptions) -> Result<TrainSummary> {
    config.validate()?;
    run_state::check_splits_exist(&config)?;
    crate::util::output_guard::refuse_overwriting_inputs("--out", &run.history_path(), &[], &[&config.data_dir])?;
    // Held until the run returns: a second writer of this folder fails at once.
    let _lock = run_state::claim_for_new_run(run)?;
    // The vocabulary size and caption length come from the train split: resolve them before the model.
    let (train_split, max_len) = DataCache::new(run, &config).train_split()?;
    config.max_len = Some(max_len);
    config.model_config.vocab_size = train_split.vocab_size();
    run.write_config(&config)?;
    fit(run, &config, None, options)
}

/// Continues the run in `run` from its `last` checkpoint; `epochs` may raise the epoch count.
pub fn resume(run: &RunDir, epochs: Option<usize>, options: &TrainOptions) -> Result<TrainSummary> {
    let (_lock, checkpoint) = run_state::open_for_resume(run)?;
    let mut config = checkpoint.config.clone();
    config.epochs = run_state::resumed_epochs(run, checkpoint.progress.epoch, config.epochs, epochs)?;
    config.validate()?;
    if checkpoint.progress.epoch >= config.epochs {
        eprintln!(
            "memefuse: {} already finished its {} epochs; nothing to do (to train longer: `memefuse train --resume {} --epochs {}`)",
            run.root().display(),
            config.epochs,
            run.root().display(),
            config.epochs + 1
        );
    }
    run.write_config(&config)?;
    fit(run, &config, Some(checkpoint), options)
}

fn fit(run: &RunDir, config: &TrainConfig, resume_from: Option<LoadedCheckpoint>, options: &TrainOptions) -> Result<TrainSummary> {
    let device = options.device;
    let cache = DataCache::new(run, config);
    let (train_split, _) = cache.train_split()?;
    let val_split = cache.validation_split(&config.val_split)?;
    // Only models that read images pay for augmenting them.
    let augment = if models::entry(&config.model)?.needs.image { config.augmentation.loader_options() } else { None };
    // On a GPU the CPU's only job is feeding it: give the loader every core but one. On the CPU the
    // model needs the cores. Batches do not depend on the worker count (each record has its own RNG).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if device.is_cuda() { cores.saturating_sub(1).clamp(1, 8) } else { 1 };
    // CLIP-prepared splits are normalised with CLIP's mean and std, the others with ImageNet's.
    let normalization = train_split.normalization();
    let train_loader = BatchLoader::new(
        train_split,
        LoaderOptions { batch_size: config.batch_size, shuffle: true, seed: config.seed, drop_last: false, augment, workers, prefetch: 2 * workers, normalization, ..LoaderOptions::default() },
    )?;
    let val_loader = evaluation_loader(val_split, config.batch_size.max(64))?;

    // Splits prepared with a CLIP tokenizer (`clip_vocab`) have no word vocabulary: their ids are the BPE's.
    let vocabulary = match config.clip_vocab {
        Some(_) => None,
        None => Some(Vocabulary::load(vocab_path_for(&run.prepared_split_path(&config.train_split)))?),
    };
    let needs = memory_estimate::estimate(config, config.batch_size, true);
    memory_estimate::check_fits(&needs, memory_estimate::available_memory(), device, &format!("training {}", config.model))?;
    let model = build_model(config, device)?;
    let parameters = model.parameters();
    let mut optimizer = build_optimizer(config, model.as_ref());
    let mut loss_scaler = config.precision.uses_loss_scaling().then(|| LossScaler::new(INITIAL_LOSS_SCALE));
    let mut progress = TrainingProgress { epoch: 0, best_epoch: None, best_val_auroc: None };

    match &resume_from {
        Some(checkpoint) => {
            let path = run.checkpoint_path(CheckpointKind::Last);
            assign_parameters(&parameters, &checkpoint.model, &path, true)?;
            optimizer.load_state(&checkpoint::to_device_tensors(&checkpoint.optimizer, device)?).with_context(|| format!("optimiser state of {}", path.display()))?;
            if let Some(scaler) = &mut loss_scaler {
                scaler.load_state(&checkpoint::to_device_tensors(&checkpoint.loss_scaler, device)?).with_context(|| format!("loss scaler state of {}", path.display()))?;
            }
            progress = checkpoint.progress.clone();
            keep_history_up_to(run, progress.epoch)?;
        }
        None => {
            if let Some(init) = &config.init {
                initialise_from(model.as_ref(), &parameters, init, vocabulary.as_ref(), config)?;
            }
            if config.contrastive_epochs > 0 {
                super::contrastive::pretrain(model.as_ref(), &train_loader, config, config.precision.compute_dtype(), device)?;
            }
        }
    }

    let mut history_writer = HistoryWriter::open(run.history_path())?;
    let dtype = config.precision.compute_dtype();
    let mut epochs_this_call = 0;
    while progress.epoch < config.epochs {
        if options.stop_after_epochs.is_some_and(|stop| epochs_this_call >= stop) {
            break;
        }
        if stopped_early(config.patience, progress.epoch, progress.best_epoch) {
            eprintln!(
                "memefuse: early stop after epoch {}: no better validation AUROC for {} epochs (best {:.4} at epoch {}; --patience {})",
                progress.epoch,
                progress.epoch - progress.best_epoch.unwrap_or(0),
                progress.best_val_auroc.unwrap_or(f64::NAN),
                progress.best_epoch.unwrap_or(0),
                config.patience.unwrap_or(0)
            );
            break;
        }
        let epoch = progress.epoch + 1;
        let started = Instant::now();
        let bar = EpochProgress::start(options.progress, epoch, config.epochs, train_loader.split().len(), train_loader.batches_per_epoch());
        let mut step = Step { model: model.as_ref(), parameters: &parameters, optimizer: optimizer.as_mut(), loss_scaler: loss_scaler.as_mut(), clip: config.clip_grad_norm };
        let (train_loss, train_accuracy) = train_epoch(&mut step, &train_loader, config, epoch, dtype, device, &bar)?;
        let train_seconds = started.elapsed().as_secs_f64();
        bar.validating();
        let val = run_split(model.as_ref(), &val_loader, dtype, device, false)?;
        let record = EpochRecord {
            epoch,
            train_loss,
            train_accuracy,
            val_loss: val.mean_loss(),
            val_accuracy: val.accuracy(),
            val_auroc: val.auroc(),
            samples_per_second: train_loader.split().len() as f64 / train_seconds,
            seconds: started.elapsed().as_secs_f64(),
            learning_rate: optimizer.learning_rate() as f64,
        };
        history_writer.append(&record)?;
        bar.finish(&record);
        draw_curves(run, &config.model)?;

        progress.epoch = epoch;
        let improved = record.val_auroc.is_finite() && progress.best_val_auroc.is_none_or(|best| record.val_auroc > best);
        if improved {
            progress.best_epoch = Some(epoch);
            progress.best_val_auroc = Some(record.val_auroc);
        }
        let optimizer_state = optimizer.state();
        let scaler_state = loss_scaler.as_ref().map(|s| s.state()).unwrap_or_default();
        let contents = CheckpointContents { config, progress: &progress, model: &parameters, optimizer: &optimizer_state, loss_scaler: &scaler_state, vocabulary: vocabulary.as_ref() };
        save_checkpoint(&run.checkpoint_path(CheckpointKind::Last), &contents)?;
        if improved {
            // Only ever evaluated or used as --init: weights only, a third of `last` under Adam.
            let weights_only = CheckpointContents { optimizer: &[], loss_scaler: &[], ..contents };
            save_checkpoint(&run.checkpoint_path(CheckpointKind::Best), &weights_only)?;
        }
        epochs_this_call += 1;
    }
    Ok(TrainSummary { history: History::load(run.history_path())?, progress })
}

/// Redraws the run's loss and accuracy curves from its whole history (the seed work's two figures).
fn draw_curves(run: &RunDir, model_name: &str) -> Result<()> {
    let history = History::load(run.history_path())?;
    crate::viz::curves::plot_loss(&history, model_name, run.loss_curve_path())?;
    crate::viz::curves::plot_accuracy(&history, model_name, run.accuracy_curve_path())?;
    Ok(())
}

/// `--init FILE`: a memefuse checkpoint's weights (parameters it lacks keep their random start, so
/// one encoder can be loaded alone), or weights saved from PyTorch, imported by the model itself
/// (VGG16 replaces an ImageNet head with its fresh 2-class one).
fn initialise_from(model: &dyn Model, parameters: &[(String, crate::Tensor)], init: &std::path::Path, vocabulary: Option<&Vocabulary>, config: &TrainConfig) -> Result<()> {
    if init.is_file() && checkpoint::is_checkpoint(init)? {
        let source = load_checkpoint(init)?;
        let mut weights = source.model;
        let reads_text = !model.vocabulary_axes().is_empty() && weights.iter().any(|(name, _)| model.vocabulary_axes().iter().any(|(n, _)| n == name));
        match (&source.vocabulary, reads_text && vocabulary.is_some()) {
            (Some(from), true) => {
                let vocabulary = vocabulary.expect("checked in the match");
                if vocab_remap::check_same_vocabulary(init, from, vocabulary, config.init_remap_vocab)? {
                    let summary = vocab_remap::remap_by_token(&mut weights, &model.vocabulary_axes(), parameters, from, vocabulary)?;
                    eprintln!(
                        "memefuse: remapped the text weights of {} by token: {} tokens shared, {} new ones keep their fresh initialisation",
                        init.display(),
                        summary.shared_tokens,
                        summary.new_tokens
                    );
                }
            }
            (None, true) => eprintln!("memefuse: warning: {} records no vocabulary (saved by an older memefuse); its text weights are assumed to match this run's", init.display()),
            _ => {}
        }
        if source.config.model_config.image_size != config.model_config.image_size && model.needs().image {
            eprintln!(
                "memefuse: note: {} was trained on {}px images, this run uses {}px",
                init.display(),
                source.config.model_config.image_size,
                config.model_config.image_size
            );
        }
        let missing = assign_parameters(parameters, &weights, init, false)?;
        if !missing.is_empty() {
            eprintln!("memefuse: {} has no values for {missing:?}; they keep their random initialisation", init.display());
        }
        return Ok(());
    }
    let summary = model.import_weights(init).with_context(|| format!("importing --init {}", init.display()))?;
    if !summary.kept_fresh.is_empty() {
        eprintln!("memefuse: {}: kept the fresh initialisation of {:?} (a head of another shape)", init.display(), summary.kept_fresh);
    }
    if !summary.unused_keys.is_empty() {
        eprintln!("memefuse: {}: ignored {} tensors the model does not have: {:?}", init.display(), summary.unused_keys.len(), summary.unused_keys);
    }
    Ok(())
}

/// The pieces one optimisation step touches.
struct Step<'a> {
    model: &'a dyn Model,
    parameters: &'a [(String, crate::Tensor)],
    optimizer: &'a mut dyn Optimizer,
    loss_scaler: Option<&'a mut LossScaler>,
    clip: Option<f32>,
}

/// One epoch of training; returns the sample-weighted mean loss and the accuracy (with dropout on).
fn train_epoch(step: &mut Step, loader: &BatchLoader, config: &TrainConfig, epoch: usize, dtype: DType, device: Device, bar: &EpochProgress) -> Result<(f64, f64)> {
    let mut dropout = dropout_rng(config.seed, epoch);
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for (batch_index, batch) in loader.epoch(epoch as u64).enumerate() {
        let targets = class_labels(&batch, &config.train_split)?;
        let input = model_input(&batch, step.model.needs(), dtype, device)?;
        // The loss is always computed in f32, whatever the compute dtype.
        let logits = step.model.forward(&input, true, &mut dropout)?.to_dtype(DType::F32)?;
        let loss = cross_entropy(&logits, &targets)?;
        // Backward and the optimiser step are queued before the loss and logits are read back, so
        // the GPU is not left idle while the host waits for them. A diverged step has then been
        // applied, but the run stops right here and only earlier epochs were checkpointed.
        apply_gradients(step, &loss)?;
        let loss_value = loss.to_scalar()? as f64;
        if !loss_value.is_finite() && step.loss_scaler.is_none() {
            bail!("training diverged: the loss of epoch {epoch}, batch {} is {loss_value}; try a lower --lr", batch_index + 1);
        }
        let predictions = logits.to_vec_f32()?;
        correct += predictions.chunks_exact(2).zip(&targets).filter(|(row, &target)| u32::from(row[1] > row[0]) == target).count();
        loss_sum += loss_value * batch.batch_size as f64;
        seen += batch.batch_size;
        bar.advance(batch.batch_size, loss_sum / seen as f64);
    }
    Ok((loss_sum / seen as f64, correct as f64 / seen as f64))
}

/// Backward pass and optimiser step. Under fp16 the loss is scaled before backward so small
/// gradients survive in f16; a step whose gradients overflowed is skipped and the scale lowered.
fn apply_gradients(step: &mut Step, loss: &crate::Tensor) -> Result<()> {
    let scaled = match &step.loss_scaler {
        Some(scaler) => loss.scale(scaler.scale())?,
        None => loss.clone(),
    };
    let mut gradients = scaled.backward()?;
    let finite = match step.loss_scaler.as_deref_mut() {
        Some(scaler) => scaler.unscale_and_check(step.parameters, &mut gradients)?,
        None => true,
    };
    if finite {
        if let Some(max_norm) = step.clip {
            clip_grad_norm(step.parameters, &mut gradients, max_norm)?;
        }
        step.optimizer.step(step.parameters, &gradients)?;
    }
    if let Some(scaler) = step.loss_scaler.as_deref_mut() {
        scaler.update(finite);
    }
    Ok(())
}

/// A crash between the history line and the checkpoint leaves history ahead of `last`; the resumed
/// run recomputes those epochs, so their old lines are dropped (the file is rewritten atomically).
fn keep_history_up_to(run: &RunDir, epoch: usize) -> Result<()> {
    let path = run.history_path();
    if !path.is_file() {
        return Ok(());
    }
    let history = History::load(&path)?;
    if history.records.iter().all(|record| record.epoch <= epoch) {
        return Ok(());
    }
    let kept: String = history
        .records
        .iter()
        .filter(|record| record.epoch <= epoch)
        .map(|record| serde_json::to_string(record).expect("an epoch record always serializes") + "\n")
        .collect();
    eprintln!("memefuse: {} had epochs after the last checkpoint (epoch {epoch}); they will be trained again", path.display());
    write_atomically(&path, kept.as_bytes()).with_context(|| format!("rewriting {}", path.display()))
}

