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

/// How libjpeg-turbo encodes a JPEG variant: what the quality harness (`imgpipe-quality`)
/// varies. The pipeline uses `baseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegSettings {
    /// 4:2:0 (half-resolution chroma) rather than 4:4:4.
    pub subsample_chroma: bool,
    pub progressive: bool,
    /// Huffman tables made for the image rather than the standard ones.
    pub optimize_coding: bool,
}

impl JpegSettings {
    /// The pipeline's: baseline, standard Huffman tables, 4:2:0 below quality 90, where the eye
    /// does not miss the chroma, and full-resolution chroma above, where it is asked for.
    pub fn baseline(quality: u8) -> Self {
        JpegSettings {
            subsample_chroma: quality < 90,
            progressive: false,
            optimize_coding: false,
        }
    }
}

/// Encodes RGB pixels with libjpeg-turbo and its standard (IJG) tables at `quality` (1–100).
/// Writes a JFIF header and nothing else: no EXIF, XMP or ICC.
pub fn encode_jpeg_with(
    rgb: &RgbImage,
    quality: u8,
    settings: JpegSettings,
) -> Result<Vec<u8>, String> {
    let failed = |e: turbojpeg::Error| e.to_string();
    let mut compressor = turbojpeg::Compressor::new().map_err(failed)?;
    compressor.set_quality(i32::from(quality)).map_err(failed)?;
    compressor
        .set_optimize(settings.optimize_coding)
        .map_err(failed)?;
    if settings.progressive {
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

fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    encode_jpeg_with(rgb, quality, JpegSettings::baseline(quality))
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
