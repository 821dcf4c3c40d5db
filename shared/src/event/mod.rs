//! S3 event notifications, delivered directly or as the bodies of SQS messages. Parsing is
//! lenient because emulators omit fields AWS always sends (moto has no `userIdentity` or
//! `sequencer`), and keys arrive form-urlencoded.

mod key;
pub mod resend;
mod sequencer;

use serde::Deserialize;
use serde_json::Value;

pub use key::{decode_key, encode_key};
pub use sequencer::Sequencer;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("not an S3 or SQS event: {0}")]
    Shape(String),
    #[error("SQS message body is not an S3 event: {0}")]
    Body(String),
    #[error("object key `{raw}` does not decode to UTF-8")]
    Key { raw: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectEvent {
    Created,
    Removed,
}

/// One object event, key decoded, ready to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Record {
    pub event: ObjectEvent,
    pub event_name: String,
    pub event_time: Option<String>,
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub sequencer: Sequencer,
}

/// One SQS message: its id (for `batchItemFailures`) and what its body held.
#[derive(Debug)]
pub struct Message {
    pub message_id: String,
    pub records: Result<Vec<S3Record>, EventError>,
}

/// What one Lambda invocation carries.
#[derive(Debug)]
pub enum Invocation {
    /// From an SQS event source mapping: answer with `batchItemFailures`.
    Sqs(Vec<Message>),
    /// S3 invoking the function directly.
    S3(Vec<S3Record>),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Records", default)]
    records: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SqsRecord {
    message_id: String,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawS3Record {
    event_name: String,
    event_time: Option<String>,
    s3: RawS3,
}

#[derive(Deserialize)]
struct RawS3 {
    bucket: RawBucket,
    object: RawObject,
}

#[derive(Deserialize)]
struct RawBucket {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// Splits an invocation payload into SQS messages or direct S3 records.
pub fn parse_invocation(payload: Value) -> Result<Invocation, EventError> {
    let envelope: Envelope =
        serde_json::from_value(payload).map_err(|e| EventError::Shape(e.to_string()))?;
    let from_sqs = envelope.records.first().is_some_and(|r| {
        r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs") || r.get("body").is_some()
    });
    if from_sqs {
        let messages = envelope
            .records
            .into_iter()
            .map(|raw| {
                let record: SqsRecord =
                    serde_json::from_value(raw).map_err(|e| EventError::Shape(e.to_string()))?;
                Ok(Message {
                    records: parse_s3_body(&record.body),
                    message_id: record.message_id,
                })
            })
            .collect::<Result<Vec<_>, EventError>>()?;
        return Ok(Invocation::Sqs(messages));
    }
    let records = envelope
        .records
        .into_iter()
        .filter_map(|raw| parse_s3_record(raw).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Invocation::S3(records))
}

/// Parses one SQS body. `s3:TestEvent` (sent when a notification is configured) has no
/// records and yields none.
pub fn parse_s3_body(body: &str) -> Result<Vec<S3Record>, EventError> {
    let value: Value = serde_json::from_str(body).map_err(|e| EventError::Body(e.to_string()))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if value.get("Records").is_none() {
        return Err(EventError::Body("no `Records` array".to_owned()));
    }
    let envelope: Envelope =
        serde_json::from_value(value).map_err(|e| EventError::Body(e.to_string()))?;
    envelope
        .records
        .into_iter()
        .filter_map(|raw| parse_s3_record(raw).transpose())
        .collect()
}

/// One S3 record; `None` for events we do not act on (restores, replication, lifecycle…).
fn parse_s3_record(raw: Value) -> Result<Option<S3Record>, EventError> {
    let record: RawS3Record =
        serde_json::from_value(raw).map_err(|e| EventError::Body(e.to_string()))?;
    let event = if record.event_name.starts_with("ObjectCreated:") {
        ObjectEvent::Created
    } else if record.event_name.starts_with("ObjectRemoved:") {
        ObjectEvent::Removed
    } else {
        return Ok(None);
    };
    let object = record.s3.object;
    let sequencer =
        Sequencer::from_event(object.sequencer.as_deref(), record.event_time.as_deref());
    Ok(Some(S3Record {
        event,
        key: decode_key(&object.key)?,
        event_name: record.event_name,
        event_time: record.event_time,
        bucket: record.s3.bucket.name,
        size: object.size,
        etag: object.e_tag.map(|t| t.trim_matches('"').to_owned()),
        version_id: object.version_id.filter(|v| !v.is_empty()),
        sequencer,
    }))
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
