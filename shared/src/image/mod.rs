//! The image path: sniff → limits → decode → resize (in the stored orientation) → colour →
//! orient → encode. Variants are planned on the upright image; resizing before rotating gives
//! the same pixels at a fraction of the cost, since only the small variants are rotated.

mod colour;
mod decode;
mod decode_memory;
pub mod encode;
mod error;
pub mod fingerprint;
pub mod geometry;
mod heif;
mod heif_memory;
pub mod jpegli;
mod orientation_transform;
pub mod phash;
mod png16;
mod resize;
mod sniff;
mod tiff_header;
mod tiff_planar;

use std::borrow::Cow;
use std::time::Instant;

use fast_image_resize::Resizer;
use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView};

use crate::config::{OutputFormat, PipelineConfig, VariantSpec};
use crate::metadata::{read_exif, read_exif_tiff, ExifFields, Gps};
pub use colour::{ColourConversion, ColourSource};
pub use encode::{
    distance_for_spec_quality, encode_jpeg, encode_jpeg_with, jpeg_variant_options, JpegSettings,
};
pub use error::Rejection;
pub use fingerprint::Fingerprints;
pub use sniff::{sniff, Sniffed, Supported};

/// A photo turned into its variants.
#[derive(Debug, Clone)]
pub struct ProcessedImage {
    pub format: Supported,
    /// Upright dimensions.
    pub width: u32,
    pub height: u32,
    /// The orientation that was applied, as EXIF numbers it (1 when none); for HEIF, what its
    /// `irot`/`imir` transforms amount to.
    pub orientation: u8,
    pub exif: Option<ExifFields>,
    pub gps: Option<Gps>,
    /// Whether an embedded colour profile was converted to sRGB.
    pub converted_to_srgb: bool,
    pub variants: Vec<EncodedVariant>,
    /// Placeholder, dominant colour and perceptual hash (see `fingerprint`).
    pub fingerprints: Fingerprints,
    /// The small upright sRGB copy the fingerprints were computed from (`imgpipe
    /// fingerprint-eval` hashes it with other algorithms).
    pub working_copy: DynamicImage,
    /// Where the time went, for `imgpipe bench` and the log.
    pub timings: Timings,
}

/// Milliseconds per phase of one `process` call (all variants summed per phase).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub exif_ms: f64,
    pub decode_ms: f64,
    pub resize_ms: f64,
    pub colour_ms: f64,
    pub orient_ms: f64,
    pub encode_ms: f64,
    /// The working copy and the fingerprints computed from it.
    pub fingerprint_ms: f64,
}

/// Runs `work` and adds its duration to `total`.
fn timed<T>(total: &mut f64, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = work();
    *total += started.elapsed().as_secs_f64() * 1000.0;
    result
}

/// One encoded variant, not yet stored anywhere.
#[derive(Debug, Clone)]
pub struct EncodedVariant {
    pub name: String,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Turns the bytes of one upload into its variants, or says why it cannot.
///
/// A panic inside a codec on hostile input becomes a rejection of that one input instead of
/// taking the whole batch (and the process) down; builds keep `panic = "unwind"` for this.
pub fn process(bytes: &[u8], config: &PipelineConfig) -> Result<ProcessedImage, Rejection> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process_unguarded(bytes, config)
    }))
    .unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        let format = sniff(bytes).to_string();
        tracing::error!(%format, panic = %detail, "a decoder panicked; the upload is rejected");
        Err(Rejection::DecoderPanic { format, detail })
    })
}

fn process_unguarded(bytes: &[u8], config: &PipelineConfig) -> Result<ProcessedImage, Rejection> {
    process_with(bytes, config, &mut |variant, spec| {
        encode::encode(variant, spec.format, spec.quality)
    })
}

/// Each variant's finished pixels (upright, sRGB, at its size) just before they are encoded,
/// by the same decode, resize, colour and orientation steps as `process`: the lossless
/// references the quality harness scores encoders against. RGBA is flattened as the JPEG path
/// flattens it.
pub fn finished_variants(
    bytes: &[u8],
    config: &PipelineConfig,
) -> Result<Vec<(String, image::RgbImage)>, Rejection> {
    let mut finished = Vec::new();
    process_with(bytes, config, &mut |variant, spec| {
        finished.push((spec.name.clone(), encode::flatten(variant)));
        Ok(Vec::new())
    })?;
    Ok(finished)
}

/// `process`, with `encode` turning each finished variant into bytes.
fn process_with(
    bytes: &[u8],
    config: &PipelineConfig,
    encode: &mut dyn FnMut(&DynamicImage, &VariantSpec) -> Result<Vec<u8>, String>,
) -> Result<ProcessedImage, Rejection> {
    if bytes.is_empty() {
        return Err(Rejection::Empty);
    }
    let size = bytes.len() as u64;
    if size > config.limits.max_bytes {
        return Err(Rejection::TooLarge {
            bytes: size,
            limit: config.limits.max_bytes,
        });
    }
    let format = match sniff(bytes) {
        Sniffed::Supported(format) => format,
        other => return Err(Rejection::UnsupportedFormat { detected: other }),
    };
    let mut timings = Timings::default();
    // HEIF's decoder reads the EXIF and applies the orientation itself (below).
    let decoder_orients = matches!(format, Supported::Heic | Supported::Heif | Supported::Avif);
    let mut exif = if decoder_orients {
        crate::metadata::ExifSummary::default()
    } else {
        timed(&mut timings.exif_ms, || read_exif(bytes))
    };
    let orientation = Orientation::from_exif(exif.orientation).unwrap_or(Orientation::NoTransforms);
    let transposed = swaps_axes(orientation);
    let upright = |w: u32, h: u32| if transposed { (h, w) } else { (w, h) };
    let decoded = timed(&mut timings.decode_ms, || {
        decode::decode(bytes, format, &config.limits, |w, h| {
            let (width, height) = upright(w, h);
            decode_fraction(&config.variants, width, height)
        })
        .map(|d| (working_pixels(d.image), d.stored_size, d.colour, d.upright))
    });
    let (source, stored_size, colour_source, upright_by_decoder) = decoded?;
    // Released as soon as no variant left needs it (see below): the decode is the biggest
    // buffer there is, and the largest variant's encode the hungriest step.
    let mut source = Some(source);
    // The pixels are upright already; the EXIF orientation, which iPhones write to agree with
    // `irot`, must not be applied a second time. The record keeps what the decoder applied.
    let mut applied_orientation = exif.orientation;
    if let Some(upright) = upright_by_decoder {
        if let Some(tiff) = upright.exif_tiff {
            exif = timed(&mut timings.exif_ms, || read_exif_tiff(tiff));
        }
        applied_orientation = upright.orientation;
    }
    let with_alpha = matches!(source, Some(DynamicImage::ImageRgba8(_)));
    let translucent = match &source {
        Some(DynamicImage::ImageRgba8(pixels)) => pixels.pixels().any(|p| p[3] != u8::MAX),
        _ => false,
    };
    let colour = ColourConversion::for_source(colour_source.as_ref(), with_alpha);
    let (width, height) = upright(stored_size.0, stored_size.1);

    let mut resizer = Resizer::new();
    let mut variants: Vec<Option<EncodedVariant>> = vec![None; config.variants.len()];
    // Full-frame results so far (stored orientation, before colour): later, smaller variants
    // are resized from them instead of from the full decode (a cascade).
    let mut steps: Vec<DynamicImage> = Vec::new();
    let plan_for = |spec: &VariantSpec| {
        let plan = geometry::plan(spec, width, height);
        if transposed {
            plan.transposed()
        } else {
            plan
        }
    };
    let finishing_changes_pixels = colour.converts() || orientation != Orientation::NoTransforms;
    let order = largest_first(&config.variants);
    for (position, &index) in order.iter().enumerate() {
        let spec = &config.variants[index];
        let plan = plan_for(spec);
        let encode_failed = |detail: String| Rejection::Encode {
            variant: spec.name.clone(),
            detail,
        };
        let step = cascade_source(&steps, stored_size.0, &plan);
        let from = match step {
            Some(i) => &steps[i],
            None => source
                .as_ref()
                .ok_or_else(|| encode_failed("the decode was released too early".to_owned()))?,
        };
        let scaled_plan = plan.rescaled(stored_size, from.dimensions());
        let resized = timed(&mut timings.resize_ms, || {
            resize::resize(&mut resizer, from, &scaled_plan, translucent)
        })
        .map_err(encode_failed)?;
        // Steps are kept as resized (stored orientation, before colour). When finishing would
        // change nothing, the variant is its step, not a copy of it.
        let full_frame = plan.is_full_frame(stored_size.0, stored_size.1);
        let mut variant = if full_frame && !finishing_changes_pixels {
            steps.push(resized);
            Cow::Borrowed(&steps[steps.len() - 1])
        } else {
            if full_frame {
                steps.push(resized.clone());
            }
            Cow::Owned(resized)
        };
        // A step, once made, serves every later variant it is big enough for, so the decode
        // can go when each one left has a step (and the fingerprint has one to start from).
        let later = &order[position + 1..];
        if !steps.is_empty()
            && later.iter().all(|&i| {
                cascade_source(&steps, stored_size.0, &plan_for(&config.variants[i])).is_some()
            })
        {
            source = None;
        }
        if finishing_changes_pixels {
            let variant = variant.to_mut();
            timed(&mut timings.colour_ms, || match variant {
                DynamicImage::ImageRgb8(pixels) => colour.apply(pixels),
                DynamicImage::ImageRgba8(pixels) => colour.apply(pixels),
                _ => {}
            });
            timed(&mut timings.orient_ms, || {
                variant.apply_orientation(orientation)
            });
        }
        let data =
            timed(&mut timings.encode_ms, || encode(&variant, spec)).map_err(encode_failed)?;
        variants[index] = Some(EncodedVariant {
            name: spec.name.clone(),
            format: spec.format,
            width: variant.width(),
            height: variant.height(),
            data,
        });
    }
    let variants: Vec<EncodedVariant> = variants.into_iter().flatten().collect();
    // From the smallest full-frame step (the steps shrink in order), else the decode itself
    // (when every variant is a crop), finished like a variant: sRGB, upright.
    let from = steps
        .last()
        .or(source.as_ref())
        .ok_or_else(|| Rejection::Encode {
            variant: "fingerprint".to_owned(),
            detail: "the decode was released with no step to start from".to_owned(),
        })?;
    let (working_copy, fingerprints) = timed(&mut timings.fingerprint_ms, || {
        let copy = fingerprint::working_copy(from, |copy| {
            match copy {
                DynamicImage::ImageRgb8(pixels) => colour.apply(pixels),
                DynamicImage::ImageRgba8(pixels) => colour.apply(pixels),
                _ => {}
            }
            copy.apply_orientation(orientation);
        });
        let fingerprints = fingerprint::compute(&copy);
        (copy, fingerprints)
    });
    Ok(ProcessedImage {
        format,
        width,
        height,
        orientation: applied_orientation,
        exif: exif.fields,
        gps: exif.gps,
        converted_to_srgb: colour.converts(),
        variants,
        fingerprints,
        working_copy,
        timings,
    })
}

/// Variant indexes, largest output first, so that each can feed the smaller ones.
fn largest_first(specs: &[VariantSpec]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(u64::from(specs[i].width) * u64::from(specs[i].height))
    });
    order
}

/// The smallest fraction of the upright `width`×`height` the decode may have (1.0: full size).
/// A DCT-scaled decode is a crude filter on its own (block edges, aliasing), so it must stay
/// larger than the sharpest variant and leave Lanczos3 some shrinking to do: decoded to about
/// the variant's own size, an 800 variant of an 1800-wide photo lost 4 dB PSNR at quality 95
/// against a Lanczos3 resize of the full decode. Below quality 90 JPEG's own loss hides a
/// quarter more; at 90 and above only twice the size does (libvips' rule for shrink-on-load).
fn decode_fraction(specs: &[VariantSpec], width: u32, height: u32) -> f64 {
    specs
        .iter()
        .map(|spec| {
            let plan = geometry::plan(spec, width, height);
            let headroom = if spec.quality < 90 { 1.25 } else { 2.0 };
            f64::from(plan.width) / plan.crop.width * headroom
        })
        .fold(0.0, f64::max)
}

/// The smallest earlier step that is still at least twice the variant's resolution, so that
/// Lanczos3 from it looks like Lanczos3 from the full decode; `None` means the decode itself.
/// Plans are in stored pixels, `stored_width` wide.
fn cascade_source(
    steps: &[DynamicImage],
    stored_width: u32,
    plan: &geometry::Plan,
) -> Option<usize> {
    let needed = 2.0 * f64::from(plan.width) / plan.crop.width;
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| (i, f64::from(step.width()) / f64::from(stored_width)))
        .filter(|(_, scale)| *scale >= needed)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// 8-bit RGB, or RGBA when the image has alpha: what the resizer, colour transform and encoders
/// share. Gray, 16-bit and float images are converted once here.
fn working_pixels(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.into_rgba8()),
        other => DynamicImage::ImageRgb8(other.into_rgb8()),
    }
}

/// Orientations 5–8 store the picture transposed (rotated a quarter turn).
fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}
