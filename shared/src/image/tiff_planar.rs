//! TIFFs whose samples are stored in separate planes (PlanarConfiguration 2), decoded chunk by
//! chunk and interleaved here, because the tiff crate's whole-image read cannot do it.
//!
//! tiff 0.11.3 works out a tile's padding from its index as if there were one plane, so in
//! every plane after the first the bottom tiles count as full height: the read runs past the
//! end of its buffer and trips an `assert!` in `expand_chunk` (decoder/image.rs:919) whenever
//! the height is not a multiple of the tile height. Chunk by chunk, the extra rows are simply
//! not copied. LZW is inflated here with weezl instead of by the tiff crate, whose LZW reader
//! fails ("no lzw end code found") on valid tiles it reads in short pieces, as it does for
//! tiles cut by the right edge.

use std::io::Cursor;
use std::ops::Range;

use image::{DynamicImage, ImageBuffer, Luma, Rgb, Rgba};
use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
use tiff::tags::{ByteOrder, CompressionMethod, Tag};
use tiff::{ColorType, TiffError};

/// The most one tile or strip may take once decoded, and the most its compressed data or one
/// tag's values may take: the decoder headroom `decode.rs` allows beyond the pixels.
const CHUNK_BUDGET_BYTES: usize = 64 * 1024 * 1024;

const PLANAR_CONFIGURATION: u16 = 284;
const SEPARATE_PLANES: u64 = 2;
const TILE_WIDTH: u16 = 322;

/// A planar TIFF's first image, interleaved.
pub(super) struct PlanarImage {
    /// Luma8/16, Rgb8/16 or Rgba8/16, in the file's stored orientation.
    pub image: DynamicImage,
    /// The embedded ICC profile, if any.
    pub icc_profile: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum PlanarError {
    #[error("image is {width}x{height} ({pixels} pixels), over the {limit}-pixel limit")]
    TooManyPixels {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("header declares a {width}x{height} image")]
    NoPixels { width: u32, height: u32 },
    /// A valid file coded in a way this decoder does not handle.
    #[error("planar TIFF with {0} is not supported")]
    Unsupported(String),
    #[error("{kind} {index} needs {bytes} bytes, over the {limit}-byte budget")]
    ChunkTooLarge {
        kind: &'static str,
        index: usize,
        bytes: u64,
        limit: usize,
    },
    #[error("{kind} {index} lies outside the file (truncated?)")]
    ChunkOutsideFile { kind: &'static str, index: usize },
    #[error("{kind} {index}: {detail}")]
    BadChunk {
        kind: &'static str,
        index: usize,
        detail: String,
    },
    /// Cannot happen with the sizes worked out here; an error all the same, never a panic.
    #[error("the decoded planes do not make a {width}x{height} image")]
    Assembly { width: u32, height: u32 },
    /// What the tiff crate reported (a chunk cut short reads as "failed to fill whole buffer").
    #[error(transparent)]
    Tiff(#[from] TiffError),
}

/// Whether the first directory says PlanarConfiguration 2, read straight from the bytes (classic
/// TIFF and BigTIFF) without decoding anything. A directory that cannot be walked is not planar:
/// the usual decoder reports it.
pub(super) fn is_planar(bytes: &[u8]) -> bool {
    first_directory_value(bytes, PLANAR_CONFIGURATION) == Some(SEPARATE_PLANES)
}

/// Whether the first directory has tiles (a TileWidth tag): the layout the tiff crate cannot read
/// when the planes are separate.
pub(super) fn is_tiled(bytes: &[u8]) -> bool {
    first_directory_value(bytes, TILE_WIDTH).is_some()
}

/// Decodes the first image of a planar TIFF, tiled or stripped, 8 or 16 bits per sample, gray,
/// RGB or RGB with alpha. Refuses images over `max_pixels`, and files whose chunks lie past
/// their end, before any pixel buffer exists.
pub(super) fn decode(bytes: &[u8], max_pixels: u64) -> Result<PlanarImage, PlanarError> {
    let mut decoder = Decoder::new(Cursor::new(bytes))?.with_limits(limits());
    let (width, height) = decoder.dimensions()?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(PlanarError::TooManyPixels {
            width,
            height,
            pixels,
            limit: max_pixels,
        });
    }
    if pixels == 0 {
        return Err(PlanarError::NoPixels { width, height });
    }
    let layout = Layout::read(&mut decoder, width, height, bytes.len())?;
    // A broken profile must not sink an otherwise good photo; colour then falls back to sRGB.
    let icc_profile = decoder
        .find_tag(Tag::IccProfile)
        .ok()
        .flatten()
        .and_then(|value| value.into_u8_vec().ok());
    let image = if layout.bits == 8 {
        u8::into_image(&layout, interleave(&mut decoder, bytes, &layout)?)
    } else {
        u16::into_image(&layout, interleave(&mut decoder, bytes, &layout)?)
    };
    let image = image.ok_or(PlanarError::Assembly { width, height })?;
    Ok(PlanarImage { image, icc_profile })
}

/// The first image's width, height, samples a pixel and bits a sample, as its header declares
/// them: `None` when it cannot be read or is not gray, RGB or RGBA.
pub(super) fn declared(bytes: &[u8]) -> Option<(u32, u32, u8, u8)> {
    let mut decoder = Decoder::new(Cursor::new(bytes)).ok()?.with_limits(limits());
    let (width, height) = decoder.dimensions().ok()?;
    let (channels, bits) = match decoder.colortype().ok()? {
        ColorType::Gray(bits) => (1, bits),
        ColorType::RGB(bits) => (3, bits),
        ColorType::RGBA(bits) => (4, bits),
        _ => return None,
    };
    Some((width, height, channels, bits))
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = CHUNK_BUDGET_BYTES;
    limits.intermediate_buffer_size = CHUNK_BUDGET_BYTES;
    limits.ifd_value_size = CHUNK_BUDGET_BYTES;
    limits
}

/// How the planes are coded and cut into chunks (tiles or strips), plane after plane.
struct Layout {
    width: usize,
    height: usize,
    /// Planes that make the output (1, 3 or 4); any further extra samples are never read.
    channels: usize,
    bits: u8,
    chunk_type: ChunkType,
    /// A chunk's full size; edge chunks hold less image.
    chunk_width: usize,
    chunk_height: usize,
    chunks_across: usize,
    chunks_per_plane: usize,
    /// Where each chunk of the output's planes lies in the file, checked to be inside it.
    chunks: Vec<Range<usize>>,
    /// LZW is inflated here (see the module comment); other codings go through the tiff crate.
    lzw: Option<LzwCoding>,
}

/// What the tiff crate would otherwise undo after inflating.
struct LzwCoding {
    byte_order: ByteOrder,
    horizontal_predictor: bool,
    white_is_zero: bool,
}

impl Layout {
    fn read(
        decoder: &mut Decoder<Cursor<&[u8]>>,
        width: u32,
        height: u32,
        file_len: usize,
    ) -> Result<Self, PlanarError> {
        let unsupported = |what: String| Err(PlanarError::Unsupported(what));
        let (channels, bits) = match decoder.colortype()? {
            ColorType::Gray(bits) => (1, bits),
            ColorType::RGB(bits) => (3, bits),
            ColorType::RGBA(bits) => (4, bits),
            other => return unsupported(describe(other)),
        };
        // Before the bit depth, which for floats (32) would be the less telling reason.
        let formats = decoder
            .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)?
            .unwrap_or_default();
        if let Some(&format) = formats.iter().find(|&&f| f != 1) {
            return unsupported(match format {
                2 => "signed integer samples".to_owned(),
                3 => "floating-point samples".to_owned(),
                other => format!("sample format {other}"),
            });
        }
        if bits != 8 && bits != 16 {
            return unsupported(format!("{bits}-bit samples"));
        }
        let compression = decoder.find_tag_unsigned::<u16>(Tag::Compression)?.map_or(
            CompressionMethod::None,
            CompressionMethod::from_u16_exhaustive,
        );
        let predictor = decoder
            .find_tag_unsigned::<u16>(Tag::Predictor)?
            .unwrap_or(1);
        if predictor > 2 {
            return unsupported(format!("predictor {predictor}"));
        }
        let lzw = match compression {
            CompressionMethod::LZW => {
                let photometric =
                    decoder.find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)?;
                Some(LzwCoding {
                    byte_order: decoder.byte_order(),
                    horizontal_predictor: predictor == 2,
                    white_is_zero: photometric == Some(0),
                })
            }
            CompressionMethod::None
            | CompressionMethod::Deflate
            | CompressionMethod::OldDeflate
            | CompressionMethod::PackBits => None,
            other => return unsupported(format!("{other:?} compression")),
        };
        let chunk_type = decoder.get_chunk_type();
        let (chunk_width, chunk_height) = decoder.chunk_dimensions();
        let size = |n: u32| usize::try_from(n).map_err(|_| TiffError::IntSizeError);
        let (width, height) = (size(width)?, size(height)?);
        let (chunk_width, chunk_height) = (size(chunk_width)?, size(chunk_height)?);
        if chunk_width == 0 || chunk_height == 0 {
            return unsupported(format!("{chunk_width}x{chunk_height} chunks"));
        }
        let chunks_across = width.div_ceil(chunk_width);
        let chunks_per_plane = chunks_across * height.div_ceil(chunk_height);
        let (offsets, byte_counts) = match chunk_type {
            ChunkType::Tile => (Tag::TileOffsets, Tag::TileByteCounts),
            ChunkType::Strip => (Tag::StripOffsets, Tag::StripByteCounts),
        };
        let offsets = decoder.get_tag_u64_vec(offsets)?;
        let byte_counts = decoder.get_tag_u64_vec(byte_counts)?;
        let chunks = (0..channels * chunks_per_plane)
            .map(|index| {
                chunk_range(&offsets, &byte_counts, index, file_len).ok_or(
                    PlanarError::ChunkOutsideFile {
                        kind: kind(chunk_type),
                        index,
                    },
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Layout {
            width,
            height,
            channels,
            bits,
            chunk_type,
            chunk_width,
            chunk_height,
            chunks_across,
            chunks_per_plane,
            chunks,
            lzw,
        })
    }
}

/// Where chunk `index` lies in the file, if it lies inside it.
fn chunk_range(
    offsets: &[u64],
    byte_counts: &[u64],
    index: usize,
    file_len: usize,
) -> Option<Range<usize>> {
    let start = usize::try_from(*offsets.get(index)?).ok()?;
    let end = start.checked_add(usize::try_from(*byte_counts.get(index)?).ok()?)?;
    (end <= file_len).then_some(start..end)
}

fn kind(chunk_type: ChunkType) -> &'static str {
    match chunk_type {
        ChunkType::Tile => "tile",
        ChunkType::Strip => "strip",
    }
}

/// A colour type this decoder does not handle, in words for the rejection reason.
fn describe(colour: ColorType) -> String {
    match colour {
        ColorType::CMYK(_) | ColorType::CMYKA(_) => "CMYK colour".to_owned(),
        ColorType::YCbCr(_) => "YCbCr colour".to_owned(),
        ColorType::Palette(_) => "a colour palette".to_owned(),
        ColorType::Lab(_) => "CIE L*a*b* colour".to_owned(),
        // The tiff crate gives this for gray with extra samples (gray and alpha among them).
        ColorType::Multiband { num_samples, .. } => {
            format!(
                "gray and {} extra sample(s) per pixel",
                num_samples.saturating_sub(1)
            )
        }
        other => format!("colour type {other:?}"),
    }
}

/// One decoded chunk: rows of `row_len` samples, of which the image uses the first few.
struct Chunk<T> {
    samples: Vec<T>,
    row_len: usize,
}

/// Reads every chunk of the first `channels` planes and puts each sample in its place.
fn interleave<T: Sample>(
    decoder: &mut Decoder<Cursor<&[u8]>>,
    bytes: &[u8],
    layout: &Layout,
) -> Result<Vec<T>, PlanarError> {
    let channels = layout.channels;
    let kind = kind(layout.chunk_type);
    let len = layout
        .width
        .checked_mul(layout.height)
        .and_then(|n| n.checked_mul(channels))
        .ok_or(TiffError::IntSizeError)?;
    let mut out = vec![T::default(); len];
    for (index, range) in layout.chunks.iter().enumerate() {
        let (plane, in_plane) = (
            index / layout.chunks_per_plane,
            index % layout.chunks_per_plane,
        );
        let x0 = in_plane % layout.chunks_across * layout.chunk_width;
        let y0 = in_plane / layout.chunks_across * layout.chunk_height;
        // The part of the chunk inside the image, worked out here rather than asked of the
        // tiff crate, which gets it wrong for planes after the first.
        let w = layout.chunk_width.min(layout.width - x0);
        let h = layout.chunk_height.min(layout.height - y0);
        let chunk = match &layout.lzw {
            Some(lzw) => {
                let data = bytes
                    .get(range.clone())
                    .ok_or(PlanarError::ChunkOutsideFile { kind, index })?;
                lzw_chunk(data, layout, lzw, index, h)?
            }
            None => tiff_chunk(decoder, layout, index, w)?,
        };
        let needed = chunk.row_len * (h - 1) + w;
        if chunk.row_len < w || chunk.samples.len() < needed {
            return Err(PlanarError::BadChunk {
                kind,
                index,
                detail: format!("decoded to {} samples, {w}x{h} needed", chunk.samples.len()),
            });
        }
        for (row, line) in chunk.samples.chunks(chunk.row_len).take(h).enumerate() {
            let start = ((y0 + row) * layout.width + x0) * channels + plane;
            for (slot, &sample) in out[start..].iter_mut().step_by(channels).zip(&line[..w]) {
                *slot = sample;
            }
        }
    }
    Ok(out)
}

/// A chunk through the tiff crate, which inflates it, undoes the predictor and byte order and
/// inverts WhiteIsZero. Its rows are the chunk's image width; a bottom tile of a later plane may
/// bring more rows than the image has (the padding bug), which are not copied.
fn tiff_chunk<T: Sample>(
    decoder: &mut Decoder<Cursor<&[u8]>>,
    layout: &Layout,
    index: usize,
    width: usize,
) -> Result<Chunk<T>, PlanarError> {
    let chunk_index = u32::try_from(index).map_err(|_| TiffError::IntSizeError)?;
    let samples =
        T::from_decoded(decoder.read_chunk(chunk_index)?).ok_or_else(|| PlanarError::BadChunk {
            kind: kind(layout.chunk_type),
            index,
            detail: format!("not {}-bit samples", layout.bits),
        })?;
    Ok(Chunk {
        samples,
        row_len: width,
    })
}

/// A chunk inflated with weezl. Tiles are stored whole (padding included); strips as many rows
/// as the image has left. Like libtiff, decoding stops once the chunk is full, so a missing end
/// code is no error, but data that ends early is.
fn lzw_chunk<T: Sample>(
    data: &[u8],
    layout: &Layout,
    lzw: &LzwCoding,
    index: usize,
    rows_in_image: usize,
) -> Result<Chunk<T>, PlanarError> {
    let kind = kind(layout.chunk_type);
    let rows = match layout.chunk_type {
        ChunkType::Tile => layout.chunk_height,
        ChunkType::Strip => rows_in_image,
    };
    let len = layout
        .chunk_width
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(usize::from(layout.bits / 8)))
        .unwrap_or(usize::MAX);
    if len > CHUNK_BUDGET_BYTES {
        return Err(PlanarError::ChunkTooLarge {
            kind,
            index,
            bytes: len as u64,
            limit: CHUNK_BUDGET_BYTES,
        });
    }
    let bad = |detail: String| PlanarError::BadChunk {
        kind,
        index,
        detail,
    };
    let mut raw = vec![0u8; len];
    let mut lzw_decoder = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let (mut input, mut filled) = (data, 0);
    while filled < len {
        let step = lzw_decoder.decode_bytes(input, &mut raw[filled..]);
        input = input.get(step.consumed_in..).unwrap_or_default();
        filled += step.consumed_out;
        match step.status {
            Ok(weezl::LzwStatus::Ok) if step.consumed_in + step.consumed_out > 0 => {}
            Ok(_) if filled < len => {
                return Err(bad(format!("LZW data ends after {filled} of {len} bytes")))
            }
            Ok(_) => {}
            Err(e) => return Err(bad(format!("LZW data is corrupt: {e}"))),
        }
    }
    let mut samples = T::from_bytes(&raw, lzw.byte_order);
    let row_len = layout.chunk_width;
    if lzw.horizontal_predictor {
        for row in samples.chunks_mut(row_len) {
            for i in 1..row.len() {
                row[i] = row[i].wrapping_add(row[i - 1]);
            }
        }
    }
    if lzw.white_is_zero {
        samples.iter_mut().for_each(|s| *s = s.inverted());
    }
    Ok(Chunk { samples, row_len })
}

/// What differs between 8- and 16-bit samples.
trait Sample: Copy + Default {
    fn from_decoded(result: DecodingResult) -> Option<Vec<Self>>;
    fn from_bytes(raw: &[u8], order: ByteOrder) -> Vec<Self>;
    fn wrapping_add(self, other: Self) -> Self;
    fn inverted(self) -> Self;
    fn into_image(layout: &Layout, samples: Vec<Self>) -> Option<DynamicImage>;
}

impl Sample for u8 {
    fn from_decoded(result: DecodingResult) -> Option<Vec<Self>> {
        match result {
            DecodingResult::U8(samples) => Some(samples),
            _ => None,
        }
    }
    fn from_bytes(raw: &[u8], _: ByteOrder) -> Vec<Self> {
        raw.to_vec()
    }
    fn wrapping_add(self, other: Self) -> Self {
        u8::wrapping_add(self, other)
    }
    fn inverted(self) -> Self {
        !self
    }
    fn into_image(layout: &Layout, samples: Vec<Self>) -> Option<DynamicImage> {
        let (w, h) = image_size(layout)?;
        Some(match layout.channels {
            1 => DynamicImage::ImageLuma8(ImageBuffer::<Luma<u8>, _>::from_raw(w, h, samples)?),
            3 => DynamicImage::ImageRgb8(ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, samples)?),
            _ => DynamicImage::ImageRgba8(ImageBuffer::<Rgba<u8>, _>::from_raw(w, h, samples)?),
        })
    }
}

impl Sample for u16 {
    fn from_decoded(result: DecodingResult) -> Option<Vec<Self>> {
        match result {
            DecodingResult::U16(samples) => Some(samples),
            _ => None,
        }
    }
    fn from_bytes(raw: &[u8], order: ByteOrder) -> Vec<Self> {
        raw.chunks_exact(2)
            .map(|pair| match order {
                ByteOrder::BigEndian => u16::from_be_bytes([pair[0], pair[1]]),
                ByteOrder::LittleEndian => u16::from_le_bytes([pair[0], pair[1]]),
            })
            .collect()
    }
    fn wrapping_add(self, other: Self) -> Self {
        u16::wrapping_add(self, other)
    }
    fn inverted(self) -> Self {
        !self
    }
    fn into_image(layout: &Layout, samples: Vec<Self>) -> Option<DynamicImage> {
        let (w, h) = image_size(layout)?;
        Some(match layout.channels {
            1 => DynamicImage::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_raw(w, h, samples)?),
            3 => DynamicImage::ImageRgb16(ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, samples)?),
            _ => DynamicImage::ImageRgba16(ImageBuffer::<Rgba<u16>, _>::from_raw(w, h, samples)?),
        })
    }
}

fn image_size(layout: &Layout) -> Option<(u32, u32)> {
    Some((
        u32::try_from(layout.width).ok()?,
        u32::try_from(layout.height).ok()?,
    ))
}

/// The value of a single-valued SHORT, LONG or LONG8 tag in the first directory.
fn first_directory_value(bytes: &[u8], wanted: u16) -> Option<u64> {
    let big_endian = match bytes.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let uint = |at: usize, len: usize| -> Option<u64> {
        let field = bytes.get(at..at.checked_add(len)?)?;
        let fold = |value: u64, &byte: &u8| value << 8 | u64::from(byte);
        Some(if big_endian {
            field.iter().fold(0, fold)
        } else {
            field.iter().rev().fold(0, fold)
        })
    };
    // Classic TIFF: a 2-byte entry count and 12-byte entries (4-byte count and value fields);
    // BigTIFF: 8-byte entry count and 20-byte entries (8-byte count and value fields).
    let (directory, count_len, field_len) = match uint(2, 2)? {
        42 => (uint(4, 4)?, 2, 4),
        43 => (uint(8, 8)?, 8, 8),
        _ => return None,
    };
    let directory = usize::try_from(directory).ok()?;
    let entry_len = 4 + 2 * field_len;
    let mut entry = directory.checked_add(count_len)?;
    // The walk ends at the wanted tag or where the bytes do, whatever the count claims.
    for _ in 0..uint(directory, count_len)? {
        if uint(entry, 2)? == u64::from(wanted) {
            let value_len = match uint(entry + 2, 2)? {
                3 => 2,
                4 => 4,
                16 => 8,
                _ => return None,
            };
            if uint(entry + 4, field_len)? != 1 {
                return None;
            }
            return uint(entry + 4 + field_len, value_len);
        }
        entry = entry.checked_add(entry_len)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GenericImageView;

    /// A fixture made by fixtures/scripts/make_tiff_planar.py.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../fixtures/tiff-planar/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn decode_fixture(name: &str) -> DynamicImage {
        decode(&fixture(name), 10_000)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .image
    }

    /// The script's pattern at (x, y), as RGBA: R grows left to right, G top to bottom, B is one
    /// level per quadrant, A falls along the diagonal.
    fn pattern(bits: u8, x: u32, y: u32) -> [u64; 4] {
        let quadrant = usize::from(x >= 48) + 2 * usize::from(y >= 30);
        let (x, y) = (u64::from(x), u64::from(y));
        if bits == 8 {
            let blue = [0, 85, 170, 255][quadrant];
            [x * 255 / 96, y * 255 / 60, blue, 255 - (x + y)]
        } else {
            let blue = [0x1234, 0x5678, 0x9ABC, 0xDEF0][quadrant];
            [x * 65535 / 96, y * 65535 / 60, blue, 65535 - 300 * (x + y)]
        }
    }

    /// Every sample of `image` as RGBA, 8 or 16 bits wide, next to the pattern.
    fn assert_pattern(name: &str, image: &DynamicImage, bits: u8) {
        assert_eq!(image.dimensions(), (97, 61), "{name}");
        let channels = usize::from(image.color().channel_count());
        let (rgba8, rgba16) = (image.to_rgba8(), image.to_rgba16());
        for y in 0..61 {
            for x in 0..97 {
                let got: Vec<u64> = if bits == 8 {
                    rgba8
                        .get_pixel(x, y)
                        .0
                        .iter()
                        .map(|&s| u64::from(s))
                        .collect()
                } else {
                    rgba16
                        .get_pixel(x, y)
                        .0
                        .iter()
                        .map(|&s| u64::from(s))
                        .collect()
                };
                let want = pattern(bits, x, y);
                assert_eq!(got[..channels], want[..channels], "{name} at ({x},{y})");
            }
        }
    }

    #[test]
    fn decodes_tiled_planar_files_that_panic_the_tiff_crate() {
        for (name, colour) in [
            ("rgb8.tif", image::ColorType::Rgb8),
            ("rgb8-deflate.tif", image::ColorType::Rgb8),
            ("rgba8.tif", image::ColorType::Rgba8),
            ("rgb16.tif", image::ColorType::Rgb16),
        ] {
            let image = decode_fixture(name);
            assert_eq!(image.color(), colour, "{name}");
            assert_pattern(
                name,
                &image,
                colour.bytes_per_pixel() / colour.channel_count() * 8,
            );
        }
    }

    #[test]
    fn decodes_lzw_tiles_cut_by_the_right_edge() {
        assert_pattern("rgb8-lzw.tif", &decode_fixture("rgb8-lzw.tif"), 8);
        // Big-endian, with the horizontal predictor.
        let image = decode_fixture("rgba16-lzw.tif");
        assert_eq!(image.color(), image::ColorType::Rgba16);
        assert_pattern("rgba16-lzw.tif", &image, 16);
    }

    #[test]
    fn decodes_stripped_planar_files() {
        assert_pattern("rgb8-strips.tif", &decode_fixture("rgb8-strips.tif"), 8);
        assert_pattern(
            "rgba16-strips-lzw.tif",
            &decode_fixture("rgba16-strips-lzw.tif"),
            16,
        );
    }

    #[test]
    fn gives_the_pixels_the_fixture_readme_documents() {
        let rgba8 = decode_fixture("rgba8.tif").to_rgba8();
        assert_eq!(rgba8.get_pixel(0, 0).0, [0, 0, 0, 255]);
        assert_eq!(rgba8.get_pixel(96, 0).0, [255, 0, 85, 159]);
        assert_eq!(rgba8.get_pixel(0, 60).0, [0, 255, 170, 195]);
        assert_eq!(rgba8.get_pixel(96, 60).0, [255, 255, 255, 99]);
        assert_eq!(rgba8.get_pixel(48, 30).0, [127, 127, 255, 177]);
        let rgba16 = decode_fixture("rgba16-lzw.tif").to_rgba16();
        assert_eq!(rgba16.get_pixel(0, 0).0, [0, 0, 4660, 65535]);
        assert_eq!(rgba16.get_pixel(96, 60).0, [65535, 65535, 57072, 18735]);
        assert_eq!(rgba16.get_pixel(32, 32).0, [21845, 34952, 39612, 46335]);
        assert_eq!(rgba16.get_pixel(95, 59).0, [64852, 64442, 57072, 19335]);
    }

    #[test]
    fn decodes_a_single_gray_plane() {
        let image = decode_fixture("gray8-lzw.tif");
        let gray = image.as_luma8().expect("8-bit gray");
        assert_eq!(gray.get_pixel(0, 0).0, [0]);
        assert_eq!(gray.get_pixel(96, 60).0, [216]);
        assert_eq!(gray.get_pixel(17, 33).0, [83]);
    }

    #[test]
    fn shows_white_is_zero_gray_the_right_way_round() {
        let image = decode_fixture("gray16-miniswhite-lzw.tif");
        let gray = image.as_luma16().expect("16-bit gray");
        for (x, y) in [(0, 0), (96, 60), (17, 33), (95, 1)] {
            let want = 65535 - 300 * (x + 2 * y) as u16;
            assert_eq!(gray.get_pixel(x, y).0, [want], "({x},{y})");
        }
    }

    #[test]
    fn hands_over_the_embedded_icc_profile() {
        let decoded = decode(&fixture("rgba8.tif"), 10_000).expect("decodes");
        let profile = decoded.icc_profile.expect("rgba8.tif embeds a profile");
        assert_eq!(profile.len(), 580);
        assert_eq!(&profile[36..40], b"acsp");
        let plain = decode(&fixture("rgb8.tif"), 10_000).expect("decodes");
        assert_eq!(plain.icc_profile, None);
    }

    #[test]
    fn refuses_float_samples_as_unsupported() {
        let error = decode(&fixture("rgbf32.tif"), 10_000).err();
        assert!(
            matches!(&error, Some(PlanarError::Unsupported(what)) if what == "floating-point samples"),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_images_over_the_pixel_limit_before_decoding() {
        let error = decode(&fixture("rgb16.tif"), 97 * 61 - 1).err();
        assert!(
            matches!(
                error,
                Some(PlanarError::TooManyPixels {
                    width: 97,
                    height: 61,
                    pixels: 5917,
                    limit: 5916
                })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        for name in [
            "rgb8.tif",
            "rgba16-lzw.tif",
            "rgb8-deflate.tif",
            "rgb8-strips.tif",
        ] {
            let bytes = fixture(name);
            for cut in (0..bytes.len()).step_by(97) {
                assert!(
                    decode(&bytes[..cut], 10_000).is_err(),
                    "{name} cut to {cut} bytes decoded"
                );
            }
        }
    }

    #[test]
    fn tells_planar_files_from_chunky_ones() {
        for name in [
            "rgb8.tif",
            "rgba16-lzw.tif",
            "rgb8-strips.tif",
            "gray8-lzw.tif",
        ] {
            assert!(is_planar(&fixture(name)), "{name}");
        }
        let other = |path: &str| {
            let path = format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        assert!(!is_planar(&other("formats/image.tiff")));
        assert!(!is_planar(&other("cameras/Arbitro.tiff")));
        assert!(!is_planar(b"II*\0\xff\xff\0\0"));
        assert!(!is_planar(b""));
    }

    #[test]
    fn reads_the_planar_tag_of_a_bigtiff() {
        // Header, directory at 16 with one entry: PlanarConfiguration, SHORT, 1 value, 2.
        let mut bytes = b"II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0".to_vec();
        bytes.extend(1u64.to_le_bytes());
        bytes.extend(284u16.to_le_bytes());
        bytes.extend(3u16.to_le_bytes());
        bytes.extend(1u64.to_le_bytes());
        bytes.extend([2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(is_planar(&bytes));
        let value = bytes.len() - 8;
        bytes[value] = 1;
        assert!(!is_planar(&bytes));
    }
}
