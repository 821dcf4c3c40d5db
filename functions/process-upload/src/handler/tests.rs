//! Batch semantics of the handler, on real photos. The stores here are in-memory stand-ins
//! with the same conditional-write rule as DynamoDB; the AWS adapters themselves are exercised
//! against the emulator by the end-to-end suite.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use imgpipe::config::{PipelineConfig, StorageNames};
use imgpipe::metadata::Status;
use imgpipe::store::{
    image_id, Deletion, Fetched, ImageTable, ObjectStore, PutOutcome, StoreError, StoredImage,
    StoredObject, WriteOutcome,
};
use serde_json::{json, Value};

use super::Handler;

const UPLOADS: &str = "uploads";
const DERIVATIVES: &str = "derivatives";

#[derive(Default)]
struct MemoryObjects {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    /// Puts of keys starting with this fail, as a throttled S3 would.
    failing_prefix: Mutex<Option<String>>,
    gets: Mutex<usize>,
}

impl MemoryObjects {
    fn insert(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), bytes);
    }
    fn remove(&self, bucket: &str, key: &str) {
        self.objects
            .lock()
            .unwrap()
            .remove(&(bucket.to_owned(), key.to_owned()));
    }
    fn keys(&self, bucket: &str) -> Vec<String> {
        let objects = self.objects.lock().unwrap();
        objects
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }
    fn snapshot(&self, bucket: &str) -> BTreeMap<String, Vec<u8>> {
        let objects = self.objects.lock().unwrap();
        objects
            .iter()
            .filter(|((b, _), _)| b == bucket)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl ObjectStore for MemoryObjects {
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Fetched, StoreError> {
        *self.gets.lock().unwrap() += 1;
        let objects = self.objects.lock().unwrap();
        Ok(match objects.get(&(bucket.to_owned(), key.to_owned())) {
            None => Fetched::NotFound,
            Some(bytes) if bytes.len() as u64 > max_bytes => Fetched::TooLarge {
                size: bytes.len() as u64,
            },
            Some(bytes) => Fetched::Found(StoredObject {
                bytes: bytes.clone(),
                etag: Some("etag".into()),
                version_id: None,
            }),
        })
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, _: &str) -> Result<(), StoreError> {
        if let Some(prefix) = self.failing_prefix.lock().unwrap().as_deref() {
            if key.starts_with(prefix) {
                return Err(StoreError::S3 {
                    operation: "PutObject",
                    bucket: bucket.into(),
                    key: key.into(),
                    detail: "SlowDown".into(),
                });
            }
        }
        self.insert(bucket, key, body);
        Ok(())
    }

    async fn delete_prefix_except(
        &self,
        bucket: &str,
        prefix: &str,
        keep: &[String],
    ) -> Result<usize, StoreError> {
        let mut objects = self.objects.lock().unwrap();
        let before = objects.len();
        objects.retain(|(b, k), _| !(b == bucket && k.starts_with(prefix) && !keep.contains(k)));
        Ok(before - objects.len())
    }
}

#[derive(Default)]
struct MemoryTable {
    items: Mutex<HashMap<String, StoredImage>>,
}

impl MemoryTable {
    fn newer_or_same(&self, id: &str, sequencer: &str) -> bool {
        self.items
            .lock()
            .unwrap()
            .get(id)
            .is_none_or(|i| i.sequencer.as_str() <= sequencer)
    }
}

impl ImageTable for MemoryTable {
    async fn put_if_newer(&self, item: &StoredImage) -> Result<PutOutcome, StoreError> {
        if !self.newer_or_same(&item.id, &item.sequencer) {
            return Ok(PutOutcome::Stale);
        }
        let old = self
            .items
            .lock()
            .unwrap()
            .insert(item.id.clone(), item.clone());
        Ok(PutOutcome::Written {
            replaced: old.map(|o| o.record.status),
        })
    }

    async fn mark_deleted(&self, d: &Deletion) -> Result<WriteOutcome, StoreError> {
        if !self.newer_or_same(&d.source.id, &d.sequencer) {
            return Ok(WriteOutcome::Stale);
        }
        let mut items = self.items.lock().unwrap();
        let item = items.entry(d.source.id.clone()).or_insert_with(|| {
            let record = serde_json::from_value(json!({"status": "deleted"})).unwrap();
            StoredImage::new(d.source.clone(), d.sequencer.clone(), None, record)
        });
        item.record.status = Status::Deleted;
        item.record.variants.clear();
        item.sequencer = d.sequencer.clone();
        Ok(WriteOutcome::Written)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredImage>, StoreError> {
        Ok(self.items.lock().unwrap().get(id).cloned())
    }
}

fn names() -> StorageNames {
    StorageNames {
        uploads_bucket: UPLOADS.into(),
        derivatives_bucket: DERIVATIVES.into(),
        table_name: "images".into(),
        derivatives_prefix: String::new(),
    }
}

fn handler() -> Handler<MemoryObjects, MemoryTable> {
    let names = names();
    Handler::new(
        MemoryObjects::default(),
        MemoryTable::default(),
        names,
        PipelineConfig::default(),
    )
}

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// An AWS-shaped S3 notification body for one object.
fn s3_body(event: &str, bucket: &str, encoded_key: &str, sequencer: &str) -> String {
    json!({"Records": [{
        "eventName": event, "eventTime": "2026-11-26T05:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": {"key": encoded_key, "sequencer": sequencer}}
    }]})
    .to_string()
}

fn sqs(bodies: &[(&str, String)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| json!({"messageId": id, "body": body, "eventSource": "aws:sqs"}))
        .collect();
    json!({ "Records": records })
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures array")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn item(h: &Handler<MemoryObjects, MemoryTable>, key: &str) -> StoredImage {
    h.table
        .items
        .lock()
        .unwrap()
        .get(&image_id(UPLOADS, key))
        .cloned()
        .expect("item exists")
}

#[tokio::test]
async fn bad_records_are_rejected_without_failing_the_good_one_in_the_batch() {
    let h = handler();
    h.objects.insert(
        UPLOADS,
        "trip/good photo.jpg",
        fixture("photos/DSCN0010.jpg"),
    );
    h.objects
        .insert(UPLOADS, "trip/broken.jpg", fixture("invalid/corrupted.jpg"));
    h.objects
        .insert(UPLOADS, "notes.txt", fixture("invalid/notes.txt"));
    let response = h
        .handle(sqs(&[
            (
                "m-corrupt",
                s3_body("ObjectCreated:Put", UPLOADS, "trip/broken.jpg", "01"),
            ),
            (
                "m-good",
                s3_body("ObjectCreated:Put", UPLOADS, "trip/good+photo.jpg", "01"),
            ),
            (
                "m-text",
                s3_body("ObjectCreated:Put", UPLOADS, "notes.txt", "01"),
            ),
            ("m-garbage", "{not json".to_owned()),
            ("m-test", fixture_text("events/s3-test-event.json")),
        ]))
        .await
        .expect("handled");
    assert_eq!(
        failures(&response),
        Vec::<String>::new(),
        "nothing is retried"
    );

    let good = item(&h, "trip/good photo.jpg");
    assert_eq!(good.record.status, Status::Processed);
    assert_eq!(good.record.variants.len(), 3);
    assert_eq!(
        good.record.exif.as_ref().and_then(|e| e.model.as_deref()),
        Some("COOLPIX P6000")
    );
    assert_eq!(h.objects.keys(DERIVATIVES).len(), 3);

    let broken = item(&h, "trip/broken.jpg");
    assert_eq!(broken.record.status, Status::Rejected);
    assert_eq!(broken.record.reason_code.as_deref(), Some("corrupt"));
    let text = item(&h, "notes.txt");
    assert_eq!(
        text.record.reason.as_deref(),
        Some("unsupported format: text")
    );
    // Every record says what made it, rejections included (a reprocess finds both).
    let made_by = PipelineConfig::default().pipeline_id();
    for record in [&good, &broken, &text] {
        assert_eq!(record.record.pipeline.as_deref(), Some(made_by.as_str()));
    }
}

fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture(path)).expect("UTF-8 fixture")
}

#[tokio::test]
async fn a_storage_failure_returns_only_its_own_message() {
    let h = handler();
    h.objects
        .insert(UPLOADS, "a.jpg", fixture("photos/Canon_40D.jpg"));
    h.objects
        .insert(UPLOADS, "b.jpg", fixture("photos/DSCN0010.jpg"));
    *h.objects.failing_prefix.lock().unwrap() = Some(image_id(UPLOADS, "b.jpg"));
    let response = h
        .handle(sqs(&[
            ("m-a", s3_body("ObjectCreated:Put", UPLOADS, "a.jpg", "01")),
            ("m-b", s3_body("ObjectCreated:Put", UPLOADS, "b.jpg", "01")),
        ]))
        .await
        .expect("handled");
    assert_eq!(failures(&response), ["m-b"]);
    assert_eq!(item(&h, "a.jpg").record.status, Status::Processed);
    assert!(h
        .table
        .items
        .lock()
        .unwrap()
        .get(&image_id(UPLOADS, "b.jpg"))
        .is_none());
}

#[tokio::test]
async fn the_same_event_twice_leaves_one_item_and_the_same_objects() {
    let h = handler();
    h.objects
        .insert(UPLOADS, "x.jpg", fixture("photos/Landscape_6.jpg"));
    let event = sqs(&[("m", s3_body("ObjectCreated:Put", UPLOADS, "x.jpg", "0A"))]);
    h.handle(event.clone()).await.expect("first");
    let first = h.objects.snapshot(DERIVATIVES);
    h.handle(event).await.expect("second");
    assert_eq!(h.objects.snapshot(DERIVATIVES), first);
    assert_eq!(h.table.items.lock().unwrap().len(), 1);
    let record = item(&h, "x.jpg").record;
    assert_eq!(
        (record.width, record.height),
        (Some(1800), Some(1200)),
        "stored 1200x1800, upright landscape"
    );
    assert_eq!(record.orientation, Some(6));
}

#[tokio::test]
async fn delete_removes_variants_and_marks_the_item() {
    let h = handler();
    h.objects
        .insert(UPLOADS, "d.jpg", fixture("photos/Canon_40D.jpg"));
    h.handle(sqs(&[(
        "m1",
        s3_body("ObjectCreated:Put", UPLOADS, "d.jpg", "10"),
    )]))
    .await
    .expect("create");
    assert_eq!(h.objects.keys(DERIVATIVES).len(), 3);
    h.objects.remove(UPLOADS, "d.jpg");
    h.handle(sqs(&[(
        "m2",
        s3_body("ObjectRemoved:Delete", UPLOADS, "d.jpg", "20"),
    )]))
    .await
    .expect("delete");
    assert!(h.objects.keys(DERIVATIVES).is_empty());
    let record = item(&h, "d.jpg").record;
    assert_eq!(record.status, Status::Deleted);
    assert!(record.variants.is_empty());
}

#[tokio::test]
async fn an_old_create_arriving_after_the_delete_changes_nothing() {
    let h = handler();
    // The object still exists when the late create is handled (a worst case): the stale write
    // is refused and the variants it wrote are cleaned up.
    h.objects
        .insert(UPLOADS, "late.jpg", fixture("photos/Canon_40D.jpg"));
    h.handle(sqs(&[(
        "m2",
        s3_body("ObjectRemoved:Delete", UPLOADS, "late.jpg", "20"),
    )]))
    .await
    .expect("delete");
    h.handle(sqs(&[(
        "m1",
        s3_body("ObjectCreated:Put", UPLOADS, "late.jpg", "10"),
    )]))
    .await
    .expect("create");
    assert_eq!(item(&h, "late.jpg").record.status, Status::Deleted);
    assert!(h.objects.keys(DERIVATIVES).is_empty());
}

#[tokio::test]
async fn events_from_the_derivatives_bucket_trigger_nothing() {
    let h = handler();
    h.objects
        .insert(DERIVATIVES, "thumb.jpg", fixture("photos/Canon_40D.jpg"));
    h.handle(sqs(&[(
        "m",
        s3_body("ObjectCreated:Put", DERIVATIVES, "thumb.jpg", "01"),
    )]))
    .await
    .expect("handled");
    assert!(h.table.items.lock().unwrap().is_empty());
    assert_eq!(*h.objects.gets.lock().unwrap(), 0, "not even read");
}

#[tokio::test]
async fn an_oversized_upload_is_rejected_by_size() {
    let names = names();
    let mut pipeline = PipelineConfig::default();
    pipeline.limits.max_bytes = 1024;
    let h = Handler::new(
        MemoryObjects::default(),
        MemoryTable::default(),
        names,
        pipeline,
    );
    h.objects
        .insert(UPLOADS, "big.jpg", fixture("photos/DSCN0010.jpg"));
    h.handle(sqs(&[(
        "m",
        s3_body("ObjectCreated:Put", UPLOADS, "big.jpg", "01"),
    )]))
    .await
    .expect("handled");
    let record = item(&h, "big.jpg").record;
    assert_eq!(record.status, Status::Rejected);
    assert_eq!(record.reason_code.as_deref(), Some("too_large"));
}

#[tokio::test]
async fn a_direct_s3_event_fails_the_invocation_on_a_storage_error() {
    let h = handler();
    h.objects
        .insert(UPLOADS, "c.jpg", fixture("photos/Canon_40D.jpg"));
    *h.objects.failing_prefix.lock().unwrap() = Some(String::new());
    let payload: Value =
        serde_json::from_str(&s3_body("ObjectCreated:Put", UPLOADS, "c.jpg", "01")).unwrap();
    let err = h
        .handle(payload)
        .await
        .expect_err("S3 retries the invocation");
    assert!(err.to_string().contains("1 of 1"), "{err}");
}

#[tokio::test]
async fn a_reprocess_under_new_specs_replaces_the_variants_and_removes_renamed_ones() {
    let h = handler();
    h.objects
        .insert(UPLOADS, "r.jpg", fixture("photos/Landscape_6.jpg"));
    // The original upload's event; a reprocess resends it, same sequencer and all.
    let event = sqs(&[("m", s3_body("ObjectCreated:Put", UPLOADS, "r.jpg", "0A"))]);
    h.handle(event.clone()).await.expect("first");
    let id = image_id(UPLOADS, "r.jpg");
    assert_eq!(
        h.objects.keys(DERIVATIVES),
        [
            format!("{id}/large.jpg"),
            format!("{id}/medium.jpg"),
            format!("{id}/thumb.jpg")
        ]
    );

    // The same stores under a new configuration: `medium` renamed `mid`, `thumb` smaller.
    let Handler {
        objects,
        table,
        names,
        ..
    } = h;
    let specs =
        "thumb:120x120:cover:jpeg:80,mid:800x800:inside:jpeg:82,large:1600x1600:inside:jpeg:82";
    let pipeline = PipelineConfig {
        variants: imgpipe::config::parse_variants(specs).expect("valid specs"),
        ..PipelineConfig::default()
    };
    let new_id = pipeline.pipeline_id();
    let h = Handler::new(objects, table, names, pipeline);
    let outcome = h
        .handle_record(
            &imgpipe::event::parse_s3_body(&s3_body("ObjectCreated:Put", UPLOADS, "r.jpg", "0A"))
                .expect("parses")[0],
        )
        .await
        .expect("reprocessed");
    assert_eq!(
        outcome,
        super::Outcome::Processed {
            variants: 3,
            superseded_removed: 1
        }
    );
    assert_eq!(
        h.objects.keys(DERIVATIVES),
        [
            format!("{id}/large.jpg"),
            format!("{id}/mid.jpg"),
            format!("{id}/thumb.jpg")
        ],
        "medium.jpg is gone"
    );
    let record = item(&h, "r.jpg").record;
    assert_eq!(record.pipeline.as_deref(), Some(new_id.as_str()));
    let thumb = record
        .variants
        .iter()
        .find(|v| v.name == "thumb")
        .expect("thumb");
    assert_eq!((thumb.width, thumb.height), (120, 120));

    // Handled again (a redelivery), nothing more goes and nothing comes back.
    h.handle(event).await.expect("again");
    assert_eq!(h.objects.keys(DERIVATIVES).len(), 3);
}
