//! The image path: sniffing, the byte and pixel limits checked from the header, and the full
//! decode → variants path, with limits small enough that each input runs in milliseconds.

use std::sync::LazyLock;

use imgpipe::config::{parse_variants, Limits, PipelineConfig};
use imgpipe::image::{sniff, Rejection, Sniffed};

/// At most 512×512 pixels: big enough for every seed, small enough to stay fast.
pub const MAX_PIXELS: u64 = 1 << 18;
/// libFuzzer's inputs stay far below this; it only matters for a replayed corpus file.
pub const MAX_BYTES: u64 = 1 << 20;
/// The pixel budget of the header check: only tiny images get past it.
const HEADER_MAX_PIXELS: u64 = 64 * 64;

/// Three variants, so that the resize cascade (a smaller variant resized from a larger one),
/// both fits and both encoders run.
static CONFIG: LazyLock<PipelineConfig> = LazyLock::new(|| PipelineConfig {
    variants: parse_variants(
        "large:160x160:inside:jpeg:80,thumb:48x48:cover:jpeg:70,card:64x40:cover:webp:70",
    )
    .unwrap_or_else(|e| panic!("fuzz variants: {e}")),
    limits: Limits {
        max_bytes: MAX_BYTES,
        max_pixels: MAX_PIXELS,
        max_memory: None,
    },
});

/// `process` turns a codec panic into `Rejection::DecoderPanic` so that production carries on;
/// for fuzzing that panic is the finding. (Under libFuzzer the panic hook aborts even before
/// `process` can catch it; in the replay test this assertion is what fails.)
fn no_decoder_panic(result: &Result<imgpipe::image::ProcessedImage, Rejection>) {
    if let Err(Rejection::DecoderPanic { detail, .. }) = result {
        panic!("a codec panicked: {detail}");
    }
}

/// Sniffing never fails, the byte limit is checked first, and an image whose header declares
/// more pixels than allowed is refused as such.
pub fn sniff_limits(data: &[u8]) {
    let sniffed = sniff(data);
    let _ = sniffed.to_string();

    if let Some(below) = (data.len() as u64).checked_sub(1).filter(|&n| n > 0) {
        let config = PipelineConfig {
            limits: Limits {
                max_bytes: below,
                ..CONFIG.limits
            },
            ..CONFIG.clone()
        };
        let result = imgpipe::image::process(data, &config);
        assert!(
            matches!(result, Err(Rejection::TooLarge { .. })),
            "{} bytes over a {below}-byte limit: {result:?}",
            data.len()
        );
    }

    let config = PipelineConfig {
        limits: Limits {
            max_pixels: HEADER_MAX_PIXELS,
            ..CONFIG.limits
        },
        ..CONFIG.clone()
    };
    let result = imgpipe::image::process(data, &config);
    no_decoder_panic(&result);
    match result {
        Ok(image) => {
            assert_eq!(sniffed, Sniffed::Supported(image.format));
            let pixels = u64::from(image.width) * u64::from(image.height);
            assert!(pixels <= HEADER_MAX_PIXELS, "decoded {pixels} pixels");
        }
        Err(Rejection::UnsupportedFormat { detected }) => {
            assert_eq!(detected, sniffed);
            assert!(!matches!(sniffed, Sniffed::Supported(_)));
        }
        Err(Rejection::TooManyPixels { pixels, limit, .. }) => assert!(pixels > limit),
        Err(Rejection::Empty) => assert!(data.is_empty()),
        Err(_) => {}
    }
}

/// The whole path: every accepted input yields each configured variant, within its box and
/// encoded as the format it claims.
pub fn process(data: &[u8]) {
    let result = imgpipe::image::process(data, &CONFIG);
    no_decoder_panic(&result);
    let Ok(image) = result else { return };
    assert!(u64::from(image.width) * u64::from(image.height) <= MAX_PIXELS);
    assert!((1..=8).contains(&image.orientation));
    assert_eq!(image.variants.len(), CONFIG.variants.len());
    for (variant, spec) in image.variants.iter().zip(&CONFIG.variants) {
        assert_eq!(variant.name, spec.name);
        assert!(
            (1..=spec.width).contains(&variant.width)
                && (1..=spec.height).contains(&variant.height),
            "{} is {}x{}, outside its {}x{} box",
            spec.name,
            variant.width,
            variant.height,
            spec.width,
            spec.height
        );
        let encoded_as = match sniff(&variant.data) {
            Sniffed::Supported(format) => format.name(),
            other => panic!("{} encoded as {other}", spec.name),
        };
        assert_eq!(encoded_as, spec.format.name());
    }
}
