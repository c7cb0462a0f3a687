//! `memefuse predict --model lstm`: PyTorch-trained (or our own) text-LSTM weights in, one JSON line
//! per record out: {"id", "proba", "logits"}, proba = sigmoid(logits).
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

use crate::data::text::Vocabulary;
use crate::data::{HatefulMemes, ReadOptions};
use crate::io::lstm_weights::load_text_lstm;
use crate::models::text_lstm::{lengths_of, SequenceReadout};
use crate::tensor::{DType, Device, Tensor};

pub struct LstmPredictOptions {
    pub weights: PathBuf,
    pub data: PathBuf,
    pub split: String,
    /// One token per line, line number = id (`<pad>` on line 0, `<unk>` on line 1).
    pub vocab: PathBuf,
    pub max_len: usize,
    pub output: PathBuf,
    pub readout: SequenceReadout,
    pub batch_size: usize,
    pub device: Device,
}

/// Returns the number of records written.
pub fn predict_lstm(options: &LstmPredictOptions) -> anyhow::Result<usize> {
    let _no_grad = crate::autograd::no_grad();
    let model = load_text_lstm(&options.weights, options.readout, options.device)?;
    let vocabulary = Vocabulary::load(&options.vocab)?;
    if vocabulary.len() > model.config().vocab_size {
        anyhow::bail!("the vocabulary has {} tokens but embedding.weight only {} rows", vocabulary.len(), model.config().vocab_size);
    }
    let (records, report) = HatefulMemes::open(&options.data)?.read_split(&options.split, &ReadOptions::default())?;
    if !report.issues.is_empty() {
        eprintln!("memefuse: {} record(s) of {} skipped or changed; see `memefuse inspect`", report.issues.len(), options.split);
    }
    let max_len = options.max_len.max(1);
    let mut lines = String::new();
    for chunk in records.chunks(options.batch_size.max(1)) {
        let ids: Vec<i32> = chunk.iter().flat_map(|record| vocabulary.encode(&record.text, max_len)).collect();
        let lengths = lengths_of(&ids, max_len);
        let tokens = Tensor::from_i32(ids, &[chunk.len(), max_len], Device::Cpu)?;
        // f32 throughout: the promise is PyTorch's outputs to 1e-4, and an LSTM's forward is cheap.
        let logits = model.forward(&tokens, &lengths, false, DType::F32)?.to_vec_f32()?;
        for (record, logit) in chunk.iter().zip(logits) {
            let proba = 1.0 / (1.0 + (-(logit as f64)).exp());
            let line = serde_json::json!({ "id": record.id, "proba": proba, "logits": logit });
            writeln!(lines, "{line}")?;
        }
    }
    crate::util::write_atomically(&options.output, lines.as_bytes()).with_context(|| format!("cannot write {}", options.output.display()))?;
    Ok(records.len())
}
