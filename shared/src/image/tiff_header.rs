//! A look at a TIFF's first directory before the decoder reads it: the `tiff` crate sizes a
//! tag's value buffer from the count the file declares (up to 256 MiB, whatever the limits
//! `image` sets later), so a 7 KB file made it allocate 128 MiB. Every tag's values must
//! be inside the file, and no tag a photo needs has millions of values: larger is corrupt.

/// The most values one tag may declare: 32 bytes each in the decoder, so 64 MiB at most (the
/// header budget of the other formats). Real tags (strip offsets, ICC, XMP) stay far below.
const MAX_TAG_VALUES: u64 = 2 * 1024 * 1024;

/// Why a TIFF directory was refused: the tag and what it declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedTag {
    pub tag: u16,
    pub values: u64,
    pub bytes: u64,
}

/// Checks the first directory's entries of a classic TIFF (`II*\0` / `MM\0*`). A directory
/// that cannot be walked is left for the decoder to report; only oversized tags are refused.
pub fn check_first_directory(bytes: &[u8]) -> Result<(), OversizedTag> {
    let big_endian = bytes.starts_with(b"MM");
    let u16_at = |at: usize| {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let Some(directory) = u32_at(4).and_then(|at| usize::try_from(at).ok()) else {
        return Ok(());
    };
    let Some(entries) = u16_at(directory) else {
        return Ok(());
    };
    for index in 0..usize::from(entries) {
        let entry = directory + 2 + index * 12;
        let (Some(tag), Some(kind), Some(count)) =
            (u16_at(entry), u16_at(entry + 2), u32_at(entry + 4))
        else {
            return Ok(());
        };
        let values = u64::from(count);
        let size = values.saturating_mul(value_size(kind));
        if values > MAX_TAG_VALUES || size > bytes.len() as u64 {
            return Err(OversizedTag {
                tag,
                values,
                bytes: size,
            });
        }
    }
    Ok(())
}

/// Bytes per value of a TIFF field type; unknown types count as one byte.
fn value_size(kind: u16) -> u64 {
    match kind {
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A big-endian TIFF whose first directory holds one entry.
    fn tiff_with_entry(tag: u16, kind: u16, count: u32) -> Vec<u8> {
        let mut bytes = b"MM\0*\0\0\0\x08\0\x01".to_vec();
        bytes.extend(tag.to_be_bytes());
        bytes.extend(kind.to_be_bytes());
        bytes.extend(count.to_be_bytes());
        bytes.extend([0; 8]);
        bytes
    }

    #[test]
    fn refuses_a_tag_declaring_more_values_than_the_file_holds() {
        // StripOffsets as 8 million LONGs in a 26-byte file: 128 MiB for the tiff crate.
        let bytes = tiff_with_entry(273, 4, 8_000_000);
        assert_eq!(
            check_first_directory(&bytes),
            Err(OversizedTag {
                tag: 273,
                values: 8_000_000,
                bytes: 32_000_000
            })
        );
    }

    #[test]
    fn accepts_real_directories_and_leaves_broken_ones_to_the_decoder() {
        let fixture = |name: &str| {
            let path = format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        assert_eq!(
            check_first_directory(&fixture("formats/image.tiff")),
            Ok(())
        );
        assert_eq!(
            check_first_directory(&fixture("cameras/Arbitro.tiff")),
            Ok(())
        );
        assert_eq!(check_first_directory(&tiff_with_entry(256, 3, 1)), Ok(()));
        // The directory offset points past the end.
        assert_eq!(check_first_directory(b"II*\0\xff\xff\0\0"), Ok(()));
    }
}
