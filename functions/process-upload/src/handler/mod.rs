//! The process-upload handler: per record, fetch → process → write variants → conditional
//! record write; on removal, mark the record and delete the variants. Bad input is recorded as
//! rejected and acknowledged; only storage failures are retried, and only for their message.

use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use futures_util::future::try_join_all;
use imgpipe::config::{PipelineConfig, StorageNames};
use imgpipe::event::{parse_invocation, Invocation, ObjectEvent, S3Record};
use imgpipe::image::{process, Rejection};
use imgpipe::metadata::{ImageRecord, Status, VariantRecord};
use imgpipe::metrics;
use imgpipe::store::{
    image_id, Deletion, Fetched, ImageTable, ObjectStore, PutOutcome, Source, StoreError,
    StoredImage, StoredObject, WriteOutcome,
};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("unrecognised invocation payload: {0}")]
    Payload(#[from] imgpipe::event::EventError),
    /// Only for direct S3 invocations, which have no per-message failure report: failing the
    /// invocation makes Lambda retry it.
    #[error("{failed} of {total} S3 records failed; first: {first}")]
    Records {
        failed: usize,
        total: usize,
        first: StoreError,
    },
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Processed {
        variants: usize,
        /// Objects of the record this one replaced that it does not name (variants of a
        /// configuration since changed), now deleted.
        superseded_removed: usize,
    },
    Rejected {
        reason: String,
    },
    Deleted {
        variants_removed: usize,
    },
    /// A newer event for the same object was already recorded.
    Stale,
    /// Nothing to do, and why.
    Skipped(&'static str),
}

impl Outcome {
    /// One word for the log line.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Processed { .. } => "processed",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Deleted { .. } => "deleted",
            Outcome::Stale => "stale",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

pub struct Handler<O, T> {
    objects: O,
    table: T,
    names: StorageNames,
    pipeline: PipelineConfig,
    /// `PipelineConfig::pipeline_id`, written into every record.
    pipeline_id: String,
    /// The metrics' `FunctionName` dimension (Lambda's `AWS_LAMBDA_FUNCTION_NAME`).
    function_name: String,
}

impl<O: ObjectStore, T: ImageTable> Handler<O, T> {
    pub fn new(objects: O, table: T, names: StorageNames, pipeline: PipelineConfig) -> Self {
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|_| "process-upload".to_owned());
        Handler {
            objects,
            table,
            names,
            pipeline_id: pipeline.pipeline_id(),
            pipeline,
            function_name,
        }
    }

    /// Handles one invocation: an SQS batch (answered with `batchItemFailures`) or a direct
    /// S3 event (failed as a whole if any record hit a storage error).
    pub async fn handle(&self, payload: Value) -> Result<Value, HandlerError> {
        match parse_invocation(payload)? {
            Invocation::Sqs(messages) => {
                let mut response = SqsBatchResponse::default();
                for message in messages {
                    let records = match message.records {
                        Ok(records) => records,
                        Err(e) => {
                            // Redelivery cannot fix a malformed body: drop it, loudly.
                            tracing::error!(message_id = %message.message_id, error = %e, "dropping unparseable message");
                            continue;
                        }
                    };
                    for record in &records {
                        if self.handle_record(record).await.is_err() {
                            let mut failure = BatchItemFailure::default();
                            failure.item_identifier = message.message_id.clone();
                            response.batch_item_failures.push(failure);
                            // The whole message comes back; its other records are idempotent.
                            break;
                        }
                    }
                }
                Ok(serde_json::to_value(response).unwrap_or(Value::Null))
            }
            Invocation::S3(records) => {
                let total = records.len();
                let mut errors = Vec::new();
                for record in &records {
                    if let Err(e) = self.handle_record(record).await {
                        errors.push(e);
                    }
                }
                let failed = errors.len();
                match errors.into_iter().next() {
                    None => Ok(Value::Object(Default::default())),
                    Some(first) => Err(HandlerError::Records {
                        failed,
                        total,
                        first,
                    }),
                }
            }
        }
    }

    /// Handles one S3 record and logs one line about it.
    pub async fn handle_record(&self, record: &S3Record) -> Result<Outcome, StoreError> {
        let started = Instant::now();
        let result = match record.event {
            _ if self.names.is_derivative(&record.bucket, &record.key) => {
                // Our own output must never feed back into us.
                Ok(Outcome::Skipped("a derivative, not an upload"))
            }
            ObjectEvent::Created => self.created(record, started).await,
            ObjectEvent::Removed => self.removed(record).await,
        };
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(outcome) => tracing::info!(
                bucket = %record.bucket, key = %record.key, event = %record.event_name,
                status = outcome.status(), bytes = record.size, detail = ?outcome, ms,
                "record handled"
            ),
            Err(e) => tracing::warn!(
                bucket = %record.bucket, key = %record.key, event = %record.event_name,
                error = %e, ms, "record failed; will be retried"
            ),
        }
        result
    }

    async fn created(&self, record: &S3Record, started: Instant) -> Result<Outcome, StoreError> {
        let id = image_id(&record.bucket, &record.key);
        let limits = self.pipeline.limits;
        let object = match self
            .objects
            .get(&record.bucket, &record.key, limits.max_bytes)
            .await?
        {
            Fetched::Found(object) => object,
            Fetched::NotFound => return Ok(Outcome::Skipped("object no longer exists")),
            Fetched::TooLarge { size } => {
                let rejection = Rejection::TooLarge {
                    bytes: size,
                    limit: limits.max_bytes,
                };
                let item = self.item(
                    record,
                    &id,
                    None,
                    ImageRecord::rejected(&[], size, &rejection).made_by(&self.pipeline_id),
                    started,
                );
                return self.write_rejection(item, rejection, started).await;
            }
        };
        // CPU-bound, but run inline: an instance handles one invocation at a time, so there is
        // nothing else for this thread to do meanwhile.
        let mut image = match process(&object.bytes, &self.pipeline) {
            Ok(image) => image,
            Err(rejection) => {
                let size = object.bytes.len() as u64;
                let image = ImageRecord::rejected(&object.bytes, size, &rejection)
                    .made_by(&self.pipeline_id);
                let item = self.item(record, &id, Some(&object), image, started);
                return self.write_rejection(item, rejection, started).await;
            }
        };
        // The variants go up concurrently: S3 latency, not bandwidth, dominates small objects.
        let uploads = std::mem::take(&mut image.variants)
            .into_iter()
            .map(|variant| {
                let record = VariantRecord {
                    key: self.names.variant_key(&id, &variant.name, variant.format),
                    name: variant.name,
                    format: variant.format.name().to_owned(),
                    width: variant.width,
                    height: variant.height,
                    bytes: variant.data.len() as u64,
                };
                async move {
                    let bucket = &self.names.derivatives_bucket;
                    self.objects
                        .put(
                            bucket,
                            &record.key,
                            variant.data,
                            variant.format.mime_type(),
                        )
                        .await?;
                    Ok::<_, StoreError>(record)
                }
            });
        let variants = try_join_all(uploads).await?;
        let count = variants.len();
        let bytes_written = variants.iter().map(|v| v.bytes).sum();
        let keys: Vec<String> = variants.iter().map(|v| v.key.clone()).collect();
        let item = self.item(
            record,
            &id,
            Some(&object),
            ImageRecord::processed(&object.bytes, &image, variants).made_by(&self.pipeline_id),
            started,
        );
        match self.table.put_if_newer(&item).await? {
            PutOutcome::Written { replaced } => {
                // The record replaced may name variants this configuration no longer makes (a
                // variant renamed, a format changed): they go, or they would be stored forever
                // and linked from nowhere. By listing, not by the old record's list, so that a
                // retry after a failed delete still finds them.
                let superseded_removed = if replaced == Some(Status::Processed) {
                    self.objects
                        .delete_prefix_except(
                            &self.names.derivatives_bucket,
                            &self.names.variant_prefix(&id),
                            &keys,
                        )
                        .await?
                } else {
                    0
                };
                let metrics = metrics::ProcessedMetrics {
                    processing_ms: started.elapsed().as_secs_f64() * 1000.0,
                    timings: image.timings,
                    megapixels: f64::from(image.width) * f64::from(image.height) / 1e6,
                    bytes_written,
                };
                emit(metrics::processed_line(
                    &self.function_name,
                    now_ms(),
                    &metrics,
                ));
                Ok(Outcome::Processed {
                    variants: count,
                    superseded_removed,
                })
            }
            PutOutcome::Stale => {
                // A newer event won. If it was a delete that ran while we worked, the variants
                // we just wrote are orphans: remove them.
                if let Some(current) = self.table.get(&id).await? {
                    if current.record.status == Status::Deleted {
                        self.objects
                            .delete_prefix(
                                &self.names.derivatives_bucket,
                                &self.names.variant_prefix(&id),
                            )
                            .await?;
                    }
                }
                Ok(Outcome::Stale)
            }
        }
    }

    /// Records a rejection; variants of an earlier good upload under the same key go.
    async fn write_rejection(
        &self,
        item: StoredImage,
        rejection: Rejection,
        started: Instant,
    ) -> Result<Outcome, StoreError> {
        match self.table.put_if_newer(&item).await? {
            PutOutcome::Written { .. } => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                emit(metrics::rejected_line(
                    &self.function_name,
                    now_ms(),
                    rejection.code(),
                    ms,
                ));
                self.objects
                    .delete_prefix(
                        &self.names.derivatives_bucket,
                        &self.names.variant_prefix(&item.id),
                    )
                    .await?;
                Ok(Outcome::Rejected {
                    reason: rejection.to_string(),
                })
            }
            PutOutcome::Stale => Ok(Outcome::Stale),
        }
    }

    async fn removed(&self, record: &S3Record) -> Result<Outcome, StoreError> {
        let id = image_id(&record.bucket, &record.key);
        let deletion = Deletion {
            source: Source {
                id: id.clone(),
                bucket: record.bucket.clone(),
                key: record.key.clone(),
                etag: None,
                version_id: record.version_id.clone(),
                event_time: record.event_time.clone(),
            },
            sequencer: record.sequencer.as_str().to_owned(),
        };
        // Mark first: if a newer upload is already recorded, its variants must stay.
        match self.table.mark_deleted(&deletion).await? {
            WriteOutcome::Stale => Ok(Outcome::Stale),
            WriteOutcome::Written => {
                let removed = self
                    .objects
                    .delete_prefix(
                        &self.names.derivatives_bucket,
                        &self.names.variant_prefix(&id),
                    )
                    .await?;
                Ok(Outcome::Deleted {
                    variants_removed: removed,
                })
            }
        }
    }

    fn item(
        &self,
        record: &S3Record,
        id: &str,
        object: Option<&StoredObject>,
        image: ImageRecord,
        started: Instant,
    ) -> StoredImage {
        let source = Source {
            id: id.to_owned(),
            bucket: record.bucket.clone(),
            key: record.key.clone(),
            etag: object
                .and_then(|o| o.etag.clone())
                .or_else(|| record.etag.clone()),
            version_id: object
                .and_then(|o| o.version_id.clone())
                .or_else(|| record.version_id.clone()),
            event_time: record.event_time.clone(),
        };
        let elapsed = started.elapsed().as_millis() as u64;
        StoredImage::new(
            source,
            record.sequencer.as_str().to_owned(),
            Some(elapsed),
            image,
        )
    }
}

/// One EMF line on standard output, where Lambda's log capture (and CloudWatch's metric
/// extraction) reads it; not through `tracing`, whose line format would wrap it.
fn emit(line: String) {
    println!("{line}");
}

/// Now, in milliseconds since the Unix epoch (EMF's timestamp).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests;
