//! HEIC/HEIF (HEVC) and AVIF (AV1) through libheif, which reads the container, decodes the
//! primary image (joining a grid's tiles, adding the alpha plane) and applies the file's own
//! transforms (`clap`, `irot`, `imir`). HEVC is decoded by libde265 and AV1 by rav1d (dav1d's C
//! API, in Rust): see infra/codecs/build.sh. Thumbnails, depth maps and other auxiliary images are
//! never decoded.

use std::sync::OnceLock;

use image::{DynamicImage, RgbImage, RgbaImage};
use libheif_rs::{
    Chroma as CodedChroma, ColorSpace, DecodingOptions, HeifContext, HeifError, HeifErrorCode,
    HeifErrorSubCode, ImageHandle, ItemId, LibHeif, RgbChroma, SecurityLimits,
};

use super::colour::ColourSource;
use super::error::Rejection;
use super::heif_memory::{Chroma, HeifKind};
use super::orientation_transform::Transform;
use super::sniff::Supported;
use crate::config::Limits;

// rav1d serves the dav1d C API that libheif's AV1 decoder calls; nothing in Rust calls it, so the
// crate is named here to be linked.
use rav1d as _;

/// What a HEIF file gave: pixels already upright, the EXIF block and the applied orientation.
pub struct HeifDecoded {
    /// Upright (the file's transforms applied), 8 bits per sample, RGB or RGBA.
    pub image: DynamicImage,
    pub colour: Option<ColourSource>,
    /// The Exif item's TIFF data (the 4-byte header offset already skipped).
    pub exif_tiff: Option<Vec<u8>>,
    /// The EXIF orientation (1–8) equivalent to the `irot`/`imir` transforms that were applied.
    pub orientation: u8,
}

/// libheif's global state (its decoder registry), set up once per process.
fn libheif() -> &'static LibHeif {
    static LIBHEIF: OnceLock<LibHeif> = OnceLock::new();
    LIBHEIF.get_or_init(LibHeif::new)
}

/// Reads the container, refuses a primary image over the pixel limit by its declared size
/// (`ispe`, before any pixel buffer), then decodes it.
pub fn decode(bytes: &[u8], format: Supported, limits: &Limits) -> Result<HeifDecoded, Rejection> {
    let rejected = |error: HeifError| to_rejection(format, error);
    let mut context = HeifContext::new().map_err(rejected)?;
    // libheif's own limits, in the same terms as ours: no tile, grid or image beyond the pixel
    // limit, and no single allocation beyond what such an image needs (16-bit RGBA is 8 bytes a
    // pixel, and libheif pads rows: at exactly the limit it asks for a few bytes more than 8×).
    let mut security = SecurityLimits::new();
    security.set_max_image_size_pixels(limits.max_pixels);
    security.set_max_memory_block_size(limits.max_pixels.saturating_mul(9));
    context.set_security_limits(&security).map_err(rejected)?;
    // Tiles are decoded on this thread, not libheif's pool of four. A function has less than one
    // vCPU at 1280 MB, so the pool bought no time; but each of its threads allocates from a
    // glibc arena of its own, which kept the freed planes: peak RSS over seven runs was 227–262
    // MB for a 12 MP HEIC and 147–172 MB for the iPhone grid with the pool, 108 and 87 without,
    // in the same time and with the same pixels.
    context.set_max_decoding_threads(0);
    context.read_bytes(bytes).map_err(rejected)?;
    let handle = context.primary_image_handle().map_err(rejected)?;
    check_declared_size(format, &handle, limits)?;
    check_memory(format, &handle, limits, bytes.len())?;

    let exif_tiff = exif_block(&handle);
    let colour = colour_source(&handle);
    let orientation = applied_orientation(bytes).exif_orientation();
    let deep = handle.luma_bits_per_pixel() > 8;
    let alpha = handle.has_alpha_channel();
    let chroma = match (deep, alpha) {
        (false, false) => RgbChroma::Rgb,
        (false, true) => RgbChroma::Rgba,
        (true, false) => RgbChroma::HdrRgbLe,
        (true, true) => RgbChroma::HdrRgbaLe,
    };
    let mut options = DecodingOptions::new().ok_or_else(|| Rejection::Corrupt {
        format: format.name(),
        detail: "the decoder could not be set up".to_owned(),
    })?;
    // One codec thread: a Lambda function at 1280 MB has less than one vCPU, and dav1d's threads
    // each hold frames of their own (one thread cut the peak of a 100 MP AVIF by 15–40 %).
    options.set_num_codec_threads(1);
    let decoded = libheif()
        .decode(&handle, ColorSpace::Rgb(chroma), Some(options))
        .map_err(rejected)?;
    let image = to_dynamic_image(format, &decoded, alpha)?;
    Ok(HeifDecoded {
        image,
        colour,
        exif_tiff,
        orientation,
    })
}

/// The primary image's stored size as its `ispe` declares it (for a grid, the whole canvas).
fn check_declared_size(
    format: Supported,
    handle: &ImageHandle,
    limits: &Limits,
) -> Result<(), Rejection> {
    let side = |n: i32| u32::try_from(n).unwrap_or(0);
    let (width, height) = (side(handle.ispe_width()), side(handle.ispe_height()));
    super::decode::check_pixels(format, width, height, limits).map(|_| ())
}

/// Refuses an image whose decode would need more memory than the process has (when it is
/// known), by the kind of coding its header declares (see `heif_memory`).
fn check_memory(
    format: Supported,
    handle: &ImageHandle,
    limits: &Limits,
    input_len: usize,
) -> Result<(), Rejection> {
    if limits.max_memory.is_none() {
        return Ok(());
    }
    let chroma = match handle.preferred_decoding_colorspace() {
        Ok(ColorSpace::Monochrome) => Chroma::Monochrome,
        Ok(ColorSpace::YCbCr(CodedChroma::C420)) => Chroma::C420,
        Ok(ColorSpace::YCbCr(CodedChroma::C422)) => Chroma::C422,
        // 4:4:4, RGB-coded, or not said: the largest.
        _ => Chroma::C444,
    };
    let kind = HeifKind {
        format,
        bits: handle.luma_bits_per_pixel().max(8),
        chroma,
        alpha: handle.has_alpha_channel(),
    };
    let side = |n: i32| u32::try_from(n).unwrap_or(0);
    let (width, height) = (side(handle.ispe_width()), side(handle.ispe_height()));
    let needed = kind.peak_bytes(u64::from(width) * u64::from(height));
    // The upload's bytes are held throughout, and libheif may keep a copy of them.
    super::decode_memory::refuse_over_memory(
        || kind.describe(),
        needed,
        (width, height),
        limits,
        input_len,
    )
}

/// The first Exif item's TIFF data. The item starts with a 4-byte big-endian offset to the TIFF
/// header (usually 0, sometimes past an `Exif\0\0` marker).
fn exif_block(handle: &ImageHandle) -> Option<Vec<u8>> {
    let mut ids: [ItemId; 1] = [0];
    if handle.metadata_block_ids(&mut ids, b"Exif") == 0 {
        return None;
    }
    let block = handle.metadata(ids[0]).ok()?;
    let offset = u32::from_be_bytes(block.get(..4)?.try_into().ok()?);
    let start = 4usize.checked_add(usize::try_from(offset).ok()?)?;
    block.get(start..).map(<[u8]>::to_vec)
}

/// An ICC profile when the file has one (iPhones: Display P3), else its `nclx` description.
fn colour_source(handle: &ImageHandle) -> Option<ColourSource> {
    if let Some(profile) = handle.color_profile_raw() {
        return Some(ColourSource::Icc(profile.data));
    }
    let nclx = handle.color_profile_nclx()?;
    Some(ColourSource::Cicp {
        primaries: u8::try_from(nclx.color_primaries() as u32).unwrap_or(2),
        transfer: u8::try_from(nclx.transfer_characteristics() as u32).unwrap_or(2),
    })
}

/// The `irot`/`imir` transforms of the primary item, in the order the file lists them (the order
/// libheif applies them). A second, raw parse: libheif-rs does not expose these properties.
fn applied_orientation(bytes: &[u8]) -> Transform {
    use libheif_sys as sys;
    let mut transform = Transform::IDENTITY;
    // SAFETY: the context is allocated, used and freed here; `bytes` outlives it (read without
    // copy), and the property list is sized by the count we pass.
    unsafe {
        let context = sys::heif_context_alloc();
        if context.is_null() {
            return transform;
        }
        let read = sys::heif_context_read_from_memory_without_copy(
            context,
            bytes.as_ptr().cast(),
            bytes.len(),
            std::ptr::null(),
        );
        let mut primary: sys::heif_item_id = 0;
        if read.code == 0 && sys::heif_context_get_primary_image_ID(context, &mut primary).code == 0
        {
            let mut properties: [sys::heif_property_id; 8] = [0; 8];
            let count = sys::heif_item_get_transformation_properties(
                context,
                primary,
                properties.as_mut_ptr(),
                properties.len() as libc::c_int,
            );
            let count = usize::try_from(count).unwrap_or(0).min(properties.len());
            for &property in &properties[..count] {
                match sys::heif_item_get_property_type(context, primary, property) {
                    sys::heif_item_property_type_heif_item_property_type_transform_rotation => {
                        let ccw = sys::heif_item_get_property_transform_rotation_ccw(
                            context, primary, property,
                        );
                        transform = transform.then(Transform::rotation_ccw(ccw));
                    }
                    sys::heif_item_property_type_heif_item_property_type_transform_mirror => {
                        let direction = sys::heif_item_get_property_transform_mirror(
                            context, primary, property,
                        );
                        if direction
                            == sys::heif_transform_mirror_direction_heif_transform_mirror_direction_horizontal
                        {
                            transform = transform.then(Transform::FLIP_LEFT_RIGHT);
                        } else if direction
                            == sys::heif_transform_mirror_direction_heif_transform_mirror_direction_vertical
                        {
                            transform = transform.then(Transform::FLIP_TOP_BOTTOM);
                        }
                    }
                    _ => {}
                }
            }
        }
        sys::heif_context_free(context);
    }
    transform
}

/// Interleaved RGB(A) from libheif as an 8-bit image. 10- and 12-bit samples come as 16-bit
/// little-endian words and are scaled to 0–255 with rounding (not shifted: 1023 must become 255).
fn to_dynamic_image(
    format: Supported,
    decoded: &libheif_rs::Image,
    alpha: bool,
) -> Result<DynamicImage, Rejection> {
    let wrong_layout = |what: &str| Rejection::Corrupt {
        format: format.name(),
        detail: format!("the decoder returned {what}"),
    };
    let planes = decoded.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| wrong_layout("no interleaved RGB plane"))?;
    let channels: usize = if alpha { 4 } else { 3 };
    let (width, height) = (plane.width, plane.height);
    let row_samples = width as usize * channels;
    let deep = plane.storage_bits_per_pixel > 8 * channels as u8;
    let bytes_per_sample = if deep { 2 } else { 1 };
    let row_bytes = row_samples * bytes_per_sample;
    // Checked arithmetic: a 0-row plane (or absurd sizes) must be an error, not a wrap.
    let needed = (height as usize)
        .checked_sub(1)
        .and_then(|rows| plane.stride.checked_mul(rows))
        .and_then(|bytes| bytes.checked_add(row_bytes));
    if width == 0 || plane.stride < row_bytes || needed.is_none_or(|n| plane.data.len() < n) {
        return Err(wrong_layout("a plane smaller than its size"));
    }
    let mut pixels = Vec::with_capacity(row_samples * height as usize);
    // Per channel for interleaved planes (10 or 12 in 16-bit words).
    let bits = plane.bits_per_pixel;
    for row in plane.data.chunks(plane.stride).take(height as usize) {
        let row = &row[..row_bytes];
        if deep {
            pixels.extend(
                row.chunks_exact(2)
                    .map(|word| to_8_bits(u16::from_le_bytes([word[0], word[1]]), bits)),
            );
        } else {
            pixels.extend_from_slice(row);
        }
    }
    let image = if alpha {
        RgbaImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| wrong_layout("pixels that do not fill the image"))
}

/// A 9- to 16-bit sample scaled to 0–255 with rounding, (v·255 + max/2) / max: not shifted, so
/// that a 10-bit 1023 is 255 and 3 is 1, as the sample's place in its own range says.
fn to_8_bits(value: u16, bits: u8) -> u8 {
    let max = (1u32 << bits.clamp(9, 16)) - 1;
    let value = u32::from(value).min(max);
    // At most 65535·255 + 32767: well inside u32, and the quotient is at most 255.
    ((value * 255 + max / 2) / max) as u8
}

/// libheif's errors, as reasons. Its messages are written for people ("Invalid input: No 'ftyp'
/// box"), never assertion text; an undecodable coding is told apart from a damaged file.
fn to_rejection(format: Supported, error: HeifError) -> Rejection {
    let detail = error.message.trim().to_owned();
    match (error.code, error.sub_code) {
        (HeifErrorCode::UnsupportedFeature, _) | (HeifErrorCode::UnsupportedFileType, _) => {
            Rejection::UnsupportedCoding {
                format: format.name(),
                detail,
            }
        }
        (_, HeifErrorSubCode::SecurityLimitExceeded) => Rejection::Corrupt {
            format: format.name(),
            detail: format!("over a decoder limit: {detail}"),
        },
        (_, HeifErrorSubCode::EndOfData) => Rejection::Corrupt {
            format: format.name(),
            detail: format!("truncated: {detail}"),
        },
        _ => Rejection::Corrupt {
            format: format.name(),
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::to_8_bits;

    #[test]
    fn deep_samples_are_scaled_with_rounding_not_shifted() {
        // 10 bits: the ends map to the ends, and 3/1023 of the range is nearer 1 than 0.
        assert_eq!(to_8_bits(1023, 10), 255);
        assert_eq!(to_8_bits(0, 10), 0);
        assert_eq!(to_8_bits(3, 10), 1, "a shift would give 0");
        assert_eq!(to_8_bits(2, 10), 0);
        assert_eq!(to_8_bits(514, 10), 128);
        // 12 bits.
        assert_eq!(to_8_bits(4095, 12), 255);
        assert_eq!(to_8_bits(9, 12), 1, "a shift would give 0");
        assert_eq!(to_8_bits(2047, 12), 127);
        // A value over the declared depth is clamped, never wrapped.
        assert_eq!(to_8_bits(u16::MAX, 10), 255);
    }
}
