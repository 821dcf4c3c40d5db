//! Storage: where originals are read, variants written and records kept. The handler talks to
//! the traits; `s3` and `dynamo` implement them over the AWS SDK.

pub mod clients;
pub mod dynamo;
pub mod s3;
pub mod similar;

use std::future::Future;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::metadata::{ImageRecord, Status};

pub use dynamo::DynamoImages;
pub use s3::S3Objects;

/// A failed call to S3 or DynamoDB. These are transient as far as we can tell (throttling,
/// network, a service hiccup), so the message is retried; a persistent one ends in the DLQ.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("S3 {operation} s3://{bucket}/{key}: {detail}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        detail: String,
    },
    #[error("DynamoDB {operation} on {table} (id {id}): {detail}")]
    Dynamo {
        operation: &'static str,
        table: String,
        id: String,
        detail: String,
    },
}

/// An original as fetched from the uploads bucket.
#[derive(Debug)]
pub enum Fetched {
    Found(StoredObject),
    /// Gone since the event was sent (a later delete will be or was handled).
    NotFound,
    /// Over the byte limit: refused by its declared length, the body never read.
    TooLarge {
        size: u64,
    },
}

#[derive(Debug)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// Whether a conditional write landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// A newer event for the same object was recorded first; ours is obsolete.
    Stale,
}

/// Whether a conditional put landed, and over what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Landed. `replaced` is the status of the record it overwrote; `None` when there was none
    /// (or only a pending-upload marker). A replaced `Processed` record may have had variants
    /// under names the new one does not make (the configuration changed, as for a reprocess).
    Written { replaced: Option<Status> },
    /// A newer event for the same object was recorded first; ours is obsolete.
    Stale,
}

pub trait ObjectStore: Send + Sync {
    fn get(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Fetched, StoreError>> + Send;

    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every object under `prefix` except the keys in `keep`; returns how many it
    /// deleted.
    fn delete_prefix_except(
        &self,
        bucket: &str,
        prefix: &str,
        keep: &[String],
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Deletes every object under `prefix`; returns how many there were.
    fn delete_prefix(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        self.delete_prefix_except(bucket, prefix, &[])
    }
}

pub trait ImageTable: Send + Sync {
    /// Writes the item unless the table holds a newer event for the same image.
    fn put_if_newer(
        &self,
        item: &StoredImage,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Marks the image deleted (creating the item if the delete overtook the create), unless a
    /// newer event is recorded.
    fn mark_deleted(
        &self,
        deletion: &Deletion,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    fn get(&self, id: &str)
        -> impl Future<Output = Result<Option<StoredImage>, StoreError>> + Send;
}

/// The DynamoDB item: the record plus where it came from and which event wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    pub id: String,
    pub source_bucket: String,
    pub source_key: String,
    pub source_etag: Option<String>,
    pub source_version_id: Option<String>,
    /// Normalised event sequencer; every write is conditional on it being newer.
    pub sequencer: String,
    pub event_time: Option<String>,
    /// When this item was written (RFC 3339, UTC).
    pub updated_at: String,
    pub processing_ms: Option<u64>,
    /// Partition key of the listing indexes (`by_upload`, `by_taken`): the same for every item.
    pub list_pk: String,
    /// When the original was uploaded (the event time; RFC 3339 UTC, milliseconds), the sort
    /// key of newest-first listings.
    pub uploaded_at: String,
    /// `make model`, the `by_camera` index key. Absent (never null) when unknown: index keys
    /// may not be null, and an absent key keeps the item out of that sparse index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// The EXIF taken-at, the `by_taken` index key; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// The perceptual hash in bands, the keys of the similar-photo indexes (`similar`).
    #[serde(flatten)]
    pub bands: similar::PhashBands,
    #[serde(flatten)]
    pub record: ImageRecord,
}

/// The one value of `list_pk`.
pub const LIST_PARTITION: &str = "image";

impl StoredImage {
    /// Assembles the item and derives its index attributes from the record.
    pub fn new(
        source: Source,
        sequencer: String,
        processing_ms: Option<u64>,
        record: ImageRecord,
    ) -> Self {
        let exif = record.exif.as_ref();
        let camera = exif.and_then(|e| {
            let parts: Vec<&str> = [e.make.as_deref(), e.model.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        let now = utc_now();
        StoredImage {
            id: source.id,
            source_bucket: source.bucket,
            source_key: source.key,
            source_etag: source.etag,
            source_version_id: source.version_id,
            sequencer,
            uploaded_at: source
                .event_time
                .as_deref()
                .and_then(normalise_time)
                .unwrap_or_else(|| now.clone()),
            event_time: source.event_time,
            updated_at: now,
            processing_ms,
            list_pk: LIST_PARTITION.to_owned(),
            camera,
            taken_at: exif.and_then(|e| e.taken_at.clone()),
            bands: similar::PhashBands::of(record.phash.as_deref()),
            record,
        }
    }
}

/// Where an item's original lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub event_time: Option<String>,
}

/// Now, as stored: RFC 3339 UTC with milliseconds, so that string order is time order.
pub fn utc_now() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// An event time in the stored form; `None` if it is not RFC 3339.
pub fn normalise_time(text: &str) -> Option<String> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(format_time)
}

fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// What a delete event records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub source: Source,
    pub sequencer: String,
}

/// The stable id of an upload: the same bucket and key always give the same id, and no
/// character of a hostile key reaches a derivative key.
pub fn image_id(bucket: &str, key: &str) -> String {
    // Length-prefixed, so no (bucket, key) pair can masquerade as another.
    let digest = Sha256::new()
        .chain_update((bucket.len() as u64).to_be_bytes())
        .chain_update(bucket.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    // 128 bits: collisions are out of reach, and the keys stay short.
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::VariantRecord;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(image_id("b", "photo.jpg"), image_id("b", "photo.jpg"));
        assert_ne!(image_id("b", "photo.jpg"), image_id("b", "Photo.jpg"));
        assert_ne!(image_id("b", "a/b"), image_id("b/a", "b"));
        assert_eq!(image_id("b", "../../etc/passwd").len(), 32);
    }

    /// Keys an uploader can choose that must neither escape nor collide: traversal, control
    /// characters, the longest key S3 allows, and names that differ only by case or by Unicode
    /// normalisation (NFC `é` against NFD `e` + combining acute).
    fn hostile_keys() -> Vec<String> {
        let mut keys: Vec<String> = [
            "../../etc/passwd",
            "a/../b.jpg",
            "a/b.jpg",
            "/a/b.jpg",
            "./a/b.jpg",
            "nul\0byte.jpg",
            "line\nbreak\r\t.jpg",
            "bell\u{7}del\u{7f}.jpg",
            "caf\u{e9}.jpg",
            "cafe\u{301}.jpg",
            "photo.jpg",
            "Photo.jpg",
            "PHOTO.JPG",
            "",
        ]
        .map(str::to_owned)
        .to_vec();
        keys.push("k".repeat(1024));
        keys.push(format!("{}K", "k".repeat(1023)));
        keys
    }

    #[test]
    fn hostile_keys_get_distinct_ids_and_derivative_keys_of_a_fixed_shape() {
        let names = crate::config::StorageNames {
            uploads_bucket: "uploads".into(),
            derivatives_bucket: "derivatives".into(),
            table_name: "images".into(),
            derivatives_prefix: "variants/".into(),
        };
        let mut seen = std::collections::HashSet::new();
        for key in hostile_keys() {
            let id = image_id("uploads", &key);
            assert!(
                id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{key:?} -> {id}"
            );
            assert!(seen.insert(id.clone()), "{key:?} collides");
            let prefix = names.variant_prefix(&id);
            assert_eq!(prefix, format!("variants/{id}/"));
            let variant = names.variant_key(&id, "thumb", crate::config::OutputFormat::Jpeg);
            assert_eq!(variant, format!("{prefix}thumb.jpg"), "{key:?}");
            assert!(
                !names.is_derivative("uploads", &key),
                "{key:?} is an upload"
            );
        }
    }

    #[test]
    fn times_are_stored_in_one_sortable_form() {
        assert_eq!(
            normalise_time("2026-11-26T05:53:02.032Z").as_deref(),
            Some("2026-11-26T05:53:02.032Z")
        );
        assert_eq!(
            normalise_time("2026-11-26T07:53:02+02:00").as_deref(),
            Some("2026-11-26T05:53:02.000Z")
        );
        assert_eq!(normalise_time("yesterday"), None);
        assert_eq!(utc_now().len(), "2026-11-26T05:53:02.032Z".len());
    }

    #[test]
    fn stored_image_round_trips_through_a_dynamodb_item() {
        let item = StoredImage {
            id: "abc".into(),
            source_bucket: "up".into(),
            source_key: "a b.jpg".into(),
            source_etag: Some("e".into()),
            source_version_id: None,
            sequencer: "0001".into(),
            event_time: None,
            updated_at: "2026-11-26T00:00:00Z".into(),
            processing_ms: Some(12),
            list_pk: LIST_PARTITION.into(),
            uploaded_at: "2026-11-26T00:00:00.000Z".into(),
            camera: None,
            taken_at: Some("2008-05-30T15:56:01".into()),
            bands: similar::PhashBands::of(Some("c3d2a1b0f0e1d2c3")),
            record: ImageRecord {
                status: Status::Processed,
                reason: None,
                reason_code: None,
                format: Some("jpeg".into()),
                mime_type: Some("image/jpeg".into()),
                width: Some(640),
                height: Some(480),
                orientation: Some(6),
                bytes: 1234,
                sha256: "ff".into(),
                thumbhash: Some("1QcSHQRnh493V4dIh4eXh1h4kJUI".into()),
                dominant_color: Some("#3a5f8c".into()),
                phash: Some("c3d2a1b0f0e1d2c3".into()),
                pipeline: Some("1-0a1b2c3d".into()),
                exif: Some(crate::metadata::ExifFields {
                    f_number: Some(2.8),
                    iso: Some(100),
                    ..Default::default()
                }),
                gps: Some(crate::metadata::Gps {
                    latitude: -33.5,
                    longitude: 151.25,
                    altitude_m: None,
                }),
                variants: vec![VariantRecord {
                    name: "thumb".into(),
                    key: "abc/thumb.jpg".into(),
                    format: "jpeg".into(),
                    width: 200,
                    height: 200,
                    bytes: 999,
                }],
            },
        };
        let attributes = dynamo::to_attributes(&item).expect("serialises");
        assert!(
            !attributes.contains_key("camera"),
            "an unknown index key is absent, not null"
        );
        let back = dynamo::from_attributes(attributes).expect("deserialises");
        assert_eq!(back, item);
    }
}
