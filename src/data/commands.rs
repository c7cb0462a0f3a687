//! The data subcommands: `memefuse synth`, `memefuse prepare`, `memefuse inspect`, `memefuse tokenize`.
use super::clip_tokenizer::{Cleaning, ClipTokenizer, CONTEXT_LENGTH};
use super::prepared::{prepare_split, Expect, PrepareOptions, PreparedSplit, Preprocess};
use super::synth::{generate, SynthOptions};
use super::transforms::ResizeMode;
use super::dataset::DEFAULT_MAX_TEXT_CHARS;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// Write a synthetic dataset in the Hateful Memes layout.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output data folder (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Records per split (train, dev_seen, test_seen, test_unseen); --train/--dev/--test override it
    /// [default: train 1000, dev 200, test 200].
    #[arg(long)]
    pub count: Option<usize>,
    /// Records in train.jsonl [default: 1000, or --count].
    #[arg(long)]
    pub train: Option<usize>,
    /// Records in dev_seen.jsonl [default: 200, or --count].
    #[arg(long)]
    pub dev: Option<usize>,
    /// Size of test_seen and of test_unseen [default: 200, or --count].
    #[arg(long)]
    pub test: Option<usize>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Probability that a label is flipped.
    #[arg(long, default_value_t = 0.0)]
    pub label_noise: f32,
    /// Fraction of memes that carry both cues (the positives before noise).
    #[arg(long, default_value_t = 0.35)]
    pub positive_fraction: f32,
    /// Write into --out even when it is not empty (its files of the same names are replaced).
    #[arg(long)]
    pub force: bool,
}

pub fn run_synth(args: SynthArgs) -> anyhow::Result<()> {
    super::synth::refuse_non_empty(&args.out, args.force)?;
    let mut options = SynthOptions::new(&args.out);
    if let Some(count) = args.count {
        (options.train, options.dev, options.test) = (count, count, count);
    }
    options.train = args.train.unwrap_or(options.train);
    options.dev = args.dev.unwrap_or(options.dev);
    options.test = args.test.unwrap_or(options.test);
    (options.seed, options.label_noise, options.positive_fraction) = (args.seed, args.label_noise, args.positive_fraction);
    let started = std::time::Instant::now();
    let summary = generate(&options)?;
    for (file, count, positives) in &summary.splits {
        let labels = positives.map_or("unlabelled".to_string(), |positives| format!("{positives} positive"));
        println!("{}: {count} records, {labels}", args.out.join(file).display());
    }
    println!("generated in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Pack a split into one memory-mapped safetensors file.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Hateful Memes data folder.
    #[arg(long)]
    pub data: PathBuf,
    /// train, dev, dev_seen, dev_unseen, test, test_seen, test_unseen, or NAME for any NAME.jsonl of the folder.
    #[arg(long)]
    pub split: String,
    /// Output file (e.g. train64.safetensors). `train` prepares its own splits into RUN_DIR/cache;
    /// a prepared file is for inspecting what a model sees, the loader bench, or sharing a packed split.
    #[arg(long)]
    pub out: PathBuf,
    /// seed (word vocabulary, ImageNet normalisation) or clip (CLIP BPE tokens, CLIP's short-side
    /// bicubic resize and centre crop, CLIP normalisation; needs --vocab).
    #[arg(long, default_value = "seed")]
    pub preprocess: String,
    /// Side of the stored images [default: 64, or 224 with --preprocess clip].
    #[arg(long)]
    pub image_size: Option<u32>,
    /// stretch (bilinear, both sides) or short-side-center-crop (bicubic, CLIP)
    /// [default: stretch, or short-side-center-crop with --preprocess clip].
    #[arg(long)]
    pub resize: Option<String>,
    /// Vocabulary file; default: built from the train split and saved as <out>.vocab.txt. With
    /// --preprocess clip: the CLIP BPE (bpe_simple_vocab_16e6.txt.gz, vocab.json or a HuggingFace folder).
    #[arg(long)]
    pub vocab: Option<PathBuf>,
    /// Leave out tokens seen fewer times in train (when building the vocabulary).
    #[arg(long, default_value_t = 1)]
    pub min_count: usize,
    /// Cap the vocabulary size, <pad> and <unk> included (when building it) [default: no cap].
    #[arg(long)]
    pub max_vocab: Option<usize>,
    /// Token sequence length [default: the 95th percentile of the train split's caption lengths,
    /// or 77 (CLIP's context) with --preprocess clip].
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Make every bad record an error instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Captions longer than this many characters are truncated (and reported).
    #[arg(long, default_value_t = DEFAULT_MAX_TEXT_CHARS)]
    pub max_text_chars: usize,
}

/// How many issue lines `prepare` prints before summarising the rest.
const SHOWN_ISSUES: usize = 50;

pub fn run_prepare(args: PrepareArgs) -> anyhow::Result<()> {
    let preprocess = Preprocess::from_name(&args.preprocess)
        .ok_or_else(|| anyhow::anyhow!("--preprocess must be seed or clip, not {:?}", args.preprocess))?;
    let (default_size, default_resize) = match preprocess {
        Preprocess::Seed => (64, ResizeMode::Stretch),
        Preprocess::Clip => (224, ResizeMode::ShortSideCenterCrop),
    };
    let resize = match &args.resize {
        None => default_resize,
        Some(name) => ResizeMode::from_name(name)
            .ok_or_else(|| anyhow::anyhow!("--resize must be stretch or short-side-center-crop, not {name:?}"))?,
    };
    let image_size = args.image_size.unwrap_or(default_size);
    let options = PrepareOptions {
        image_size,
        resize,
        preprocess,
        vocab: args.vocab,
        min_count: args.min_count,
        max_vocab: args.max_vocab,
        max_len: args.max_len,
        strict: args.strict,
        max_text_chars: args.max_text_chars,
        require_labels: args.split == "train",
        ..PrepareOptions::new(&args.out)
    };
    let split_file = super::HatefulMemes::open(&args.data)?.split_file(&args.split)?;
    let inputs: Vec<&std::path::Path> = [Some(split_file.as_path()), options.vocab.as_deref()].into_iter().flatten().collect();
    crate::util::output_guard::refuse_overwriting_inputs("--out", &args.out, &inputs, &[&args.data])?;
    let started = std::time::Instant::now();
    let summary = prepare_split(&args.data, &args.split, &options)?;
    let issues = &summary.report.issues;
    for issue in issues.iter().take(SHOWN_ISSUES) {
        eprintln!("{issue}");
    }
    if issues.len() > SHOWN_ISSUES {
        eprintln!("... and {} more issues", issues.len() - SHOWN_ISSUES);
    }
    eprintln!("{}", summary.report.summary());
    if let Some(path) = &summary.vocab_path {
        println!("vocabulary: {} ({} tokens, hash {})", path.display(), summary.vocab_size, summary.vocab_hash);
    }
    println!(
        "wrote {}: {} records, {}x{} images, max_len {} ({:.1}s)",
        summary.out.display(),
        summary.count,
        image_size,
        image_size,
        summary.max_len,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Print a prepared file's metadata and verify its checksum.
#[derive(Args, Debug)]
pub struct InspectArgs {
    pub file: PathBuf,
}

pub fn run_inspect(args: InspectArgs) -> anyhow::Result<()> {
    if args.file.is_dir() {
        anyhow::bail!("{} is a folder; inspect wants a prepared file (e.g. RUN/cache/train.safetensors or the --out of `memefuse prepare`)", args.file.display());
    }
    let split = PreparedSplit::open(&args.file, Expect::default())?;
    println!("{}", args.file.display());
    for (key, value) in split.metadata() {
        println!("  {key}: {value}");
    }
    println!("checksum OK; {} records", split.len());
    Ok(())
}

/// Print CLIP token ids for each text, one line per text.
#[derive(Args, Debug)]
pub struct TokenizeArgs {
    /// open_clip's bpe_simple_vocab_16e6.txt.gz, HuggingFace's vocab.json (merges.txt beside it),
    /// or a folder holding either.
    #[arg(long)]
    pub vocab: PathBuf,
    /// Texts to tokenize; none: one text per line of standard input.
    pub texts: Vec<String>,
    /// Ids per text, the start and end tokens included; longer texts are cut, keeping the end token.
    #[arg(long, default_value_t = CONTEXT_LENGTH)]
    pub context_length: usize,
    /// open-clip (ftfy, html unescape, whitespace, lower case) or hf (HuggingFace's CLIPTokenizer).
    #[arg(long, default_value = "open-clip")]
    pub clean: String,
    /// Pad every line with 0 to exactly --context-length ids.
    #[arg(long)]
    pub pad: bool,
}

pub fn run_tokenize(args: TokenizeArgs) -> anyhow::Result<()> {
    let cleaning = Cleaning::from_name(&args.clean)
        .ok_or_else(|| anyhow::anyhow!("--clean must be open-clip or hf, not {:?}", args.clean))?;
    if args.context_length == 0 {
        anyhow::bail!("--context-length must be at least 1");
    }
    let tokenizer = ClipTokenizer::from_path(&args.vocab)?.with_cleaning(cleaning);
    let texts = if args.texts.is_empty() {
        std::io::read_to_string(std::io::stdin())?.lines().map(str::to_string).collect()
    } else {
        args.texts
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for text in &texts {
        let ids = if args.pad {
            tokenizer.tokenize(text, args.context_length)?
        } else {
            tokenizer.encode_with_specials(text, args.context_length)?
        };
        let line: Vec<String> = ids.iter().map(u32::to_string).collect();
        writeln!(out, "{}", line.join(" "))?;
    }
    out.flush()?;
    Ok(())
}
