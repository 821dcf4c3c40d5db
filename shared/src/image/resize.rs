//! Resizing with `fast_image_resize` (SIMD on x86-64 and arm64), Lanczos3.

use fast_image_resize::images::{TypedCroppedImage, TypedImage};
use fast_image_resize::pixels::{U8x3, U8x4};
use fast_image_resize::{
    FilterType, IntoImageView, MulDiv, PixelTrait, ResizeAlg, ResizeOptions, Resizer,
};
use image::DynamicImage;

use super::geometry::Plan;

/// The most the resizer's intermediate image may take. For 8-bit pixels fast_image_resize
/// convolves vertically first, into an image as wide as the source columns in use and as tall
/// as the output: 12 MB for the large variant of a full-size 8 MP decode, held while the decode
/// is. Past this, the output is made in bands of rows, each its own resize of the rows it
/// needs. The filter still reaches across band edges, so the pixels are the same, except that
/// where a band's fractional first row rounds differently a rare sample is one level apart.
const INTERMEDIATE_BUDGET_BYTES: usize = 4 * 1024 * 1024;
/// The most a band's premultiplied copy of the source rows it reads may take, for a translucent
/// source. Larger than the intermediate's budget: every band computes its filter weights again
/// (about 1 ms for a 1600-wide variant of a 10000-wide image), and a 100 MP source in 4 MB
/// pieces would be a hundred bands.
const PREMULTIPLIED_BUDGET_BYTES: usize = 16 * 1024 * 1024;
/// Lanczos3 reaches three source pixels either side of a pixel's centre, times the scale.
const LANCZOS3_SUPPORT: f64 = 3.0;

/// Scales the plan's crop of `source` (8-bit RGB or RGBA) to the plan's size, in the source's
/// pixel layout. `translucent` says whether any pixel has alpha below opaque: only then is alpha
/// premultiplied. fast_image_resize premultiplies a copy of the whole source (400 MB for a 100 MP
/// RGBA PNG); in bands, each band premultiplies only the rows it reads.
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

/// Rows of output per band: all of them unless the intermediate image, or for a translucent
/// source the premultiplied copy of the rows the resize reads, would pass its budget.
fn band_rows(source_width: u32, plan: &Plan, bytes_per_pixel: usize, translucent: bool) -> u32 {
    let row_bytes = source_width as usize * bytes_per_pixel;
    let intermediate = row_bytes * plan.height as usize;
    let premultiplied = if translucent {
        (row_bytes as f64 * plan.crop.height.ceil()) as usize
    } else {
        0
    };
    let bands = intermediate
        .div_ceil(INTERMEDIATE_BUDGET_BYTES)
        .max(premultiplied.div_ceil(PREMULTIPLIED_BUDGET_BYTES));
    if bands <= 1 {
        return plan.height.max(1);
    }
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
    let banded = rows_per_band < plan.height;
    let mul_div = MulDiv::new();
    // A translucent band's premultiplied rows, reused from band to band.
    let mut window_pixels: Vec<P> = Vec::new();
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
        let height = height_within(top, f64::from(row_count) * row_scale, crop_bottom);
        let mut to =
            TypedImage::<P>::from_buffer(plan.width, row_count, rows).map_err(|e| e.to_string())?;
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
        if translucent && banded {
            // What fast_image_resize does with `use_alpha`, on the rows this band's filter
            // reaches: premultiply, resize, divide. The window holds every row the filter
            // reaches (and one more below), or stops at the image's edge, where the filter
            // clamps as before; its top moves the crop by whole rows.
            let reach = LANCZOS3_SUPPORT * row_scale.max(1.0);
            // Float to integer casts saturate, and both ends are clamped to the image.
            let first = ((top - reach).floor().max(0.0) as u32).min(source.height());
            let end = ((top + height + reach).ceil() as u32)
                .saturating_add(1)
                .min(source.height());
            let rows = end.saturating_sub(first);
            let window = TypedCroppedImage::from_ref(&from, 0, first, source.width(), rows)
                .map_err(|e| e.to_string())?;
            window_pixels.resize(source.width() as usize * rows as usize, P::default());
            let mut premultiplied =
                TypedImage::<P>::from_pixels_slice(source.width(), rows, &mut window_pixels)
                    .map_err(|e| e.to_string())?;
            mul_div
                .multiply_alpha_typed(&window, &mut premultiplied)
                .map_err(|e| e.to_string())?;
            let window_top = top - f64::from(first);
            // (`use_alpha` defaults to on, which would premultiply a second time.)
            let options = options.use_alpha(false).crop(
                plan.crop.left,
                window_top,
                plan.crop.width,
                height_within(window_top, height, f64::from(rows)),
            );
            resizer
                .resize_typed(&premultiplied, &mut to, &options)
                .map_err(|e| e.to_string())?;
            mul_div
                .divide_alpha_inplace_typed(&mut to)
                .map_err(|e| e.to_string())?;
        } else {
            let options =
                options
                    .use_alpha(translucent)
                    .crop(plan.crop.left, top, plan.crop.width, height);
            resizer
                .resize_typed(&from, &mut to, &options)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// `height`, made smaller by as little as it takes for `top + height` to stay within `bottom`:
/// rounding may carry a band a hair past the crop, which the resizer refuses.
fn height_within(top: f64, height: f64, bottom: f64) -> f64 {
    let mut height = height;
    // The next f64 below a positive one (`f64::next_down` is newer than our MSRV).
    while height > 0.0 && top + height > bottom {
        height = f64::from_bits(height.to_bits() - 1);
    }
    height
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
        let translucent = source
            .as_rgba8()
            .is_some_and(|p| p.pixels().any(|p| p[3] < 255));
        match (source, &mut target) {
            (DynamicImage::ImageRgb8(_), DynamicImage::ImageRgb8(to)) => {
                resize_in_bands::<U8x3>(&mut resizer, source, to, plan, false, rows_per_band)
            }
            (DynamicImage::ImageRgba8(_), DynamicImage::ImageRgba8(to)) => {
                resize_in_bands::<U8x4>(&mut resizer, source, to, plan, translucent, rows_per_band)
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
        // Alpha from clear to opaque along a diagonal, every level of it.
        let translucent = DynamicImage::ImageRgba8(RgbaImage::from_fn(997, 801, |x, y| {
            let Rgb([r, g, b]) = *rgb.as_rgb8().expect("rgb").get_pixel(x, y);
            Rgba([r, g, b, ((x + y) % 256) as u8])
        }));
        for source in [&rgb, &rgba, &translucent] {
            for plan in plans() {
                let whole = visible(source, &banded(source, &plan, plan.height));
                for rows in [1, 7, 64, plan.height - 1] {
                    let bands = visible(source, &banded(source, &plan, rows));
                    assert_eq!(whole.len(), bands.len());
                    let differing = whole.iter().zip(&bands).filter(|(a, b)| a != b).count();
                    let worst = whole.iter().zip(&bands).map(|(a, b)| a.abs_diff(*b)).max();
                    let case = format!(
                        "{:?} to {}x{} in bands of {rows} rows: {differing} of {} differ",
                        source.color(),
                        plan.width,
                        plan.height,
                        whole.len()
                    );
                    // Through premultiplying and dividing again, one level becomes two.
                    let tolerance = if std::ptr::eq(source, &translucent) {
                        2
                    } else {
                        1
                    };
                    assert!(worst <= Some(tolerance), "{case}, by up to {worst:?}");
                    assert!(differing * 200 <= whole.len(), "{case}");
                }
            }
        }
    }

    /// What a viewer sees of each sample: for RGBA, every channel times alpha (the colour of a
    /// pixel at alpha 2 may swing by 50 levels and stay invisible), and alpha itself.
    fn visible(source: &DynamicImage, samples: &[u8]) -> Vec<u8> {
        if source.as_rgba8().is_none() {
            return samples.to_vec();
        }
        samples
            .chunks_exact(4)
            .flat_map(|px| {
                let alpha = u32::from(px[3]);
                let times_alpha = |c: u8| ((u32::from(c) * alpha + 127) / 255) as u8;
                [
                    times_alpha(px[0]),
                    times_alpha(px[1]),
                    times_alpha(px[2]),
                    px[3],
                ]
            })
            .collect()
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
        // A translucent source's rows are premultiplied a band at a time: 3264 × 2448 × 4 bytes
        // is 32 MB, two bands' worth at 16 MB; its intermediate, 15.7 MB, four at 4 MB.
        assert_eq!(band_rows(3264, &plan(1200), 4, true), 300);
        // A 100 MP translucent PNG's large variant: 400 MB of rows, 24 bands of 67 rows.
        let huge = Plan {
            width: 1600,
            height: 1600,
            crop: Crop {
                left: 0.0,
                top: 0.0,
                width: 10000.0,
                height: 10000.0,
            },
        };
        assert_eq!(band_rows(10000, &huge, 4, true), 67);
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
