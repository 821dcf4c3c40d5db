//! Encoders for the variants. Neither writes EXIF, XMP or ICC: variants are sRGB and private.

use image::{DynamicImage, RgbImage};

use crate::config::OutputFormat;

/// Encodes `image` (RGB8 or RGBA8) at `quality`. JPEG has no alpha, so transparent pixels are
/// composited onto white first, as a browser shows them on a white page.
pub fn encode(image: &DynamicImage, format: OutputFormat, quality: u8) -> Result<Vec<u8>, String> {
    match format {
        OutputFormat::Jpeg => match image {
            DynamicImage::ImageRgb8(rgb) => encode_jpeg(rgb, quality),
            other => encode_jpeg(&flatten_onto_white(other), quality),
        },
        OutputFormat::WebP => {
            let (w, h) = (image.width(), image.height());
            let encoded = match image {
                DynamicImage::ImageRgb8(rgb) => {
                    webp::Encoder::from_rgb(rgb.as_raw(), w, h).encode(f32::from(quality))
                }
                DynamicImage::ImageRgba8(rgba) => {
                    webp::Encoder::from_rgba(rgba.as_raw(), w, h).encode(f32::from(quality))
                }
                other => {
                    let rgb = other.to_rgb8();
                    webp::Encoder::from_rgb(rgb.as_raw(), w, h).encode(f32::from(quality))
                }
            };
            Ok(encoded.to_vec())
        }
    }
}

/// Which JPEG encoder, and how: what the quality harness (`imgpipe-quality`) compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegSettings {
    pub encoder: JpegEncoder,
    /// 4:2:0 (half-resolution chroma) rather than 4:4:4.
    pub subsample_chroma: bool,
    /// 0: sequential (baseline); above: progressive (jpegli has levels 1 and 2, more scans at
    /// 2; libjpeg-turbo has one progression).
    pub progressive_level: u8,
    /// Huffman tables made for the image rather than the standard ones.
    pub optimize_coding: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegEncoder {
    /// libjpeg-turbo with the standard (IJG) quantisation tables.
    Turbo,
    /// libjxl's jpegli: its own quantisation, derived from a perceptual distance, with adaptive
    /// quantisation.
    Jpegli,
}

impl JpegSettings {
    /// What the pipeline used before jpegli: libjpeg-turbo baseline, standard Huffman tables,
    /// 4:2:0 below quality 90. The harness's baseline.
    pub fn turbo_baseline(quality: u8) -> Self {
        JpegSettings {
            encoder: JpegEncoder::Turbo,
            subsample_chroma: quality < 90,
            progressive_level: 0,
            optimize_coding: false,
        }
    }
}

/// Encodes RGB pixels as a JPEG with `settings` at `quality` (1–100). No markers but the frame's
/// own: no JFIF, EXIF, XMP or ICC.
pub fn encode_jpeg_with(
    rgb: &RgbImage,
    quality: u8,
    settings: JpegSettings,
) -> Result<Vec<u8>, String> {
    match settings.encoder {
        JpegEncoder::Turbo => encode_turbo(rgb, quality, settings),
        JpegEncoder::Jpegli => encode_jpegli(rgb, quality, settings),
    }
}

fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    encode_jpeg_with(rgb, quality, JpegSettings::turbo_baseline(quality))
}

/// jpegli at the distance its own mapping gives `quality`.
fn encode_jpegli(rgb: &RgbImage, quality: u8, settings: JpegSettings) -> Result<Vec<u8>, String> {
    let options = super::jpegli::Options {
        distance: super::jpegli::distance_for_quality(quality),
        subsample_chroma: settings.subsample_chroma,
        progressive_level: settings.progressive_level,
        optimize_coding: settings.optimize_coding,
    };
    super::jpegli::encode(rgb.as_raw(), rgb.width(), rgb.height(), &options)
}

/// libjpeg-turbo with the standard (IJG) tables at `quality`.
fn encode_turbo(rgb: &RgbImage, quality: u8, settings: JpegSettings) -> Result<Vec<u8>, String> {
    let failed = |e: turbojpeg::Error| e.to_string();
    let mut compressor = turbojpeg::Compressor::new().map_err(failed)?;
    compressor.set_quality(i32::from(quality)).map_err(failed)?;
    compressor
        .set_optimize(settings.optimize_coding)
        .map_err(failed)?;
    if settings.progressive_level > 0 {
        compressor.set_progressive(true).map_err(failed)?;
    }
    let subsampling = if settings.subsample_chroma {
        turbojpeg::Subsamp::Sub2x2
    } else {
        turbojpeg::Subsamp::None
    };
    compressor.set_subsamp(subsampling).map_err(failed)?;
    let width = usize::try_from(rgb.width()).map_err(|_| "wider than memory allows")?;
    let image = turbojpeg::Image {
        pixels: rgb.as_raw().as_slice(),
        width,
        pitch: width * 3,
        height: usize::try_from(rgb.height()).map_err(|_| "taller than memory allows")?,
        format: turbojpeg::PixelFormat::RGB,
    };
    compressor.compress_to_vec(image).map_err(failed)
}

/// RGB pixels as the JPEG path encodes them: transparency composited onto white.
pub fn flatten(image: &DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb.clone(),
        other => flatten_onto_white(other),
    }
}

fn flatten_onto_white(image: &DynamicImage) -> RgbImage {
    let rgba = image.to_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(px[3]);
        for c in 0..3 {
            let blended = (u32::from(px[c]) * alpha + 255 * (255 - alpha) + 127) / 255;
            out[c] = blended as u8;
        }
    }
    rgb
}
