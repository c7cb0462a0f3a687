//! `memefuse predict --model lstm`: PyTorch-trained (or our own) text-LSTM weights in, one
//! prediction per record out (written by [`crate::io::predictions`]). The seed's LSTM has a single
//! logit x; it is reported as the pair [0, x], whose softmax gives proba = sigmoid(x).
use std::path::PathBuf;

use crate::data::text::Vocabulary;
use crate::data::{HatefulMemes, ReadOptions};
use crate::io::lstm_weights::load_text_lstm;
use crate::io::predictions::Prediction;
use crate::models::text_lstm::{lengths_of, SequenceReadout};
use crate::tensor::{DType, Device, Tensor};

pub struct LstmPredictOptions {
    pub weights: PathBuf,
    pub data: PathBuf,
    pub split: String,
    /// One token per line, line number = id (`<pad>` on line 0, `<unk>` on line 1).
    pub vocab: PathBuf,
    pub max_len: usize,
    pub readout: SequenceReadout,
    pub batch_size: usize,
    pub device: Device,
}

/// Predicts every record of the split.
pub fn predict_lstm(options: &LstmPredictOptions) -> anyhow::Result<Vec<Prediction>> {
    let _no_grad = crate::autograd::no_grad();
    let model = load_text_lstm(&options.weights, options.readout, options.device)?;
    let vocabulary = Vocabulary::load(&options.vocab)?;
    if vocabulary.len() > model.config().vocab_size {
        anyhow::bail!("the vocabulary has {} tokens but embedding.weight only {} rows", vocabulary.len(), model.config().vocab_size);
    }
    if vocabulary.len() < model.config().vocab_size {
        eprintln!(
            "memefuse: warning: {} has {} tokens but embedding.weight has {} rows; is it the vocabulary these weights were trained with?",
            options.vocab.display(),
            vocabulary.len(),
            model.config().vocab_size
        );
    }
    let (records, report) = HatefulMemes::open(&options.data)?.read_split(&options.split, &ReadOptions::default())?;
    if !report.issues.is_empty() {
        eprintln!("memefuse: {} record(s) of {} skipped or changed; see `memefuse inspect`", report.issues.len(), options.split);
    }
    anyhow::ensure!(options.max_len > 0 && options.batch_size > 0, "--max-len and --batch-size must be at least 1");
    let max_len = options.max_len;
    let mut predictions = Vec::with_capacity(records.len());
    for chunk in records.chunks(options.batch_size) {
        let ids: Vec<i32> = chunk.iter().flat_map(|record| vocabulary.encode(&record.text, max_len)).collect();
        let lengths = lengths_of(&ids, max_len);
        let tokens = Tensor::from_i32(ids, &[chunk.len(), max_len], Device::Cpu)?;
        // f32 throughout: the promise is PyTorch's outputs to 1e-4, and an LSTM's forward is cheap.
        let logits = model.forward(&tokens, &lengths, false, DType::F32)?.to_vec_f32()?;
        for (record, logit) in chunk.iter().zip(logits) {
            predictions.push(Prediction { id: record.id_value(), logits: [0.0, logit], true_label: record.label });
        }
    }
    Ok(predictions)
}
