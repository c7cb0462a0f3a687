//! Loader throughput: batches of 64 at 64 px and 224 px, with and without augmentation, on
//! synthetic data. Reports images/s (criterion's elements/s). Short runs: the machine has 2 cores.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use memefuse::data::loader::{BatchLoader, LoaderOptions};
use memefuse::data::prepared::{prepare_split, Expect, PrepareOptions, PreparedSplit};
use memefuse::data::synth::{generate, SynthOptions};
use memefuse::data::transforms::AugmentOptions;
use std::sync::Arc;
use std::time::Duration;

const BATCH: usize = 64;
const RECORDS: usize = 1024;

fn prepared(dir: &std::path::Path, image_size: u32) -> Arc<PreparedSplit> {
    let out = dir.join(format!("train{image_size}.safetensors"));
    prepare_split(dir.join("data"), "train", &PrepareOptions { image_size, ..PrepareOptions::new(&out) }).unwrap();
    Arc::new(PreparedSplit::open(&out, Expect { image_size: Some(image_size), ..Expect::default() }).unwrap())
}

fn loader_throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    generate(&SynthOptions { train: RECORDS, dev: 1, test: 1, ..SynthOptions::new(dir.path().join("data")) }).unwrap();
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    for image_size in [64u32, 224] {
        let split = prepared(dir.path(), image_size);
        let mut group = c.benchmark_group(format!("loader_{image_size}px"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        group.throughput(Throughput::Elements(split.len() as u64));
        for (name, augment) in [("normalise", None), ("augment", Some(AugmentOptions::default()))] {
            let options = LoaderOptions { batch_size: BATCH, augment, workers, prefetch: 2 * workers, ..LoaderOptions::default() };
            let loader = BatchLoader::new(split.clone(), options).unwrap();
            let mut epoch = 0;
            group.bench_function(name, |b| {
                b.iter(|| {
                    epoch += 1;
                    for batch in loader.epoch(epoch) {
                        black_box(batch.images[0]);
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, loader_throughput);
criterion_main!(benches);
