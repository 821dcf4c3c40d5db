//! Encoders for the variants. Neither writes EXIF, XMP or ICC: variants are sRGB and private.

use image::{DynamicImage, RgbImage};
use jpeg_encoder::{ColorType, Encoder};

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
            let width = u16::try_from(rgb.width()).map_err(|_| "wider than JPEG allows")?;
            let height = u16::try_from(rgb.height()).map_err(|_| "taller than JPEG allows")?;
            let mut out = Vec::with_capacity(rgb.as_raw().len() / 8);
            // The encoder defaults to 4:2:0 below quality 90, which is what we want.
            let encoder = Encoder::new(&mut out, quality);
            encoder
                .encode(rgb.as_raw(), width, height, ColorType::Rgb)
                .map_err(|e| e.to_string())?;
            Ok(out)
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
