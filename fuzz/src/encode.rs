//! The variant encoders on their own (jpegli for JPEG, libwebp for WebP): any size up to
//! 512×512, any pixels, any quality, with and without alpha. `process` reaches them only with
//! what a decode and a resize make; here the pixels and sizes are the fuzzer's.

use image::{DynamicImage, ImageFormat, RgbImage, RgbaImage};
use imgpipe::config::OutputFormat;
use imgpipe::image::encode::encode as encode_variant;
use imgpipe::image::{sniff, Sniffed};

/// The input: width − 1 and height − 1 (low bytes), quality − 1 (modulo 100), flags (bit 0 and
/// 1: the ninth bit of width − 1 and height − 1; bit 2: alpha; bit 3: WebP instead of JPEG),
/// then pixel bytes, repeated to fill the image (zeros when there are none). Every input of
/// four bytes or more is a valid request, so the encoder must succeed on it.
pub fn encode(data: &[u8]) {
    let [width, height, quality, flags, pixels @ ..] = data else {
        return;
    };
    let width = 1 + u32::from(*width) + (u32::from(flags & 1) << 8);
    let height = 1 + u32::from(*height) + (u32::from((flags >> 1) & 1) << 8);
    let quality = 1 + quality % 100;
    let alpha = flags & 4 != 0;
    let format = if flags & 8 != 0 {
        OutputFormat::WebP
    } else {
        OutputFormat::Jpeg
    };
    let channels = if alpha { 4 } else { 3 };
    let len = (width * height * channels) as usize;
    let buffer: Vec<u8> = if pixels.is_empty() {
        vec![0; len]
    } else {
        pixels.iter().copied().cycle().take(len).collect()
    };
    let image = if alpha {
        RgbaImage::from_raw(width, height, buffer).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(width, height, buffer).map(DynamicImage::ImageRgb8)
    }
    .unwrap_or_else(|| panic!("{len} bytes do not make a {width}x{height} image"));

    let what = format!("{width}x{height} {} at {quality}", format.name());
    let encoded = encode_variant(&image, format, quality)
        .unwrap_or_else(|e| panic!("{what}: the encoder refused it: {e}"));
    match sniff(&encoded) {
        Sniffed::Supported(found) => assert_eq!(found.name(), format.name(), "{what}"),
        other => panic!("{what}: encoded as {other}"),
    }
    let image_format = match format {
        OutputFormat::Jpeg => ImageFormat::Jpeg,
        OutputFormat::WebP => ImageFormat::WebP,
    };
    let decoded = image::load_from_memory_with_format(&encoded, image_format)
        .unwrap_or_else(|e| panic!("{what}: its output does not decode: {e}"));
    assert_eq!(
        (decoded.width(), decoded.height()),
        (width, height),
        "{what}: decoded to another size"
    );
}
