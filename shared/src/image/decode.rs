//! Decoding, after the header has proven the image is within limits. JPEGs are decoded at reduced
//! scale in the DCT (1/8, 1/4, 3/8, 1/2) as far as the caller's `needed_fraction` allows, which skips
//! most of the inverse transform, the colour conversion and the first resize.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageDecoder, ImageError, ImageReader, RgbImage};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::colour::ColourSource;
use super::decode_memory::{refuse_over_memory, DecodeKind};
use super::error::Rejection;
use super::sniff::Supported;
use crate::config::Limits;

/// Room for the decoder's own buffers beyond the output pixels.
const DECODER_HEADROOM_BYTES: u64 = 64 * 1024 * 1024;
/// The widest pixel the decoders produce: 16-bit RGBA.
const MAX_BYTES_PER_PIXEL: u64 = 8;
/// What a decoder may allocate while reading the header, before the pixel limit is known: a
/// PNG's metadata chunks are read and its iCCP profile inflated then, and `image`'s default
/// (512 MiB) let a 1 MB file with a compressed-zeros profile take 500 MB. The png crate's own
/// default; over it, the profile is dropped (treated as absent) and huge text chunks are refused.
const HEADER_BUDGET_BYTES: u64 = 64 * 1024 * 1024;

pub struct Decoded {
    /// In the file's stored orientation, not yet upright; smaller than `stored_size` when the
    /// decode was scaled.
    pub image: DynamicImage,
    /// The frame's size as the header declares it, in stored orientation.
    pub stored_size: (u32, u32),
    /// How the file describes its colours, if it does.
    pub colour: Option<ColourSource>,
    /// Set by decoders that read the file's orientation and EXIF themselves (HEIF): the image is
    /// then already upright.
    pub upright: Option<UprightByDecoder>,
}

/// What a decoder that applies the file's own transforms (HEIF's `irot`/`imir`) hands over.
pub struct UprightByDecoder {
    /// The EXIF orientation (1–8) equivalent to what was applied.
    pub orientation: u8,
    /// The EXIF block as TIFF data, from the container's Exif item.
    pub exif_tiff: Option<Vec<u8>>,
}

/// Reads the header, refuses images over the pixel limit before any pixel buffer exists, then
/// decodes the first frame. `needed_fraction` gets the stored size and says the smallest fraction
/// of it the decode may have (1.0 = full resolution); decoders that can scale use it.
pub fn decode(
    bytes: &[u8],
    format: Supported,
    limits: &Limits,
    needed_fraction: impl Fn(u32, u32) -> f64,
) -> Result<Decoded, Rejection> {
    let image_format = match format {
        Supported::Jpeg => return decode_jpeg(bytes, limits, needed_fraction),
        Supported::Heic | Supported::Heif | Supported::Avif => {
            let heif = super::heif::decode(bytes, format, limits)?;
            let (width, height) = (heif.image.width(), heif.image.height());
            return Ok(Decoded {
                image: heif.image,
                stored_size: (width, height),
                colour: heif.colour,
                upright: Some(UprightByDecoder {
                    orientation: heif.orientation,
                    exif_tiff: heif.exif_tiff,
                }),
            });
        }
        Supported::Png => image::ImageFormat::Png,
        Supported::WebP => image::ImageFormat::WebP,
        Supported::Gif => image::ImageFormat::Gif,
        Supported::Tiff => image::ImageFormat::Tiff,
    };
    if format == Supported::Tiff {
        // The tiff crate reads the first directory before any limit applies (see tiff_header).
        super::tiff_header::check_first_directory(bytes).map_err(|t| Rejection::Corrupt {
            format: format.name(),
            detail: format!(
                "TIFF tag {} declares {} values ({} bytes), more than the file holds or a photo needs",
                t.tag, t.values, t.bytes
            ),
        })?;
        // The tiff crate cannot join separate colour planes in tiles (it panics on them).
        if super::tiff_planar::is_planar(bytes) {
            if let Some((width, height, channels, bits)) = super::tiff_planar::declared(bytes) {
                // The planes are interleaved into one copy at their own depth.
                let kind = DecodeKind {
                    format,
                    bits,
                    channels,
                    copies: 1,
                };
                check_decode_memory(kind, width, height, limits, bytes.len())?;
            }
            if let Some(decoded) = decode_planar_tiff(bytes, limits)? {
                return Ok(decoded);
            }
        }
    }
    let corrupt = |e: ImageError| to_rejection(format, e);
    if format == Supported::Png {
        let budget = HEADER_BUDGET_BYTES as usize;
        if let Some((width, height)) = super::png16::is_row_decodable(bytes, budget) {
            let pixels = check_pixels(format, width, height, limits)?;
            // Only the 8-bit image is held: at most RGBA (tRNS may add alpha to any PNG).
            let held = DecodeKind {
                format,
                bits: 8,
                channels: 4,
                copies: 1,
            };
            refuse_over_memory(
                || "16-bit PNG".to_owned(),
                held.peak_bytes(pixels),
                (width, height),
                limits,
                bytes.len(),
            )?;
            let png = super::png16::decode(bytes, budget).map_err(corrupt)?;
            return Ok(Decoded {
                image: png.image,
                stored_size: (width, height),
                colour: png.icc_profile.map(ColourSource::Icc),
                upright: None,
            });
        }
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(HEADER_BUDGET_BYTES);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let pixels = check_pixels(format, width, height, limits)?;
    let colour_type = decoder.color_type();
    let channels = colour_type.channel_count();
    let kind = DecodeKind {
        format,
        bits: u8::try_from(colour_type.bits_per_pixel() / u16::from(channels.max(1)))
            .unwrap_or(u8::MAX),
        channels,
        // The tiff crate decodes into a buffer of its own, which `image` copies.
        copies: if format == Supported::Tiff { 2 } else { 1 },
    };
    check_decode_memory(kind, width, height, limits, bytes.len())?;
    // Belt and braces: the decoder itself may not allocate beyond what the pixels need.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(pixels * MAX_BYTES_PER_PIXEL + DECODER_HEADROOM_BYTES);
    decoder.set_limits(decoder_limits).map_err(corrupt)?;
    // A broken profile must not sink an otherwise good photo; colour then falls back to sRGB.
    let icc_profile = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok(Decoded {
        image,
        stored_size: (width, height),
        colour: icc_profile.map(ColourSource::Icc),
        upright: None,
    })
}

/// Refuses a decode of `kind` that would not fit in the process's memory (`decode_memory`).
/// Images over the pixel limit are left to that check, whose reason says more.
fn check_decode_memory(
    kind: DecodeKind,
    width: u32,
    height: u32,
    limits: &Limits,
    input_len: usize,
) -> Result<(), Rejection> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Ok(());
    }
    refuse_over_memory(
        || kind.describe(),
        kind.peak_bytes(pixels),
        (width, height),
        limits,
        input_len,
    )
}

/// Planar TIFFs (separate colour planes) are assembled by `tiff_planar`. `None` for a stripped
/// planar file of a kind it does not read (float, CMYK, ...), which the tiff crate reads; a
/// tiled one of such a kind is refused, as the tiff crate would panic on it.
fn decode_planar_tiff(bytes: &[u8], limits: &Limits) -> Result<Option<Decoded>, Rejection> {
    use super::tiff_planar::{self, PlanarError};
    let format = Supported::Tiff.name();
    let planar = match tiff_planar::decode(bytes, limits.max_pixels) {
        Ok(planar) => planar,
        Err(PlanarError::Unsupported(what)) if !tiff_planar::is_tiled(bytes) => {
            tracing::debug!(%what, "stripped planar TIFF left to the tiff crate");
            return Ok(None);
        }
        Err(PlanarError::Unsupported(what)) => {
            return Err(Rejection::UnsupportedCoding {
                format,
                detail: format!("tiles with separate colour planes and {what}"),
            })
        }
        Err(PlanarError::TooManyPixels {
            width,
            height,
            pixels,
            limit,
        }) => {
            return Err(Rejection::TooManyPixels {
                width,
                height,
                pixels,
                limit,
            })
        }
        Err(other) => {
            return Err(Rejection::Corrupt {
                format,
                detail: other.to_string(),
            })
        }
    };
    Ok(Some(Decoded {
        stored_size: (planar.image.width(), planar.image.height()),
        image: planar.image,
        colour: planar.icc_profile.map(ColourSource::Icc),
        upright: None,
    }))
}

/// JPEGs are decoded by libjpeg-turbo, at reduced scale in the DCT when `needed_fraction`
/// allows it. zune-jpeg reads the header (and the ICC profile), decodes CMYK and YCCK
/// (Adobe, inverted) photos, and is the arbiter for anything libjpeg-turbo complains about.
fn decode_jpeg(
    bytes: &[u8],
    limits: &Limits,
    needed_fraction: impl Fn(u32, u32) -> f64,
) -> Result<Decoded, Rejection> {
    // zune's messages come Debug-quoted; the reason reads better without the quotes.
    let corrupt = |e: zune_jpeg::errors::DecodeErrors| Rejection::Corrupt {
        format: Supported::Jpeg.name(),
        detail: e.to_string().trim_matches('"').to_owned(),
    };
    // Our own pixel limit applies below; zune's default caps would only blur the reason.
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(corrupt)?;
    let (Some(info), Some(input)) = (decoder.info(), decoder.input_colorspace()) else {
        return Err(Rejection::Corrupt {
            format: Supported::Jpeg.name(),
            detail: "no frame header".to_owned(),
        });
    };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(Supported::Jpeg, width, height, limits)?;
    let colour = decoder.icc_profile().map(ColourSource::Icc);
    // CMYK and YCCK keep zune's Adobe-aware conversion.
    let gray = matches!(input, ColorSpace::Luma | ColorSpace::LumaA);
    let turbo_decodes = gray || matches!(input, ColorSpace::YCbCr | ColorSpace::RGB);
    let mut truncated = false;
    if turbo_decodes {
        let fraction = needed_fraction(width, height);
        match turbojpeg_decode(bytes, (width, height), gray, fraction) {
            Ok(image) => {
                return Ok(Decoded {
                    image,
                    stored_size: (width, height),
                    colour,
                    upright: None,
                })
            }
            Err(TurboFailure::TooManyScans) => {
                return Err(Rejection::Corrupt {
                    format: Supported::Jpeg.name(),
                    detail: format!(
                        "progressive JPEG with more than {MAX_PROGRESSIVE_SCANS} scans"
                    ),
                })
            }
            // Any other complaint, even a warning, sends the photo to zune's strict decode
            // below, which accepts it or gives the reason.
            Err(TurboFailure::Truncated) => truncated = true,
            Err(TurboFailure::Other) => {}
        }
    }
    // zune says "Exhausted data" for a cut-off upload; libjpeg-turbo is clearer.
    let corrupt = |e| {
        if truncated {
            Rejection::Corrupt {
                format: Supported::Jpeg.name(),
                detail: "truncated: the data ends before the image does".to_owned(),
            }
        } else {
            corrupt(e)
        }
    };
    // zune in strict mode: lenient, a truncated upload or one with broken entropy data
    // "decodes" into a grey-smeared picture; strict refuses those.
    let output = if gray {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(output));
    let pixels = decoder.decode().map_err(corrupt)?;
    let wrong_length = || Rejection::Corrupt {
        format: Supported::Jpeg.name(),
        detail: "decoded data does not match the frame size".to_owned(),
    };
    let image = if gray {
        DynamicImage::ImageLuma8(
            GrayImage::from_raw(width, height, pixels).ok_or_else(wrong_length)?,
        )
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels).ok_or_else(wrong_length)?)
    };
    Ok(Decoded {
        image,
        stored_size: (width, height),
        colour,
        upright: None,
    })
}

/// More scans than any encoder writes; a progressive "scan bomb" repeats them to burn CPU.
const MAX_PROGRESSIVE_SCANS: u32 = 500;

/// Why libjpeg-turbo did not decode a photo. The crate hands over only libjpeg-turbo's message,
/// so the two cases the pipeline treats apart are told from it here and nowhere else.
#[derive(Debug)]
enum TurboFailure {
    /// Over `MAX_PROGRESSIVE_SCANS`: refused outright.
    TooManyScans,
    /// "Premature end of JPEG file": zune decides, but the reason says truncated.
    Truncated,
    /// Anything else, warnings included: zune decides and gives the reason.
    Other,
}

impl From<turbojpeg::Error> for TurboFailure {
    fn from(error: turbojpeg::Error) -> Self {
        let message = error.to_string();
        if message.contains("Progressive JPEG image has more than") {
            TurboFailure::TooManyScans
        } else if message.contains("Premature end of JPEG file") {
            TurboFailure::Truncated
        } else {
            tracing::debug!(complaint = %message, "libjpeg-turbo declined; zune-jpeg decides");
            TurboFailure::Other
        }
    }
}

/// The DCT scales libjpeg-turbo decodes at below full size, smallest first. 3/8 sits in the gap
/// where the next step up has 1.8 times the pixels: a 24 MP photo whose large variant needs a
/// third of it decodes to 2250×1500 rather than 3000×2000. Measured on one: 9 MB less peak
/// memory, and the same time (3/8 has no SIMD inverse transform, +5 ms, and the resize does
/// less, −4 ms). Above 1/2 they would trade time for memory: 5/8 instead of full size for an
/// 8 MP iPhone JPEG's large variant peaked 23 MB lower but took 10 ms (11%) longer: its decode
/// (scalar inverse transforms) was slower than the full-size one (SIMD).
const DCT_SCALES: [(usize, usize); 4] = [(1, 8), (1, 4), (3, 8), (1, 2)];

/// Decodes with libjpeg-turbo at the smallest DCT scale (`DCT_SCALES`, or full) that still gives
/// at least `fraction` of the stored size. Warnings are failures
/// here: libjpeg-turbo warns about truncated or damaged data and carries on, filling in grey.
fn turbojpeg_decode(
    bytes: &[u8],
    stored_size: (u32, u32),
    gray: bool,
    fraction: f64,
) -> Result<DynamicImage, TurboFailure> {
    let mut decompressor = turbojpeg::Decompressor::new()?;
    let header = decompressor.read_header(bytes)?;
    // zune and libjpeg-turbo must agree on the frame; otherwise zune decides.
    let read_size = (u32::try_from(header.width), u32::try_from(header.height));
    if read_size != (Ok(stored_size.0), Ok(stored_size.1)) {
        return Err(TurboFailure::Other);
    }
    let (numerator, denominator) = DCT_SCALES
        .into_iter()
        .find(|&(n, d)| n as f64 / d as f64 >= fraction)
        .unwrap_or((1, 1));
    let scale = turbojpeg::ScalingFactor::new(numerator, denominator);
    decompressor.set_scaling_factor(scale)?;
    decompressor.set_scan_limit(MAX_PROGRESSIVE_SCANS)?;
    let scaled = header.scaled(scale);
    let format = if gray {
        turbojpeg::PixelFormat::GRAY
    } else {
        turbojpeg::PixelFormat::RGB
    };
    let pitch = scaled.width * format.size();
    let mut pixels = vec![0; pitch * scaled.height];
    let output = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: scaled.width,
        pitch,
        height: scaled.height,
        format,
    };
    decompressor.decompress(bytes, output)?;
    // The scaled sides are at most the stored ones, which are u32.
    let side = |n: usize| u32::try_from(n).map_err(|_| TurboFailure::Other);
    let (w, h) = (side(scaled.width)?, side(scaled.height)?);
    let image = if gray {
        GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or(TurboFailure::Other)
}

/// Refuses images over the pixel limit (decompression bombs) from their header alone.
pub(super) fn check_pixels(
    format: Supported,
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<u64, Rejection> {
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
    Ok(pixels)
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
