//! Originals and variants in S3.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;

use super::{Fetched, ObjectStore, StoreError, StoredObject};

#[derive(Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        S3Objects { client }
    }
}

fn s3_error(operation: &'static str, bucket: &str, key: &str, detail: String) -> StoreError {
    StoreError::S3 {
        operation,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        detail,
    }
}

impl ObjectStore for S3Objects {
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Fetched, StoreError> {
        let response = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => {
                let not_found = err.as_service_error().is_some_and(|e| e.is_no_such_key())
                    || err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404);
                if not_found {
                    return Ok(Fetched::NotFound);
                }
                let detail = DisplayErrorContext(&err).to_string();
                return Err(s3_error("GetObject", bucket, key, detail));
            }
        };
        let declared = response
            .content_length()
            .and_then(|n| u64::try_from(n).ok());
        if let Some(size) = declared.filter(|size| *size > max_bytes) {
            // Dropping the body closes the connection: a 2 GB upload is never read.
            return Ok(Fetched::TooLarge { size });
        }
        let etag = response.e_tag().map(|t| t.trim_matches('"').to_owned());
        let version_id = response.version_id().map(str::to_owned);
        let mut body = response.body;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| s3_error("GetObject body", bucket, key, e.to_string()))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Ok(Fetched::TooLarge {
                    size: bytes.len() as u64,
                });
            }
        }
        Ok(Fetched::Found(StoredObject {
            bytes,
            etag,
            version_id,
        }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    "PutObject",
                    bucket,
                    key,
                    DisplayErrorContext(&e).to_string(),
                )
            })?;
        Ok(())
    }

    async fn delete_prefix_except(
        &self,
        bucket: &str,
        prefix: &str,
        keep: &[String],
    ) -> Result<usize, StoreError> {
        let mut deleted = 0;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                s3_error(
                    "ListObjectsV2",
                    bucket,
                    prefix,
                    DisplayErrorContext(&e).to_string(),
                )
            })?;
            let objects = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|key| !keep.iter().any(|k| k == key))
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| s3_error("DeleteObjects", bucket, prefix, e.to_string()))?;
            if objects.is_empty() {
                continue;
            }
            let count = objects.len();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| s3_error("DeleteObjects", bucket, prefix, e.to_string()))?;
            let response = self
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| {
                    s3_error(
                        "DeleteObjects",
                        bucket,
                        prefix,
                        DisplayErrorContext(&e).to_string(),
                    )
                })?;
            if let Some(failure) = response.errors().first() {
                let detail = format!(
                    "{} of {count} not deleted; first: {} {}",
                    response.errors().len(),
                    failure.key().unwrap_or("?"),
                    failure
                        .message()
                        .or(failure.code())
                        .unwrap_or("unknown error"),
                );
                return Err(s3_error("DeleteObjects", bucket, prefix, detail));
            }
            deleted += count;
        }
        Ok(deleted)
    }
}
