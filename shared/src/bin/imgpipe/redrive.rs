//! `imgpipe redrive`: moves the upload events in the dead-letter queue back to the event queue,
//! once whatever failed them is fixed. SQS's own message-move task where the endpoint has it;
//! otherwise receive, send, then delete, in that order, so a failure part-way leaves a message
//! in both queues (handled twice, which is idempotent) and never in neither.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use imgpipe::event::parse_s3_body;

/// Where the messages are and where they go.
pub struct Queues {
    pub queue_url: String,
    pub dlq_url: String,
}

/// How long a received message stays hidden while it is copied (generous: a send is quick).
const IN_FLIGHT_SECONDS: i32 = 60;

pub async fn run(queues: &Queues, dry_run: bool) -> Result<(), String> {
    let config = imgpipe::store::clients::load_sdk_config().await;
    let sqs = Client::new(&config);
    if dry_run {
        return list(&sqs, &queues.dlq_url).await;
    }
    let source = queue_arn(&sqs, &queues.dlq_url).await?;
    let destination = queue_arn(&sqs, &queues.queue_url).await?;
    match sqs
        .start_message_move_task()
        .source_arn(&source)
        .destination_arn(&destination)
        .send()
        .await
    {
        Ok(task) => {
            println!(
                "started SQS's message-move task {} from {source} to {destination}",
                task.task_handle().unwrap_or("?")
            );
            Ok(())
        }
        Err(e) => {
            // LocalStack and moto may not have the task API: move the messages one by one. Not
            // when the answer is a refusal: that would fail the same way, message by message.
            use aws_sdk_sqs::error::ProvideErrorMetadata as _;
            if e.code()
                .is_some_and(|c| c.contains("AccessDenied") || c.contains("Unauthorized"))
            {
                return Err(format!(
                    "StartMessageMoveTask refused: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                ));
            }
            let why = e
                .code()
                .map(str::to_owned)
                .or_else(|| {
                    e.raw_response()
                        .map(|r| format!("HTTP {}", r.status().as_u16()))
                })
                .unwrap_or_else(|| "no answer".to_owned());
            println!("the endpoint has no message-move task ({why}); moving messages one by one");
            move_one_by_one(&sqs, queues).await
        }
    }
}

async fn queue_arn(sqs: &Client, url: &str) -> Result<String, String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetQueueAttributes {url}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })?;
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("{url} has no ARN"))
}

async fn move_one_by_one(sqs: &Client, queues: &Queues) -> Result<(), String> {
    let mut moved = 0usize;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queues.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(IN_FLIGHT_SECONDS)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(failed("ReceiveMessage"))?;
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            sqs.send_message()
                .queue_url(&queues.queue_url)
                .message_body(body)
                .send()
                .await
                .map_err(failed("SendMessage"))?;
            // Only once it is safely in the event queue.
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(&queues.dlq_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(failed("DeleteMessage"))?;
            }
            moved += 1;
            println!("moved {}", describe(body));
        }
    }
    println!("redrive: {moved} message(s) moved back to the event queue");
    Ok(())
}

/// What is in the dead-letter queue, without moving it. SQS has no peek: each message is
/// received with no visibility timeout, so it stays available, but its receive count goes up.
async fn list(sqs: &Client, dlq_url: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    let mut empty_rounds = 0;
    while empty_rounds < 2 {
        let received = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(failed("ReceiveMessage"))?;
        let mut new = 0;
        for message in received.messages() {
            let id = message.message_id().unwrap_or_default().to_owned();
            if !seen.insert(id) {
                continue;
            }
            new += 1;
            let attribute = |name: MessageSystemAttributeName| {
                message
                    .attributes()
                    .and_then(|a| a.get(&name))
                    .cloned()
                    .unwrap_or_else(|| "?".to_owned())
            };
            let first = attribute(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp);
            let first = first
                .parse::<i64>()
                .ok()
                .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms / 1000).ok())
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or(first);
            println!(
                "{}  received {} times, first at {first}",
                describe(message.body().unwrap_or_default()),
                attribute(MessageSystemAttributeName::ApproximateReceiveCount),
            );
        }
        empty_rounds = if new == 0 { empty_rounds + 1 } else { 0 };
        // A pause between rounds, blocking: nothing else runs on this one-thread runtime.
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "redrive --dry-run: {} message(s) in the dead-letter queue",
        seen.len()
    );
    Ok(())
}

/// An SQS call's failure in words, naming the call (the SDK's context included).
fn failed<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> String {
    move |e| {
        format!(
            "{operation}: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        )
    }
}

/// The S3 keys an event body names, or what it is when it names none.
fn describe(body: &str) -> String {
    match parse_s3_body(body) {
        Ok(records) if !records.is_empty() => records
            .iter()
            .map(|r| {
                format!(
                    "s3://{}/{}",
                    crate::printable(&r.bucket),
                    crate::printable(&r.key)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Ok(_) => "(no S3 records)".to_owned(),
        Err(e) => format!("(not an S3 event: {e})"),
    }
}
