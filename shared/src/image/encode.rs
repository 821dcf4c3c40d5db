//! Encoders for the variants. Neither writes EXIF, XMP or ICC: variants are sRGB and private.

use image::{DynamicImage, RgbImage};

use crate::config::OutputFormat;

/// Encodes `image` (RGB8 or RGBA8) at `quality`. JPEG has no alpha, so transparent pixels are
/// composited onto white first, as a browser shows them on a white page.
pub fn encode(image: &DynamicImage, format: OutputFormat, quality: u8) -> Result<Vec<u8>, String> {
    match format {
        OutputFormat::Jpeg => {
            let flattened;
            let rgb = match image {
                DynamicImage::ImageRgb8(rgb) => rgb,
                other => {
                    flattened = flatten_onto_white(other);
                    &flattened
                }
            };
            encode_jpeg(rgb, quality)
        }
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

/// libjpeg-turbo, baseline, standard (IJG) tables at `quality`; 4:2:0 chroma below quality 90,
/// where the eye does not miss it, and full-resolution chroma above, where it is asked for.
fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let failed = |e: turbojpeg::Error| e.to_string();
    let mut compressor = turbojpeg::Compressor::new().map_err(failed)?;
    compressor.set_quality(i32::from(quality)).map_err(failed)?;
    let subsampling = if quality < 90 {
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
