//! Finding photos by perceptual hash without scanning the table: multi-index hashing. The 64
//! bits are split in `BANDS` bands, each stored as its own attribute and keyed by its own
//! index (`by_phash_b0`…). Two hashes within distance d differ, by the pigeonhole principle, in
//! at most ⌊d / BANDS⌋ bits of some band; so a search that queries, in every band, each value
//! within `r` bits of the photo's own finds every hash within `BANDS·(r+1) − 1` bits, then checks
//! the full distance of what it found.

use serde::{Deserialize, Serialize};

/// How many bands the 64 bits are split into, and their widths (most significant first).
pub const BANDS: usize = 5;
const WIDTHS: [u32; BANDS] = [13, 13, 13, 13, 12];

/// The attribute holding each band, also the partition key of its index.
pub const ATTRIBUTES: [&str; BANDS] = ["phash_b0", "phash_b1", "phash_b2", "phash_b3", "phash_b4"];
/// The index of each band.
pub const INDEXES: [&str; BANDS] = [
    "by_phash_b0",
    "by_phash_b1",
    "by_phash_b2",
    "by_phash_b3",
    "by_phash_b4",
];

/// The band values of a hash, each below 2^13.
pub fn bands(hash: u64) -> [u16; BANDS] {
    let mut out = [0u16; BANDS];
    let mut shift = 64;
    for (band, width) in out.iter_mut().zip(WIDTHS) {
        shift -= width;
        // At most 13 bits: fits a u16.
        *band = ((hash >> shift) & ((1u64 << width) - 1)) as u16;
    }
    out
}

/// A band's value as stored: four hex digits.
pub fn band_key(value: u16) -> String {
    format!("{value:04x}")
}

/// The largest distance a search probing `radius` bits per band is sure to find.
pub fn guaranteed_distance(radius: u32) -> u32 {
    BANDS as u32 * (radius + 1) - 1
}

/// The smallest per-band radius that finds every hash within `max_distance`.
pub fn radius_for(max_distance: u32) -> u32 {
    (max_distance + 1).div_ceil(BANDS as u32).saturating_sub(1)
}

/// Every value within `radius` bits of band `band`'s `value` (the value itself first): the keys
/// one band's index is queried with.
pub fn probes(band: usize, value: u16, radius: u32) -> Vec<u16> {
    let width = WIDTHS[band];
    let mut out = vec![value];
    let mut frontier = vec![(value, 0u32)];
    for _ in 0..radius {
        let mut next = Vec::new();
        for &(v, lowest) in &frontier {
            // Flip bits in increasing order only, so each set of flips is made once.
            for bit in lowest..width {
                let flipped = v ^ (1 << bit);
                out.push(flipped);
                next.push((flipped, bit + 1));
            }
        }
        frontier = next;
    }
    out
}

/// The band attributes of an item, absent when the photo has no hash (rejected, deleted), which
/// keeps it out of every band index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhashBands {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash_b0: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash_b1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash_b2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash_b3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash_b4: Option<String>,
}

impl PhashBands {
    /// The bands of a record's `phash` (16 hex digits), none for anything else.
    pub fn of(phash: Option<&str>) -> Self {
        let Some(hash) = phash.and_then(|h| u64::from_str_radix(h, 16).ok()) else {
            return PhashBands::default();
        };
        let [b0, b1, b2, b3, b4] = bands(hash).map(|v| Some(band_key(v)));
        PhashBands {
            phash_b0: b0,
            phash_b1: b1,
            phash_b2: b2,
            phash_b3: b3,
            phash_b4: b4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::phash::distance;

    #[test]
    fn bands_cover_all_64_bits_once() {
        assert_eq!(WIDTHS.iter().sum::<u32>(), 64);
        assert_eq!(bands(u64::MAX), [0x1fff, 0x1fff, 0x1fff, 0x1fff, 0x0fff]);
        assert_eq!(bands(1 << 63), [0x1000, 0, 0, 0, 0]);
        assert_eq!(bands(1), [0, 0, 0, 0, 1]);
    }

    #[test]
    fn probes_are_every_value_within_the_radius_once() {
        for radius in 0..=2 {
            let found = probes(0, 0x0abc, radius);
            let mut unique = found.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                unique.len(),
                found.len(),
                "radius {radius}: repeated probes"
            );
            let expected: Vec<u16> = (0u16..1 << 13)
                .filter(|v| (v ^ 0x0abc).count_ones() <= radius)
                .collect();
            assert_eq!(unique, expected, "radius {radius}");
        }
        assert_eq!(
            probes(4, 0, 1).len(),
            13,
            "the 12-bit band has 12 neighbours"
        );
    }

    #[test]
    fn the_guarantee_holds_for_every_split_of_the_differing_bits() {
        assert_eq!(radius_for(4), 0);
        assert_eq!(radius_for(8), 1);
        assert_eq!(radius_for(9), 1);
        assert_eq!(radius_for(10), 2);
        assert_eq!(guaranteed_distance(1), 9);
        // Any hash within the guaranteed distance shares a probed key in some band.
        let base: u64 = 0x7f3f_4f60_6b22_2230;
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let radius = (state % 3) as u32;
            let limit = guaranteed_distance(radius);
            // Flip up to `limit` distinct random bits.
            let mut other = base;
            let mut flips = state.rotate_left(7);
            for _ in 0..(state % u64::from(limit + 1)) {
                other ^= 1 << (flips % 64);
                flips = flips.rotate_left(11) ^ 0x5555;
            }
            if distance(base, other) > limit {
                continue;
            }
            let (a, b) = (bands(base), bands(other));
            assert!(
                (0..BANDS).any(|i| probes(i, a[i], radius).contains(&b[i])),
                "{other:016x} is {} bits from {base:016x} but no band probe finds it",
                distance(base, other)
            );
        }
    }

    #[test]
    fn an_item_without_a_hash_has_no_band_attributes() {
        assert_eq!(PhashBands::of(None), PhashBands::default());
        assert_eq!(PhashBands::of(Some("not hex")), PhashBands::default());
        let bands = PhashBands::of(Some("ffffffffffffffff"));
        assert_eq!(bands.phash_b0.as_deref(), Some("1fff"));
        assert_eq!(bands.phash_b4.as_deref(), Some("0fff"));
    }
}
