//! SSIMULACRA2 against one lossless reference, through the `ssimulacra2` crate.

use ssimulacra2::{compute_frame_ssimulacra2, ColorPrimaries, Rgb, TransferCharacteristic};

/// A variant's lossless pixels, converted once for every encode scored against them.
pub struct Reference {
    rgb: Rgb,
}

impl Reference {
    pub fn new(image: &image::RgbImage) -> Result<Self, String> {
        Ok(Reference {
            rgb: to_rgb(image)?,
        })
    }

    /// The score of `decoded` (same size): 100 is identical; 90 and above, visually lossless;
    /// 70 "good"; 50 "medium".
    pub fn score(&self, decoded: &image::RgbImage) -> Result<f64, String> {
        compute_frame_ssimulacra2(self.rgb.clone(), to_rgb(decoded)?).map_err(|e| e.to_string())
    }
}

/// 8-bit sRGB as the metric takes it: floats in 0–1, sRGB transfer, BT.709 primaries.
fn to_rgb(image: &image::RgbImage) -> Result<Rgb, String> {
    let pixels: Vec<[f32; 3]> = image
        .pixels()
        .map(|p| {
            [
                f32::from(p[0]) / 255.0,
                f32::from(p[1]) / 255.0,
                f32::from(p[2]) / 255.0,
            ]
        })
        .collect();
    Rgb::new(
        pixels,
        image.width() as usize,
        image.height() as usize,
        TransferCharacteristic::SRGB,
        ColorPrimaries::BT709,
    )
    .map_err(|e| format!("{e:?}"))
}
