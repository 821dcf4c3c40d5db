//! CloudWatch metrics as Embedded Metric Format (EMF) log lines: one JSON object per record
//! handled, written to the function's log, which CloudWatch turns into metrics with no API call.
//!
//! Written here rather than through a crate: the EMF crates on crates.io bring a metrics
//! framework with them (`metrics_cloudwatch_embedded`: the `metrics` facade's global recorder,
//! flushed per invocation; `metrique-writer-format-emf`: a wide-event framework of its own),
//! for what is one serde-serialised line with a few numbers.

use serde_json::{json, Map, Value};

use crate::image::Timings;

/// The namespace every metric goes to.
pub const NAMESPACE: &str = "imgpipe";

/// What a processed photo reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessedMetrics {
    /// From the record's arrival to its item written, in milliseconds.
    pub processing_ms: f64,
    pub timings: Timings,
    pub megapixels: f64,
    /// Bytes of all variants written.
    pub bytes_written: u64,
}

/// The EMF line of a processed photo: `Processed` (1), `ProcessingTime` and one time per phase
/// (milliseconds), `InputMegapixels`, `BytesWritten`, by function.
pub fn processed_line(function: &str, timestamp_ms: u64, metrics: &ProcessedMetrics) -> String {
    let t = &metrics.timings;
    let values = [
        ("Processed", "Count", 1.0),
        ("ProcessingTime", "Milliseconds", metrics.processing_ms),
        ("DecodeTime", "Milliseconds", t.decode_ms),
        ("ResizeTime", "Milliseconds", t.resize_ms),
        ("ColourTime", "Milliseconds", t.colour_ms),
        ("OrientTime", "Milliseconds", t.orient_ms),
        ("EncodeTime", "Milliseconds", t.encode_ms),
        ("FingerprintTime", "Milliseconds", t.fingerprint_ms),
        ("InputMegapixels", "None", metrics.megapixels),
        ("BytesWritten", "Bytes", metrics.bytes_written as f64),
    ];
    line(function, timestamp_ms, &[&["FunctionName"]], &values, None)
}

/// The EMF line of a rejected upload: `Rejected` (1) and `ProcessingTime`, by function and by
/// function and reason code (`corrupt`, `too_many_pixels`, …).
pub fn rejected_line(
    function: &str,
    timestamp_ms: u64,
    reason_code: &str,
    processing_ms: f64,
) -> String {
    let values = [
        ("Rejected", "Count", 1.0),
        ("ProcessingTime", "Milliseconds", processing_ms),
    ];
    line(
        function,
        timestamp_ms,
        &[&["FunctionName"], &["FunctionName", "ReasonCode"]],
        &values,
        Some(reason_code),
    )
}

fn line(
    function: &str,
    timestamp_ms: u64,
    dimensions: &[&[&str]],
    values: &[(&str, &str, f64)],
    reason_code: Option<&str>,
) -> String {
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut object = Map::new();
    object.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": definitions,
            }],
        }),
    );
    object.insert("FunctionName".into(), Value::from(function));
    if let Some(code) = reason_code {
        object.insert("ReasonCode".into(), Value::from(code));
    }
    for (name, _, value) in values {
        // Rounded to the microsecond: the log line stays short, and no metric needs more.
        let rounded = (value * 1000.0).round() / 1000.0;
        object.insert((*name).into(), json!(rounded));
    }
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What CloudWatch needs of an EMF line: an `_aws` directive naming each metric, every
    /// metric and dimension present as a top-level member of the right type.
    fn check_well_formed(line: &str) -> Value {
        let value: Value = serde_json::from_str(line).expect("one JSON object");
        assert!(!line.contains('\n'), "one line");
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert!(value["_aws"]["Timestamp"].as_u64().is_some());
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().expect("dimension sets") {
            for name in set.as_array().expect("a set") {
                let name = name.as_str().expect("a name");
                assert!(
                    value[name].is_string(),
                    "dimension {name} is a string member"
                );
            }
        }
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(value[name].is_number(), "metric {name} is a number member");
            assert!(metric["Unit"].is_string());
        }
        value
    }

    #[test]
    fn a_processed_photo_reports_its_times_size_and_output() {
        let metrics = ProcessedMetrics {
            processing_ms: 64.25,
            timings: Timings {
                exif_ms: 0.03,
                decode_ms: 36.5,
                resize_ms: 15.4,
                colour_ms: 0.0,
                orient_ms: 0.1,
                encode_ms: 5.8,
                fingerprint_ms: 1.6,
            },
            megapixels: 12.19,
            bytes_written: 412_345,
        };
        let value = check_well_formed(&processed_line("fn-x", 1_764_547_200_000, &metrics));
        assert_eq!(value["FunctionName"], "fn-x");
        assert_eq!(value["Processed"], 1.0);
        assert_eq!(value["ProcessingTime"], 64.25);
        assert_eq!(value["DecodeTime"], 36.5);
        assert_eq!(value["FingerprintTime"], 1.6);
        assert_eq!(value["InputMegapixels"], 12.19);
        assert_eq!(value["BytesWritten"], 412_345.0);
        assert_eq!(value["_aws"]["Timestamp"], 1_764_547_200_000u64);
        assert!(value.get("Rejected").is_none());
    }

    #[test]
    fn a_rejection_reports_its_reason_code_as_a_dimension() {
        let value = check_well_formed(&rejected_line("fn-x", 1, "too_many_pixels", 3.5));
        assert_eq!(value["Rejected"], 1.0);
        assert_eq!(value["ReasonCode"], "too_many_pixels");
        assert_eq!(value["ProcessingTime"], 3.5);
        let sets = &value["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert_eq!(
            sets,
            &json!([["FunctionName"], ["FunctionName", "ReasonCode"]])
        );
        assert!(value.get("Processed").is_none());
    }
}
