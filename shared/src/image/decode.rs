//! Decoding with the `image` crate, after the header has proven the image is within limits.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use super::error::Rejection;
use super::sniff::Supported;
use crate::config::Limits;

/// Room for the decoder's own buffers beyond the output pixels.
const DECODER_HEADROOM_BYTES: u64 = 64 * 1024 * 1024;
/// The widest pixel the decoders produce: 16-bit RGBA.
const MAX_BYTES_PER_PIXEL: u64 = 8;

pub struct Decoded {
    /// In the file's stored orientation, not yet upright.
    pub image: DynamicImage,
    /// The embedded ICC profile, if any.
    pub icc_profile: Option<Vec<u8>>,
}

/// Reads the header, refuses images over the pixel limit before any pixel buffer exists, then
/// decodes the first frame.
pub fn decode(bytes: &[u8], format: Supported, limits: &Limits) -> Result<Decoded, Rejection> {
    let corrupt = |e: ImageError| to_rejection(format, e);
    let reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(Rejection::TooManyPixels {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    if pixels == 0 {
        return Err(Rejection::Corrupt {
            format: format.name(),
            detail: format!("header declares a {width}x{height} image"),
        });
    }
    // Belt and braces: the decoder itself may not allocate beyond what the pixels need.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(pixels * MAX_BYTES_PER_PIXEL + DECODER_HEADROOM_BYTES);
    decoder.set_limits(decoder_limits).map_err(corrupt)?;
    // A broken profile must not sink an otherwise good photo; colour then falls back to sRGB.
    let icc_profile = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok(Decoded { image, icc_profile })
}

fn to_rejection(format: Supported, error: ImageError) -> Rejection {
    match error {
        ImageError::Limits(e) => Rejection::Corrupt {
            format: format.name(),
            detail: format!("decoder limit exceeded: {e}"),
        },
        ImageError::Unsupported(e) => Rejection::Corrupt {
            format: format.name(),
            detail: format!("unsupported feature: {e}"),
        },
        other => Rejection::Corrupt {
            format: format.name(),
            detail: other.to_string(),
        },
    }
}
