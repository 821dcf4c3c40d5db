//! Hostile images through the function's image path with the default limits: a PNG whose iCCP
//! or zTXt chunk inflates to a gigabyte, a PNG with a 40 MB text chunk, a GIF with 10 000 frames,
//! a progressive JPEG with 2000 scans.
//! Each is processed or refused with a specific reason, and the peak memory of the process that
//! did the work stays bounded. The inputs are generated: the test is about a synthetic edge.
//!
//! Each case runs in a fresh process (this test binary, filtered to `hostile_case_child`), so its
//! peak RSS (`VmHWM`) is its own and not the test harness's or another test's.

use std::io::Write;
use std::process::Command;

use imgpipe::config::PipelineConfig;
use serde_json::{json, Value};

/// The input file the child process works on; unset in the normal test run.
const INPUT_VAR: &str = "IMGPIPE_HOSTILE_INPUT";
/// What a compression bomb inflates to: twice `image`'s default 512 MiB allocation budget.
const BOMB_BYTES: usize = 1024 * 1024 * 1024;
/// Peak memory the image path may add for any of these inputs (their pixels are 256×256). The
/// decoder's header budget is 64 MiB; the rest is slack for the variants and the allocator.
const MAX_GROWTH_MB: f64 = 128.0;

#[derive(Debug)]
struct Outcome {
    status: String,
    reason: String,
    width: u64,
    variants: u64,
    converted_to_srgb: bool,
    growth_mb: f64,
}

/// Builds the input of `case` here, then runs the image path on it in a child process and reads
/// back what happened. The child only reads the file, so nothing it freed before can hide what
/// the image path allocates.
fn run_case(case: &str) -> Outcome {
    let bytes = match case {
        "png-iccp-bomb" => png_with_chunk(b"iCCP", &named_zlib(b"bomb", &zlib_zeros(BOMB_BYTES))),
        "png-ztxt-bomb" => {
            png_with_chunk(b"zTXt", &named_zlib(b"Comment", &zlib_zeros(BOMB_BYTES)))
        }
        "png-huge-text" => png_with_chunk(b"tEXt", &huge_text()),
        "gif-10000-frames" => gif_with_frames(10_000),
        "jpeg-2000-scans" => progressive_jpeg_with_scans(2000),
        other => panic!("unknown case {other}"),
    };
    let input = std::env::temp_dir().join(format!("imgpipe-{case}-{}.bin", std::process::id()));
    std::fs::write(&input, &bytes).expect("write input");
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(exe)
        .args(["hostile_case_child", "--exact", "--nocapture"])
        .env(INPUT_VAR, &input)
        .output()
        .expect("child runs");
    let _ = std::fs::remove_file(&input);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{case}: child failed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Not always at the start of its line: on one core libtest runs tests one at a time and
    // prints "test hostile_case_child ... " before the test's own output.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("OUTCOME ").map(|(_, outcome)| outcome))
        .unwrap_or_else(|| panic!("{case}: no outcome in\n{stdout}"));
    let v: Value = serde_json::from_str(line).expect("outcome JSON");
    // Shown with --nocapture: the measured growth, for the record.
    eprintln!("{case}: {v}");
    Outcome {
        status: v["status"].as_str().unwrap_or_default().to_owned(),
        reason: v["reason"].as_str().unwrap_or_default().to_owned(),
        width: v["width"].as_u64().unwrap_or_default(),
        variants: v["variants"].as_u64().unwrap_or_default(),
        converted_to_srgb: v["converted_to_srgb"].as_bool().unwrap_or_default(),
        growth_mb: v["growth_mb"].as_f64().unwrap_or(f64::MAX),
    }
}

/// The child's side: read the input, run the image path once, report the outcome and how much
/// the peak RSS grew while it ran. Does nothing in the normal test run.
#[test]
fn hostile_case_child() {
    let Some(input) = std::env::var_os(INPUT_VAR) else {
        return;
    };
    let bytes = std::fs::read(input).expect("read input");
    let before = peak_rss_kb();
    let result = imgpipe::image::process(&bytes, &PipelineConfig::default());
    let growth_mb = (peak_rss_kb() - before) as f64 / 1024.0;
    let outcome = match &result {
        Ok(image) => json!({
            "status": "processed", "width": image.width, "variants": image.variants.len(),
            "converted_to_srgb": image.converted_to_srgb, "growth_mb": growth_mb,
        }),
        Err(rejection) => json!({
            "status": "rejected", "reason": rejection.to_string(), "growth_mb": growth_mb,
        }),
    };
    println!("OUTCOME {outcome}");
}

/// The process's peak resident set so far, from `/proc/self/status`.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line")
}

/// A zlib stream of `len` zero bytes, compressed about a thousandfold, written in 1 MiB steps so
/// that building it costs no memory.
fn zlib_zeros(len: usize) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; 1024 * 1024];
    for _ in 0..len / block.len() {
        encoder.write_all(&block).expect("in memory");
    }
    encoder.finish().expect("in memory")
}

/// The body of an iCCP or zTXt chunk: keyword, NUL, compression method 0, the zlib stream.
fn named_zlib(name: &[u8], zlib: &[u8]) -> Vec<u8> {
    [name, &[0, 0], zlib].concat()
}

/// A tEXt chunk of 40 MB: under the 50 MiB upload limit, far over any honest caption.
fn huge_text() -> Vec<u8> {
    let mut body = b"Comment\0".to_vec();
    body.resize(40 * 1024 * 1024, b'a');
    body
}

/// A real 256×256 PNG with `chunk` inserted right after IHDR, where metadata chunks go.
fn png_with_chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(256, 256, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encodes");
    // Signature (8) + IHDR (4 length, 4 type, 13 data, 4 CRC).
    let after_ihdr = 8 + 4 + 4 + 13 + 4;
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(body);
    let length = u32::try_from(body.len()).expect("chunk fits");
    let chunk = [
        &length.to_be_bytes()[..],
        kind,
        body,
        &crc.finalize().to_be_bytes(),
    ]
    .concat();
    [&png[..after_ihdr], &chunk, &png[after_ihdr..]].concat()
}

/// A 256×256 GIF with `frames` full-size frames alternating between two colours.
fn gif_with_frames(frames: usize) -> Vec<u8> {
    let mut gif = Vec::new();
    let palette = [255, 0, 0, 0, 0, 255];
    let mut encoder = gif::Encoder::new(&mut gif, 256, 256, &palette).expect("header");
    encoder
        .set_repeat(gif::Repeat::Infinite)
        .expect("loop extension");
    for i in 0..frames {
        let mut frame =
            gif::Frame::from_indexed_pixels(256, 256, vec![(i % 2) as u8; 256 * 256], None);
        frame.delay = 1;
        encoder.write_frame(&frame).expect("frame");
    }
    drop(encoder);
    gif
}

#[test]
fn png_whose_icc_profile_inflates_to_a_gigabyte_is_processed_without_its_profile() {
    let outcome = run_case("png-iccp-bomb");
    assert_eq!(outcome.status, "processed", "{outcome:?}");
    assert_eq!((outcome.width, outcome.variants), (256, 3), "{outcome:?}");
    assert!(
        !outcome.converted_to_srgb,
        "the bomb is no profile: {outcome:?}"
    );
    assert!(outcome.growth_mb < MAX_GROWTH_MB, "{outcome:?}");
}

#[test]
fn png_whose_compressed_text_inflates_to_a_gigabyte_is_processed_without_inflating_it() {
    let outcome = run_case("png-ztxt-bomb");
    assert_eq!(outcome.status, "processed", "{outcome:?}");
    assert_eq!((outcome.width, outcome.variants), (256, 3), "{outcome:?}");
    assert!(outcome.growth_mb < MAX_GROWTH_MB, "{outcome:?}");
}

#[test]
fn png_with_a_40_mb_text_chunk_is_rejected_by_the_decoder_budget() {
    let outcome = run_case("png-huge-text");
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert!(
        outcome
            .reason
            .starts_with("corrupt png: decoder limit exceeded"),
        "{outcome:?}"
    );
    assert!(outcome.growth_mb < MAX_GROWTH_MB, "{outcome:?}");
}

#[test]
fn gif_with_ten_thousand_frames_is_processed_from_its_first_frame_only() {
    let outcome = run_case("gif-10000-frames");
    assert_eq!(outcome.status, "processed", "{outcome:?}");
    assert_eq!((outcome.width, outcome.variants), (256, 3), "{outcome:?}");
    assert!(outcome.growth_mb < MAX_GROWTH_MB, "{outcome:?}");
}

/// A 256×256 progressive JPEG whose last scan is repeated until it has `scans` of them: each
/// scan is another pass over the whole image, so a small file can cost minutes of decoding.
fn progressive_jpeg_with_scans(scans: usize) -> Vec<u8> {
    let pixels: Vec<u8> = (0..256 * 256 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let mut compressor = turbojpeg::Compressor::new().expect("compressor");
    compressor.set_progressive(true).expect("progressive");
    let jpeg = compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: pixels.as_slice(),
            width: 256,
            pitch: 256 * 3,
            height: 256,
            format: turbojpeg::PixelFormat::RGB,
        })
        .expect("encodes");
    // Entropy-coded data stuffs every 0xFF, so the last FF DA is the last scan's header.
    let last_scan = jpeg
        .windows(2)
        .rposition(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let written = jpeg[..jpeg.len() - 2].split_at(last_scan);
    let scans_written = jpeg.windows(2).filter(|w| *w == [0xFF, 0xDA]).count();
    let mut bomb = written.0.to_vec();
    for _ in 0..=scans.saturating_sub(scans_written) {
        bomb.extend_from_slice(written.1);
    }
    bomb.extend_from_slice(&[0xFF, 0xD9]);
    bomb
}

#[test]
fn progressive_jpeg_with_two_thousand_scans_is_rejected_by_its_scan_count() {
    let outcome = run_case("jpeg-2000-scans");
    assert_eq!(outcome.status, "rejected", "{outcome:?}");
    assert_eq!(
        outcome.reason, "corrupt jpeg: progressive JPEG with more than 500 scans",
        "{outcome:?}"
    );
    assert!(outcome.growth_mb < MAX_GROWTH_MB, "{outcome:?}");
}
