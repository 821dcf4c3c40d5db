//! Encoders for the variants. Neither writes EXIF, XMP or ICC: variants are sRGB and private.
//! JPEG variants come from jpegli (`jpeg_variant_options` says how and why); libjpeg-turbo's
//! encoder stays for the quality harness, as the baseline every encoder is measured against.

use image::{DynamicImage, RgbImage};

use super::jpegli::{self, Scan};
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

/// How libjpeg-turbo encodes: what the quality harness (`imgpipe-quality`) varies. `baseline` is
/// what the pipeline wrote before jpegli, the yardstick of the harness and of the encoder's
/// regression test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegSettings {
    /// 4:2:0 (half-resolution chroma) rather than 4:4:4.
    pub subsample_chroma: bool,
    pub progressive: bool,
    /// Huffman tables made for the image rather than the standard ones.
    pub optimize_coding: bool,
}

impl JpegSettings {
    /// The pipeline's before jpegli: baseline, standard Huffman tables, 4:2:0 below quality 90,
    /// and full-resolution chroma above.
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

/// Encodes a JPEG variant the pipeline's way: jpegli, with `jpeg_variant_options`.
pub fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let options = jpeg_variant_options(quality);
    jpegli::encode(rgb.as_raw(), rgb.width(), rgb.height(), &options)
}

/// How a JPEG variant is encoded at a spec's `quality`. Chosen by measurement
/// (`imgpipe-quality`; README, "Bytes at equal quality"):
/// - jpegli's own quantisation (distance-based, a table per chroma channel) with its adaptive
///   quantisation: most of the saving. (Without adaptive quantisation a thumbnail needs a little
///   less at equal score, but the quality mapping would have to be fitted again: at the same
///   quality number it scores 4.7 points above libjpeg-turbo's, in 10% more bytes.)
/// - 4:4:4: jpegli's gain is all in full-resolution chroma; at 4:2:0 it is no better than
///   libjpeg-turbo's baseline.
/// - Huffman tables fitted to the image (jpegli's default).
/// - Progressive, in `VARIANT_SCANS`: 3–6% fewer bytes at equal score than sequential on 800 px
///   and larger variants and 1.2–1.4% on a 200 px thumbnail, which a stored and re-sent
///   variant repays many times over; a browser also shows a progressive JPEG before it is whole.
/// - The quality keeps its meaning through `distance_for_spec_quality`.
pub fn jpeg_variant_options(quality: u8) -> jpegli::Options {
    jpegli::Options {
        distance: distance_for_spec_quality(quality),
        subsample_chroma: false,
        progression: jpegli::Progression::Scans(VARIANT_SCANS),
        optimize_coding: true,
        adaptive_quantization: true,
    }
}

/// The progressive scans of a JPEG variant: the DC of all three components together, then for
/// each component its two lowest AC coefficients (the first horizontal and vertical frequency),
/// 3–9 and 10–63, every bit at once. Measured against jpegli's own scripts on five corpus photos
/// (`imgpipe-quality`; README, "Bytes at equal quality"): the bytes of its level 2 at equal
/// SSIMULACRA2 and 0.25% more at the specs' own qualities, in about a quarter less encode time.
/// Level 2 sends 3–63 without its last two bits and then refines them a bit at a time, three
/// passes over those coefficients (jpegli tokenises progressive scans one coefficient at a
/// time), and on jpegli's adaptively quantised coefficients the refinement saves next to
/// nothing. The split after coefficient 2 is what pays: one band of all 63 needs 2.5–3% more
/// bytes, a split after 3 or 5 instead 1.5–2% more.
pub const VARIANT_SCANS: &[Scan] = &[
    Scan::band(&[0, 1, 2], 0, 0),
    Scan::band(&[0], 1, 2),
    Scan::band(&[1], 1, 2),
    Scan::band(&[2], 1, 2),
    Scan::band(&[0], 3, 9),
    Scan::band(&[1], 3, 9),
    Scan::band(&[2], 3, 9),
    Scan::band(&[0], 10, 63),
    Scan::band(&[1], 10, 63),
    Scan::band(&[2], 10, 63),
];

/// The jpegli distance for a spec's quality: jpegli's own mapping (`jpegli_quality_to_distance`:
/// 90 is distance 1.0, about visually lossless; lower qualities a larger distance). Measured on
/// the pipeline's variants, it scores (SSIMULACRA2) at or a little above what libjpeg-turbo's
/// baseline scored at the same quality: at 82, `large` scores 0.5 points higher on average and
/// at worst 0.4 lower. A mapping fitted to the median (10–15% larger distances) would save
/// more bytes, but leave half the photos below what their quality number gave before.
pub fn distance_for_spec_quality(quality: u8) -> f32 {
    jpegli::distance_for_quality(quality)
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

#[cfg(test)]
mod tests {
    use image::{ImageFormat, Rgb};

    use super::*;

    /// Sizes at the edges of what jpegli handles in blocks and filters: one pixel, one row or
    /// column, a block and a block plus one (partial blocks on both edges), long thin strips
    /// (its adaptive quantisation looks at neighbouring pixels, of which these have few).
    const EDGE_SIZES: &[(u32, u32)] = &[
        (1, 1),
        (1, 9),
        (9, 1),
        (2, 3),
        (7, 7),
        (8, 8),
        (9, 9),
        (15, 17),
        (1, 2000),
        (2000, 1),
        (3, 1000),
    ];

    /// Every pixel different and unpredictable (a xorshift), so that every block has AC
    /// coefficients in every band of `VARIANT_SCANS`, up to the image's last partial block.
    fn noise(width: u32, height: u32) -> RgbImage {
        let mut state = 0x9E37_79B9_u32 ^ (width << 16) ^ height;
        RgbImage::from_fn(width, height, |_, _| {
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            };
            Rgb([next(), next(), next()])
        })
    }

    fn decode_both_ways(jpeg: &[u8]) -> (RgbImage, RgbImage) {
        let by_image = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg)
            .expect("zune-jpeg (through image) decodes it")
            .to_rgb8();
        let turbo = turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB)
            .expect("libjpeg-turbo decodes it");
        assert_eq!(
            turbo.pitch,
            turbo.width * 3,
            "libjpeg-turbo's rows are packed"
        );
        let by_turbo = RgbImage::from_raw(turbo.width as u32, turbo.height as u32, turbo.pixels)
            .expect("as many pixels as the size says");
        (by_image, by_turbo)
    }

    #[test]
    fn variants_of_edge_sizes_decode_to_their_size_in_two_decoders() {
        for &(width, height) in EDGE_SIZES {
            for quality in [1, 50, 82, 100] {
                let jpeg = encode(
                    &DynamicImage::ImageRgb8(noise(width, height)),
                    OutputFormat::Jpeg,
                    quality,
                )
                .unwrap_or_else(|e| panic!("{width}x{height} at {quality}: {e}"));
                let (by_image, by_turbo) = decode_both_ways(&jpeg);
                assert_eq!(by_image.dimensions(), (width, height), "at {quality}");
                assert_eq!(by_turbo.dimensions(), (width, height), "at {quality}");
            }
        }
    }

    #[test]
    fn a_flat_colour_of_edge_size_keeps_its_colour() {
        let colour = Rgb([200, 80, 30]);
        for &(width, height) in EDGE_SIZES {
            for quality in [50, 82, 100] {
                let flat = RgbImage::from_pixel(width, height, colour);
                let jpeg = encode(&DynamicImage::ImageRgb8(flat), OutputFormat::Jpeg, quality)
                    .unwrap_or_else(|e| panic!("{width}x{height} at {quality}: {e}"));
                let (by_image, by_turbo) = decode_both_ways(&jpeg);
                for decoded in [by_image, by_turbo] {
                    let worst = decoded
                        .pixels()
                        .flat_map(|p| (0..3).map(move |c| p[c].abs_diff(colour[c])))
                        .max()
                        .unwrap_or(u8::MAX);
                    assert!(worst <= 4, "{width}x{height} at {quality}: off by {worst}");
                }
            }
        }
    }
}
