//! Colour: pixels described by an embedded ICC profile (Display P3 from phones, Adobe RGB from
//! cameras) or by coding-independent code points (HEIF/AVIF `nclx`: BT.2020, Display P3) are
//! converted to sRGB, because variants carry no profile and browsers read untagged pixels as
//! sRGB. Dropping the description without converting washes the colours out.

use qcms::{DataType, Intent, Profile, Transform};

/// Where an ICC header names the colour space of the data it describes.
const ICC_COLOUR_SPACE: std::ops::Range<usize> = 16..20;

/// How a file describes its colours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourSource {
    /// An embedded ICC profile.
    Icc(Vec<u8>),
    /// ITU-T H.273 colour primaries and transfer characteristics (an `nclx` box).
    Cicp { primaries: u8, transfer: u8 },
}

/// H.273 primaries other than sRGB's that qcms knows (BT.470 M and B/G, BT.601, SMPTE 240M,
/// generic film, BT.2020, XYZ, DCI-P3, Display P3, EBU 3213). BT.709's (1, sRGB's own) and
/// unspecified (2) are left alone whatever the transfer says, as browsers show them.
const KNOWN_PRIMARIES: [u8; 10] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 22];
/// H.273 transfer curves qcms implements; the rest (2, unspecified, among them) count as sRGB's.
const KNOWN_TRANSFERS: [u8; 12] = [1, 4, 5, 6, 8, 9, 10, 13, 14, 15, 16, 18];

/// What happens to a photo's colours on the way to the variants.
pub enum ColourConversion {
    /// No profile, an sRGB profile, or one that does not describe RGB pixels: leave them be.
    None,
    /// Convert from the embedded profile to sRGB.
    ToSrgb(Transform),
}

impl ColourConversion {
    /// Builds the conversion for however the file describes its colours.
    pub fn for_source(source: Option<&ColourSource>, with_alpha: bool) -> Self {
        match source {
            None => ColourConversion::None,
            Some(ColourSource::Icc(bytes)) => Self::for_profile(Some(bytes), with_alpha),
            Some(&ColourSource::Cicp {
                primaries,
                transfer,
            }) => Self::for_cicp(primaries, transfer, with_alpha),
        }
    }

    /// Code points outside what qcms implements are read as sRGB (what a browser would do) rather
    /// than handed to qcms, which panics on reserved values.
    fn for_cicp(primaries: u8, transfer: u8, with_alpha: bool) -> Self {
        if !KNOWN_PRIMARIES.contains(&primaries) {
            return ColourConversion::None;
        }
        let transfer = if KNOWN_TRANSFERS.contains(&transfer) {
            transfer
        } else {
            13
        };
        match Profile::new_cicp(primaries.into(), transfer.into()) {
            Some(source) => Self::to_srgb(&source, with_alpha),
            None => ColourConversion::None,
        }
    }

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
        Self::to_srgb(&source, with_alpha)
    }

    fn to_srgb(source: &Profile, with_alpha: bool) -> Self {
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
        match Transform::new(source, &srgb, data_type, Intent::Perceptual) {
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
