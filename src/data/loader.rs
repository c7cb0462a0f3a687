//! Batches over a prepared split, built on worker threads ahead of the consumer.
//!
//! Each epoch's order is a seeded shuffle of `0..len` from `(seed, epoch)`; each sample's
//! augmentation draws from its own stream `(seed, epoch, record index)`, so batches are identical
//! whatever the number of workers. Worker `w` builds batches `w, w + workers, …` and sends them
//! through its own bounded channel; the consumer reads the channels round-robin, which keeps the
//! order and bounds the batches in flight to about `prefetch` (plus one being built per worker).
use super::prepared::PreparedSplit;
use super::transforms::{augment_into, AugmentOptions, Normalization, NormalizationTable};
use crate::util::Rng;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Salts that keep the shuffle and augmentation streams apart from other users of the same seed.
const SHUFFLE_STREAM: u64 = 0x5348_5546;
const AUGMENT_STREAM: u64 = 0x4155_474D;

#[derive(Clone, Debug)]
pub struct LoaderOptions {
    pub batch_size: usize,
    pub shuffle: bool,
    pub seed: u64,
    /// Drop the last batch when it is smaller than `batch_size` (otherwise it is yielded short).
    pub drop_last: bool,
    /// Training augmentation; `None` is the normalise-only evaluation path.
    pub augment: Option<AugmentOptions>,
    /// Worker threads; 0 builds batches on the consumer's thread.
    pub workers: usize,
    /// Batches built ahead of the consumer (at least one per worker).
    pub prefetch: usize,
    pub normalization: Normalization,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        Self {
            batch_size: 64,
            shuffle: true,
            seed: 0,
            drop_last: false,
            augment: None,
            workers: 2,
            prefetch: 4,
            normalization: Normalization::ImageNet,
        }
    }
}

/// One batch, in contiguous buffers ready for a single host-to-device copy each.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `batch_size × image_size × image_size × 3`, normalised, NHWC.
    pub images: Vec<f32>,
    /// `batch_size × max_len`.
    pub tokens: Vec<i32>,
    /// 0.0 or 1.0; -1.0 for unlabelled records.
    pub labels: Vec<f32>,
    /// Record indices in the prepared split.
    pub indices: Vec<usize>,
    /// Record ids, for prediction files.
    pub ids: Vec<String>,
    pub batch_size: usize,
    pub image_size: usize,
    pub max_len: usize,
}

/// The value of `Batch::labels` for an unlabelled record.
pub const UNLABELLED: f32 = -1.0;

pub struct BatchLoader {
    split: Arc<PreparedSplit>,
    options: LoaderOptions,
    table: Arc<NormalizationTable>,
}

impl BatchLoader {
    pub fn new(split: Arc<PreparedSplit>, options: LoaderOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(options.batch_size > 0, "batch_size must be positive");
        let table = Arc::new(options.normalization.lookup_table());
        Ok(Self { split, options, table })
    }

    pub fn split(&self) -> &PreparedSplit {
        &self.split
    }

    /// Number of batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (len, size) = (self.split.len(), self.options.batch_size);
        if self.options.drop_last {
            len / size
        } else {
            len.div_ceil(size)
        }
    }

    /// The record order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.split.len()).collect();
        if self.options.shuffle {
            Rng::new(self.options.seed ^ SHUFFLE_STREAM).fork(epoch).shuffle(&mut order);
        }
        order
    }

    /// The batches of one epoch, in order.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        let order = self.order(epoch);
        let batch_count = self.batches_per_epoch();
        let plan = Arc::new(BatchPlan {
            split: Arc::clone(&self.split),
            table: Arc::clone(&self.table),
            augment: self.options.augment,
            augment_rng: Rng::new(self.options.seed ^ AUGMENT_STREAM).fork(epoch),
            order,
            batch_size: self.options.batch_size,
            batch_count,
        });
        let workers = self.options.workers.min(batch_count);
        if workers == 0 {
            return EpochIter { plan, next: 0, receivers: Vec::new(), handles: Vec::new() };
        }
        let per_worker = self.options.prefetch.div_ceil(workers).max(1);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (sender, receiver) = sync_channel(per_worker);
            let plan = Arc::clone(&plan);
            let handle = std::thread::Builder::new()
                .name(format!("loader-{worker}"))
                .spawn(move || {
                    for batch_index in (worker..plan.batch_count).step_by(workers) {
                        // A send fails only when the consumer dropped the epoch: stop quietly.
                        if sender.send(plan.build(batch_index)).is_err() {
                            return;
                        }
                    }
                })
                .expect("spawning a loader thread");
            receivers.push(receiver);
            handles.push(handle);
        }
        EpochIter { plan, next: 0, receivers, handles }
    }
}

/// Everything needed to build any batch of one epoch.
struct BatchPlan {
    split: Arc<PreparedSplit>,
    table: Arc<NormalizationTable>,
    augment: Option<AugmentOptions>,
    augment_rng: Rng,
    order: Vec<usize>,
    batch_size: usize,
    batch_count: usize,
}

impl BatchPlan {
    fn build(&self, batch_index: usize) -> Batch {
        let start = batch_index * self.batch_size;
        let indices: Vec<usize> = self.order[start..(start + self.batch_size).min(self.order.len())].to_vec();
        let split = &*self.split;
        let image_bytes = split.image_bytes();
        let max_len = split.max_len();
        let mut images = vec![0.0f32; indices.len() * image_bytes];
        let mut tokens = Vec::with_capacity(indices.len() * max_len);
        let mut labels = Vec::with_capacity(indices.len());
        let mut ids = Vec::with_capacity(indices.len());
        for (&index, target) in indices.iter().zip(images.chunks_exact_mut(image_bytes)) {
            match &self.augment {
                None => self.table.normalize_bytes(split.image(index), target),
                Some(augment) => {
                    let mut rng = self.augment_rng.fork(index as u64);
                    augment_into(split.image(index), split.image_size() as usize, augment, &self.table, &mut rng, target);
                }
            }
            tokens.extend_from_slice(split.tokens(index));
            labels.push(split.label(index).map_or(UNLABELLED, f32::from));
            ids.push(split.id(index).to_string());
        }
        Batch {
            images,
            tokens,
            labels,
            batch_size: indices.len(),
            indices,
            ids,
            image_size: split.image_size() as usize,
            max_len,
        }
    }
}

/// Iterator over one epoch's batches. Dropping it early stops the workers.
pub struct EpochIter {
    plan: Arc<BatchPlan>,
    next: usize,
    receivers: Vec<Receiver<Batch>>,
    handles: Vec<JoinHandle<()>>,
}

impl Iterator for EpochIter {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.plan.batch_count {
            return None;
        }
        let batch_index = self.next;
        self.next += 1;
        if self.receivers.is_empty() {
            return Some(self.plan.build(batch_index));
        }
        let receiver = &self.receivers[batch_index % self.receivers.len()];
        match receiver.recv() {
            Ok(batch) => Some(batch),
            // The worker died (a panic); surface it rather than end the epoch early and silently.
            Err(_) => panic!("loader worker for batch {batch_index} stopped unexpectedly"),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.plan.batch_count - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for EpochIter {}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Closing the channels first unblocks workers waiting to send.
        self.receivers.clear();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}
