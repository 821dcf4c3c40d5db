//! Resizing with `fast_image_resize` (SIMD on x86-64 and arm64), Lanczos3.

use fast_image_resize::images::TypedImage;
use fast_image_resize::pixels::{U8x3, U8x4};
use fast_image_resize::{FilterType, IntoImageView, PixelTrait, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;

use super::geometry::Plan;

/// The most the resizer's intermediate image may take. For 8-bit pixels fast_image_resize
/// convolves vertically first, into an image as wide as the source columns in use and as tall
/// as the output: 12 MB for the large variant of a full-size 8 MP decode, held while the decode
/// is. Past this, the output is made in bands of rows, each its own resize of the rows it
/// needs. The filter still reaches across band edges, so the pixels are the same, except that
/// where a band's fractional first row rounds differently a rare sample is one level apart.
const INTERMEDIATE_BUDGET_BYTES: usize = 4 * 1024 * 1024;

/// Scales the plan's crop of `source` (8-bit RGB or RGBA) to the plan's size, in the source's
/// pixel layout. `translucent` says whether any pixel has alpha below opaque: only then is alpha
/// premultiplied, which costs a temporary copy of the whole crop (400 MB for a 100 MP RGBA PNG).
/// The resizer's buffers are freed before it returns: the next step is an encode, the
/// hungriest one, and nothing of them is needed there.
pub fn resize(
    resizer: &mut Resizer,
    source: &DynamicImage,
    plan: &Plan,
    translucent: bool,
) -> Result<DynamicImage, String> {
    let mut target = DynamicImage::new(plan.width, plan.height, source.color());
    // The typed entry point, for the two layouts the pipeline works in: the untyped one matches
    // on every pixel type the crate has, which links all of their SIMD kernels into the Lambda.
    let resized = match (source, &mut target) {
        (DynamicImage::ImageRgb8(_), DynamicImage::ImageRgb8(to)) => {
            let rows = band_rows(source.width(), plan, 3, translucent);
            resize_in_bands::<U8x3>(resizer, source, to, plan, translucent, rows)
        }
        (DynamicImage::ImageRgba8(_), DynamicImage::ImageRgba8(to)) => {
            let rows = band_rows(source.width(), plan, 4, translucent);
            resize_in_bands::<U8x4>(resizer, source, to, plan, translucent, rows)
        }
        (other, _) => Err(format!("cannot resize {:?} pixels", other.color())),
    };
    resizer.reset_internal_buffers();
    resized.map(|()| target)
}

/// Rows of output per band: all of them unless the intermediate image would pass its budget.
/// Translucent sources are never banded, since their premultiplied copy is made per call.
fn band_rows(source_width: u32, plan: &Plan, bytes_per_pixel: usize, translucent: bool) -> u32 {
    let intermediate = source_width as usize * plan.height as usize * bytes_per_pixel;
    if translucent || intermediate <= INTERMEDIATE_BUDGET_BYTES {
        return plan.height.max(1);
    }
    let bands = intermediate.div_ceil(INTERMEDIATE_BUDGET_BYTES);
    // At most `plan.height` bands, so the quotient fits back in a u32.
    plan.height
        .div_ceil(u32::try_from(bands).unwrap_or(u32::MAX).min(plan.height))
        .max(1)
}

fn resize_in_bands<P: PixelTrait>(
    resizer: &mut Resizer,
    source: &DynamicImage,
    target: &mut [u8],
    plan: &Plan,
    translucent: bool,
    rows_per_band: u32,
) -> Result<(), String> {
    let from = source
        .image_view::<P>()
        .ok_or_else(|| "source and target pixel layouts differ".to_owned())?;
    let rows_per_band = rows_per_band.max(1);
    let row_bytes = plan.width as usize * P::size();
    // Source rows per output row: each band's crop starts where its first row's filter centre
    // would have been in the whole resize.
    let row_scale = plan.crop.height / f64::from(plan.height);
    let crop_bottom = plan.crop.top + plan.crop.height;
    for (band, rows) in target
        .chunks_mut(rows_per_band as usize * row_bytes)
        .enumerate()
    {
        let first_row = band as f64 * f64::from(rows_per_band);
        let row_count = u32::try_from(rows.len() / row_bytes).map_err(|e| e.to_string())?;
        let top = plan.crop.top + first_row * row_scale;
        let mut height = f64::from(row_count) * row_scale;
        // Rounding may carry the last band a hair past the crop, which the resizer refuses.
        // (The next smaller f64 below a positive one: `f64::next_down` is newer than our MSRV.)
        while height > 0.0 && top + height > crop_bottom {
            height = f64::from_bits(height.to_bits() - 1);
        }
        let mut to =
            TypedImage::<P>::from_buffer(plan.width, row_count, rows).map_err(|e| e.to_string())?;
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .use_alpha(translucent)
            .crop(plan.crop.left, top, plan.crop.width, height);
        resizer
            .resize_typed(&from, &mut to, &options)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::geometry::Crop;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn noise(width: u32, height: u32) -> RgbImage {
        let mut state = 0x2545_F491_u32;
        RgbImage::from_fn(width, height, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // A gradient under the noise, so a band that read the wrong rows shows.
            let base = ((x + 2 * y) % 256) as u8;
            Rgb([
                base,
                (state >> 24) as u8,
                base.wrapping_add((state >> 16) as u8 / 4),
            ])
        })
    }

    fn plans() -> [Plan; 3] {
        [
            // Inside: the whole frame.
            Plan {
                width: 300,
                height: 241,
                crop: Crop {
                    left: 0.0,
                    top: 0.0,
                    width: 997.0,
                    height: 801.0,
                },
            },
            // Cover: a centred crop with fractional edges.
            Plan {
                width: 200,
                height: 200,
                crop: Crop {
                    left: 98.5,
                    top: 0.25,
                    width: 800.5,
                    height: 800.5,
                },
            },
            // Rows kept, columns scaled: no vertical pass at all.
            Plan {
                width: 500,
                height: 801,
                crop: Crop {
                    left: 0.0,
                    top: 0.0,
                    width: 997.0,
                    height: 801.0,
                },
            },
        ]
    }

    fn banded(source: &DynamicImage, plan: &Plan, rows_per_band: u32) -> Vec<u8> {
        let mut resizer = Resizer::new();
        let mut target = DynamicImage::new(plan.width, plan.height, source.color());
        match (source, &mut target) {
            (DynamicImage::ImageRgb8(_), DynamicImage::ImageRgb8(to)) => {
                resize_in_bands::<U8x3>(&mut resizer, source, to, plan, false, rows_per_band)
            }
            (DynamicImage::ImageRgba8(_), DynamicImage::ImageRgba8(to)) => {
                resize_in_bands::<U8x4>(&mut resizer, source, to, plan, false, rows_per_band)
            }
            _ => unreachable!("the tests make RGB and RGBA only"),
        }
        .expect("resizes");
        target.into_bytes()
    }

    #[test]
    fn bands_of_any_height_make_the_pixels_of_one_resize() {
        let rgb = DynamicImage::ImageRgb8(noise(997, 801));
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(997, 801, |x, y| {
            let Rgb([r, g, b]) = *rgb.as_rgb8().expect("rgb").get_pixel(x, y);
            Rgba([r, g, b, 255])
        }));
        for source in [&rgb, &rgba] {
            for plan in plans() {
                let whole = banded(source, &plan, plan.height);
                for rows in [1, 7, 64, plan.height - 1] {
                    let bands = banded(source, &plan, rows);
                    let differing = whole.iter().zip(&bands).filter(|(a, b)| a != b).count();
                    let worst = whole.iter().zip(&bands).map(|(a, b)| a.abs_diff(*b)).max();
                    let case = format!(
                        "{:?} to {}x{} in bands of {rows} rows: {differing} of {} differ",
                        source.color(),
                        plan.width,
                        plan.height,
                        whole.len()
                    );
                    assert_eq!(whole.len(), bands.len(), "{case}");
                    assert!(worst <= Some(1), "{case}, by up to {worst:?}");
                    assert!(differing * 200 <= whole.len(), "{case}");
                }
            }
        }
    }

    #[test]
    fn a_large_intermediate_is_split_and_a_small_one_is_not() {
        let plan = |height| Plan {
            width: 1600,
            height,
            crop: Crop {
                left: 0.0,
                top: 0.0,
                width: 3264.0,
                height: 2448.0,
            },
        };
        // The 8 MP phone photo's large variant: 3264 × 1200 × 3 bytes = 11.75 MB, three bands.
        let rows = band_rows(3264, &plan(1200), 3, false);
        assert_eq!(rows, 400);
        assert!(3264 * rows as usize * 3 <= INTERMEDIATE_BUDGET_BYTES);
        // Translucent sources stay whole (their premultiplied copy would be made per band).
        assert_eq!(band_rows(3264, &plan(1200), 4, true), 1200);
        // A thumbnail's intermediate is small.
        assert_eq!(band_rows(3264, &plan(200), 3, false), 200);
    }

    #[test]
    fn the_last_band_stays_inside_the_crop() {
        // A corpus HEIC's medium variant, resized from its decode: 2566 × 800 × 3 bytes is two
        // bands, and the second one's start plus its height rounded past 3313.
        let source = DynamicImage::ImageRgb8(RgbImage::new(2566, 3313));
        let plan = Plan {
            width: 620,
            height: 800,
            crop: Crop {
                left: 0.0,
                top: 0.0,
                width: 2566.0,
                height: 3313.0,
            },
        };
        assert!(band_rows(2566, &plan, 3, false) < plan.height);
        let resized = resize(&mut Resizer::new(), &source, &plan, false).expect("resizes");
        assert_eq!((resized.width(), resized.height()), (620, 800));
    }

    #[test]
    fn the_resizer_keeps_no_buffers_after_a_resize() {
        let source = DynamicImage::ImageRgb8(noise(997, 801));
        let mut resizer = Resizer::new();
        let resized = resize(&mut resizer, &source, &plans()[0], false).expect("resizes");
        assert_eq!((resized.width(), resized.height()), (300, 241));
        assert_eq!(resizer.size_of_internal_buffers(), 0);
    }
}
