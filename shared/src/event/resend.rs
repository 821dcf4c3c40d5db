//! The event `imgpipe reprocess` sends for a stored record: an S3 `ObjectCreated` notification
//! for the record's original, shaped as S3 sends it, carrying the record's own sequencer and
//! event time. The handler treats it as a redelivery of that upload: its conditional write
//! passes against the record it was made from, and fails against anything newer (a later
//! upload of the same key, or a delete), so a reprocess can neither overwrite the one nor undo
//! the other.

use serde_json::{json, Map, Value};

use super::key::encode_key;

/// The upload a record was made from, as the record remembers it.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    /// The upload's event time: it stays the record's `uploaded_at`.
    pub event_time: Option<&'a str>,
    /// The stored (normalised) sequencer, which `Sequencer::from_event` leaves as it is.
    pub sequencer: &'a str,
}

/// Names the sender in the event, as S3 names the uploader's principal.
pub const REPROCESS_PRINCIPAL: &str = "imgpipe-reprocess";

/// The SQS message body for `original`: `{"Records": [one ObjectCreated:Put record]}`.
pub fn created_body(original: &Original, region: &str) -> String {
    let mut object = Map::new();
    object.insert("key".into(), encode_key(original.key).into());
    object.insert("sequencer".into(), original.sequencer.into());
    if let Some(size) = original.size {
        object.insert("size".into(), size.into());
    }
    if let Some(etag) = original.etag {
        object.insert("eTag".into(), etag.into());
    }
    if let Some(version) = original.version_id {
        object.insert("versionId".into(), version.into());
    }
    let mut record = json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": REPROCESS_PRINCIPAL},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": REPROCESS_PRINCIPAL,
            "bucket": {"name": original.bucket, "arn": format!("arn:aws:s3:::{}", original.bucket)},
            "object": Value::Object(object),
        }
    });
    if let (Some(time), Value::Object(fields)) = (original.event_time, &mut record) {
        fields.insert("eventTime".into(), time.into());
    }
    json!({ "Records": [record] }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{parse_s3_body, ObjectEvent, Sequencer};

    #[test]
    fn the_handler_reads_back_the_upload_it_describes() {
        let sequencer = Sequencer::from_event(Some("0062E99A88DC407460"), None);
        for key in ["trip/a b+c.jpg", "../../etc/passwd", "caf\u{e9}\n.jpg"] {
            let body = created_body(
                &Original {
                    bucket: "uploads",
                    key,
                    size: Some(1234),
                    etag: Some("abc"),
                    version_id: None,
                    event_time: Some("2026-11-26T05:53:02.032Z"),
                    sequencer: sequencer.as_str(),
                },
                "eu-west-1",
            );
            let records = parse_s3_body(&body).expect("parses");
            assert_eq!(records.len(), 1);
            let record = &records[0];
            assert_eq!(record.event, ObjectEvent::Created);
            assert_eq!(
                (record.bucket.as_str(), record.key.as_str()),
                ("uploads", key)
            );
            assert_eq!(
                record.sequencer, sequencer,
                "the stored sequencer, unchanged"
            );
            assert_eq!(
                record.event_time.as_deref(),
                Some("2026-11-26T05:53:02.032Z")
            );
            assert_eq!(
                (record.size, record.etag.as_deref()),
                (Some(1234), Some("abc"))
            );
        }
    }

    #[test]
    fn a_record_without_an_event_time_still_has_its_sequencer() {
        let stored = Sequencer::from_event(None, Some("2026-11-26T05:53:02Z"));
        let body = created_body(
            &Original {
                bucket: "b",
                key: "k",
                size: None,
                etag: None,
                version_id: Some("v1"),
                event_time: None,
                sequencer: stored.as_str(),
            },
            "us-east-1",
        );
        let records = parse_s3_body(&body).expect("parses");
        assert_eq!(records[0].sequencer, stored);
        assert_eq!(records[0].version_id.as_deref(), Some("v1"));
        assert_eq!(records[0].event_time, None);
    }
}
