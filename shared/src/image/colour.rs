//! Colour: pixels described by an embedded ICC profile (Display P3 from phones, Adobe RGB from
//! cameras) are converted to sRGB, because variants carry no profile and browsers read
//! untagged pixels as sRGB. Dropping the profile without converting washes the colours out.

use qcms::{DataType, Intent, Profile, Transform};

/// Where an ICC header names the colour space of the data it describes.
const ICC_COLOUR_SPACE: std::ops::Range<usize> = 16..20;

/// What happens to a photo's colours on the way to the variants.
pub enum ColourConversion {
    /// No profile, an sRGB profile, or one that does not describe RGB pixels: leave them be.
    None,
    /// Convert from the embedded profile to sRGB.
    ToSrgb(Transform),
}

impl ColourConversion {
    /// Builds the conversion for an embedded profile. A profile qcms cannot read is treated as
    /// absent (logged by the caller through `described`), never as a reason to reject.
    pub fn for_profile(icc: Option<&[u8]>, with_alpha: bool) -> Self {
        let Some(bytes) = icc else {
            return ColourConversion::None;
        };
        // Only RGB profiles describe our pixels: a CMYK profile's image was already converted to
        // RGB by the decoder, and a gray one's pixels are widened to RGB before this point.
        if bytes.get(ICC_COLOUR_SPACE) != Some(b"RGB ".as_slice()) {
            return ColourConversion::None;
        }
        let Some(source) = Profile::new_from_slice(bytes, false) else {
            return ColourConversion::None;
        };
        if source.is_sRGB() {
            return ColourConversion::None;
        }
        let mut srgb = Profile::new_sRGB();
        srgb.precache_output_transform();
        let data_type = if with_alpha {
            DataType::RGBA8
        } else {
            DataType::RGB8
        };
        // Perceptual keeps out-of-gamut P3 reds smooth instead of clipping them flat.
        match Transform::new(&source, &srgb, data_type, Intent::Perceptual) {
            Some(transform) => ColourConversion::ToSrgb(transform),
            None => ColourConversion::None,
        }
    }

    /// Converts interleaved RGB8 (or RGBA8, as built) pixels in place.
    pub fn apply(&self, pixels: &mut [u8]) {
        if let ColourConversion::ToSrgb(transform) = self {
            transform.apply(pixels);
        }
    }

    pub fn converts(&self) -> bool {
        matches!(self, ColourConversion::ToSrgb(_))
    }
}
