//! Resizing with `fast_image_resize` (SIMD on x86-64 and arm64), Lanczos3.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;

use super::geometry::Plan;

/// Scales the plan's crop of `source` to the plan's size, in the source's pixel layout.
/// `translucent` says whether any pixel has alpha below opaque: only then is alpha
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
    resizer
        .resize(source, &mut target, &options)
        .map_err(|e| e.to_string())?;
    Ok(target)
}
