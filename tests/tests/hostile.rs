//! Hostile uploads through the real local cloud: keys chosen to escape or collide, and an
//! object of more than 2 GB, which must be refused by its size without being read.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use imgpipe::metadata::Status;
use imgpipe_e2e::{fixture, unique, Cloud};

/// S3's longest key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

#[tokio::test]
async fn hostile_keys_become_distinct_items_whose_variants_stay_under_their_own_prefix() {
    let cloud = Cloud::from_env().await;
    let run = unique("hostile");
    let longest = format!("{run}/{}", "k".repeat(MAX_KEY_BYTES - run.len() - 1));
    assert_eq!(longest.len(), MAX_KEY_BYTES);
    let keys = [
        format!("{run}/../../escape.jpg"),
        format!("{run}/a/../b.jpg"),
        format!("{run}/a/b.jpg"),
        format!("{run}/./a/b.jpg"),
        format!("{run}//a/b.jpg"),
        // Control characters; not `\n` or `\r`, which moto's router cannot take (S3 can; the
        // unit tests in shared cover them).
        format!("{run}/tab\there\u{1}soh\u{1b}esc\u{7f}del.jpg"),
        // NFC `é`, then NFD `e` + combining acute: equal to a reader, different bytes.
        format!("{run}/caf\u{e9}.jpg"),
        format!("{run}/cafe\u{301}.jpg"),
        format!("{run}/photo.jpg"),
        format!("{run}/Photo.jpg"),
        format!("{run}/PHOTO.JPG"),
        longest,
    ];
    for key in &keys {
        cloud.upload(key, fixture("cameras/Canon_40D.jpg")).await;
    }

    let mut ids = HashSet::new();
    let mut variant_keys = HashSet::new();
    for key in &keys {
        let item = cloud
            .wait_for_item(key, |i| i.record.status == Status::Processed)
            .await;
        assert_eq!(&item.source_key, key, "the key is recorded byte for byte");
        assert!(ids.insert(item.id.clone()), "{key:?} shares an item");
        let prefix = cloud.names.variant_prefix(&item.id);
        assert_eq!(item.record.variants.len(), 3, "{key:?}");
        for variant in &item.record.variants {
            let rest = variant.key.strip_prefix(&prefix).unwrap_or_else(|| {
                panic!("{key:?}: {} is outside {prefix}", variant.key);
            });
            assert!(
                rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
                    && !rest.contains(".."),
                "{key:?}: {}",
                variant.key
            );
            assert!(variant_keys.insert(variant.key.clone()), "{}", variant.key);
        }
        let mut listed = cloud.derivative_keys(&prefix).await;
        listed.sort();
        let mut recorded: Vec<String> =
            item.record.variants.iter().map(|v| v.key.clone()).collect();
        recorded.sort();
        assert_eq!(
            listed, recorded,
            "{key:?}: exactly its variants, where recorded"
        );
    }
    assert_eq!(ids.len(), keys.len());
}

/// S3's smallest part but the last.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// 410 parts of 5 MiB: 2 149 580 800 bytes, over 2 GB.
const PARTS: i32 = 410;
/// Part copies in flight at once.
const COPIES_IN_FLIGHT: usize = 8;
/// How long moto may take to assemble the parts.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::test]
async fn an_upload_over_2_gb_is_rejected_by_its_length_without_being_read() {
    let cloud = Cloud::from_env().await;
    let run = unique("huge");
    // The 5 MiB source lives in a bucket of its own, so it triggers nothing.
    let scratch = "imgpipe-hostile-scratch";
    let created = cloud.s3.create_bucket().bucket(scratch).send().await;
    if let Err(e) = created {
        let owned = e
            .as_service_error()
            .is_some_and(|e| e.is_bucket_already_owned_by_you());
        assert!(owned, "CreateBucket {scratch}: {e:?}");
    }
    let source = format!("{run}/part");
    cloud
        .s3
        .put_object()
        .bucket(scratch)
        .key(&source)
        .body(ByteStream::from(vec![0u8; PART_BYTES]))
        .send()
        .await
        .expect("PutObject source");

    // Built server-side from copies of the source: the test never sends 2 GB.
    let key = format!("{run}/huge.jpg");
    let upload = cloud
        .s3
        .create_multipart_upload()
        .bucket(&cloud.uploads)
        .key(&key)
        .send()
        .await
        .expect("CreateMultipartUpload");
    let upload_id = upload.upload_id().expect("upload id").to_owned();
    let mut parts = Vec::new();
    let mut copies = tokio::task::JoinSet::new();
    for number in 1..=PARTS {
        if copies.len() >= COPIES_IN_FLIGHT {
            parts.push(next_part(&mut copies).await);
        }
        let request = cloud
            .s3
            .upload_part_copy()
            .bucket(&cloud.uploads)
            .key(&key)
            .upload_id(&upload_id)
            .part_number(number)
            .copy_source(format!("{scratch}/{source}"));
        copies.spawn(async move { (number, request.send().await) });
    }
    while !copies.is_empty() {
        parts.push(next_part(&mut copies).await);
    }
    parts.sort_by_key(|p| p.part_number());
    // moto assembles the 2 GB in memory and writes it out: far slower than S3, so this one call
    // gets a longer bound than the harness's 20 s.
    let patient = aws_sdk_s3::config::Builder::default().timeout_config(
        TimeoutConfig::builder()
            .operation_timeout(COMPLETE_TIMEOUT)
            .operation_attempt_timeout(COMPLETE_TIMEOUT)
            .build(),
    );
    cloud
        .s3
        .complete_multipart_upload()
        .bucket(&cloud.uploads)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .customize()
        .config_override(patient)
        .send()
        .await
        .expect("CompleteMultipartUpload");
    let size = PART_BYTES as u64 * PARTS as u64;
    let head = cloud
        .s3
        .head_object()
        .bucket(&cloud.uploads)
        .key(&key)
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(head.content_length(), Some(size as i64));

    let item = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Rejected)
        .await;
    assert_eq!(item.record.reason_code.as_deref(), Some("too_large"));
    // The exact size can only come from Content-Length: reading the body stops at the limit.
    assert_eq!(
        item.record.reason.as_deref(),
        Some(format!("file is {size} bytes, over the 52428800-byte limit").as_str())
    );
    assert_eq!(item.record.bytes, size);
    assert_eq!(item.record.sha256, "", "no hash: the body was never read");
    assert!(cloud
        .derivative_keys(&cloud.names.variant_prefix(&item.id))
        .await
        .is_empty());

    // Give the emulator its memory and disk back.
    for (bucket, key) in [(cloud.uploads.as_str(), key.as_str()), (scratch, &source)] {
        cloud
            .s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("DeleteObject");
    }
}

type PartResult = (
    i32,
    Result<
        aws_sdk_s3::operation::upload_part_copy::UploadPartCopyOutput,
        aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::upload_part_copy::UploadPartCopyError>,
    >,
);

/// The next finished part copy, as a part of the completed upload.
async fn next_part(copies: &mut tokio::task::JoinSet<PartResult>) -> CompletedPart {
    let (number, result) = copies
        .join_next()
        .await
        .expect("a copy in flight")
        .expect("copy task");
    let output = result.unwrap_or_else(|e| panic!("UploadPartCopy {number}: {e:?}"));
    let etag = output
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .expect("part ETag");
    CompletedPart::builder()
        .part_number(number)
        .e_tag(etag)
        .build()
}
