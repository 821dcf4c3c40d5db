//! Harness for the end-to-end suite: clients for the local cloud named in the environment
//! (`source .imgpipe/local.env`, as `make test` does), and bounded polling instead of sleeps.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use imgpipe::config::StorageNames;
use imgpipe::store::{image_id, DynamoImages, ImageTable, StoredImage};

/// How long a photo may take from upload to record, build-free (the functions are prebuilt).
pub const PROCESS_WAIT: Duration = Duration::from_secs(60);
/// How long the emulator gets to answer a first request before the suite gives up on it.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Cloud {
    /// The names the function runs with, parsed by the function's own config code.
    pub names: StorageNames,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub uploads: String,
    pub derivatives: String,
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
}

#[derive(Debug)]
pub struct Unreachable(pub String);

fn env(name: &str) -> Result<String, Unreachable> {
    std::env::var(name).map_err(|_| {
        Unreachable(format!(
            "{name} is not set: run the suite with `make test`, or `make up` and \
             `set -a; source .imgpipe/local.env; set +a` first"
        ))
    })
}

impl Cloud {
    /// Connects to the local cloud named by the environment, or panics saying why not.
    pub async fn from_env() -> Cloud {
        match Cloud::connect().await {
            Ok(cloud) => cloud,
            Err(Unreachable(why)) => panic!("{why}"),
        }
    }

    pub async fn connect() -> Result<Cloud, Unreachable> {
        let endpoint = env("AWS_ENDPOINT_URL")?;
        let cloud = Cloud::at(&endpoint).await;
        cloud.check_reachable(&endpoint).await?;
        let names = StorageNames::from_env().map_err(|e| Unreachable(e.to_string()))?;
        Ok(Cloud {
            names,
            uploads: env("UPLOADS_BUCKET")?,
            derivatives: env("DERIVATIVES_BUCKET")?,
            table: env("TABLE_NAME")?,
            queue_url: env("QUEUE_URL")?,
            dlq_url: env("DLQ_URL")?,
            ..cloud
        })
    }

    /// Clients for an endpoint, with short timeouts so that a dead emulator fails fast.
    pub async fn at(endpoint: &str) -> Cloud {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(20))
            .build();
        let config = imgpipe::store::clients::defaults()
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
            .load()
            .await;
        Cloud {
            names: StorageNames {
                uploads_bucket: String::new(),
                derivatives_bucket: String::new(),
                table_name: String::new(),
                derivatives_prefix: String::new(),
            },
            s3: imgpipe::store::clients::s3_client(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            dynamodb: imgpipe::store::clients::dynamodb_client(&config),
            uploads: String::new(),
            derivatives: String::new(),
            table: String::new(),
            queue_url: String::new(),
            dlq_url: String::new(),
        }
    }

    /// One cheap call, bounded in time: the suite fails clearly instead of hanging.
    pub async fn check_reachable(&self, endpoint: &str) -> Result<(), Unreachable> {
        match tokio::time::timeout(REACH_TIMEOUT, self.s3.list_buckets().send()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Unreachable(format!(
                "the emulator at {endpoint} is not reachable ({}); start it with `make up`",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ))),
            Err(_) => Err(Unreachable(format!(
                "the emulator at {endpoint} did not answer within {REACH_TIMEOUT:?}; start it with `make up`"
            ))),
        }
    }

    pub async fn upload(&self, key: &str, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.uploads)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload {key}: {e:?}"));
    }

    /// Deletes an upload, as a user would; the pipeline gets the ObjectRemoved event.
    pub async fn delete_upload(&self, key: &str) {
        self.s3
            .delete_object()
            .bucket(&self.uploads)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteObject {key}: {e:?}"));
    }

    /// The record of an upload, by its key in the uploads bucket.
    pub async fn item(&self, key: &str) -> Option<StoredImage> {
        self.item_by_id(&image_id(&self.uploads, key)).await
    }

    /// The record with this id, read through the function's own DynamoDB adapter.
    pub async fn item_by_id(&self, id: &str) -> Option<StoredImage> {
        DynamoImages::new(self.dynamodb.clone(), self.table.clone())
            .get(id)
            .await
            .unwrap_or_else(|e| panic!("GetItem {id}: {e}"))
    }

    /// Puts an S3 notification body on the event queue by hand, as a redelivery would.
    pub async fn send_event(&self, body: String) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SendMessage: {e:?}"));
    }

    /// Waits until the record of `key` satisfies `done` (for example: written after a time).
    pub async fn wait_for_item(
        &self,
        key: &str,
        done: impl Fn(&StoredImage) -> bool,
    ) -> StoredImage {
        wait_until(&format!("the record of {key}"), PROCESS_WAIT, || async {
            self.item(key).await.filter(|item| done(item))
        })
        .await
    }

    pub async fn derivative_keys(&self, prefix: &str) -> Vec<String> {
        let response = self
            .s3
            .list_objects_v2()
            .bucket(&self.derivatives)
            .prefix(prefix)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListObjectsV2 {prefix}: {e:?}"));
        response
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    pub async fn derivative(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.derivatives)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject {key}: {e:?}"));
        object
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec()
    }

    /// Messages in the queue: visible plus in flight.
    pub async fn queue_depth(&self, url: &str) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetQueueAttributes: {e:?}"));
        let count = |name: A| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible)
    }

    /// Waits until the event queue has nothing visible or in flight.
    pub async fn wait_for_drained_queue(&self) {
        wait_until("the event queue to drain", PROCESS_WAIT, || async {
            (self.queue_depth(&self.queue_url).await == 0).then_some(())
        })
        .await
    }

    /// The bodies of the messages in the DLQ, read without consuming them.
    pub async fn dlq_bodies(&self) -> Vec<String> {
        let response = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ReceiveMessage DLQ: {e:?}"));
        response
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect()
    }
}

/// Polls `check` every 200 ms until it yields a value; panics naming `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if started.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}; see .imgpipe/test/logs/");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A fresh key prefix per test run, so that reruns against one cloud never see old records.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{nanos:x}")
}

/// An S3 notification body as moto sends it, for redelivering an event by hand.
pub fn s3_event_body(
    event_name: &str,
    bucket: &str,
    encoded_key: &str,
    event_time: &str,
) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": event_time, "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded_key}}
    }]})
    .to_string()
}
