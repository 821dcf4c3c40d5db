//! The memory a decode through `image` (PNG, GIF, WebP, TIFF) or the planar TIFF reader takes at
//! its peak, told from the header, and the refusal of an image that would not fit. Most files
//! need a few bytes a pixel, but 16-bit TIFFs are decoded at 16 bits (in two copies, the tiff
//! crate's and `image`'s) before the pipeline's 8-bit copy is made: a 100 MP RGBA one (6 MB of
//! file) peaked at 1580 MB, over the function's 1280. The runtime kills such a process mid-batch,
//! recording nothing, and the event is retried until it reaches the dead-letter queue; refused
//! up front, in words, nothing is lost. (`heif_memory` does the same for HEIF and AVIF.)

use super::error::Rejection;
use super::sniff::Supported;
use crate::config::Limits;

/// Memory the process keeps for itself and other work during a decode: the runtime, the code,
/// the variants being encoded.
const RESERVED_MEMORY: u64 = 64 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

/// What decides such a decode's memory, as the header declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeKind {
    pub format: Supported,
    /// Bits per sample as decoded (8 or 16; 32 for float TIFF).
    pub bits: u8,
    /// Samples per pixel as decoded: 1 gray, 2 gray and alpha, 3 RGB, 4 RGBA.
    pub channels: u8,
    /// How many full-size copies the decoder holds at once: 2 for a TIFF through `image` (the
    /// tiff crate's buffer and the one it is copied into), 1 otherwise.
    pub copies: u8,
}

impl DecodeKind {
    /// An upper bound on the decode's peak, in bytes, for an image of `pixels`. Per pixel, the
    /// larger of: the decoder's copies; the decode and the pipeline's 8-bit RGB(A) copy, made
    /// when the two differ. Plus 2 bytes of slack for the allocator and the first resize, as
    /// for HEIF. Measured peaks at 100 MP stay under it; see the test below.
    pub fn peak_bytes(&self, pixels: u64) -> u64 {
        let decoded = u64::from(self.channels) * u64::from(self.bits).div_ceil(8);
        let working: u64 = if self.channels % 2 == 0 { 4 } else { 3 };
        // Only 8-bit RGB and RGBA are the working layout already; gray with alpha at 16 bits
        // has RGBA's size but is still copied.
        let is_working = self.bits == 8 && (self.channels == 3 || self.channels == 4);
        let converting = if is_working { 0 } else { decoded + working };
        let per_pixel = (u64::from(self.copies) * decoded).max(converting) + 2;
        pixels.saturating_mul(per_pixel)
    }

    /// In words: "16-bit RGBA TIFF".
    pub fn describe(&self) -> String {
        let layout = match self.channels {
            1 => "grayscale",
            2 => "grayscale with alpha",
            3 => "RGB",
            _ => "RGBA",
        };
        format!(
            "{}-bit {layout} {}",
            self.bits,
            self.format.name().to_uppercase()
        )
    }
}

/// Refuses a `width`×`height` image whose decode would need more than `needed` bytes of what
/// the process has (when that is known): its memory, less what it keeps for itself and twice
/// the upload (held throughout, and a decoder may keep a copy). `kind` names what decides it.
pub fn refuse_over_memory(
    kind: impl FnOnce() -> String,
    needed: u64,
    (width, height): (u32, u32),
    limits: &Limits,
    input_len: usize,
) -> Result<(), Rejection> {
    let Some(memory) = limits.max_memory else {
        return Ok(());
    };
    let input = u64::try_from(input_len)
        .unwrap_or(u64::MAX)
        .saturating_mul(2);
    let available = memory.saturating_sub(RESERVED_MEMORY).saturating_sub(input);
    if needed <= available {
        return Ok(());
    }
    Err(Rejection::OverMemory {
        kind: kind(),
        width,
        height,
        needed_mib: needed.div_ceil(MIB),
        available_mib: available / MIB,
    })
}

/// For the estimates' tests (here and in `heif_memory`): an upper bound must cover a measured
/// peak, and by no more than 1.6 times, or it refuses images that would fit.
#[cfg(test)]
pub(super) fn assert_covers(estimate_mib: f64, peak_mib: f64, what: &str) {
    assert!(
        estimate_mib >= peak_mib,
        "{what}: estimated {estimate_mib:.0} MiB, measured {peak_mib} MiB"
    );
    assert!(
        estimate_mib <= peak_mib * 1.6,
        "{what}: estimated {estimate_mib:.0} MiB, far over the measured {peak_mib} MiB"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(format: Supported, bits: u8, channels: u8, copies: u8) -> DecodeKind {
        DecodeKind {
            format,
            bits,
            channels,
            copies,
        }
    }

    /// Peak RSS of `imgpipe bench` on 10000x10000 files, in MiB: the TIFFs made with tifffile
    /// (zlib, strips of 64 rows), the PNGs with Pillow and by hand (16-bit, made here).
    #[test]
    fn the_estimate_covers_every_measured_peak_without_doubling_it() {
        use Supported::{Png, Tiff};
        let measured_mib = [
            (kind(Tiff, 16, 4, 2), 1580.3, "16-bit RGBA TIFF"),
            (kind(Tiff, 16, 3, 2), 1185.1, "16-bit RGB TIFF"),
            (kind(Tiff, 8, 4, 2), 813.4, "8-bit RGBA TIFF"),
            (kind(Tiff, 16, 4, 1), 1198.1, "16-bit RGBA TIFF, planar"),
            (
                kind(Png, 16, 4, 1),
                1200.3,
                "16-bit RGBA PNG, through image",
            ),
            (kind(Png, 8, 4, 1), 448.5, "8-bit RGBA PNG, translucent"),
            (kind(Png, 8, 4, 1), 431.0, "8-bit RGBA PNG, opaque"),
        ];
        for (kind, peak_mib, what) in measured_mib {
            let estimate_mib = kind.peak_bytes(10000 * 10000) as f64 / MIB as f64;
            assert_covers(estimate_mib, peak_mib, what);
        }
    }

    #[test]
    fn the_function_refuses_what_would_not_fit_and_takes_what_would() {
        let mut limits = Limits {
            max_memory: Some(1280 * MIB),
            ..Limits::default()
        };
        let pixels = 10000 * 10000;
        let size = (10000, 10000);
        let rgba16 = kind(Supported::Tiff, 16, 4, 2);
        let refused = refuse_over_memory(
            || rgba16.describe(),
            rgba16.peak_bytes(pixels),
            size,
            &limits,
            6_344_027,
        );
        let Err(Rejection::OverMemory {
            kind: described,
            needed_mib,
            available_mib,
            ..
        }) = refused
        else {
            panic!("a 100 MP 16-bit RGBA TIFF is refused at 1280 MB: {refused:?}");
        };
        assert_eq!(described, "16-bit RGBA TIFF");
        assert_eq!(needed_mib, 1717);
        assert_eq!(available_mib, 1203);
        let rgba8 = kind(Supported::Tiff, 8, 4, 2);
        let taken = refuse_over_memory(
            || rgba8.describe(),
            rgba8.peak_bytes(pixels),
            size,
            &limits,
            0,
        );
        assert!(taken.is_ok(), "{taken:?}");
        // Unknown memory (the command line): nothing is refused.
        limits.max_memory = None;
        let taken = refuse_over_memory(|| rgba16.describe(), u64::MAX, size, &limits, usize::MAX);
        assert!(taken.is_ok());
    }

    #[test]
    fn the_kind_is_named_as_a_person_would() {
        assert_eq!(
            kind(Supported::Png, 8, 2, 1).describe(),
            "8-bit grayscale with alpha PNG"
        );
        assert_eq!(
            kind(Supported::Tiff, 16, 3, 2).describe(),
            "16-bit RGB TIFF"
        );
    }

    #[test]
    fn every_decoded_layout_counts_its_copy_to_8_bit_rgb_or_rgba() {
        use Supported::Png;
        // Per pixel, with the 2 bytes of slack: the decode, plus the 8-bit copy unless it is one.
        for (bits, channels, per_pixel) in [
            (8, 3, 3 + 2),
            (8, 4, 4 + 2),
            (8, 1, 1 + 3 + 2),
            (8, 2, 2 + 4 + 2),
            (16, 2, 4 + 4 + 2),
            (16, 4, 8 + 4 + 2),
        ] {
            let kind = kind(Png, bits, channels, 1);
            assert_eq!(kind.peak_bytes(1), per_pixel, "{}", kind.describe());
        }
    }

    #[test]
    fn no_size_overflows() {
        let worst = kind(Supported::Tiff, 32, 4, 2);
        assert_eq!(worst.peak_bytes(u64::MAX), u64::MAX);
        assert_eq!(worst.peak_bytes(0), 0);
    }
}
