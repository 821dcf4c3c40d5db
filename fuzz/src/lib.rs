//! The fuzz targets' checks, one function per target. The libFuzzer targets
//! (`fuzz_targets/*.rs`) and the corpus replay test in `make test` (`tests/tests/fuzz_replay.rs`)
//! both call these, so a corpus input fails the same way in either. A check panics when the
//! code under test misbehaves: a panic of its own, a codec panic, or a broken invariant.

pub mod api;
pub mod encode;
pub mod event;
pub mod exif;
pub mod image;

/// A target's check: panics on a finding, returns on anything the code handled.
pub type Check = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/<name>.rs` and `corpus/<name>/`.
pub const TARGETS: [(&str, Check); 6] = [
    ("sniff_limits", image::sniff_limits),
    ("process", image::process),
    ("encode", encode::encode),
    ("exif", exif::read),
    ("event", event::parse),
    ("api_query", api::query),
];

/// No input may make a single allocation larger than this: the decoder's own bound for the
/// largest image the targets accept (`image::MAX_PIXELS`, 8 bytes a pixel) plus its 64 MiB of
/// headroom. libFuzzer enforces it as `-malloc_limit_mb=80`, the replay test by counting.
pub const MAX_ALLOCATION_BYTES: usize = 80 << 20;
