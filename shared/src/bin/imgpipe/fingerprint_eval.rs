//! `imgpipe fingerprint-eval`: how far apart perceptual hashes are for the same photo after
//! the changes a copy goes through (re-encoding, resizing, cropping, brightness) and for
//! different photos, for each candidate algorithm; the numbers behind `image::phash::CHOSEN` and
//! the similar-photo search's default distance. Every hash is taken as the pipeline takes it:
//! each copy goes through `process` and its working copy is hashed.

use std::io::{Cursor, Write};
use std::path::PathBuf;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageReader};
use imgpipe::config::PipelineConfig;
use imgpipe::image::phash::{distance, hash_with, Algorithm};
use imgpipe::image::process;

/// A way a copy of a photo differs from the original.
struct Change {
    name: &'static str,
    make: fn(&DynamicImage) -> Result<Vec<u8>, String>,
}

const CHANGES: [Change; 7] = [
    Change {
        name: "JPEG q95",
        make: |i| jpeg(i, 95),
    },
    Change {
        name: "JPEG q60",
        make: |i| jpeg(i, 60),
    },
    Change {
        name: "50% downscale",
        make: |i| jpeg(&half(i), 90),
    },
    Change {
        name: "5% crop",
        make: |i| jpeg(&crop_5_percent(i), 90),
    },
    Change {
        name: "+10% brightness",
        make: |i| jpeg(&i.brighten(26), 90),
    },
    Change {
        name: "-10% brightness",
        make: |i| jpeg(&i.brighten(-26), 90),
    },
    Change {
        name: "PNG",
        make: png,
    },
];

/// The WebP re-encode, separately: `webp` is lossy at quality 75.
const WEBP: &str = "WebP q75";

pub fn run(files: &[PathBuf], config: &PipelineConfig) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    // Per algorithm: the distances of changed copies (per change) and of different photos.
    let mut near: Vec<Vec<(usize, u32)>> = vec![Vec::new(); Algorithm::ALL.len()];
    let mut originals: Vec<(String, Vec<u64>)> = Vec::new();
    for file in files {
        let bytes = std::fs::read(file)?;
        let name = file.display().to_string();
        let Some(hashes) = hashes_of(&bytes, config) else {
            writeln!(out, "skipped (rejected): {name}")?;
            continue;
        };
        let upright = match upright_pixels(&bytes) {
            Ok(image) => image,
            Err(e) => {
                writeln!(out, "skipped ({e}): {name}")?;
                continue;
            }
        };
        let mut copies: Vec<(usize, Result<Vec<u8>, String>)> = CHANGES
            .iter()
            .enumerate()
            .map(|(n, change)| (n, (change.make)(&upright)))
            .collect();
        copies.push((CHANGES.len(), webp(&upright)));
        for (change, copy) in copies {
            let copy = copy.map_err(std::io::Error::other)?;
            let Some(copy_hashes) = hashes_of(&copy, config) else {
                writeln!(out, "a copy was rejected: {name}")?;
                continue;
            };
            for (a, (h, c)) in hashes.iter().zip(&copy_hashes).enumerate() {
                near[a].push((change, distance(*h, *c)));
            }
        }
        originals.push((name, hashes));
    }
    let change_name = |n: usize| CHANGES.get(n).map_or(WEBP, |c| c.name);
    writeln!(
        out,
        "{} photos; {} changed copies each; {} pairs of different photos",
        originals.len(),
        CHANGES.len() + 1,
        originals.len() * originals.len().saturating_sub(1) / 2
    )?;
    for (a, algorithm) in Algorithm::ALL.iter().enumerate() {
        let mut far: Vec<u32> = Vec::new();
        let mut closest: Vec<(u32, &str, &str)> = Vec::new();
        for (i, (p, x)) in originals.iter().enumerate() {
            for (q, y) in &originals[i + 1..] {
                let d = distance(x[a], y[a]);
                far.push(d);
                closest.push((d, p, q));
            }
        }
        far.sort_unstable();
        closest.sort_unstable();
        let mut same: Vec<u32> = near[a].iter().map(|(_, d)| *d).collect();
        same.sort_unstable();
        writeln!(out, "\n{}", algorithm.name())?;
        for change in 0..=CHANGES.len() {
            let mut d: Vec<u32> = near[a]
                .iter()
                .filter(|(c, _)| *c == change)
                .map(|(_, d)| *d)
                .collect();
            d.sort_unstable();
            writeln!(
                out,
                "  same photo, {:<16} median {:>2}  p95 {:>2}  max {:>2}",
                change_name(change),
                percentile(&d, 50),
                percentile(&d, 95),
                d.last().copied().unwrap_or(0)
            )?;
        }
        writeln!(
            out,
            "  different photos:         min {:>2}  p1 {:>2}  p5 {:>2}  median {:>2}",
            far.first().copied().unwrap_or(0),
            percentile(&far, 1),
            percentile(&far, 5),
            percentile(&far, 50)
        )?;
        for (d, p, q) in closest.iter().take(3) {
            writeln!(out, "  closest different pair: {d:>2}  {p}  {q}")?;
        }
        for threshold in [4, 6, 8, 10, 12, 14] {
            let missed = same.iter().filter(|d| **d > threshold).count();
            let false_matches = far.iter().filter(|d| **d <= threshold).count();
            writeln!(
                out,
                "  within {threshold:>2}: {:>5.1}% of copies found, {:>5.2}% of different pairs matched",
                100.0 * (same.len() - missed) as f64 / same.len().max(1) as f64,
                100.0 * false_matches as f64 / far.len().max(1) as f64,
            )?;
        }
    }
    Ok(())
}

/// Every candidate's hash of the pipeline's working copy, or `None` if the input is rejected.
fn hashes_of(bytes: &[u8], config: &PipelineConfig) -> Option<Vec<u64>> {
    let image = process(bytes, config).ok()?;
    Some(
        Algorithm::ALL
            .iter()
            .map(|a| hash_with(&image.working_copy, *a))
            .collect(),
    )
}

/// The photo as a person sees it: decoded, its EXIF orientation applied (a copy that went
/// through an app or a sharing service is upright and has no EXIF).
fn upright_pixels(bytes: &[u8]) -> Result<DynamicImage, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().map_err(|e| e.to_string())?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    image.apply_orientation(orientation);
    Ok(DynamicImage::ImageRgb8(image.to_rgb8()))
}

fn jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    image
        .to_rgb8()
        .write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn png(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn webp(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let rgb = image.to_rgb8();
    let (width, height) = rgb.dimensions();
    Ok(webp::Encoder::from_rgb(rgb.as_raw(), width, height)
        .encode(75.0)
        .to_vec())
}

fn half(image: &DynamicImage) -> DynamicImage {
    let (width, height) = image.dimensions();
    image.resize_exact(
        (width / 2).max(1),
        (height / 2).max(1),
        image::imageops::FilterType::Lanczos3,
    )
}

/// 5% of each dimension off, from one corner (2.5% a side would keep the centre exactly).
fn crop_5_percent(image: &DynamicImage) -> DynamicImage {
    let (width, height) = image.dimensions();
    let (dx, dy) = (width / 20, height / 20);
    image.crop_imm(dx, dy, width - dx, height - dy)
}

fn percentile(sorted: &[u32], p: usize) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() - 1) * p / 100]
}
