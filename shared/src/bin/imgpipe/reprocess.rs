//! `imgpipe reprocess`: after a configuration change, sends the stored photos back through the
//! pipeline. It scans the table for processed and rejected records (all of them, or those made
//! by another configuration than the current one), and for each enqueues the S3 event of its
//! original upload again (`event::resend`), at a set rate. The function handles those exactly as
//! uploads; their sequencer is the record's own, so a newer upload or a delete recorded since
//! wins over them.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use imgpipe::event::resend::{created_body, Original};
use imgpipe::metadata::Status;
use indicatif::{ProgressBar, ProgressStyle};

/// Where the records are and where the events go.
pub struct Target {
    pub table: String,
    pub queue_url: String,
    /// Only records of uploads to this bucket, when given.
    pub uploads_bucket: Option<String>,
}

/// Which records, how fast, and whether to send at all.
pub struct Options {
    /// Every processed or rejected record, not only those another configuration made.
    pub all: bool,
    /// Only records whose source key starts with this.
    pub prefix: Option<String>,
    pub dry_run: bool,
    /// Messages per second.
    pub rate: f64,
    /// The current configuration's `pipeline` id.
    pub pipeline: String,
}

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Processed or rejected records in the selection (bucket, prefix), by what made them.
    pub found_by_pipeline: BTreeMap<String, u64>,
    pub sent: u64,
    /// Already made by the current configuration (`--stale`), so not sent.
    pub skipped_current: u64,
    /// Records that cannot be re-sent (no sequencer or key: not written by this pipeline).
    pub skipped_unusable: u64,
    /// `s3://bucket/key: why` of each event that could not be enqueued.
    pub failed: Vec<String>,
}

impl Summary {
    pub fn found(&self) -> u64 {
        self.found_by_pipeline.values().sum()
    }
}

/// SQS takes at most ten messages per `SendMessageBatch`.
const SQS_BATCH: usize = 10;

/// The `pipeline` shown for records written before the field existed.
const NO_PIPELINE: &str = "(none)";

pub async fn run(target: &Target, options: &Options) -> Result<Summary, String> {
    let config = imgpipe::store::clients::load_sdk_config().await;
    let region = config
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let dynamodb = imgpipe::store::clients::dynamodb_client(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);

    let progress = progress_bar();
    let mut summary = Summary::default();
    let mut pacer = Pacer::new(options.rate);
    let mut batch: Vec<(String, String)> = Vec::with_capacity(SQS_BATCH);

    let mut pages = scan(&dynamodb, target, options).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "Scan {}: {}",
                target.table,
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
        for item in page.items() {
            progress.inc(1);
            let made_by = text(item, "pipeline").unwrap_or(NO_PIPELINE);
            *summary
                .found_by_pipeline
                .entry(made_by.to_owned())
                .or_default() += 1;
            if !options.all && made_by == options.pipeline {
                summary.skipped_current += 1;
                continue;
            }
            let Some(original) = original(item) else {
                summary.skipped_unusable += 1;
                continue;
            };
            if options.dry_run {
                summary.sent += 1;
                continue;
            }
            let shown = crate::printable(&format!("s3://{}/{}", original.bucket, original.key));
            batch.push((shown, created_body(&original, &region)));
            if batch.len() == pacer.batch {
                send(
                    &sqs,
                    &target.queue_url,
                    &mut batch,
                    &mut pacer,
                    &mut summary,
                )
                .await;
            }
            progress.set_message(status(&summary, options.dry_run));
        }
        progress.set_message(status(&summary, options.dry_run));
    }
    send(
        &sqs,
        &target.queue_url,
        &mut batch,
        &mut pacer,
        &mut summary,
    )
    .await;
    progress.finish_and_clear();
    Ok(summary)
}

/// A scan of the processed and rejected records in the selection, reading only what an event
/// needs. Strongly consistent, so a run right after another sees what the first settled.
fn scan(
    dynamodb: &aws_sdk_dynamodb::Client,
    target: &Target,
    options: &Options,
) -> aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut filter = "#status IN (:processed, :rejected)".to_owned();
    let mut request = dynamodb
        .scan()
        .table_name(&target.table)
        .consistent_read(true)
        .projection_expression(
            "id, source_bucket, source_key, #sequencer, event_time, source_etag, \
             source_version_id, #bytes, #status, #pipeline",
        )
        // Aliases for the names DynamoDB reserves (or might).
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#bytes", "bytes")
        .expression_attribute_names("#sequencer", "sequencer")
        .expression_attribute_names("#pipeline", "pipeline")
        .expression_attribute_values(":processed", s(Status::Processed.as_str()))
        .expression_attribute_values(":rejected", s(Status::Rejected.as_str()));
    if let Some(prefix) = &options.prefix {
        filter.push_str(" AND begins_with(source_key, :prefix)");
        request = request.expression_attribute_values(":prefix", s(prefix));
    }
    if let Some(bucket) = &target.uploads_bucket {
        filter.push_str(" AND source_bucket = :bucket");
        request = request.expression_attribute_values(":bucket", s(bucket));
    }
    request.filter_expression(filter)
}

/// The upload a record was made from; `None` when the record lacks what an event needs.
fn original(item: &imgpipe::store::dynamo::Item) -> Option<Original<'_>> {
    let sequencer = text(item, "sequencer").filter(|s| !s.is_empty())?;
    Some(Original {
        bucket: text(item, "source_bucket")?,
        key: text(item, "source_key")?,
        size: item
            .get("bytes")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok()),
        etag: text(item, "source_etag"),
        version_id: text(item, "source_version_id"),
        event_time: text(item, "event_time"),
        sequencer,
    })
}

/// A string attribute; `None` when absent, null or not a string.
fn text<'a>(item: &'a imgpipe::store::dynamo::Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// Sends the batch (emptying it) when the pace allows; failures are counted, not fatal, so
/// that one refused message does not stop the run.
async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    batch: &mut Vec<(String, String)>,
    pacer: &mut Pacer,
    summary: &mut Summary,
) {
    if batch.is_empty() {
        return;
    }
    let entries: Result<Vec<_>, _> = batch
        .iter()
        .enumerate()
        .map(|(i, (_, body))| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
        })
        .collect();
    pacer.wait(batch.len()).await;
    let result = match entries {
        Ok(entries) => sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "SendMessageBatch: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            }),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(output) => {
            let failed: BTreeMap<usize, String> = output
                .failed()
                .iter()
                .filter_map(|f| {
                    let why = f.message().unwrap_or(f.code()).to_owned();
                    f.id().parse().ok().map(|i| (i, why))
                })
                .collect();
            for (i, (shown, _)) in batch.iter().enumerate() {
                match failed.get(&i) {
                    Some(why) => summary.failed.push(format!("{shown}: {why}")),
                    None => summary.sent += 1,
                }
            }
        }
        Err(why) => {
            for (shown, _) in batch.iter() {
                summary.failed.push(format!("{shown}: {why}"));
            }
        }
    }
    batch.clear();
}

/// Keeps sends at `rate` messages per second: batches of up to ten, each after the time the
/// previous one's messages were due.
struct Pacer {
    /// Messages per batch: ten, or fewer when the rate is low, so a slow rate is smooth.
    batch: usize,
    per_message: Duration,
    next: Option<tokio::time::Instant>,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        Pacer {
            batch: (rate.floor() as usize).clamp(1, SQS_BATCH),
            per_message: Duration::from_secs_f64(1.0 / rate),
            next: None,
        }
    }

    async fn wait(&mut self, messages: usize) {
        let due = self.due(tokio::time::Instant::now(), messages);
        tokio::time::sleep_until(due).await;
    }

    /// When a batch of `messages` may go, given the time now; books their share of the rate.
    fn due(&mut self, now: tokio::time::Instant, messages: usize) -> tokio::time::Instant {
        let due = self.next.map_or(now, |next| next.max(now));
        self.next = Some(due + self.per_message * messages as u32);
        due
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    // Drawn on standard error, and only on a terminal (indicatif hides it otherwise).
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {elapsed} scanned {pos} records · {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn status(summary: &Summary, dry_run: bool) -> String {
    format!(
        "{} {}, skipped {}, failed {}",
        if dry_run { "would send" } else { "sent" },
        summary.sent,
        summary.skipped_current + summary.skipped_unusable,
        summary.failed.len()
    )
}

/// The closing report, one paragraph on standard output.
pub fn report(summary: &Summary, options: &Options, seconds: f64) -> String {
    let selection = if options.all {
        "all records".to_owned()
    } else {
        format!("records not made by {}", options.pipeline)
    };
    let under = options
        .prefix
        .as_deref()
        .map_or_else(String::new, |p| format!(" under {p:?}"));
    let by_pipeline: Vec<String> = summary
        .found_by_pipeline
        .iter()
        .map(|(made_by, n)| format!("{made_by}: {n}"))
        .collect();
    let mut lines = vec![format!(
        "reprocess{}: {selection}{under}",
        if options.dry_run { " --dry-run" } else { "" }
    )];
    lines.push(format!(
        "  found    {} processed or rejected ({})",
        summary.found(),
        if by_pipeline.is_empty() {
            "none".to_owned()
        } else {
            by_pipeline.join(", ")
        }
    ));
    lines.push(format!(
        "  {} {}{}",
        if options.dry_run {
            "to send "
        } else {
            "sent    "
        },
        summary.sent,
        if options.dry_run {
            String::new()
        } else {
            format!(" in {seconds:.1} s")
        }
    ));
    lines.push(format!(
        "  skipped  {} (already {}){}",
        summary.skipped_current,
        options.pipeline,
        if summary.skipped_unusable > 0 {
            format!(", {} without an event to resend", summary.skipped_unusable)
        } else {
            String::new()
        }
    ));
    lines.push(format!("  failed   {}", summary.failed.len()));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_batches_by_rate() {
        assert_eq!(Pacer::new(0.5).batch, 1);
        assert_eq!(Pacer::new(3.7).batch, 3);
        assert_eq!(Pacer::new(50.0).batch, 10);
    }

    #[test]
    fn the_pacer_keeps_to_the_rate() {
        let mut pacer = Pacer::new(20.0);
        let start = tokio::time::Instant::now();
        let due: Vec<Duration> = (0..5).map(|_| pacer.due(start, 10) - start).collect();
        // Batches of ten at 20/s go half a second apart, the first at once.
        assert_eq!(due, [0, 500, 1000, 1500, 2000].map(Duration::from_millis));
        // After a pause longer than the backlog, the next goes at once: no burst to catch up.
        let later = start + Duration::from_secs(10);
        assert_eq!(pacer.due(later, 10), later);
    }

    #[test]
    fn a_record_without_a_sequencer_has_no_event() {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut item: imgpipe::store::dynamo::Item = [
            ("source_bucket".to_owned(), s("b")),
            ("source_key".to_owned(), s("k")),
            ("bytes".to_owned(), AttributeValue::N("12".into())),
            ("event_time".to_owned(), AttributeValue::Null(true)),
        ]
        .into();
        assert!(original(&item).is_none());
        item.insert("sequencer".into(), s(""));
        assert!(original(&item).is_none(), "a pending marker's empty one");
        item.insert("sequencer".into(), s("0A"));
        let found = original(&item).expect("usable");
        assert_eq!((found.bucket, found.key, found.size), ("b", "k", Some(12)));
        assert_eq!(found.event_time, None, "null is absent");
    }
}
