//! The batch loader over prepared files.
use memefuse::data::loader::{BatchLoader, LoaderOptions, UNLABELLED};
use memefuse::data::prepared::{prepare_split, Expect, PrepareOptions, PreparedSplit};
use memefuse::data::synth::{generate, SynthOptions};
use memefuse::data::transforms::{AugmentOptions, ColorJitter, Normalization, CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD};
use std::sync::Arc;

const RECORDS: usize = 37;
const SIZE: u32 = 12;

/// A prepared synthetic split of 37 records (train) and 37 unlabelled ones (test_unseen).
fn prepared(split: &str) -> (tempfile::TempDir, Arc<PreparedSplit>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let options = SynthOptions { train: RECORDS, dev: 1, test: RECORDS, seed: 3, ..SynthOptions::new(&data) };
    generate(&options).unwrap();
    let out = dir.path().join(format!("{split}.safetensors"));
    prepare_split(&data, split, &PrepareOptions { image_size: SIZE, ..PrepareOptions::new(&out) }).unwrap();
    let split = PreparedSplit::open(&out, Expect { image_size: Some(SIZE), ..Expect::default() }).unwrap();
    (dir, Arc::new(split))
}

fn options(batch_size: usize) -> LoaderOptions {
    LoaderOptions { batch_size, seed: 9, ..LoaderOptions::default() }
}

#[test]
fn batches_have_fixed_shapes_and_the_last_one_is_kept_or_dropped() {
    let (_dir, split) = prepared("train");
    let loader = BatchLoader::new(split.clone(), options(8)).unwrap();
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.len(), 5);
    let sizes: Vec<usize> = batches.iter().map(|b| b.batch_size).collect();
    assert_eq!(sizes, [8, 8, 8, 8, 5]);
    let pixels = (SIZE * SIZE * 3) as usize;
    for batch in &batches {
        assert_eq!(batch.images.len(), batch.batch_size * pixels);
        assert_eq!(batch.tokens.len(), batch.batch_size * split.max_len());
        assert_eq!((batch.labels.len(), batch.indices.len(), batch.ids.len()), (batch.batch_size, batch.batch_size, batch.batch_size));
        assert_eq!((batch.image_size, batch.max_len), (SIZE as usize, split.max_len()));
    }
    let dropping = BatchLoader::new(split, LoaderOptions { drop_last: true, ..options(8) }).unwrap();
    assert_eq!(dropping.batches_per_epoch(), 4);
    assert!(dropping.epoch(0).all(|b| b.batch_size == 8));
}

#[test]
fn every_record_appears_once_per_epoch_in_a_reproducible_seeded_order() {
    let (_dir, split) = prepared("train");
    let loader = BatchLoader::new(split.clone(), options(8)).unwrap();
    let order = |loader: &BatchLoader, epoch| loader.epoch(epoch).flat_map(|b| b.indices).collect::<Vec<_>>();
    let first = order(&loader, 0);
    let mut sorted = first.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..RECORDS).collect::<Vec<_>>());
    assert_ne!(first, (0..RECORDS).collect::<Vec<_>>(), "shuffled");
    assert_eq!(first, order(&loader, 0), "same seed and epoch, same order");
    assert_ne!(first, order(&loader, 1), "another epoch, another order");
    let other_seed = BatchLoader::new(split.clone(), LoaderOptions { seed: 10, ..options(8) }).unwrap();
    assert_ne!(first, order(&other_seed, 0));
    let in_order = BatchLoader::new(split, LoaderOptions { shuffle: false, ..options(8) }).unwrap();
    assert_eq!(order(&in_order, 3), (0..RECORDS).collect::<Vec<_>>());
}

#[test]
fn batch_contents_match_the_prepared_records() {
    let (_dir, split) = prepared("train");
    for (normalization, mean, std) in [(Normalization::ImageNet, IMAGENET_MEAN, IMAGENET_STD), (Normalization::Clip, CLIP_MEAN, CLIP_STD)] {
        let loader = BatchLoader::new(split.clone(), LoaderOptions { normalization, ..options(16) }).unwrap();
        for batch in loader.epoch(2) {
            let pixels = split.image_bytes();
            for (row, &index) in batch.indices.iter().enumerate() {
                let image = &batch.images[row * pixels..(row + 1) * pixels];
                for (position, (&value, &byte)) in image.iter().zip(split.image(index)).enumerate() {
                    let channel = position % 3;
                    let expected = (byte as f32 / 255.0 - mean[channel]) / std[channel];
                    assert!((value - expected).abs() < 1e-5, "record {index} value {position}");
                }
                assert_eq!(&batch.tokens[row * split.max_len()..(row + 1) * split.max_len()], split.tokens(index));
                assert_eq!(batch.labels[row], split.label(index).unwrap() as f32);
                assert_eq!(batch.ids[row], split.id(index));
            }
        }
    }
}

#[test]
fn unlabelled_records_get_minus_one() {
    let (_dir, split) = prepared("test_unseen");
    let loader = BatchLoader::new(split, options(10)).unwrap();
    assert!(loader.epoch(0).all(|batch| batch.labels.iter().all(|&label| label == UNLABELLED)));
}

#[test]
fn batches_do_not_depend_on_the_number_of_workers_even_with_augmentation() {
    let (_dir, split) = prepared("train");
    let augment = AugmentOptions { rotation_degrees: 10.0, jitter: ColorJitter { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05 } };
    let run = |workers, prefetch| {
        let loader = BatchLoader::new(split.clone(), LoaderOptions { workers, prefetch, augment: Some(augment), ..options(6) }).unwrap();
        loader.epoch(1).collect::<Vec<_>>()
    };
    let inline = run(0, 1);
    assert_eq!(inline, run(1, 1));
    assert_eq!(inline, run(3, 2));
    let plain = BatchLoader::new(split.clone(), options(6)).unwrap().epoch(1).collect::<Vec<_>>();
    assert_eq!(plain.iter().map(|b| &b.indices).collect::<Vec<_>>(), inline.iter().map(|b| &b.indices).collect::<Vec<_>>());
    assert_ne!(plain[0].images, inline[0].images, "augmentation changes the pixels");
    let next_epoch = BatchLoader::new(split, LoaderOptions { shuffle: false, augment: Some(augment), ..options(6) }).unwrap();
    let (a, b) = (next_epoch.epoch(0).next().unwrap(), next_epoch.epoch(1).next().unwrap());
    assert_eq!(a.indices, b.indices);
    assert_ne!(a.images, b.images, "each epoch draws new augmentations");
}

#[test]
fn dropping_an_epoch_early_stops_the_workers() {
    let (_dir, split) = prepared("train");
    let loader = BatchLoader::new(split, LoaderOptions { workers: 2, prefetch: 1, ..options(2) }).unwrap();
    let mut epoch = loader.epoch(0);
    assert_eq!(epoch.len(), 19);
    assert!(epoch.next().is_some());
    drop(epoch); // must not hang on workers blocked on a full channel
    assert_eq!(loader.epoch(0).count(), 19);
}
