//! `imgpipe`: the pipeline's image path on local files, for trying configurations and for
//! checking photos without any cloud.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

mod bench;
mod fingerprint_eval;
mod names;
mod redrive;
mod reprocess;

use clap::{Parser, Subcommand};
use imgpipe::config::{parse_variants, ConfigError, Limits, PipelineConfig, VariantSpec};
use imgpipe::image::{process, Rejection};
use imgpipe::metadata::{ImageRecord, VariantRecord};

#[derive(Parser)]
#[command(
    name = "imgpipe",
    version,
    about = "imgpipe's image path on local files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn photos into upright, metadata-free variants plus a JSON record each.
    ///
    /// Writes DIR/<variant>/<name>.<ext> and DIR/<name>.json (the record as stored in
    /// DynamoDB, without the AWS fields) and prints one line per input. <name> is the input's
    /// file stem, made safe, with ~2, ~3… appended when an earlier input of the run has the same
    /// one (a/x.jpg and b/x.jpg, or x.jpg and x.png); nothing is written outside DIR. Exits 0
    /// when every input was processed or cleanly rejected; non-zero only for usage or I/O errors.
    Process {
        /// Directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Variant specs, `name:WIDTHxHEIGHT:inside|cover:jpeg|webp:QUALITY`, comma-separated.
        /// Overrides IMGPIPE_VARIANTS; the default is
        /// thumb:200x200:cover:jpeg:80,medium:800x800:inside:jpeg:82,large:1600x1600:inside:jpeg:82
        #[arg(long, value_name = "SPEC", value_parser = parse_variant_list)]
        variants: Option<VariantList>,
        /// Largest input accepted, in bytes (overrides IMGPIPE_MAX_BYTES; default 50 MiB).
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<u64>,
        /// Largest image accepted, in pixels (overrides IMGPIPE_MAX_PIXELS; default 100 M).
        #[arg(long, value_name = "PIXELS")]
        max_pixels: Option<u64>,
        /// Photos to process.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Time the function's image path on photos: one JSON line per file (median and minimum
    /// of --reps runs, with the time per phase), then the process's peak RSS. One thread.
    Bench(BenchArgs),
    /// Move the upload events in the dead-letter queue back to the event queue (SQS's
    /// message-move task where the endpoint has it, else receive, send, delete). Works against
    /// AWS and the local cloud alike (the standard credential chain; AWS_ENDPOINT_URL when set).
    Redrive {
        /// The event queue (default: QUEUE_URL, as in .imgpipe/local.env).
        #[arg(long, env = "QUEUE_URL", value_name = "URL")]
        queue_url: String,
        /// The dead-letter queue (default: DLQ_URL).
        #[arg(long, env = "DLQ_URL", value_name = "URL")]
        dlq_url: String,
        /// Show what is there (keys, receive counts, first failure time) and move nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the configuration the function would run with, from the same IMGPIPE_* settings
    /// (or --variants): the variant specs in canonical form, the limits and the `pipeline` id
    /// records made with it carry. Exits 2 when a setting is invalid.
    Config {
        /// Variant specs, as for `process`.
        #[arg(long, value_name = "SPEC", value_parser = parse_variant_list)]
        variants: Option<VariantList>,
    },
    /// Send stored photos through the pipeline again, after its configuration changed: for each
    /// processed or rejected record (by default those made by another configuration than the
    /// current one), the event of its upload goes back on the event queue, where the function
    /// handles it as an upload. A newer upload or a delete since always wins over it. Exits
    /// non-zero if any send failed. Works against AWS and the local cloud alike.
    Reprocess(ReprocessArgs),
    /// Measure the perceptual hash candidates: for each photo, hash distances to its changed
    /// copies (JPEG q95 and q60, 50% downscale, 5% crop, ±10% brightness, PNG, WebP), and
    /// between different photos, per algorithm, with the share found at several thresholds.
    FingerprintEval {
        /// Photos (at least two; different pictures).
        #[arg(required = true, num_args = 2.., value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// Measure the function's image path on photos (see `bench.rs`).
#[derive(clap::Args)]
struct BenchArgs {
    /// Timed runs per file, after one warm-up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    reps: u16,
    /// Variant specs, as for `process` (default: IMGPIPE_VARIANTS or the built-in three).
    #[arg(long, value_name = "SPEC", value_parser = parse_variant_list)]
    variants: Option<VariantList>,
    /// Photos to measure.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// `imgpipe reprocess` (see `reprocess.rs`).
#[derive(clap::Args)]
struct ReprocessArgs {
    /// The images table (default: TABLE_NAME, as in .imgpipe/local.env).
    #[arg(long, env = "TABLE_NAME", value_name = "NAME")]
    table: String,
    /// The event queue process-upload reads (default: QUEUE_URL).
    #[arg(long, env = "QUEUE_URL", value_name = "URL")]
    queue_url: String,
    /// Only records of uploads to this bucket (default: UPLOADS_BUCKET when set).
    #[arg(long, env = "UPLOADS_BUCKET", value_name = "NAME")]
    uploads_bucket: Option<String>,
    /// Records made by another configuration than the current one, or before records said
    /// (the default).
    #[arg(long, conflicts_with = "all")]
    stale: bool,
    /// Every processed and rejected record.
    #[arg(long)]
    all: bool,
    /// Only records whose upload key starts with PREFIX.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Count what would be sent, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Messages per second (each is one photo for the function).
    #[arg(long, default_value_t = 50.0, value_parser = positive_rate)]
    rate: f64,
    /// The current variant specs, as the function has them (default: IMGPIPE_VARIANTS or the
    /// built-in three). Records made by these are current.
    #[arg(long, value_name = "SPEC", value_parser = parse_variant_list)]
    variants: Option<VariantList>,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 100_000.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate: messages per second, above 0 and at most 100000"
        )),
    }
}

/// One `--variants` value: a whole comma-separated list. A newtype, because clap takes a bare
/// `Vec` field for a repeatable option of single items.
#[derive(Clone)]
struct VariantList(Vec<VariantSpec>);

fn parse_variant_list(list: &str) -> Result<VariantList, ConfigError> {
    parse_variants(list).map(VariantList)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Process {
            out,
            variants,
            max_bytes,
            max_pixels,
            files,
        } => {
            let config = match PipelineConfig::from_env() {
                Ok(env) => PipelineConfig {
                    variants: variants.map_or(env.variants, |list| list.0),
                    limits: Limits {
                        max_bytes: max_bytes.unwrap_or(env.limits.max_bytes),
                        max_pixels: max_pixels.unwrap_or(env.limits.max_pixels),
                        ..env.limits
                    },
                },
                Err(e) => {
                    eprintln!("imgpipe: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut io_errors = 0;
            let mut names = names::OutputNames::default();
            for file in &files {
                let name = names.claim(file);
                if let Err(e) = process_file(file, &name, &out, &config) {
                    eprintln!("error {}: {e}", shown(file));
                    io_errors += 1;
                }
            }
            if io_errors > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Bench(args) => {
            let config = match PipelineConfig::from_env() {
                Ok(env) => PipelineConfig {
                    variants: args.variants.map_or(env.variants, |list| list.0),
                    limits: env.limits,
                },
                Err(e) => {
                    eprintln!("imgpipe: {e}");
                    return ExitCode::from(2);
                }
            };
            // As process-upload does, so the benchmark measures what ships.
            imgpipe::allocator::keep_freed_memory();
            match bench::run(&args.files, usize::from(args.reps), &config) {
                Ok(()) => ExitCode::SUCCESS,
                // The reader took what it wanted (`| head -1`).
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("imgpipe bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Redrive {
            queue_url,
            dlq_url,
            dry_run,
        } => {
            let Some(runtime) = runtime("redrive") else {
                return ExitCode::FAILURE;
            };
            let queues = redrive::Queues { queue_url, dlq_url };
            match runtime.block_on(redrive::run(&queues, dry_run)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("imgpipe redrive: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config { variants } => match PipelineConfig::from_env() {
            Ok(env) => {
                let config = PipelineConfig {
                    variants: variants.map_or(env.variants, |list| list.0),
                    ..env
                };
                println!("pipeline   {}", config.pipeline_id());
                println!("variants   {}", config.canonical_variants().join(","));
                println!("max_bytes  {}", config.limits.max_bytes);
                println!("max_pixels {}", config.limits.max_pixels);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("imgpipe: {e}");
                ExitCode::from(2)
            }
        },
        Command::Reprocess(args) => {
            let variants = match args.variants {
                Some(list) => list.0,
                None => match PipelineConfig::from_env() {
                    Ok(env) => env.variants,
                    Err(e) => {
                        eprintln!("imgpipe: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            let pipeline = PipelineConfig {
                variants,
                ..PipelineConfig::default()
            }
            .pipeline_id();
            let target = reprocess::Target {
                table: args.table,
                queue_url: args.queue_url,
                uploads_bucket: args.uploads_bucket.filter(|b| !b.is_empty()),
            };
            let options = reprocess::Options {
                all: args.all,
                prefix: args.prefix,
                dry_run: args.dry_run,
                rate: args.rate,
                pipeline,
            };
            let Some(runtime) = runtime("reprocess") else {
                return ExitCode::FAILURE;
            };
            let started = Instant::now();
            match runtime.block_on(reprocess::run(&target, &options)) {
                Ok(summary) => {
                    println!(
                        "{}",
                        reprocess::report(&summary, &options, started.elapsed().as_secs_f64())
                    );
                    for failure in &summary.failed {
                        eprintln!("imgpipe reprocess: not sent: {failure}");
                    }
                    if summary.failed.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("imgpipe reprocess: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::FingerprintEval { files } => {
            // The built-in variants, so the hashes are those a default deployment records.
            match fingerprint_eval::run(&files, &PipelineConfig::default()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("imgpipe fingerprint-eval: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// A one-thread runtime for a subcommand that talks to AWS; `None`, said, if there is none.
fn runtime(command: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            eprintln!("imgpipe {command}: {e}");
            None
        }
    }
}

/// Processes one file into outputs called `name`; `Err` only for I/O (a bad photo is a
/// rejection, reported and recorded).
fn process_file(
    file: &Path,
    name: &str,
    out: &Path,
    config: &PipelineConfig,
) -> std::io::Result<()> {
    let limit = config.limits.max_bytes;
    let declared = std::fs::metadata(file)?.len();
    // Refused by size before reading, as the function refuses by Content-Length; the bounded
    // read also stops a file that grows meanwhile, or `/dev/zero`, at the limit.
    let mut bytes = Vec::new();
    if declared <= limit {
        std::fs::File::open(file)?
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
    }
    let size = declared.max(bytes.len() as u64);
    if size > limit {
        let rejection = Rejection::TooLarge { bytes: size, limit };
        println!(
            "rejected {}: {rejection}{}",
            shown(file),
            renamed(file, name)
        );
        let record = ImageRecord::rejected(&[], size, &rejection).made_by(&config.pipeline_id());
        return write_record(out, name, &record);
    }
    let started = Instant::now();
    let record = match process(&bytes, config) {
        Ok(image) => {
            let mut variants = Vec::with_capacity(image.variants.len());
            for variant in &image.variants {
                let relative = format!("{}/{name}.{}", variant.name, variant.format.extension());
                let path = out.join(&relative);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, &variant.data)?;
                variants.push(VariantRecord {
                    name: variant.name.clone(),
                    key: relative,
                    format: variant.format.name().to_owned(),
                    width: variant.width,
                    height: variant.height,
                    bytes: variant.data.len() as u64,
                });
            }
            let sizes: Vec<String> = variants
                .iter()
                .map(|v| format!("{} {}x{}", v.name, v.width, v.height))
                .collect();
            println!(
                "processed {} {} {}x{} orientation {} -> {} in {} ms{}",
                shown(file),
                image.format.name(),
                image.width,
                image.height,
                image.orientation,
                sizes.join(", "),
                started.elapsed().as_millis(),
                renamed(file, name)
            );
            ImageRecord::processed(&bytes, &image, variants).made_by(&config.pipeline_id())
        }
        Err(rejection) => {
            println!(
                "rejected {}: {rejection}{}",
                shown(file),
                renamed(file, name)
            );
            ImageRecord::rejected(&bytes, bytes.len() as u64, &rejection)
                .made_by(&config.pipeline_id())
        }
    };
    write_record(out, name, &record)
}

/// Writes `out/<name>.json`.
fn write_record(out: &Path, name: &str, record: &ImageRecord) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(out.join(format!("{name}.json")), json + "\n")
}

/// ` (written as NAME)` when the outputs are not named after the input's stem, so the user can find them.
fn renamed(file: &Path, name: &str) -> String {
    if file.file_stem().is_some_and(|stem| stem == name) {
        String::new()
    } else {
        format!(" (written as {name})")
    }
}

/// The input path for the one-line report, control characters escaped so that a file name
/// cannot break the line or forge another.
fn shown(file: &Path) -> String {
    printable(&file.display().to_string())
}

/// `text` with control characters escaped (`\n`, `\u{1b}`…): file names and S3 keys are the
/// uploader's, and must not move the operator's cursor, colour the terminal or forge lines.
fn printable(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(
            super::printable("a\u{1b}[31mred\nline\u{7f}"),
            "a\\u{1b}[31mred\\nline\\u{7f}"
        );
        assert_eq!(super::printable("café/ok.jpg"), "café/ok.jpg");
    }
}
