//! 16-bit PNGs, decoded to 8 bits a row at a time. Through `image`, such a PNG is decoded whole
//! at 16 bits and then copied to the pipeline's 8 bits, both held at once: a 100 MP RGBA one
//! peaked at 1.2 GB, next to the template's 1280 MB. Row by row, only the 8-bit image is held.
//! The samples are the ones `image` would make (the same rounding), so nothing else changes.

use std::io::Cursor;

use image::error::{
    DecodingError, ImageFormatHint, LimitError, LimitErrorKind, ParameterError, ParameterErrorKind,
};
use image::{DynamicImage, ImageError, ImageFormat, RgbImage, RgbaImage};

/// The 8-bit image, and the file's ICC profile when it has one.
pub struct Png8 {
    pub image: DynamicImage,
    pub icc_profile: Option<Vec<u8>>,
}

/// What the header says about the file: `None` when it is not a 16-bit PNG read in rows here
/// (8 bits or fewer, or interlaced, whose rows arrive in seven passes): `image` decodes those.
pub fn is_row_decodable(bytes: &[u8], header_budget: usize) -> Option<(u32, u32)> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: header_budget,
        },
    );
    let info = decoder.read_header_info().ok()?;
    (info.bit_depth == png::BitDepth::Sixteen && !info.interlaced).then_some(info.size())
}

/// Decodes a PNG that `is_row_decodable` accepted. The caller has checked its size against the
/// pixel limit. `header_budget` caps what the decoder allocates for its own chunks (the
/// inflated ICC profile, text), as `image` does.
pub fn decode(bytes: &[u8], header_budget: usize) -> Result<Png8, ImageError> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: header_budget,
        },
    );
    // The settings `image` decodes PNGs with: palette and low bit depths expanded, tRNS made
    // an alpha channel, 16 bits kept (narrowed below).
    decoder.set_ignore_text_chunk(false);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(from_png)?;
    let (width, height) = reader.info().size();
    // (The caller refuses these first; rows of no bytes could not be split below.)
    if width == 0 || height == 0 {
        return Err(parameter("the header declares no pixels"));
    }
    let icc_profile = reader.info().icc_profile.as_ref().map(|p| p.to_vec());
    let (colour, depth) = reader.output_color_type();
    if depth != png::BitDepth::Sixteen {
        return Err(parameter("not a 16-bit PNG"));
    }
    let channels = match colour {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(parameter("a 16-bit palette")),
    };
    let with_alpha = channels % 2 == 0;
    let out_channels = if with_alpha { 4 } else { 3 };
    let pixels = width as usize * height as usize;
    let mut samples = vec![0_u8; pixels * out_channels];
    for out_row in samples.chunks_exact_mut(width as usize * out_channels) {
        let row = reader
            .next_row()
            .map_err(from_png)?
            .ok_or_else(|| parameter("the image data ended before its last row"))?;
        narrow_row(row.data(), channels, out_row);
    }
    let image = if with_alpha {
        RgbaImage::from_raw(width, height, samples).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(width, height, samples).map(DynamicImage::ImageRgb8)
    }
    .ok_or_else(|| parameter("the samples do not fill the image"))?;
    Ok(Png8 { image, icc_profile })
}

/// One row of big-endian 16-bit samples, `channels` a pixel, to 8-bit RGB or RGBA (grey copied
/// to all three colours).
fn narrow_row(row: &[u8], channels: usize, out: &mut [u8]) {
    let out_channels = if channels % 2 == 0 { 4 } else { 3 };
    let pixels = row
        .chunks_exact(channels * 2)
        .zip(out.chunks_exact_mut(out_channels));
    for (pixel, out) in pixels {
        let sample = |i: usize| narrow(u16::from_be_bytes([pixel[2 * i], pixel[2 * i + 1]]));
        match channels {
            1 => out.fill(sample(0)),
            2 => {
                out[..3].fill(sample(0));
                out[3] = sample(1);
            }
            _ => {
                for (i, value) in out.iter_mut().enumerate() {
                    *value = sample(i);
                }
            }
        }
    }
}

/// `round(c × 255 / 65535)`, as `image` converts (its `FromPrimitive<u16> for u8`).
fn narrow(c: u16) -> u8 {
    // At most (65535 + 128) / 257 = 255.
    ((u32::from(c) + 128) / 257) as u8
}

fn parameter(what: &str) -> ImageError {
    ImageError::Parameter(ParameterError::from_kind(ParameterErrorKind::Generic(
        what.to_owned(),
    )))
}

/// The error `image` makes of the png crate's, so that a rejection reads the same either way.
fn from_png(error: png::DecodingError) -> ImageError {
    match error {
        png::DecodingError::IoError(e) => ImageError::IoError(e),
        e @ png::DecodingError::Format(_) => ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Png),
            e,
        )),
        e @ png::DecodingError::Parameter(_) => parameter(&e.to_string()),
        png::DecodingError::LimitsExceeded => {
            ImageError::Limits(LimitError::from_kind(LimitErrorKind::InsufficientMemory))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GenericImageView;

    /// A `width`×`height` PNG of `colour` at 16 bits whose samples sweep the whole range,
    /// including the values where rounding to 8 bits goes either way.
    fn png16(width: u32, height: u32, colour: png::ColorType) -> Vec<u8> {
        let channels = match colour {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            _ => 4,
        };
        let count = (width * height) as usize * channels;
        let data: Vec<u8> = (0..count)
            .flat_map(|i| ((i * 7919 + i / 3) as u16).to_be_bytes())
            .collect();
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(colour);
        encoder.set_depth(png::BitDepth::Sixteen);
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&data).expect("data");
        writer.finish().expect("finish");
        out
    }

    /// What the pipeline made of it before: `image`'s 16-bit decode, then 8-bit RGB or RGBA.
    fn through_image(bytes: &[u8]) -> DynamicImage {
        let image = image::load_from_memory_with_format(bytes, ImageFormat::Png).expect("decodes");
        if image.color().has_alpha() {
            DynamicImage::ImageRgba8(image.into_rgba8())
        } else {
            DynamicImage::ImageRgb8(image.into_rgb8())
        }
    }

    #[test]
    fn every_colour_type_decodes_to_the_samples_image_makes() {
        use png::ColorType::*;
        for colour in [Grayscale, GrayscaleAlpha, Rgb, Rgba] {
            let bytes = png16(301, 67, colour);
            assert_eq!(is_row_decodable(&bytes, 1 << 20), Some((301, 67)));
            let ours = decode(&bytes, 1 << 20).expect("decodes").image;
            let theirs = through_image(&bytes);
            assert_eq!(ours.color(), theirs.color(), "{colour:?}");
            assert_eq!(ours.dimensions(), theirs.dimensions(), "{colour:?}");
            assert!(
                ours.as_bytes() == theirs.as_bytes(),
                "{colour:?}: samples differ"
            );
        }
    }

    #[test]
    fn narrowing_rounds_to_nearest_over_the_whole_range() {
        for c in 0..=u16::MAX {
            let exact = f64::from(c) * 255.0 / 65535.0;
            assert!((f64::from(narrow(c)) - exact).abs() <= 0.5, "{c}");
        }
    }

    #[test]
    fn eight_bit_and_interlaced_files_are_left_to_image() {
        // The png crate writes no interlaced files; a one-pixel image's data is the same either
        // way (Adam7's first pass is that pixel), so only IHDR's interlace byte and CRC change.
        let mut interlaced = png16(1, 1, png::ColorType::Rgb);
        assert_eq!(is_row_decodable(&interlaced, 1 << 20), Some((1, 1)));
        interlaced[28] = 1;
        let crc = crc32(&interlaced[12..29]).to_be_bytes();
        interlaced[29..33].copy_from_slice(&crc);
        assert!(
            image::load_from_memory(&interlaced).is_ok(),
            "a valid interlaced PNG"
        );
        assert_eq!(is_row_decodable(&interlaced, 1 << 20), None);
        let mut eight = Vec::new();
        image::DynamicImage::new_rgb8(40, 30)
            .write_to(&mut Cursor::new(&mut eight), ImageFormat::Png)
            .expect("encodes");
        assert_eq!(is_row_decodable(&eight, 1 << 20), None);
        assert_eq!(is_row_decodable(b"not a png at all", 1 << 20), None);
    }

    /// PNG's CRC-32 (ISO 3309), bit by bit.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        let bytes = png16(301, 67, png::ColorType::Rgba);
        for keep in [60, bytes.len() / 2, bytes.len() * 9 / 10] {
            let cut = &bytes[..keep];
            let Err(error) = decode(cut, 1 << 20) else {
                panic!("cut at {keep}: decoded");
            };
            // Refused by `image` too, and in its words.
            let theirs = image::load_from_memory_with_format(cut, ImageFormat::Png)
                .expect_err("image refuses it too");
            assert_eq!(error.to_string(), theirs.to_string(), "cut at {keep}");
        }
    }
}
