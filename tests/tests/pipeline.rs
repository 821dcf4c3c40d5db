//! The pipeline end to end: uploads to the emulator's S3, events through its SQS queue, the real
//! process-upload binary (under `cargo lambda watch`), records in its DynamoDB.

use std::time::{Duration, Instant};

use imgpipe::metadata::Status;
use imgpipe::store::image_id;
use imgpipe_e2e::{fixture, s3_event_body, unique, wait_until, Cloud};

fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).expect("variant decodes");
    (image.width(), image.height())
}

#[tokio::test]
async fn upload_makes_variants_of_the_configured_sizes_and_a_record_with_exif() {
    let cloud = Cloud::from_env().await;
    let key = format!("{}/DSCN0010.jpg", unique("basic"));
    cloud.upload(&key, fixture("photos/DSCN0010.jpg")).await;

    let item = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;
    let exif = item.record.exif.as_ref().expect("EXIF recorded");
    assert_eq!(exif.model.as_deref(), Some("COOLPIX P6000"));
    assert_eq!(exif.taken_at.as_deref(), Some("2008-10-22T16:28:39"));
    assert!(item.record.gps.is_some(), "GPS is recorded in the table");
    assert_eq!(item.camera.as_deref(), Some("NIKON COOLPIX P6000"));

    let expected = [
        ("thumb", (200, 200)),
        ("medium", (640, 480)),
        ("large", (640, 480)),
    ];
    assert_eq!(item.record.variants.len(), expected.len());
    for (variant, (name, size)) in item.record.variants.iter().zip(expected) {
        assert_eq!(variant.name, name);
        let bytes = cloud.derivative(&variant.key).await;
        assert_eq!(dimensions(&bytes), size, "{name}");
        assert_eq!(bytes.len() as u64, variant.bytes);
        assert!(
            !bytes.windows(6).any(|w| w == b"Exif\0\0"),
            "{name} carries no EXIF"
        );
    }
}

#[tokio::test]
async fn keys_with_spaces_plus_unicode_and_nested_prefixes_work() {
    let cloud = Cloud::from_env().await;
    let run = unique("keys");
    let keys = [
        format!("{run}/trip 2026/day one/my photo.jpg"),
        format!("{run}/a+b/c+d=e&f.jpg"),
        format!("{run}/ünïcödé/фото 日本.jpg"),
        format!("{run}/percent%20literal.jpg"),
    ];
    for key in &keys {
        cloud.upload(key, fixture("cameras/Canon_40D.jpg")).await;
    }
    for key in &keys {
        let item = cloud
            .wait_for_item(key, |i| i.record.status == Status::Processed)
            .await;
        assert_eq!(&item.source_key, key);
        assert_eq!(
            cloud
                .derivative_keys(&cloud.names.variant_prefix(&item.id))
                .await
                .len(),
            3,
            "{key}"
        );
    }
}

#[tokio::test]
async fn the_same_event_delivered_twice_leaves_one_item_and_the_same_objects() {
    let cloud = Cloud::from_env().await;
    let key = format!("{}/twice.jpg", unique("repeat"));
    cloud.upload(&key, fixture("photos/Landscape_6.jpg")).await;
    let first = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;
    cloud.wait_for_drained_queue().await;
    let objects_before = variant_bytes(&cloud, &first.id).await;

    // Deliver the very event again, as SQS may: same key, same event time (same sequencer).
    let encoded = key.replace(' ', "+").replace('/', "%2F");
    let body = s3_event_body(
        "ObjectCreated:Put",
        &cloud.uploads,
        &encoded,
        first.event_time.as_deref().unwrap_or_default(),
    );
    for _ in 0..2 {
        cloud.send_event(body.clone()).await;
    }
    let again = cloud
        .wait_for_item(&key, |i| i.updated_at > first.updated_at)
        .await;
    cloud.wait_for_drained_queue().await;

    assert_eq!(again.id, first.id);
    assert_eq!(again.record, first.record, "the same record");
    assert_eq!(
        variant_bytes(&cloud, &first.id).await,
        objects_before,
        "the same objects"
    );
    let listed = list_ids_for_key(&cloud, &key).await;
    assert_eq!(listed, vec![first.id.clone()], "one item for the key");
}

async fn variant_bytes(cloud: &Cloud, id: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for key in cloud.derivative_keys(&cloud.names.variant_prefix(id)).await {
        let bytes = cloud.derivative(&key).await;
        out.push((key, bytes));
    }
    out
}

/// Ids of the items recorded for a source key, through the listing index.
async fn list_ids_for_key(cloud: &Cloud, key: &str) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    let response = cloud
        .dynamodb
        .query()
        .table_name(&cloud.table)
        .index_name("by_upload")
        .key_condition_expression("list_pk = :p")
        .filter_expression("source_key = :k")
        .expression_attribute_values(":p", V::S(imgpipe::store::LIST_PARTITION.into()))
        .expression_attribute_values(":k", V::S(key.into()))
        .send()
        .await
        .expect("Query by_upload");
    response
        .items()
        .iter()
        .filter_map(|i| i.get("id").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}

#[tokio::test]
async fn deleting_the_upload_removes_its_variants_and_marks_its_item() {
    let cloud = Cloud::from_env().await;
    let key = format!("{}/gone.jpg", unique("delete"));
    cloud.upload(&key, fixture("cameras/Nikon_D70.jpg")).await;
    let item = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;
    assert_eq!(
        cloud
            .derivative_keys(&cloud.names.variant_prefix(&item.id))
            .await
            .len(),
        3
    );

    cloud.delete_upload(&key).await;
    let deleted = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Deleted)
        .await;
    assert!(deleted.record.variants.is_empty());
    assert!(cloud
        .derivative_keys(&cloud.names.variant_prefix(&item.id))
        .await
        .is_empty());
}

#[tokio::test]
async fn bad_uploads_are_rejected_once_and_do_not_stop_the_good_one_beside_them() {
    let cloud = Cloud::from_env().await;
    let run = unique("bad");
    let corrupt = format!("{run}/corrupted.jpg");
    let text = format!("{run}/not-a-photo.jpg");
    let good = format!("{run}/good.jpg");
    // Uploaded back to back, so that the bridge hands them to the function in one batch.
    cloud
        .upload(&corrupt, fixture("invalid/corrupted.jpg"))
        .await;
    cloud.upload(&text, fixture("invalid/text-as.jpg")).await;
    cloud
        .upload(&good, fixture("cameras/Pentax_K10D.jpg"))
        .await;

    let corrupt_item = cloud
        .wait_for_item(&corrupt, |i| i.record.status == Status::Rejected)
        .await;
    assert_eq!(corrupt_item.record.reason_code.as_deref(), Some("corrupt"));
    let text_item = cloud
        .wait_for_item(&text, |i| i.record.status == Status::Rejected)
        .await;
    assert_eq!(
        text_item.record.reason.as_deref(),
        Some("unsupported format: text")
    );
    cloud
        .wait_for_item(&good, |i| i.record.status == Status::Processed)
        .await;

    // A retried message would stay in flight and, after three tries, land in the DLQ.
    cloud.wait_for_drained_queue().await;
    let dlq = cloud.dlq_bodies().await;
    assert!(
        !dlq.iter().any(|b| b.contains(&run)),
        "nothing of this run in the DLQ: {dlq:?}"
    );
    let after = cloud.item(&corrupt).await.expect("still recorded");
    assert_eq!(
        after.updated_at, corrupt_item.updated_at,
        "handled once, not retried"
    );
}

#[tokio::test]
async fn an_object_written_to_the_derivatives_bucket_triggers_nothing() {
    let cloud = Cloud::from_env().await;
    let run = unique("derivative");
    let stray = format!("{run}/stray.jpg");
    cloud
        .s3
        .put_object()
        .bucket(&cloud.derivatives)
        .key(&stray)
        .body(fixture("cameras/Canon_40D.jpg").into())
        .send()
        .await
        .expect("PutObject derivatives");
    // Even an event that claims to come from the derivatives bucket (a misconfigured
    // notification) is ignored by the function.
    let forged = s3_event_body(
        "ObjectCreated:Put",
        &cloud.derivatives,
        &stray,
        "2026-11-26T00:00:00.000Z",
    );
    cloud.send_event(forged).await;
    // A marker upload behind them: once it is processed and the queue is empty, both are handled.
    let marker = format!("{run}/marker.jpg");
    cloud
        .upload(&marker, fixture("cameras/Canon_40D.jpg"))
        .await;
    cloud
        .wait_for_item(&marker, |i| i.record.status == Status::Processed)
        .await;
    cloud.wait_for_drained_queue().await;

    let stray_id = image_id(&cloud.derivatives, &stray);
    assert!(
        cloud.item_by_id(&stray_id).await.is_none(),
        "no record for an object in the derivatives bucket"
    );
    assert!(cloud
        .derivative_keys(&cloud.names.variant_prefix(&stray_id))
        .await
        .is_empty());
}

#[tokio::test]
async fn the_suite_fails_fast_and_clearly_when_the_emulator_is_unreachable() {
    // A port nothing listens on: the reachability check must say so, quickly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let started = Instant::now();
    let cloud = Cloud::at(&endpoint).await;
    let err = cloud
        .check_reachable(&endpoint)
        .await
        .expect_err("nothing listens there");
    assert!(
        err.0.contains("not reachable") || err.0.contains("did not answer"),
        "{}",
        err.0
    );
    assert!(err.0.contains("make up"), "says what to do: {}", err.0);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn waits_are_bounded() {
    let started = Instant::now();
    let waited = tokio::spawn(async {
        wait_until(
            "something that never happens",
            Duration::from_millis(300),
            || async { None::<()> },
        )
        .await
    })
    .await;
    assert!(waited.is_err(), "the wait gives up with a panic");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_older_event_arriving_late_does_not_overwrite_the_newer_record() {
    let cloud = Cloud::from_env().await;
    let key = format!("{}/late.jpg", unique("order"));
    cloud.upload(&key, fixture("cameras/Canon_40D.jpg")).await;
    let current = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;
    cloud.wait_for_drained_queue().await;

    // The same object's event from a day earlier: DynamoDB's condition must refuse it.
    let encoded = key.replace('/', "%2F");
    let stale = s3_event_body(
        "ObjectCreated:Put",
        &cloud.uploads,
        &encoded,
        "2020-01-01T00:00:00.000Z",
    );
    cloud.send_event(stale).await;
    cloud.wait_for_drained_queue().await;
    let after = cloud.item(&key).await.expect("still recorded");
    assert_eq!(
        after.updated_at, current.updated_at,
        "the stale event wrote nothing"
    );
    assert_eq!(after.sequencer, current.sequencer);
    assert!(
        cloud.dlq_bodies().await.iter().all(|b| !b.contains(&key)),
        "and it was not an error"
    );
    assert_eq!(
        cloud
            .derivative_keys(&cloud.names.variant_prefix(&current.id))
            .await
            .len(),
        3,
        "the variants are still there"
    );
}
