//! Resizing with `fast_image_resize` (SIMD on x86-64 and arm64), Lanczos3.

use fast_image_resize::pixels::{U8x3, U8x4};
use fast_image_resize::{
    FilterType, IntoImageView, IntoImageViewMut, PixelTrait, ResizeAlg, ResizeOptions, Resizer,
};
use image::DynamicImage;

use super::geometry::Plan;

/// Scales the plan's crop of `source` (8-bit RGB or RGBA) to the plan's size, in the source's
/// pixel layout. `translucent` says whether any pixel has alpha below opaque: only then is alpha
/// premultiplied, which costs a temporary copy of the whole crop (400 MB for a 100 MP RGBA PNG).
pub fn resize(
    resizer: &mut Resizer,
    source: &DynamicImage,
    plan: &Plan,
    translucent: bool,
) -> Result<DynamicImage, String> {
    let mut target = DynamicImage::new(plan.width, plan.height, source.color());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(translucent)
        .crop(
            plan.crop.left,
            plan.crop.top,
            plan.crop.width,
            plan.crop.height,
        );
    // The typed entry point, for the two layouts the pipeline works in: the untyped one matches
    // on every pixel type the crate has, which links all of their SIMD kernels into the Lambda.
    match source {
        DynamicImage::ImageRgb8(_) => resize_as::<U8x3>(resizer, source, &mut target, &options)?,
        DynamicImage::ImageRgba8(_) => resize_as::<U8x4>(resizer, source, &mut target, &options)?,
        other => return Err(format!("cannot resize {:?} pixels", other.color())),
    }
    Ok(target)
}

fn resize_as<P: PixelTrait>(
    resizer: &mut Resizer,
    source: &DynamicImage,
    target: &mut DynamicImage,
    options: &ResizeOptions,
) -> Result<(), String> {
    let layout_changed = || "source and target pixel layouts differ".to_owned();
    let from = source.image_view::<P>().ok_or_else(layout_changed)?;
    let mut to = target.image_view_mut::<P>().ok_or_else(layout_changed)?;
    resizer
        .resize_typed(&from, &mut to, options)
        .map_err(|e| e.to_string())
}
