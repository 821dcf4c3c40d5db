//! What photo apps ask of every record, computed from one small upright sRGB copy of the photo
//! (at most `WORKING_SIDE` pixels a side, made from the smallest full-frame variant the pipeline
//! already resized): a ThumbHash placeholder, the dominant colour, and a 64-bit perceptual hash
//! for finding the same picture again after re-encoding, resizing, small crops or brightness
//! changes (see `image::phash`).

use image::{DynamicImage, GenericImageView, RgbaImage};

use super::phash;

/// Longest side of the working copy. ThumbHash takes at most 100; 64 keeps its detail (it keeps
/// at most 7×7 coefficients) and the perceptual hash resizes further down anyway.
pub const WORKING_SIDE: u32 = 64;

/// The three fingerprints of a processed photo, as records store them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    /// ThumbHash, standard base64 (with padding), alpha included when the photo has it.
    pub thumbhash: String,
    /// `#rrggbb` in sRGB.
    pub dominant_color: String,
    /// 64 bits as 16 lower-case hex digits.
    pub phash: String,
}

/// The working copy: `from` (stored orientation, before colour conversion) shrunk to fit
/// `WORKING_SIDE`, then `finish` (colour conversion, orientation) applied, as for a variant.
pub fn working_copy(from: &DynamicImage, finish: impl FnOnce(&mut DynamicImage)) -> DynamicImage {
    let (width, height) = from.dimensions();
    let mut copy = if width <= WORKING_SIDE && height <= WORKING_SIDE {
        from.clone()
    } else {
        // An area average: the right filter for a large reduction, and cheap.
        from.thumbnail(WORKING_SIDE, WORKING_SIDE)
    };
    finish(&mut copy);
    copy
}

/// Every fingerprint of the (upright, sRGB, at most `WORKING_SIDE` a side) working copy.
pub fn compute(copy: &DynamicImage) -> Fingerprints {
    let rgba = copy.to_rgba8();
    Fingerprints {
        thumbhash: thumbhash_base64(&rgba),
        dominant_color: dominant_color(&rgba),
        phash: format!("{:016x}", phash::hash(copy)),
    }
}

/// The ThumbHash of an image of at most 100×100 pixels.
fn thumbhash_base64(rgba: &RgbaImage) -> String {
    use base64::Engine as _;
    let (width, height) = rgba.dimensions();
    // The working copy is never larger than WORKING_SIDE (< 100), which thumbhash asserts.
    let hash = thumbhash::rgba_to_thumb_hash(width as usize, height as usize, rgba.as_raw());
    base64::engine::general_purpose::STANDARD.encode(hash)
}

/// The colour a person would name for the photo: the most common colour, not the mean (the
/// mean of a blue and a red half is a purple that is nowhere in it). Pixels are counted in a
/// coarse grid of sRGB (8 levels a channel, 512 cells), so that shades of one colour gather in
/// one cell; the answer is the mean of the pixels in the fullest cell. Transparent pixels
/// (alpha under half) do not count; a fully transparent image answers its mean colour.
pub fn dominant_color(rgba: &RgbaImage) -> String {
    const LEVELS: usize = 8;
    let cell = |p: &image::Rgba<u8>| {
        let level = |v: u8| usize::from(v) * LEVELS / 256;
        (level(p[0]) * LEVELS + level(p[1])) * LEVELS + level(p[2])
    };
    let mut counts = [0u32; LEVELS * LEVELS * LEVELS];
    let visible = || rgba.pixels().filter(|p| p[3] >= 128);
    for pixel in visible() {
        counts[cell(pixel)] += 1;
    }
    // The first fullest cell: ties go to the darker cell, the same on every run.
    let fullest = (0..counts.len()).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    let chosen: Box<dyn Iterator<Item = &image::Rgba<u8>>> = match fullest {
        Some(index) if counts[index] > 0 => Box::new(visible().filter(move |p| cell(p) == index)),
        _ => Box::new(rgba.pixels()),
    };
    for pixel in chosen {
        for (total, value) in sum.iter_mut().zip(pixel.0) {
            *total += u64::from(value);
        }
        n += 1;
    }
    let mean = |total: u64| (total + n / 2).checked_div(n).unwrap_or(0);
    format!(
        "#{:02x}{:02x}{:02x}",
        mean(sum[0]),
        mean(sum[1]),
        mean(sum[2])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba};

    fn halves(width: u32, split: u32, left: [u8; 3], right: [u8; 3]) -> RgbaImage {
        let image = RgbImage::from_fn(width, 40, |x, _| Rgb(if x < split { left } else { right }));
        DynamicImage::ImageRgb8(image).to_rgba8()
    }

    #[test]
    fn the_dominant_colour_of_two_colours_is_the_larger_one_not_their_mean() {
        let blue = [20, 60, 200];
        let red = [210, 30, 30];
        assert_eq!(dominant_color(&halves(64, 40, blue, red)), "#143cc8");
        assert_eq!(dominant_color(&halves(64, 20, blue, red)), "#d21e1e");
    }

    #[test]
    fn shades_of_one_colour_outweigh_a_single_other_colour() {
        // A sky of slightly varying blues (60%) against one flat grey (40%): the sky wins,
        // although no single blue is as common as the grey.
        let image = RgbaImage::from_fn(100, 10, |x, _| {
            if x < 60 {
                Rgba([40, 90, 180 + (x % 10) as u8, 255])
            } else {
                Rgba([128, 128, 128, 255])
            }
        });
        let colour = dominant_color(&image);
        let blue = u8::from_str_radix(&colour[5..7], 16).expect("hex");
        assert!(
            colour.starts_with("#285a") && (180..190).contains(&blue),
            "{colour}"
        );
    }

    #[test]
    fn transparent_pixels_do_not_count() {
        let image = RgbaImage::from_fn(10, 10, |x, _| {
            if x < 7 {
                Rgba([255, 0, 0, 0])
            } else {
                Rgba([0, 200, 0, 255])
            }
        });
        assert_eq!(dominant_color(&image), "#00c800");
        let invisible = RgbaImage::from_pixel(4, 4, Rgba([10, 20, 30, 0]));
        assert_eq!(dominant_color(&invisible), "#0a141e");
    }

    #[test]
    fn thumbhash_keeps_the_aspect_ratio_and_alpha() {
        use base64::Engine as _;
        let wide = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 32, Rgb([200, 100, 50])));
        let decode = |text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64")
        };
        let hash = decode(&compute(&wide).thumbhash);
        let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).expect("valid");
        assert!((ratio - 2.0).abs() < 0.3, "{ratio}");
        let (_, _, _, alpha) = thumbhash::thumb_hash_to_average_rgba(&hash).expect("valid");
        assert!(alpha > 0.99, "{alpha}");

        let see_through =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(32, 32, Rgba([200, 100, 50, 64])));
        let hash = decode(&compute(&see_through).thumbhash);
        let (_, _, _, alpha) = thumbhash::thumb_hash_to_average_rgba(&hash).expect("valid");
        assert!(alpha < 0.5, "{alpha}");
    }

    #[test]
    fn the_working_copy_fits_and_keeps_the_shape() {
        let big = DynamicImage::ImageRgb8(RgbImage::new(1600, 1067));
        let copy = working_copy(&big, |_| {});
        assert_eq!(copy.dimensions(), (64, 43));
        let small = DynamicImage::ImageRgb8(RgbImage::new(40, 20));
        assert_eq!(working_copy(&small, |_| {}).dimensions(), (40, 20));
    }

    #[test]
    fn a_sliver_of_a_photo_still_gets_fingerprints() {
        // 64 wide means less than one pixel of height: the copy keeps at least one.
        for (width, height) in [(10_000, 1), (1, 10_000), (1, 1)] {
            let sliver =
                DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb([9, 99, 199])));
            let copy = working_copy(&sliver, |_| {});
            let (w, h) = copy.dimensions();
            assert!(
                w >= 1 && h >= 1 && w <= WORKING_SIDE && h <= WORKING_SIDE,
                "{w}x{h}"
            );
            let f = compute(&copy);
            assert_eq!(f.dominant_color, "#0963c7");
            assert_eq!(f.phash.len(), 16);
        }
    }
}
