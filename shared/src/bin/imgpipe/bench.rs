//! `imgpipe bench`: the function's exact image path, in process, on one thread, timed.
//! One JSON line per file, then a summary with the process's peak RSS.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use imgpipe::config::PipelineConfig;
use imgpipe::image::{process, Timings};
use serde_json::json;

/// Writes through `?`, so that a reader that goes away (`| head`) ends the run with an error
/// instead of a panic in `println!`.
pub fn run(files: &[PathBuf], reps: usize, config: &PipelineConfig) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for file in files {
        let bytes = std::fs::read(file)?;
        // One warm-up, so that page faults and lazy initialisation do not count.
        let first = match process(&bytes, config) {
            Ok(image) => image,
            Err(rejection) => {
                writeln!(
                    out,
                    "{}",
                    json!({"file": file.display().to_string(), "rejected": rejection.to_string()})
                )?;
                continue;
            }
        };
        let megapixels = f64::from(first.width) * f64::from(first.height) / 1e6;
        let mut totals = Vec::with_capacity(reps);
        let mut phases = Vec::with_capacity(reps);
        for _ in 0..reps {
            let started = Instant::now();
            let image = process(&bytes, config).map_err(std::io::Error::other)?;
            totals.push(started.elapsed().as_secs_f64() * 1000.0);
            phases.push(image.timings);
        }
        let phase = |pick: fn(&Timings) -> f64| round(median(phases.iter().map(pick).collect()));
        writeln!(
            out,
            "{}",
            json!({
                "file": file.display().to_string(),
                "megapixels": round(megapixels),
                "variants": first.variants.len(),
                "reps": reps,
                "median_ms": round(median(totals.clone())),
                "min_ms": round(totals.iter().copied().fold(f64::INFINITY, f64::min)),
                "decode_ms": phase(|t| t.decode_ms),
                "orient_ms": phase(|t| t.orient_ms),
                "resize_ms": phase(|t| t.resize_ms),
                "colour_ms": phase(|t| t.colour_ms),
                "encode_ms": phase(|t| t.encode_ms),
                "fingerprint_ms": phase(|t| t.fingerprint_ms),
                "exif_ms": phase(|t| t.exif_ms),
            })
        )?;
        // Lines reach a pipe as they are measured, not when the run ends.
        out.flush()?;
    }
    writeln!(
        out,
        "{}",
        json!({"summary": true, "files": files.len(), "peak_rss_mb": peak_rss_mb()})
    )?;
    out.flush()
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The kernel's high-water mark of this process's resident memory (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round(kb / 1024.0))
}
