//! The memory a HEIF/AVIF decode takes at its peak, told from the header before any pixel is
//! decoded. Unlike JPEG or PNG, whose peak is a few bytes per pixel whatever the file, a HEIF's
//! peak depends on its coding: at 100 MP an 8-bit HEIC grid took 590 MiB here and a 10-bit 4:4:4
//! AVIF with alpha 2.3 GiB, nearly twice the function's 1280 MB. A process over its memory is
//! killed by the runtime mid-batch, recording nothing, and the event is retried until it reaches
//! the dead-letter queue; refusing such an image up front, in words, loses nothing.

use super::sniff::Supported;

/// Sample layout of the coded image, as the header declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    Monochrome,
    C420,
    C422,
    /// 4:4:4, and RGB-coded images (whose planes are all full size).
    C444,
}

/// What decides a HEIF decode's memory: codec, sample depth, chroma layout and alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeifKind {
    pub format: Supported,
    /// Bits per luma sample (8, 10, 12).
    pub bits: u8,
    pub chroma: Chroma,
    pub alpha: bool,
}

impl HeifKind {
    /// An upper bound on the decode's peak, in bytes, for an image of `pixels`. What is alive at
    /// the peak, per pixel:
    /// - the decoded planes (luma, chroma, alpha; 2 bytes per sample above 8 bits), twice at
    ///   4:4:4, where libheif converts through full-size planar RGB;
    /// - libheif's interleaved RGB(A) at the coded depth, and our 8-bit copy of it;
    /// - 2 bytes of slack for the allocator and the first resize.
    ///
    /// Measured peaks at 100 MP of every kind (`imgpipe process`, one codec thread, as `heif`
    /// asks for) stay under it; see the test below. With dav1d's default threads an AV1 decode
    /// held more frames (up to 1.5 times the memory): do not raise the thread count without
    /// measuring again.
    pub fn peak_bytes(&self, pixels: u64) -> u64 {
        let sample_bytes: u64 = if self.bits > 8 { 2 } else { 1 };
        // In half-bytes, so that 4:2:0's half a chroma sample per pixel stays an integer.
        let chroma_halves: u64 = match self.chroma {
            Chroma::Monochrome => 0,
            Chroma::C420 => 1,
            Chroma::C422 => 2,
            Chroma::C444 => 4,
        };
        let alpha_halves: u64 = if self.alpha { 2 } else { 0 };
        let planes_halves = sample_bytes * (2 + chroma_halves + alpha_halves);
        let plane_copies: u64 = if self.chroma == Chroma::C444 { 2 } else { 1 };
        let channels: u64 = if self.alpha { 4 } else { 3 };
        let output_halves = 2 * (channels * sample_bytes + channels);
        let slack_halves = 4;
        let halves = plane_copies * planes_halves + output_halves + slack_halves;
        pixels.saturating_mul(halves) / 2
    }

    /// In words, for the rejection: "10-bit 4:4:4 AVIF with alpha".
    pub fn describe(&self) -> String {
        let chroma = match self.chroma {
            Chroma::Monochrome => "grayscale",
            Chroma::C420 => "4:2:0",
            Chroma::C422 => "4:2:2",
            Chroma::C444 => "4:4:4",
        };
        let alpha = if self.alpha { " with alpha" } else { "" };
        format!(
            "{}-bit {chroma} {}{alpha}",
            self.bits,
            self.format.name().to_uppercase()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Chroma, HeifKind};
    use crate::image::sniff::Supported;

    const MIB: f64 = 1024.0 * 1024.0;

    fn kind(format: Supported, bits: u8, chroma: Chroma, alpha: bool) -> HeifKind {
        HeifKind {
            format,
            bits,
            chroma,
            alpha,
        }
    }

    /// Peak RSS of `imgpipe process` (three default variants, one codec thread) on 12000x8300
    /// files of each kind, made with pillow-heif (x265) and avifenc (aom), in MiB. Measured while
    /// libheif still decoded grid tiles in its own threads (`heif.rs` now decodes them on the
    /// calling thread, about half the peak on 8–12 MP HEICs), so the real peaks are lower still.
    #[test]
    fn the_estimate_covers_every_measured_peak_without_doubling_it() {
        use Chroma::{C420, C444};
        use Supported::{Avif, Heic};
        let measured_mib = [
            (kind(Heic, 8, C420, false), 636.3, "8-bit HEIC, one image"),
            (kind(Heic, 8, C420, false), 586.8, "8-bit HEIC grid"),
            (kind(Heic, 8, C420, true), 875.6, "8-bit HEIC with alpha"),
            (
                kind(Heic, 10, C420, true),
                1257.0,
                "10-bit HEIC grid with alpha",
            ),
            (
                kind(Heic, 10, C420, true),
                1365.8,
                "the same at 61 MB of bitstream",
            ),
            (
                kind(Heic, 8, C444, true),
                1164.0,
                "8-bit 4:4:4 HEIC with alpha",
            ),
            (
                kind(Heic, 10, C444, true),
                2300.0,
                "10-bit 4:4:4 HEIC with alpha",
            ),
            (kind(Avif, 8, C420, false), 582.0, "8-bit AVIF"),
            (kind(Avif, 8, C420, true), 873.0, "8-bit AVIF with alpha"),
            (kind(Avif, 10, C420, true), 1308.0, "10-bit AVIF with alpha"),
            (
                kind(Avif, 10, C420, true),
                1390.0,
                "the same at 45 MB of bitstream",
            ),
            (
                kind(Avif, 8, C444, true),
                1203.0,
                "8-bit 4:4:4 AVIF with alpha",
            ),
            (
                kind(Avif, 10, C444, true),
                2354.0,
                "10-bit 4:4:4 AVIF with alpha",
            ),
        ];
        for (kind, peak_mib, what) in measured_mib {
            let estimate_mib = kind.peak_bytes(12000 * 8300) as f64 / MIB;
            crate::image::decode_memory::assert_covers(estimate_mib, peak_mib, what);
        }
    }

    #[test]
    fn the_kind_is_named_as_a_person_would() {
        assert_eq!(
            kind(Supported::Avif, 10, Chroma::C444, true).describe(),
            "10-bit 4:4:4 AVIF with alpha"
        );
        assert_eq!(
            kind(Supported::Heic, 8, Chroma::Monochrome, false).describe(),
            "8-bit grayscale HEIC"
        );
    }

    #[test]
    fn no_size_overflows() {
        let worst = kind(Supported::Avif, 12, Chroma::C444, true);
        assert_eq!(worst.peak_bytes(u64::MAX), u64::MAX / 2);
        assert_eq!(worst.peak_bytes(0), 0);
    }
}
