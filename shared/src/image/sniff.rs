//! Format sniffing from magic bytes: the key's extension and the Content-Type are never trusted.

use std::fmt;

/// A format we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supported {
    Jpeg,
    Png,
    WebP,
    Gif,
    Tiff,
    /// HEIF with HEVC-coded images (iPhones, many Android phones).
    Heic,
    /// HEIF whose brand does not say the coding; libheif finds out.
    Heif,
    /// HEIF with AV1-coded images.
    Avif,
}

impl Supported {
    pub fn name(self) -> &'static str {
        match self {
            Supported::Jpeg => "jpeg",
            Supported::Png => "png",
            Supported::WebP => "webp",
            Supported::Gif => "gif",
            Supported::Tiff => "tiff",
            Supported::Heic => "heic",
            Supported::Heif => "heif",
            Supported::Avif => "avif",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Supported::Jpeg => "image/jpeg",
            Supported::Png => "image/png",
            Supported::WebP => "image/webp",
            Supported::Gif => "image/gif",
            Supported::Tiff => "image/tiff",
            Supported::Heic => "image/heic",
            Supported::Heif => "image/heif",
            Supported::Avif => "image/avif",
        }
    }
}

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Supported(Supported),
    /// Recognised, but not something we decode; the name goes into the rejection reason.
    Unsupported(&'static str),
    Unknown,
}

impl fmt::Display for Sniffed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sniffed::Supported(format) => f.write_str(format.name()),
            Sniffed::Unsupported(name) => f.write_str(name),
            Sniffed::Unknown => f.write_str("unknown"),
        }
    }
}

/// How far into a text file we look for `<svg` (XML prologs and comments come first).
const SVG_SCAN_BYTES: usize = 1024;

pub fn sniff(bytes: &[u8]) -> Sniffed {
    use Supported::*;
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Supported(Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Supported(Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Sniffed::Supported(Gif);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Sniffed::Supported(Tiff);
    }
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Sniffed::Supported(WebP);
    }
    if let Some(brand) = iso_bmff_brand(bytes) {
        return brand;
    }
    if starts(b"%PDF-") {
        return Sniffed::Unsupported("pdf");
    }
    if starts(b"BM") && bytes.len() > 14 {
        return Sniffed::Unsupported("bmp");
    }
    if starts(b"8BPS") {
        return Sniffed::Unsupported("psd");
    }
    if starts(&[0x00, 0x00, 0x01, 0x00]) {
        return Sniffed::Unsupported("ico");
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0CJXL \r\n\x87\n") {
        return Sniffed::Unsupported("jpeg-xl");
    }
    if looks_like_text(bytes) {
        let head = &bytes[..bytes.len().min(SVG_SCAN_BYTES)];
        let head = String::from_utf8_lossy(head).to_ascii_lowercase();
        if head.contains("<svg") {
            return Sniffed::Unsupported("svg");
        }
        return Sniffed::Unsupported("text");
    }
    Sniffed::Unknown
}

/// HEIC/HEIF/AVIF are ISO-BMFF files: `....ftyp<major brand><minor version><compatible brands>`.
/// A generic major brand (`mif1`, `msf1`) is narrowed by the compatible brands, as libheif does.
fn iso_bmff_brand(bytes: &[u8]) -> Option<Sniffed> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let named = |brand: &[u8]| match brand {
        b"avif" | b"avis" => Some(Supported::Avif),
        b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => Some(Supported::Heic),
        _ => None,
    };
    let major = bytes.get(8..12)?;
    if let Some(format) = named(major) {
        return Some(Sniffed::Supported(format));
    }
    if major != b"mif1" && major != b"msf1" {
        return Some(Sniffed::Unsupported("iso-media (video or unknown)"));
    }
    // The box's declared size bounds the compatible brands; a lying size is cut to the file.
    let declared = bytes
        .get(0..4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    let end = (declared as usize).min(bytes.len());
    let compatible = bytes.get(16..end).unwrap_or_default().chunks_exact(4);
    let format = compatible
        .filter_map(named)
        .next()
        .unwrap_or(Supported::Heif);
    Some(Sniffed::Supported(format))
}

/// Valid UTF-8 (allowing a sequence cut at the end) without control bytes other than whitespace.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SVG_SCAN_BYTES)];
    let valid_prefix = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by our window is fine; anything else is binary.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(text) => text,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !valid_prefix.is_empty()
        && valid_prefix
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{feff}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_supported_magic() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0rest"),
            Sniffed::Supported(Supported::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\nrest"),
            Sniffed::Supported(Supported::Png)
        );
        assert_eq!(sniff(b"GIF89a...."), Sniffed::Supported(Supported::Gif));
        assert_eq!(sniff(b"MM\0*...."), Sniffed::Supported(Supported::Tiff));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Sniffed::Supported(Supported::WebP)
        );
    }

    #[test]
    fn recognises_heif_brands_and_narrows_mif1_by_its_compatible_brands() {
        use Supported::*;
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0"), Sniffed::Supported(Heic));
        assert_eq!(sniff(b"\0\0\0\x18ftypavif\0\0"), Sniffed::Supported(Avif));
        assert_eq!(sniff(b"\0\0\0\x18ftypmif1\0\0"), Sniffed::Supported(Heif));
        assert_eq!(
            sniff(b"\0\0\0\x1cftypmif1\0\0\0\0mif1heic"),
            Sniffed::Supported(Heic)
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypmif1\0\0\0\0mif1avif"),
            Sniffed::Supported(Avif)
        );
        // Compatible brands past the box's declared size are not the box's.
        assert_eq!(
            sniff(b"\0\0\0\x14ftypmif1\0\0\0\0mif1avif"),
            Sniffed::Supported(Heif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmp42\0\0"),
            Sniffed::Unsupported("iso-media (video or unknown)")
        );
    }

    #[test]
    fn names_what_it_will_not_decode() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Unsupported("pdf"));
        assert_eq!(
            sniff(
                b"<?xml version=\"1.0\"?>\n<!-- x -->\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"
            ),
            Sniffed::Unsupported("svg")
        );
        assert_eq!(
            sniff("hello, wörld\n".as_bytes()),
            Sniffed::Unsupported("text")
        );
        assert_eq!(sniff(&[0x00, 0x01, 0x02, 0x9F, 0xFE]), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
    }
}
