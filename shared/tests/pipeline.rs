//! The image path on real photos: orientation, EXIF, formats, colour, privacy and rejections.

use imgpipe::config::{parse_variants, Limits, PipelineConfig};
use imgpipe::image::{process, ProcessedImage, Rejection, Sniffed};
use imgpipe::metadata::read_exif;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn config(variants: &str) -> PipelineConfig {
    PipelineConfig {
        variants: parse_variants(variants).expect("valid spec"),
        limits: Limits::default(),
    }
}

fn processed(path: &str, variants: &str) -> ProcessedImage {
    process(&fixture(path), &config(variants)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode_variant(image: &ProcessedImage, index: usize) -> image::RgbImage {
    image::load_from_memory(&image.variants[index].data)
        .expect("variant decodes")
        .to_rgb8()
}

/// Mean absolute difference per channel between two images of one size.
fn distance(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Every way the picture could have come out: the eight EXIF orientations applied to `upright`.
fn all_orientations(upright: &image::RgbImage) -> Vec<image::RgbImage> {
    use image::imageops::{flip_horizontal, rotate180, rotate270, rotate90};
    let mirrored = flip_horizontal(upright);
    vec![
        upright.clone(),
        rotate90(upright),
        rotate180(upright),
        rotate270(upright),
        mirrored.clone(),
        rotate90(&mirrored),
        rotate180(&mirrored),
        rotate270(&mirrored),
    ]
}

#[test]
fn every_orientation_comes_out_upright_in_landscape_and_portrait() {
    for shape in ["Landscape", "Portrait"] {
        let reference_photo = processed(
            &format!("orientation/{shape}_1.jpg"),
            "v:300x300:inside:jpeg:92",
        );
        let reference = decode_variant(&reference_photo, 0);
        let expected_size = if shape == "Landscape" {
            (300, 200)
        } else {
            (200, 300)
        };
        assert_eq!(reference.dimensions(), expected_size);
        let candidates = all_orientations(&reference);
        for n in 0..=8 {
            let photo = processed(
                &format!("orientation/{shape}_{n}.jpg"),
                "v:300x300:inside:jpeg:92",
            );
            let upright_size = if shape == "Landscape" {
                (1800, 1200)
            } else {
                (1200, 1800)
            };
            assert_eq!(
                (photo.width, photo.height),
                upright_size,
                "{shape}_{n} record size"
            );
            let variant = decode_variant(&photo, 0);
            assert_eq!(
                variant.dimensions(),
                expected_size,
                "{shape}_{n} variant size"
            );
            // Upright means closest to the upright reference among all eight candidates.
            let scores: Vec<f64> = candidates
                .iter()
                .filter(|c| c.dimensions() == variant.dimensions())
                .map(|c| distance(&variant, c))
                .collect();
            let upright_score = distance(&variant, &reference);
            assert!(
                upright_score < 6.0,
                "{shape}_{n}: differs from upright by {upright_score}"
            );
            let others_best = scores
                .iter()
                .copied()
                .filter(|s| *s > upright_score)
                .fold(f64::MAX, f64::min);
            assert!(
                upright_score * 3.0 < others_best,
                "{shape}_{n}: upright {upright_score} vs next best {others_best}"
            );
        }
    }
}

#[test]
fn reads_known_exif_from_three_cameras() {
    let canon = read_exif(&fixture("cameras/Canon_40D.jpg"))
        .fields
        .expect("EXIF");
    assert_eq!(canon.make.as_deref(), Some("Canon"));
    assert_eq!(canon.model.as_deref(), Some("Canon EOS 40D"));
    assert_eq!(canon.taken_at.as_deref(), Some("2008-05-30T15:56:01"));
    assert_eq!(canon.exposure_time, Some(0.00625));
    assert_eq!(canon.f_number, Some(7.1));
    assert_eq!(canon.iso, Some(100));
    assert_eq!(canon.focal_length_mm, Some(135.0));

    let nikon = read_exif(&fixture("cameras/Nikon_D70.jpg"))
        .fields
        .expect("EXIF");
    assert_eq!(nikon.make.as_deref(), Some("NIKON CORPORATION"));
    assert_eq!(nikon.model.as_deref(), Some("NIKON D70"));
    assert_eq!(nikon.taken_at.as_deref(), Some("2008-03-15T09:52:01"));
    assert_eq!((nikon.f_number, nikon.iso), (Some(9.0), Some(200)));

    let fuji = read_exif(&fixture("cameras/Fujifilm_FinePix_E500.jpg"))
        .fields
        .expect("EXIF");
    assert_eq!(fuji.model.as_deref(), Some("FinePix E500"));
    assert_eq!(fuji.focal_length_mm, Some(4.7));
    assert_eq!(fuji.exposure_time, Some(0.0125));
}

#[test]
fn gps_comes_out_as_signed_decimals() {
    let summary = read_exif(&fixture("cameras/DSCN0010.jpg"));
    let gps = summary.gps.expect("GPS present");
    assert!(
        (gps.latitude - 43.467_448_3).abs() < 1e-6,
        "{}",
        gps.latitude
    );
    assert!(
        (gps.longitude - 11.885_126_6).abs() < 1e-6,
        "{}",
        gps.longitude
    );
    assert_eq!(
        summary.fields.and_then(|f| f.model).as_deref(),
        Some("COOLPIX P6000")
    );
}

#[test]
fn odd_exif_never_rejects_the_photo() {
    for path in [
        "cameras/30-type_error.jpg",
        "cameras/67-0_length_string.jpg",
        "cameras/45-gps_ifd.jpg",
    ] {
        let photo = processed(path, "t:64x64:cover:jpeg:80");
        assert_eq!(photo.variants.len(), 1, "{path}");
    }
}

#[test]
fn variants_carry_no_exif_or_gps() {
    let photo = processed(
        "cameras/DSCN0010.jpg",
        "t:200x200:cover:jpeg:80,w:300x300:inside:webp:80",
    );
    for variant in &photo.variants {
        let summary = read_exif(&variant.data);
        assert_eq!(summary.fields, None, "{} has EXIF", variant.name);
        assert_eq!(summary.gps, None, "{} has GPS", variant.name);
        let needle = b"Exif\0\0";
        assert!(
            !variant.data.windows(needle.len()).any(|w| w == needle),
            "{}",
            variant.name
        );
    }
}

#[test]
fn default_variants_have_configured_sizes_and_never_upscale() {
    let photo =
        process(&fixture("photos/DSCN0010.jpg"), &PipelineConfig::default()).expect("processes");
    let sizes: Vec<(&str, u32, u32)> = photo
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.width, v.height))
        .collect();
    // 640×480 source: the thumb is cropped square, medium and large stay at the source size.
    assert_eq!(
        sizes,
        [
            ("thumb", 200, 200),
            ("medium", 640, 480),
            ("large", 640, 480)
        ]
    );
    for v in &photo.variants {
        let decoded = image::load_from_memory(&v.data).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (v.width, v.height));
    }
}

#[test]
fn webp_variants_are_lossy_and_smaller_than_lossless() {
    let photo = processed("photos/DSCN0010.jpg", "w:640x640:inside:webp:80");
    let data = &photo.variants[0].data;
    assert_eq!(&data[8..12], b"WEBP");
    assert_eq!(&data[12..16], b"VP8 ", "lossy VP8, not VP8L");
}

fn mean_colour(image: &image::RgbImage, x0: u32, x1: u32) -> [f64; 3] {
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for (x, _, px) in image.enumerate_pixels() {
        if (x0..x1).contains(&x) {
            for c in 0..3 {
                sum[c] += u64::from(px[c]);
            }
            n += 1;
        }
    }
    sum.map(|s| s as f64 / n as f64)
}

#[test]
fn cmyk_and_grayscale_jpegs_keep_their_colours() {
    let reference = decode_variant(
        &processed("orientation/Landscape_1.jpg", "v:600x600:inside:jpeg:92"),
        0,
    );
    for path in ["formats/cmyk.jpg", "formats/progressive.jpg"] {
        let variant = decode_variant(&processed(path, "v:600x600:inside:jpeg:92"), 0);
        let d = distance(&variant, &reference);
        assert!(d < 8.0, "{path} drifted from the RGB original by {d}");
    }
    let gray = decode_variant(
        &processed("formats/gray.jpg", "v:600x600:inside:jpeg:92"),
        0,
    );
    assert!(gray
        .pixels()
        .all(|p| p[0].abs_diff(p[1]) <= 3 && p[1].abs_diff(p[2]) <= 3));
}

#[test]
fn sixteen_bit_png_alpha_png_gif_webp_and_tiff_decode() {
    for path in [
        "formats/rgb16.png",
        "formats/image.webp",
        "formats/image.tiff",
        "cameras/Arbitro.tiff",
    ] {
        let photo = processed(path, "v:300x300:inside:jpeg:85");
        assert!(photo.variants[0].width > 0, "{path}");
    }
    let gif = processed("formats/image.gif", "v:60x60:inside:jpeg:90");
    let first_frame = decode_variant(&gif, 0);
    let [r, g, b] = mean_colour(&first_frame, 0, first_frame.width());
    assert!(
        r > 200.0 && g < 40.0 && b < 40.0,
        "first frame is red: {r} {g} {b}"
    );

    // The transparent left half is composited onto white in a JPEG.
    let alpha = decode_variant(
        &processed("formats/alpha.png", "v:300x300:inside:jpeg:90"),
        0,
    );
    let left = mean_colour(&alpha, 0, alpha.width() / 2 - 5);
    assert!(
        left.iter().all(|c| *c > 245.0),
        "left half is white: {left:?}"
    );
}

#[test]
fn adobe_rgb_profile_is_converted_to_srgb() {
    let photo = processed("formats/adobergb-mid.jpg", "v:64x64:inside:jpeg:98");
    assert!(photo.converted_to_srgb);
    let variant = decode_variant(&photo, 0);
    // The fixture holds Adobe RGB (90,160,110); LittleCMS converts it to sRGB (0,161,108).
    // Left unconverted, the red channel would stay near 90.
    let [r, g, b] = mean_colour(&variant, 16, 48);
    assert!(
        r < 8.0 && (g - 161.0).abs() < 6.0 && (b - 108.0).abs() < 6.0,
        "got {r} {g} {b}"
    );
}

fn rejection(path: &str) -> Rejection {
    match process(&fixture(path), &PipelineConfig::default()) {
        Err(rejection) => rejection,
        Ok(_) => panic!("{path} was accepted"),
    }
}

#[test]
fn rejects_unsupported_formats_by_name() {
    for (path, name) in [
        ("invalid/drawing.svg", "svg"),
        ("invalid/doc.pdf", "pdf"),
        ("invalid/notes.txt", "text"),
        ("invalid/text-as.jpg", "text"),
    ] {
        let r = rejection(path);
        assert!(
            matches!(r, Rejection::UnsupportedFormat { detected: Sniffed::Unsupported(n) } if n == name),
            "{path}: {r}"
        );
        assert!(r.to_string().contains(name), "{path}: {r}");
    }
    assert!(matches!(
        rejection("invalid/random.bin"),
        Rejection::UnsupportedFormat {
            detected: Sniffed::Unknown
        }
    ));
    assert_eq!(rejection("invalid/empty.jpg"), Rejection::Empty);
}

#[test]
fn rejects_corrupt_and_truncated_jpegs_without_panicking() {
    for path in ["invalid/corrupted.jpg", "invalid/truncated.jpg"] {
        let r = rejection(path);
        assert_eq!(r.code(), "corrupt", "{path}: {r}");
    }
}

#[test]
fn every_invalid_fixture_is_processed_or_rejected_with_a_specific_reason() {
    let dir = format!("{}/../fixtures/invalid", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).expect("fixtures/invalid") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        if let Err(r) = process(&bytes, &PipelineConfig::default()) {
            assert!(!r.to_string().is_empty());
            assert!(
                r.to_string().len() < 400,
                "{}: reason too long",
                path.display()
            );
        }
    }
}

#[test]
fn rejects_a_64000_square_header_before_decoding() {
    for path in ["invalid/bomb.png", "invalid/bomb.jpg"] {
        match rejection(path) {
            Rejection::TooManyPixels { width, height, .. } => {
                assert_eq!((width, height), (64000, 64000))
            }
            other => panic!("{path}: {other}"),
        }
    }
}

#[test]
fn rejects_by_size_before_sniffing() {
    let mut small = PipelineConfig::default();
    small.limits.max_bytes = 1000;
    let r = process(&fixture("photos/DSCN0010.jpg"), &small).expect_err("too large");
    assert!(matches!(r, Rejection::TooLarge { limit: 1000, .. }), "{r}");
}

fn psnr(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0_f64 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn cascaded_variants_look_like_direct_resizes_of_the_full_decode() {
    let all = "l:1600x1600:inside:jpeg:95,m:800x800:inside:jpeg:95,t:200x200:cover:jpeg:95";
    for photo in ["orientation/Landscape_1.jpg", "orientation/Portrait_6.jpg"] {
        let cascade = processed(photo, all);
        for (index, alone) in [
            (1, "m:800x800:inside:jpeg:95"),
            (2, "t:200x200:cover:jpeg:95"),
        ] {
            let direct = processed(photo, alone);
            let (a, b) = (decode_variant(&cascade, index), decode_variant(&direct, 0));
            let db = psnr(&a, &b);
            assert!(
                db > 38.0,
                "{photo} {alone}: cascade vs direct PSNR {db:.1} dB"
            );
        }
    }
}

/// The decode is released once every variant left has a step to be resized from; a crop that
/// needs more than any step holds keeps it, and comes out as it does on its own.
#[test]
fn a_crop_sharper_than_every_step_is_made_from_the_decode() {
    let square = "sq:1000x1000:cover:jpeg:82";
    let photo = "large/42_IndexError.jpg";
    let both = processed(photo, &format!("l:1600x1600:inside:jpeg:82,{square}"));
    let alone = processed(photo, square);
    assert_eq!(both.variants.len(), 2);
    let (sq, direct) = (&both.variants[1], &alone.variants[0]);
    assert_eq!((sq.width, sq.height), (1000, 1000));
    assert!(
        sq.data == direct.data,
        "the square differs from the same spec alone"
    );
}

/// Lanczos3 to `width`×`height` from the full-resolution pixels: what the variant would be
/// with no shortcut (no scaled decode, no cascade) before JPEG encoding.
fn lanczos3_reference(full: &image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
    let mut reference = image::RgbImage::new(width, height);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(full, &mut reference, &options)
        .expect("reference resize");
    reference
}

/// PSNR against `reference` of the reference itself through the pipeline's JPEG encoder at
/// `quality`: what encoding costs with no other shortcut.
fn jpeg_alone_psnr(reference: &image::RgbImage, quality: u8) -> f64 {
    let encoded = imgpipe::image::encode_jpeg(reference, quality).expect("reference encodes");
    let decoded = image::load_from_memory(&encoded)
        .expect("decodes")
        .to_rgb8();
    psnr(&decoded, reference)
}

#[test]
fn variants_lose_under_1_db_to_the_scaled_decode_and_cascade() {
    // The decode scale each case gets: the 12 MP photo's 1600 variant 1/2 at quality 80 and full
    // at 95, its 1000 variant 3/8 at 80 and 1/2 at 95; the 1800-wide photo's 600 variant 1/2 at
    // 80, the rest full. Each must be within 1 dB of what JPEG alone scores against a Lanczos3
    // resize of the full-resolution decode.
    let cases = [
        ("large/42_IndexError.jpg", 1600, 80),
        ("large/42_IndexError.jpg", 1600, 95),
        ("large/42_IndexError.jpg", 1000, 80),
        ("large/42_IndexError.jpg", 1000, 95),
        ("orientation/Landscape_1.jpg", 800, 80),
        ("orientation/Landscape_1.jpg", 800, 95),
        ("orientation/Landscape_1.jpg", 600, 80),
        ("orientation/Landscape_1.jpg", 600, 95),
    ];
    let mut full_decodes = std::collections::HashMap::new();
    for (path, side, quality) in cases {
        let full = full_decodes.entry(path).or_insert_with(|| {
            image::load_from_memory(&fixture(path))
                .expect("decodes")
                .to_rgb8()
        });
        // A thumbnail alongside, so that the cascade is on the path too.
        let spec = format!("l:{side}x{side}:inside:jpeg:{quality},t:200x200:cover:jpeg:{quality}");
        let ours = processed(path, &spec);
        let variant = decode_variant(&ours, 0);
        let reference = lanczos3_reference(full, variant.width(), variant.height());
        let encoding_only = jpeg_alone_psnr(&reference, quality);
        let with_shortcuts = psnr(&variant, &reference);
        assert!(
            with_shortcuts >= encoding_only - 1.0,
            "{path} {side} q{quality}: {with_shortcuts:.2} dB against the reference; \
             JPEG alone {encoding_only:.2} dB"
        );
    }
    assert_eq!(
        full_decodes["large/42_IndexError.jpg"].dimensions(),
        (4032, 3024),
        "the test needs the full 12 MP photo"
    );
}

#[test]
fn a_large_photo_cut_short_or_damaged_is_rejected_on_the_scaled_decode_path_too() {
    // Variants at most half its size send this 12 MP photo through the scaled decoder.
    let whole = fixture("large/42_IndexError.jpg");
    let truncated = &whole[..whole.len() * 6 / 10];
    let mut damaged = whole.clone();
    // Overwrite a stretch of entropy-coded data in the middle with a marker the scan cannot hold.
    let middle = damaged.len() / 2;
    damaged[middle..middle + 64].fill(0xFF);
    for (what, bytes) in [("truncated", truncated), ("damaged", &damaged[..])] {
        let result = process(bytes, &config("m:800x800:inside:jpeg:80"));
        assert!(
            matches!(result, Err(Rejection::Corrupt { .. })),
            "{what}: {:?}",
            result.map(|p| p.width)
        );
    }
    let cut = process(truncated, &config("m:800x800:inside:jpeg:80")).expect_err("truncated");
    assert!(cut.to_string().contains("truncated"), "{cut}");
}

// HEIC/HEIF and AVIF (fixtures/heif, facts in fixtures/README.md).

#[test]
fn heic_and_avif_of_every_kind_decode_at_their_upright_size() {
    for (path, size) in [
        ("heif/plain.heic", (600, 400)),
        ("heif/plain.avif", (600, 400)),
        ("heif/samplefilehub.heif", (640, 426)),
        ("heif/grid.heic", (600, 400)),
        ("heif/multi.heic", (600, 400)),
        ("heif/iphone.heic", (2566, 3313)),
        ("heif/tenbit.heic", (600, 480)),
        ("heif/tenbit.avif", (600, 480)),
        ("heif/twelvebit.avif", (600, 480)),
        ("heif/gray.heic", (600, 400)),
        ("heif/gray.avif", (600, 400)),
        ("heif/yuv422.heic", (600, 400)),
        ("heif/yuv444.heic", (600, 400)),
        ("heif/yuv422.avif", (600, 400)),
        ("heif/yuv444.avif", (600, 400)),
        ("heif/alpha.heic", (600, 400)),
        ("heif/alpha.avif", (600, 400)),
    ] {
        let photo = processed(path, "v:4000x4000:inside:jpeg:90");
        assert_eq!((photo.width, photo.height), size, "{path} record");
        assert_eq!(
            decode_variant(&photo, 0).dimensions(),
            size,
            "{path} variant"
        );
        let expected = if path.ends_with(".avif") {
            "avif"
        } else {
            "heic"
        };
        assert_eq!(photo.format.name(), expected, "{path}");
    }
}

#[test]
fn heif_rotations_and_mirrors_are_applied_once_and_recorded_as_exif_numbers() {
    // Each file carries `irot`/`imir` and an EXIF orientation saying the same thing again: the
    // words on the photo are upright only if exactly one of them was applied.
    for shape in ["Landscape", "Portrait"] {
        let reference_photo = processed(
            &format!("orientation/{shape}_1.jpg"),
            "v:300x300:inside:jpeg:92",
        );
        let reference = decode_variant(&reference_photo, 0);
        let candidates = all_orientations(&reference);
        let files: &[(&str, u8)] = if shape == "Landscape" {
            &[("heif/mirrored.heic", 2), ("heif/plain.avif", 1)]
        } else {
            &[
                ("heif/rotated.heic", 6),
                ("heif/rotated.avif", 6),
                ("heif/grid-rotated.heic", 6),
                ("heif/mirrored.avif", 7),
            ]
        };
        for &(path, orientation) in files {
            let photo = processed(path, "v:300x300:inside:jpeg:92");
            assert_eq!(
                photo.orientation, orientation,
                "{path} recorded orientation"
            );
            let variant = decode_variant(&photo, 0);
            assert_eq!(variant.dimensions(), reference.dimensions(), "{path}");
            let upright = distance(&variant, &reference);
            let others_best = candidates
                .iter()
                .filter(|c| c.dimensions() == variant.dimensions())
                .map(|c| distance(&variant, c))
                .filter(|d| *d > upright)
                .fold(f64::MAX, f64::min);
            assert!(
                upright < 8.0 && upright * 3.0 < others_best,
                "{path}: upright {upright} vs next best {others_best}"
            );
        }
    }
}

#[test]
fn only_the_primary_image_is_decoded_not_the_others_or_the_thumbnails() {
    // multi.heic: 300x200, then the 600x400 landscape (primary), then 200x300, each with a
    // 128 px thumbnail.
    let primary = decode_variant(&processed("heif/multi.heic", "v:600x400:inside:jpeg:95"), 0);
    let plain = decode_variant(&processed("heif/plain.heic", "v:600x400:inside:jpeg:95"), 0);
    assert_eq!(primary.dimensions(), (600, 400));
    let d = distance(&primary, &plain);
    assert!(d < 6.0, "the primary is the landscape photo: {d}");
}

#[test]
fn heic_exif_gives_camera_lens_time_exposure_and_gps() {
    let iphone = processed("heif/iphone.heic", "v:100x100:inside:jpeg:80");
    let exif = iphone.exif.as_ref().expect("EXIF from the Exif item");
    assert_eq!(exif.make.as_deref(), Some("Apple"));
    assert_eq!(exif.model.as_deref(), Some("iPhone 11 Pro Max"));
    assert_eq!(
        exif.lens.as_deref(),
        Some("iPhone 11 Pro Max back triple camera 4.25mm f/1.8")
    );
    assert_eq!(exif.taken_at.as_deref(), Some("2021-04-11T15:47:53-05:00"));
    assert_eq!(exif.iso, Some(32));
    assert_eq!(exif.f_number, Some(1.8));
    let gps = iphone.gps.as_ref().expect("GPS");
    assert!((gps.latitude - 39.0513444).abs() < 1e-6, "{gps:?}");
    assert!((gps.longitude + 94.2887722).abs() < 1e-6, "{gps:?}");
    assert_eq!(iphone.orientation, 1);
    assert!(iphone.converted_to_srgb, "Display P3 profile converted");

    let nikon = processed("heif/camera-gps.heic", "v:100x100:inside:jpeg:80");
    let exif = nikon.exif.as_ref().expect("EXIF");
    assert_eq!(exif.model.as_deref(), Some("COOLPIX P6000"));
    assert_eq!(exif.taken_at.as_deref(), Some("2008-10-22T16:28:39"));
    let gps = nikon.gps.as_ref().expect("GPS");
    assert!((gps.latitude - 43.4674483).abs() < 1e-6, "{gps:?}");
    assert!((gps.longitude - 11.8851267).abs() < 1e-6, "{gps:?}");
    for variant in iphone.variants.iter().chain(&nikon.variants) {
        assert!(
            !variant.data.windows(6).any(|w| w == b"Exif\0\0"),
            "variants carry no EXIF"
        );
    }
    assert!(processed("heif/plain.heic", "v:100x100:inside:jpeg:80")
        .exif
        .is_none());
}

/// Mean colour of the 32x32 centre of the 64x64 patch at (`column`, `row`) of a colour-patch file.
fn patch(image: &image::RgbImage, column: u32, row: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for y in row * 64 + 16..row * 64 + 48 {
        for x in column * 64 + 16..column * 64 + 48 {
            let p = image.get_pixel(x, y);
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
        }
    }
    sum.map(|s| s / 1024.0)
}

#[test]
fn display_p3_profiles_and_nclx_wide_gamut_are_converted_to_srgb() {
    // Encoded (60,200,60): left unconverted it stays there; Display P3 (ICC or nclx 12) is about
    // (0,203,11) in sRGB and BT.2020 (nclx 9) about (0,211,0). The red channel tells them apart.
    for path in ["heif/p3.heic", "heif/nclx-p3.avif", "heif/nclx.avif"] {
        let photo = processed(path, "v:256x128:inside:jpeg:98");
        assert!(photo.converted_to_srgb, "{path}");
        let variant = decode_variant(&photo, 0);
        let green = patch(&variant, 1, 1);
        assert!(
            green[0] < 25.0 && green[1] > 185.0,
            "{path}: (60,200,60) came out {green:?}"
        );
        let grey = patch(&variant, 3, 0);
        assert!(
            grey.iter().all(|c| (c - 128.0).abs() < 4.0),
            "{path}: grey stays grey, {grey:?}"
        );
    }
    // sRGB nclx (1/13/6), the encoders' default, is left as it is.
    assert!(!processed("heif/plain.avif", "v:64x64:inside:jpeg:90").converted_to_srgb);
}

#[test]
fn ten_and_twelve_bit_samples_fill_the_8_bit_range() {
    // Rows 400-479 hold a grey ramp from black to full white across x (16-bit source).
    for path in [
        "heif/tenbit.heic",
        "heif/tenbit.avif",
        "heif/twelvebit.avif",
    ] {
        let variant = decode_variant(&processed(path, "v:600x600:inside:jpeg:98"), 0);
        let level = |x: u32| f64::from(variant.get_pixel(x, 440)[1]);
        assert!(level(2) < 6.0, "{path}: ramp starts black, {}", level(2));
        assert!(
            level(597) > 249.0,
            "{path}: ramp ends white, {}",
            level(597)
        );
        assert!(
            (level(300) - 127.5).abs() < 6.0,
            "{path}: mid-ramp {}",
            level(300)
        );
    }
}

#[test]
fn heif_alpha_is_composited_like_png_alpha() {
    // x < 200 transparent, 200..400 half, 400.. opaque: white, half white, the photo.
    for path in ["heif/alpha.heic", "heif/alpha.avif"] {
        let variant = decode_variant(&processed(path, "v:600x400:inside:jpeg:95"), 0);
        let transparent = mean_colour(&variant, 10, 190);
        assert!(
            transparent.iter().all(|c| *c > 245.0),
            "{path}: {transparent:?}"
        );
        let opaque = decode_variant(&processed("heif/plain.heic", "v:600x400:inside:jpeg:95"), 0);
        let photo = mean_colour(&opaque, 410, 590);
        let kept = mean_colour(&variant, 410, 590);
        assert!(
            photo.iter().zip(kept).all(|(a, b)| (a - b).abs() < 6.0),
            "{path}: opaque part is the photo, {kept:?} vs {photo:?}"
        );
    }
}

#[test]
fn broken_heif_and_avif_are_rejected_with_specific_reasons() {
    for (path, code, words) in [
        ("heif/empty.heic", "empty", "empty"),
        ("heif/truncated.heic", "corrupt", "truncated"),
        ("heif/truncated.avif", "corrupt", "truncated"),
        (
            "heif/zeroed-mdat.heic",
            "corrupt",
            "did not give a decompressed image",
        ),
        (
            "heif/zeroed-mdat.avif",
            "corrupt",
            "did not give a decompressed image",
        ),
        ("heif/no-primary.heic", "corrupt", "'pitm' box references"),
        (
            "heif/unsupported-coding.heif",
            "corrupt",
            "'pitm' box references",
        ),
        ("heif/huge.heic", "too_many_pixels", "20000x20000"),
        ("heif/huge.avif", "too_many_pixels", "20000x20000"),
        ("heif/huge-40000.heic", "too_many_pixels", "40000x40000"),
    ] {
        let r = rejection(path);
        assert_eq!(r.code(), code, "{path}: {r}");
        assert!(r.to_string().contains(words), "{path}: {r}");
    }
    // A cut anywhere is a rejection with a reason, never a panic (the guard's reason).
    let whole = fixture("heif/rotated.avif");
    for cut in (0..whole.len()).step_by(97) {
        if let Err(r) = process(&whole[..cut], &PipelineConfig::default()) {
            assert_ne!(r.code(), "decoder_failed", "cut at {cut}: {r}");
        }
    }
}

#[test]
fn a_heif_too_big_for_the_functions_memory_is_refused_before_decoding() {
    const MIB: u64 = 1024 * 1024;
    let with_memory = |mib: u64| PipelineConfig {
        limits: Limits {
            max_memory: Some(mib * MIB),
            ..Limits::default()
        },
        ..PipelineConfig::default()
    };
    // The 8.5 MP iPhone photo needs about 80 MiB by its kind (8-bit 4:2:0 HEIC); 64 MiB of the
    // function's memory are kept for everything else.
    let bytes = fixture("heif/iphone.heic");
    let refused = process(&bytes, &with_memory(128)).expect_err("over 128 MiB");
    assert_eq!(refused.code(), "over_memory", "{refused}");
    let reason = refused.to_string();
    for words in ["8-bit 4:2:0 HEIC", "MiB to decode", "IMGPIPE_MAX_PIXELS"] {
        assert!(reason.contains(words), "{reason}");
    }
    assert!(process(&bytes, &with_memory(256)).is_ok());
    // The reason names the coding that decides the cost.
    let r = process(&fixture("heif/yuv444.avif"), &with_memory(64)).expect_err("no room");
    assert!(r.to_string().contains("4:4:4 AVIF"), "{r}");
}

#[test]
fn a_deep_tiff_or_png_too_big_for_the_functions_memory_is_refused_before_decoding() {
    use image::{DynamicImage, ImageBuffer, ImageFormat, Rgba};
    use std::io::Cursor;
    const MIB: u64 = 1024 * 1024;
    // The function keeps 64 MiB for itself and twice the upload; `room` is what is left.
    let with_room = |bytes: &[u8], room: u64| PipelineConfig {
        limits: Limits {
            max_memory: Some(64 * MIB + 2 * bytes.len() as u64 + room),
            ..Limits::default()
        },
        ..PipelineConfig::default()
    };
    let rgba16 = DynamicImage::ImageRgba16(ImageBuffer::from_fn(300, 200, |x, y| {
        Rgba([x as u16 * 200, y as u16 * 300, 4660, 40000])
    }));
    let encoded = |format| {
        let mut out = Vec::new();
        rgba16
            .write_to(&mut Cursor::new(&mut out), format)
            .expect("encodes");
        out
    };
    // Per pixel: a chunky 16-bit RGBA TIFF is held twice at 8 bytes, plus 2 of slack; a planar
    // one once, then beside its 4-byte 8-bit copy; a 16-bit PNG only as 8-bit RGBA.
    let cases = [
        (
            "chunky TIFF",
            encoded(ImageFormat::Tiff),
            "16-bit RGBA TIFF",
            300 * 200 * 18,
        ),
        (
            "planar TIFF",
            fixture("tiff-planar/rgba16-lzw.tif"),
            "16-bit RGBA TIFF",
            97 * 61 * 14,
        ),
        (
            "PNG",
            encoded(ImageFormat::Png),
            "16-bit PNG",
            300 * 200 * 6,
        ),
    ];
    for (what, bytes, words, needs) in cases {
        let Err(refused) = process(&bytes, &with_room(&bytes, needs - 1)) else {
            panic!("{what}: processed with a byte too little room");
        };
        assert_eq!(refused.code(), "over_memory", "{what}: {refused}");
        let reason = refused.to_string();
        for words in [words, "MiB to decode", "IMGPIPE_MAX_PIXELS"] {
            assert!(reason.contains(words), "{what}: {reason}");
        }
        let taken = process(&bytes, &with_room(&bytes, needs));
        assert!(taken.is_ok(), "{what}: {:?}", taken.err());
    }
}

#[test]
fn tiled_planar_tiffs_decode_instead_of_panicking() {
    for path in [
        "tiff-planar/rgb8.tif",
        "tiff-planar/rgb8-lzw.tif",
        "tiff-planar/rgb8-deflate.tif",
        "tiff-planar/rgba8.tif",
        "tiff-planar/rgb16.tif",
        "tiff-planar/rgba16-lzw.tif",
        "tiff-planar/rgb8-strips.tif",
        "tiff-planar/rgba16-strips-lzw.tif",
        "tiff-planar/gray8-lzw.tif",
    ] {
        let photo = processed(path, "v:200x200:inside:jpeg:90");
        assert_eq!((photo.width, photo.height), (97, 61), "{path}");
    }
    // Float samples in tiles: refused in words, by our reader, not by the guard.
    let r = rejection("tiff-planar/rgbf32.tif");
    assert_eq!(r.code(), "unsupported_format", "{r}");
    assert!(r.to_string().contains("floating-point"), "{r}");
}

/// The fingerprints of a photo, as committed values: a change in any of them changes every
/// stored record's meaning, so it must be a deliberate one (and the README's numbers redone).
#[test]
fn fingerprints_of_a_fixture_are_the_committed_values() {
    let photo = processed("photos/Landscape_6.jpg", "v:800x800:inside:jpeg:82");
    let f = &photo.fingerprints;
    assert_eq!(f.phash, "7f3f4f606b222230", "perceptual hash");
    assert_eq!(f.dominant_color, "#2e2e2f", "dominant colour");
    assert_eq!(f.thumbhash, "HdcJFYJNPImvaJiKlYiGVsJAAh0V", "thumbhash");
}

/// Copies a person would call the same photo land near it; other photos far (the measured
/// default search distance is 8 bits; see `imgpipe fingerprint-eval`).
#[test]
fn perceptual_hashes_keep_copies_near_and_other_photos_far() {
    use image::codecs::jpeg::JpegEncoder;
    use imgpipe::image::phash::distance;
    let hash = |bytes: &[u8]| {
        let image = process(bytes, &PipelineConfig::default()).expect("processed");
        u64::from_str_radix(&image.fingerprints.phash, 16).expect("16 hex digits")
    };
    let original = fixture("photos/Landscape_6.jpg");
    let upright = decode_variant(
        &processed("photos/Landscape_6.jpg", "v:1800x1800:inside:jpeg:95"),
        0,
    );
    let jpeg = |image: &image::RgbImage, quality: u8| {
        let mut out = Vec::new();
        image
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
            .expect("encode");
        out
    };
    let (width, height) = upright.dimensions();
    let half = image::imageops::resize(
        &upright,
        width / 2,
        height / 2,
        image::imageops::FilterType::Lanczos3,
    );
    let brighter = image::imageops::brighten(&upright, 26);
    let near = hash(&original);
    for (what, copy) in [
        ("re-encoded at quality 60", jpeg(&upright, 60)),
        ("downscaled by half", jpeg(&half, 90)),
        ("10% brighter", jpeg(&brighter, 90)),
    ] {
        let d = distance(near, hash(&copy));
        assert!(d <= 4, "{what}: {d} bits from the original");
    }
    for other in [
        "photos/Portrait_8.jpg",
        "cameras/DSCN0010.jpg",
        "photos/fujifilm-dx10.jpg",
    ] {
        let d = distance(near, hash(&fixture(other)));
        assert!(d > 12, "{other}: only {d} bits from Landscape_6");
    }
}

/// A photo with alpha gets a ThumbHash with alpha, and its transparent pixels do not count for
/// its dominant colour.
#[test]
fn a_translucent_image_gets_a_thumbhash_with_alpha() {
    use base64::Engine as _;
    for path in ["formats/alpha.png", "heif/alpha.heic"] {
        let photo = processed(path, "v:200x200:inside:webp:80");
        let hash = base64::engine::general_purpose::STANDARD
            .decode(&photo.fingerprints.thumbhash)
            .expect("base64");
        let (_, _, _, alpha) = thumbhash::thumb_hash_to_average_rgba(&hash).expect("a ThumbHash");
        assert!(alpha < 0.99, "{path}: average alpha {alpha}");
        assert!(photo.fingerprints.dominant_color.starts_with('#'), "{path}");
    }
    // An opaque photo's ThumbHash has none.
    let opaque = processed("photos/Landscape_6.jpg", "v:200x200:inside:jpeg:80");
    let hash = base64::engine::general_purpose::STANDARD
        .decode(&opaque.fingerprints.thumbhash)
        .expect("base64");
    let (_, _, _, alpha) = thumbhash::thumb_hash_to_average_rgba(&hash).expect("a ThumbHash");
    assert!(alpha > 0.99, "{alpha}");
}
