//! The `imgpipe` binary as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
}

fn imgpipe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_imgpipe"))
        .args(args)
        .env_remove("IMGPIPE_VARIANTS")
        .output()
        .expect("imgpipe runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imgpipe-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn process_writes_variants_and_records_and_reports_rejections() {
    let out = scratch("process");
    let good = fixture("photos/Landscape_6.jpg");
    let bad = fixture("invalid/truncated.jpg");
    let result = imgpipe(&[
        "process",
        "--out",
        out.to_str().expect("utf-8"),
        good.to_str().expect("utf-8"),
        bad.to_str().expect("utf-8"),
    ]);
    assert!(
        result.status.success(),
        "a clean rejection is not a failure: {result:?}"
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains("processed") && stdout.contains("Landscape_6.jpg"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rejected") && stdout.contains("truncated.jpg: corrupt jpeg"),
        "{stdout}"
    );

    for variant in ["thumb", "medium", "large"] {
        let path = out.join(variant).join("Landscape_6.jpg");
        let image = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            image.width() >= image.height(),
            "{variant} is upright landscape"
        );
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("Landscape_6.json")).expect("record"))
            .expect("JSON");
    assert_eq!(record["status"], "processed");
    assert_eq!(
        (record["width"].as_u64(), record["height"].as_u64()),
        (Some(1800), Some(1200))
    );
    assert_eq!(record["variants"][2]["key"], "large/Landscape_6.jpg");
    let rejected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("truncated.json")).expect("record"))
            .expect("JSON");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason_code"], "corrupt");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn process_fails_on_io_errors_and_bad_usage() {
    let out = scratch("errors");
    let missing = imgpipe(&[
        "process",
        "--out",
        out.to_str().expect("utf-8"),
        "/nonexistent/photo.jpg",
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/photo.jpg"));
    let bad_spec = imgpipe(&["process", "--out", "x", "--variants", "thumb:200", "a.jpg"]);
    assert!(!bad_spec.status.success());
    assert!(
        String::from_utf8_lossy(&bad_spec.stderr).contains("five"),
        "names the problem"
    );
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bench_prints_one_json_line_per_file_and_the_peak_rss() {
    let photo = fixture("photos/DSCN0010.jpg");
    let result = imgpipe(&["bench", "--reps", "3", photo.to_str().expect("utf-8")]);
    assert!(result.status.success(), "{result:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&result.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    let file = &lines[0];
    assert_eq!(file["megapixels"].as_f64(), Some(0.31));
    assert_eq!(file["reps"], 3);
    let (median, min) = (
        file["median_ms"].as_f64().expect("median"),
        file["min_ms"].as_f64().expect("min"),
    );
    assert!(min > 0.0 && median >= min, "{file}");
    for phase in [
        "decode_ms",
        "orient_ms",
        "resize_ms",
        "encode_ms",
        "exif_ms",
    ] {
        assert!(
            file[phase].as_f64().is_some_and(|ms| ms >= 0.0),
            "{phase}: {file}"
        );
    }
    assert!(file["decode_ms"].as_f64() > Some(0.0));
    assert!(
        lines[1]["peak_rss_mb"].as_f64().is_some_and(|mb| mb > 1.0),
        "{}",
        lines[1]
    );
}
