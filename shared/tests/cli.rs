//! The `imgpipe` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

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

#[test]
fn a_variants_list_on_the_command_line_replaces_the_default_three() {
    let photo = fixture("photos/DSCN0010.jpg");
    let photo = photo.to_str().expect("utf-8");
    let spec = "small:320x320:inside:jpeg:70,square:64x64:cover:webp:60";
    let bench = imgpipe(&["bench", "--reps", "1", "--variants", spec, photo]);
    assert!(bench.status.success(), "{bench:?}");
    let first = String::from_utf8_lossy(&bench.stdout);
    let line: serde_json::Value =
        serde_json::from_str(first.lines().next().unwrap_or_default()).expect("JSON line");
    assert_eq!(line["variants"], 2, "{line}");

    let out = scratch("cli-variants");
    let out_text = out.to_str().expect("utf-8");
    let process = imgpipe(&["process", "--out", out_text, "--variants", spec, photo]);
    assert!(process.status.success(), "{process:?}");
    let made = files_under(&out);
    assert!(
        made.contains(&PathBuf::from("small/DSCN0010.jpg")),
        "{made:?}"
    );
    assert!(
        made.contains(&PathBuf::from("square/DSCN0010.webp")),
        "{made:?}"
    );
    assert!(!made.iter().any(|p| p.starts_with("thumb")), "{made:?}");
}

#[test]
fn bench_stops_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    let photo = fixture("photos/DSCN0010.jpg");
    let photo = photo.to_str().expect("utf-8");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imgpipe"))
        .args(["bench", "--reps", "1", photo, photo, photo])
        .env_remove("IMGPIPE_VARIANTS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("imgpipe starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("one line");
    // The reader is dropped here, as `| head -1` does; the next lines hit a closed pipe.
    let output = child.wait_with_output().expect("imgpipe ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(first.contains("median_ms"), "{first}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    found
}

#[test]
fn inputs_with_the_same_stem_or_hostile_names_get_their_own_outputs_inside_out() {
    let root = scratch("names");
    let inputs = root.join("in");
    let long = format!("{}.jpg", "n".repeat(250));
    // A different photo each, so that one input overwriting another's outputs would show.
    let cases = [
        ("a/x.jpg", "cameras/Canon_40D.jpg"),
        ("b/x.jpg", "cameras/Nikon_D70.jpg"),
        ("x.png", "formats/alpha.png"),
        ("X.jpg", "cameras/Pentax_K10D.jpg"),
        ("line\nbreak\u{7}.jpg", "cameras/Panasonic_DMC-FZ30.jpg"),
        ("...jpg", "cameras/Fujifilm_FinePix_E500.jpg"),
        (long.as_str(), "formats/gray.jpg"),
    ];
    let mut args = vec![
        "process".to_owned(),
        "--out".to_owned(),
        root.join("out").to_string_lossy().into_owned(),
    ];
    let mut hashes = Vec::new();
    for (name, source) in cases {
        let path = inputs.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let bytes = std::fs::read(fixture(source)).expect("fixture");
        hashes.push(hex::encode(Sha256::digest(&bytes)));
        std::fs::write(&path, bytes).expect("write input");
        args.push(path.to_string_lossy().into_owned());
    }
    // The same file again, reached through `..`: its outputs too stay inside --out.
    args.push(inputs.join("a/../a/x.jpg").to_string_lossy().into_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = imgpipe(&args);
    assert!(result.status.success(), "{result:?}");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(
        stdout.lines().count(),
        cases.len() + 1,
        "one line each:\n{stdout}"
    );
    assert!(
        stdout.contains(r"line\nbreak\u{7}.jpg"),
        "escaped: {stdout}"
    );

    let written = files_under(&root.join("out"));
    let records: Vec<serde_json::Value> = written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(root.join("out").join(p)).expect("read")))
        .collect::<Result<_, _>>()
        .expect("JSON records");
    assert_eq!(
        records.len(),
        cases.len() + 1,
        "no record overwritten: {written:?}"
    );
    let mut recorded: Vec<String> = records
        .iter()
        .map(|r| r["sha256"].as_str().expect("sha256").to_owned())
        .collect();
    recorded.sort();
    hashes.push(hashes[0].clone());
    hashes.sort();
    assert_eq!(recorded, hashes, "every input has its own record");
    let variant_keys: Vec<&str> = records
        .iter()
        .flat_map(|r| r["variants"].as_array().expect("variants"))
        .map(|v| v["key"].as_str().expect("key"))
        .collect();
    assert_eq!(variant_keys.len(), 3 * records.len(), "{records:?}");
    for key in &variant_keys {
        assert!(written.contains(&PathBuf::from(key)), "{key} was written");
    }
    for path in &written {
        let name = path.to_string_lossy();
        assert!(path.components().count() <= 2, "{name} is shallow");
        assert!(!name.chars().any(char::is_control), "{name:?} is clean");
        assert!(name.len() < 255, "{name} fits a file name");
    }
    let everything = files_under(&root);
    assert_eq!(
        everything.len(),
        written.len() + cases.len(),
        "nothing was written outside --out: {everything:?}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_2_gb_file_is_refused_by_its_size_without_being_read() {
    let root = scratch("huge");
    std::fs::create_dir_all(&root).expect("mkdir");
    let huge = root.join("huge.jpg");
    // Sparse: 2 GiB long, no disk used; reading it would take 2 GiB of memory.
    let file = std::fs::File::create(&huge).expect("create");
    file.set_len(2 << 30).expect("set_len");
    let out = root.join("out");
    // Under a 1 GiB address-space limit, reading the file would abort the process.
    let result = Command::new("sh")
        .args(["-c", r#"ulimit -v 1048576 && exec "$0" "$@""#])
        .arg(env!("CARGO_BIN_EXE_imgpipe"))
        .args(["process", "--out"])
        .args([&out, &huge])
        .env_remove("IMGPIPE_MAX_BYTES")
        .output()
        .expect("imgpipe runs");
    assert!(result.status.success(), "{result:?}");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains("huge.jpg: file is 2147483648 bytes, over the 52428800-byte limit"),
        "{stdout}"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("huge.json")).expect("record"))
            .expect("JSON");
    assert_eq!(record["reason_code"], "too_large");
    assert_eq!(record["bytes"], 2147483648u64);
    let _ = std::fs::remove_dir_all(root);
}
