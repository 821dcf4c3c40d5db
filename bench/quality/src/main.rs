//! `imgpipe-quality`: how many bytes each JPEG encoder needs for the same visual quality, on the
//! pipeline's own variants. For each photo, the pipeline makes its variants (same decode,
//! resize, colour and orientation) and hands back the finished pixels; each candidate encodes
//! them at six qualities, and SSIMULACRA2 scores each decoded result against those lossless
//! pixels. The bytes a candidate needs for scores 70, 75 and 80 are interpolated in log-bytes
//! between its points, and divided by what libjpeg-turbo's plain baseline encode (what the
//! pipeline wrote before jpegli) needs for the same score. One thread; `make bench` pins it to
//! one core.
//!
//! It also prints what calibrates the pipeline's quality numbers (`calibration`) and how the
//! pipeline's encoder compares with the old one at each spec's own quality.
//!
//!     imgpipe-quality [--reps N] [--quick] PHOTO...
//!
//! `--quick` measures only the yardstick and the pipeline's encoder (no calibration table).

#[cfg(test)]
mod bounds;
mod calibration;
mod curve;
mod score;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use imgpipe::config::PipelineConfig;
use imgpipe::image::{encode_jpeg, encode_jpeg_with, finished_variants, jpegli, JpegSettings};
use jpegli::Progression::{self, Level};

use curve::{geometric_mean, Curve};

/// The qualities each candidate is measured at: wide enough that every candidate's scores span
/// 70–80 on every variant (jpegli at 4:4:4 still scores above 70 at quality 40 on some).
const QUALITIES: [u8; 6] = [25, 40, 55, 70, 85, 95];
/// The SSIMULACRA2 scores compared at: 70 "good", 80 "very good" (the metric's own guide).
const TARGETS: [f64; 3] = [70.0, 75.0, 80.0];

/// One way of encoding, named for the table.
struct Candidate {
    label: &'static str,
    encoder: Encoder,
}

#[derive(Clone, Copy)]
enum Encoder {
    /// libjpeg-turbo with these settings for a quality.
    Turbo(fn(u8) -> JpegSettings),
    /// jpegli at the distance its own mapping gives the quality (`jpegli::distance_for_quality`).
    Jpegli {
        subsample_chroma: bool,
        progression: Progression,
        adaptive_quantization: bool,
    },
    /// What the pipeline writes for a spec with this quality (`imgpipe::image::encode_jpeg`).
    Pipeline,
}

impl Encoder {
    fn encode(self, rgb: &image::RgbImage, quality: u8) -> Result<Vec<u8>, String> {
        match self {
            Encoder::Turbo(settings) => encode_jpeg_with(rgb, quality, settings(quality)),
            Encoder::Jpegli {
                subsample_chroma,
                progression,
                adaptive_quantization,
            } => jpegli::encode(
                rgb.as_raw(),
                rgb.width(),
                rgb.height(),
                &jpegli::Options {
                    distance: jpegli::distance_for_quality(quality),
                    subsample_chroma,
                    progression,
                    optimize_coding: true,
                    adaptive_quantization,
                },
            ),
            Encoder::Pipeline => encode_jpeg(rgb, quality),
        }
    }
}

/// The candidates; the first is the yardstick, the last the pipeline's own.
fn candidates() -> Vec<Candidate> {
    let jpegli = |label, subsample_chroma, progression, adaptive_quantization| Candidate {
        label,
        encoder: Encoder::Jpegli {
            subsample_chroma,
            progression,
            adaptive_quantization,
        },
    };
    vec![
        Candidate {
            label: "libjpeg-turbo baseline (before jpegli)",
            encoder: Encoder::Turbo(JpegSettings::baseline),
        },
        Candidate {
            label: "libjpeg-turbo optimised, progressive",
            encoder: Encoder::Turbo(|q| JpegSettings {
                progressive: true,
                optimize_coding: true,
                ..JpegSettings::baseline(q)
            }),
        },
        jpegli("jpegli 4:2:0 sequential", true, Level(0), true),
        jpegli("jpegli 4:4:4 sequential", false, Level(0), true),
        jpegli(
            "jpegli 4:4:4 sequential, no adaptive quantisation",
            false,
            Level(0),
            false,
        ),
        jpegli("jpegli 4:4:4 progressive 1", false, Level(1), true),
        jpegli("jpegli 4:4:4 progressive 2", false, Level(2), true),
        Candidate {
            label: "imgpipe (jpegli, its settings and quality mapping)",
            encoder: Encoder::Pipeline,
        },
    ]
}

/// The candidate whose distances calibrate the pipeline's quality mapping, if it is measured:
/// jpegli 4:4:4 with adaptive quantisation at its own quality → distance mapping, sequential
/// (the pipeline's progressive scans carry the same coefficients, so they score the same).
fn calibrated(candidates: &[Candidate]) -> Option<usize> {
    candidates.iter().position(|c| {
        matches!(
            c.encoder,
            Encoder::Jpegli {
                subsample_chroma: false,
                progression: Level(0),
                adaptive_quantization: true,
            }
        )
    })
}

/// One encode of one variant: its size, score and time.
#[derive(Debug, Clone, Copy)]
struct Point {
    quality: u8,
    bytes: usize,
    score: f64,
    encode_ms: f64,
}

/// Ratios to the yardstick, one per photo and variant where both curves reach the target.
type Ratios = Vec<Vec<Vec<f64>>>;

fn main() -> ExitCode {
    let mut reps = 3usize;
    let mut quick = false;
    let mut photos = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reps" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => reps = n,
                _ => return usage("--reps takes a number above 0"),
            },
            "--quick" => quick = true,
            "-h" | "--help" => return usage(""),
            _ => photos.push(PathBuf::from(arg)),
        }
    }
    if photos.is_empty() {
        return usage("no photos given");
    }
    // As process-upload does, so encode times are those of what ships.
    imgpipe::allocator::keep_freed_memory();
    let config = PipelineConfig::default();
    let mut candidates = candidates();
    if quick {
        let pipeline = candidates.len() - 1;
        candidates = candidates
            .into_iter()
            .enumerate()
            .filter(|(c, _)| *c == 0 || *c == pipeline)
            .map(|(_, candidate)| candidate)
            .collect();
    }
    let calibrated = calibrated(&candidates);
    let pipeline = candidates.len() - 1;
    let new_ratios = || -> Ratios { vec![vec![Vec::new(); TARGETS.len()]; candidates.len()] };
    let mut ratios = new_ratios();
    let mut ratios_by_variant: BTreeMap<String, Ratios> = BTreeMap::new();
    // Encode time of the default spec's variants per photo, per candidate, per megapixel made.
    let mut spec_ms = vec![Vec::new(); candidates.len()];
    let mut calibration = calibration::Calibration::new(&QUALITIES);
    let mut at_spec_quality = calibration::SpecQuality::default();

    println!(
        "## Per photo and variant: bytes, SSIMULACRA2 and encode time at the spec's quality\n"
    );
    println!("| photo | variant | size | encoder | quality | bytes | SSIMULACRA2 | encode ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for photo in &photos {
        let name = photo
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::read(photo) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("imgpipe-quality: {}: {e}", photo.display());
                return ExitCode::FAILURE;
            }
        };
        let variants = match finished_variants(&bytes, &config) {
            Ok(variants) => variants,
            Err(rejection) => {
                eprintln!("imgpipe-quality: {name}: rejected: {rejection}");
                continue;
            }
        };
        let mut photo_ms = vec![0.0; candidates.len()];
        let mut photo_mp = 0.0;
        for (variant, reference) in &variants {
            let Some(spec) = config.variants.iter().find(|s| &s.name == variant) else {
                continue;
            };
            let scorer = match score::Reference::new(reference) {
                Ok(scorer) => scorer,
                Err(e) => {
                    eprintln!("imgpipe-quality: {name} {variant}: {e}");
                    continue;
                }
            };
            photo_mp += f64::from(reference.width()) * f64::from(reference.height()) / 1e6;
            let mut points_by_candidate = Vec::with_capacity(candidates.len());
            for (c, candidate) in candidates.iter().enumerate() {
                let mut points = Vec::with_capacity(QUALITIES.len() + 1);
                let mut qualities = QUALITIES.to_vec();
                if !qualities.contains(&spec.quality) {
                    qualities.push(spec.quality);
                }
                for quality in qualities {
                    match measure(reference, &scorer, quality, candidate.encoder, reps) {
                        Ok(point) => points.push(point),
                        Err(e) => {
                            eprintln!("imgpipe-quality: {name} {variant} {}: {e}", candidate.label);
                        }
                    }
                }
                if let Some(at_spec) = points.iter().find(|p| p.quality == spec.quality) {
                    photo_ms[c] += at_spec.encode_ms;
                    println!(
                        "| {name} | {variant} | {}×{} | {} | {} | {} | {:.1} | {:.2} |",
                        reference.width(),
                        reference.height(),
                        candidate.label,
                        spec.quality,
                        at_spec.bytes,
                        at_spec.score,
                        at_spec.encode_ms
                    );
                }
                points_by_candidate.push(points);
            }
            let curves: Vec<Curve> = points_by_candidate
                .iter()
                .map(|points| {
                    Curve::new(
                        points
                            .iter()
                            .filter(|p| QUALITIES.contains(&p.quality))
                            .map(|p| (p.score, p.bytes as f64))
                            .collect(),
                    )
                })
                .collect();
            let by_variant = ratios_by_variant
                .entry(variant.clone())
                .or_insert_with(new_ratios);
            for (c, curve) in curves.iter().enumerate() {
                for (t, &target) in TARGETS.iter().enumerate() {
                    if let (Some(ours), Some(base)) =
                        (curve.bytes_at(target), curves[0].bytes_at(target))
                    {
                        ratios[c][t].push(ours / base);
                        by_variant[c][t].push(ours / base);
                    }
                }
            }
            let scores = |c: usize| -> Vec<(u8, f64, usize)> {
                points_by_candidate[c]
                    .iter()
                    .map(|p| (p.quality, p.score, p.bytes))
                    .collect()
            };
            if let Some(calibrated) = calibrated {
                calibration.add(&scores(0), &scores(calibrated));
            }
            at_spec_quality.add(variant, spec.quality, &scores(0), &scores(pipeline));
        }
        for (c, ms) in photo_ms.iter().enumerate() {
            if photo_mp > 0.0 {
                spec_ms[c].push((*ms, photo_mp));
            }
        }
    }

    println!("\n## Bytes at equal SSIMULACRA2, relative to libjpeg-turbo's baseline (geometric mean over photos and variants)\n");
    println!("| encoder | at 70 | at 75 | at 80 | encode ms per MP made (default spec) |");
    println!("|---|---|---|---|---|");
    for (c, candidate) in candidates.iter().enumerate() {
        let ms: f64 = spec_ms[c].iter().map(|(ms, _)| ms).sum();
        let mp: f64 = spec_ms[c].iter().map(|(_, mp)| mp).sum();
        println!(
            "| {} | {} | {:.2} |",
            candidate.label,
            ratio_cells(&ratios[c]),
            if mp > 0.0 { ms / mp } else { f64::NAN }
        );
    }
    println!("\n## The same, per variant\n");
    println!("| variant | encoder | at 70 | at 75 | at 80 |");
    println!("|---|---|---|---|---|");
    for (variant, ratios) in &ratios_by_variant {
        for (c, candidate) in candidates.iter().enumerate().skip(1) {
            println!(
                "| {variant} | {} | {} |",
                candidate.label,
                ratio_cells(&ratios[c])
            );
        }
    }
    if let Some(calibrated) = calibrated {
        println!("\n{}", calibration.table(candidates[calibrated].label));
    }
    println!("\n{}", at_spec_quality.table());
    ExitCode::SUCCESS
}

/// "0.850 (n=15) | ..." for each target.
fn ratio_cells(ratios: &[Vec<f64>]) -> String {
    ratios
        .iter()
        .map(|r| match geometric_mean(r) {
            Some(mean) => format!("{mean:.3} (n={})", r.len()),
            None => "–".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Encodes `reference` `reps` times (the fastest counts), decodes the result and scores it.
fn measure(
    reference: &image::RgbImage,
    scorer: &score::Reference,
    quality: u8,
    encoder: Encoder,
    reps: usize,
) -> Result<Point, String> {
    let mut best = f64::INFINITY;
    let mut encoded = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        encoded = encoder.encode(reference, quality)?;
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
    }
    // Decoded as browsers decode (libjpeg-turbo, with its smooth chroma upsampling): the
    // pixels people see are what is scored.
    let decoded = turbojpeg::decompress(&encoded, turbojpeg::PixelFormat::RGB)
        .map_err(|e| format!("decoding our own JPEG: {e}"))?;
    let decoded =
        image::RgbImage::from_raw(decoded.width as u32, decoded.height as u32, decoded.pixels)
            .ok_or("libjpeg-turbo's output is not width×height×3")?;
    Ok(Point {
        quality,
        bytes: encoded.len(),
        score: scorer.score(&decoded)?,
        encode_ms: best,
    })
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("imgpipe-quality: {problem}");
    }
    eprintln!("usage: imgpipe-quality [--reps N] [--quick] PHOTO...");
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
