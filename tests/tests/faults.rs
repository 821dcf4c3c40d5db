//! Faults under the pipeline: the emulator stopping, resetting or answering 503 in the middle
//! of a batch, the function's process killed inside a record, and an older event losing
//! DynamoDB's condition. The faults come from the local cloud's proxy between the function and
//! the emulator (`FAULT_CONTROL_URL`), so the function sees AWS fail under it while SQS keeps
//! its messages; the outcome is read from S3, DynamoDB and SQS as anywhere else.

use std::io::{Read, Write};
use std::net::TcpStream;

use imgpipe::metadata::Status;
use imgpipe::store::StoredImage;
use imgpipe_e2e::{fixture, s3_event_body, unique, wait_until, Cloud, PROCESS_WAIT};
use serde_json::{json, Value};

/// A photo big enough that the function spends a while on it (1800×1200, 350 KB).
const PHOTO: &str = "photos/Landscape_6.jpg";
/// A small one for the record that holds the bridge while a batch gathers behind it.
const BLOCKER: &str = "cameras/Canon_40D.jpg";

/// The answer of a local endpoint: status, head, body.
struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.0 exchange with an endpoint of the local cloud (its fault control, the function's
/// invoke API): plain enough that the suite needs no HTTP client crate for it.
fn http(method: &str, url: &str, body: &str) -> Reply {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not a local http URL: {url}"));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {url}: {e}"));
    stream
        .set_read_timeout(Some(PROCESS_WAIT))
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {url}: no status in {head:?}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn json_of(reply: &Reply, what: &str) -> Value {
    assert_eq!(reply.status, 200, "{what}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{what}: {e}: {}", reply.body))
}

/// The local cloud's fault control: the proxy's mode and the bridge's counters.
struct Faults {
    url: String,
}

impl Faults {
    fn from_env() -> Faults {
        let base = std::env::var("FAULT_CONTROL_URL").unwrap_or_else(|_| {
            panic!(
                "FAULT_CONTROL_URL is not set: the fault tests need the moto local cloud \
                 (`make test`, or `make up` and `source .imgpipe/local.env`)"
            )
        });
        Faults {
            url: format!("{base}/faults"),
        }
    }

    /// Sets the proxy's mode; `target` limits it to requests containing that text. Any change
    /// releases what a `hold` held.
    fn set(&self, mode: &str, target: Option<&str>) {
        let body = json!({"mode": mode, "match": target}).to_string();
        json_of(&http("POST", &self.url, &body), "set the fault");
    }

    /// Back to pass-through, now and when the returned guard is dropped.
    fn heal(&self) {
        self.set("pass", None);
    }

    fn healed_at_end(&self) -> HealedAtEnd<'_> {
        HealedAtEnd(self)
    }

    fn state(&self) -> Value {
        json_of(&http("GET", &self.url, ""), "the fault state")
    }

    fn counter(&self, name: &str) -> u64 {
        self.state()[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {name}"))
    }

    /// Waits until the state satisfies `done` and returns it.
    async fn wait_for(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, PROCESS_WAIT, || async {
            Some(self.state()).filter(|s| done(s))
        })
        .await
    }
}

/// Puts the proxy back to pass-through when dropped, so a failing test leaves no fault behind
/// for the tests after it.
#[must_use = "the fault is healed when this is dropped"]
struct HealedAtEnd<'a>(&'a Faults);

impl Drop for HealedAtEnd<'_> {
    fn drop(&mut self) {
        self.0.heal();
    }
}

/// What a photo's processing made, without what differs per key or per run (ids, keys, times).
#[derive(Debug, PartialEq)]
struct Outcome {
    status: Status,
    sha256: String,
    bytes: u64,
    /// Name, width, height and size of each variant.
    variants: Vec<(String, u32, u32, u64)>,
}

fn outcome(item: &StoredImage) -> Outcome {
    Outcome {
        status: item.record.status,
        sha256: item.record.sha256.clone(),
        bytes: item.record.bytes,
        variants: item
            .record
            .variants
            .iter()
            .map(|v| (v.name.clone(), v.width, v.height, v.bytes))
            .collect(),
    }
}

/// The variant objects of an item, by name, read back from the derivatives bucket; also checks
/// that the bucket holds exactly the variants the record names, nothing left over or doubled.
async fn variant_objects(cloud: &Cloud, item: &StoredImage) -> Vec<(String, Vec<u8>)> {
    let mut stored = cloud
        .derivative_keys(&cloud.names.variant_prefix(&item.id))
        .await;
    stored.sort();
    let mut named: Vec<String> = item.record.variants.iter().map(|v| v.key.clone()).collect();
    named.sort();
    assert_eq!(stored, named, "the derivatives of {}", item.source_key);
    let mut out = Vec::new();
    for variant in &item.record.variants {
        out.push((variant.name.clone(), cloud.derivative(&variant.key).await));
    }
    out
}

/// `key` ended up processed exactly once in effect: one record, processed, with the same
/// result and the same variant bytes as `reference` (the same photo processed without a fault).
async fn assert_processed_like(cloud: &Cloud, key: &str, reference: &StoredImage) {
    let item = cloud
        .wait_for_item(key, |i| i.record.status == Status::Processed)
        .await;
    assert_eq!(outcome(&item), outcome(reference), "{key}");
    assert_eq!(
        variant_objects(cloud, &item).await,
        variant_objects(cloud, reference).await,
        "{key}: the same variant bytes"
    );
}

async fn assert_nothing_of_run_in_dlq(cloud: &Cloud, run: &str) {
    let dlq = cloud.dlq_bodies().await;
    assert!(
        !dlq.iter().any(|b| b.contains(run)),
        "nothing of this run in the DLQ: {dlq:?}"
    );
}

/// Three photos that the bridge hands to the function in one batch: a held "blocker" record
/// keeps the bridge busy while the three queue up behind it.
struct Batch {
    run: String,
    keys: [String; 3],
}

impl Batch {
    async fn queue_up(cloud: &Cloud, faults: &Faults, name: &str) -> Batch {
        cloud.wait_for_drained_queue().await;
        let run = unique(name);
        let blocker = format!("{run}/blocker.jpg");
        faults.set("hold", Some(&format!("/{}/{blocker}", cloud.uploads)));
        cloud.upload(&blocker, fixture(BLOCKER)).await;
        faults
            .wait_for("the function to be held inside the blocker", |s| {
                s["held"].as_u64() > Some(0)
            })
            .await;
        let keys = ["first", "middle", "last"].map(|n| format!("{run}/{n}.jpg"));
        for key in &keys {
            cloud.upload(key, fixture(PHOTO)).await;
        }
        // The blocker in flight and the three waiting behind it.
        wait_until("the batch to queue up", PROCESS_WAIT, || async {
            (cloud.queue_depth(&cloud.queue_url).await >= 4).then_some(())
        })
        .await;
        Batch { run, keys }
    }

    fn target(&self, cloud: &Cloud, index: usize) -> String {
        format!("/{}/{}", cloud.uploads, self.keys[index])
    }
}

/// Waits for the bridge to leave `left` messages of a batch of three for redelivery.
async fn wait_for_partial_batch(faults: &Faults, retried_before: u64, left: u64) {
    let state = faults
        .wait_for("the batch to come back with failures", |s| {
            s["messages_left_for_retry"].as_u64() >= Some(retried_before + left)
        })
        .await;
    assert_eq!(
        state["last_batch"],
        json!({"messages": 3, "left_for_retry": left}),
        "one batch of three, {left} of its messages left for redelivery"
    );
}

#[tokio::test]
async fn a_record_reset_in_the_middle_of_a_batch_comes_back_alone_and_is_processed_once() {
    let cloud = Cloud::from_env().await;
    let faults = Faults::from_env();
    let _healed = faults.healed_at_end();
    let retried_before = faults.counter("messages_left_for_retry");
    let batch = Batch::queue_up(&cloud, &faults, "faults-reset").await;

    // Every connection of the middle record's requests is reset; the blocker goes on.
    faults.set("reset", Some(&batch.target(&cloud, 1)));
    wait_for_partial_batch(&faults, retried_before, 1).await;
    let first = cloud.item(&batch.keys[0]).await.expect("first recorded");
    let last = cloud.item(&batch.keys[2]).await.expect("last recorded");
    assert!(
        cloud.item(&batch.keys[1]).await.is_none(),
        "the middle record failed"
    );
    faults.heal();

    assert_processed_like(&cloud, &batch.keys[1], &first).await;
    assert_processed_like(&cloud, &batch.keys[2], &first).await;
    cloud.wait_for_drained_queue().await;
    assert_nothing_of_run_in_dlq(&cloud, &batch.run).await;
    for done in [first, last] {
        let now = cloud.item(&done.source_key).await.expect("still recorded");
        assert_eq!(
            now.updated_at, done.updated_at,
            "{} was not processed again",
            done.source_key
        );
    }
}

/// The emulator goes away (`mode`) while the function is inside the middle record of a batch:
/// the first record is done, the other two come back through SQS and are processed once it is
/// back, nothing reaches the DLQ.
async fn emulator_fails_mid_batch(mode: &str, name: &str) {
    let cloud = Cloud::from_env().await;
    let faults = Faults::from_env();
    let _healed = faults.healed_at_end();
    let retried_before = faults.counter("messages_left_for_retry");
    let batch = Batch::queue_up(&cloud, &faults, name).await;

    // Releases the blocker, then catches the function inside the middle record.
    faults.set("hold", Some(&batch.target(&cloud, 1)));
    faults
        .wait_for("the function to be inside the middle record", |s| {
            s["held"].as_u64() > Some(0)
        })
        .await;
    let first = cloud.item(&batch.keys[0]).await.expect("first recorded");
    let faulted_before = faults.counter("faulted");
    faults.set(mode, None);
    wait_for_partial_batch(&faults, retried_before, 2).await;
    faults.heal();
    if mode != "refuse" {
        // A refused connection never reaches the proxy; the others are counted there.
        assert!(faults.counter("faulted") > faulted_before, "the fault hit");
    }

    assert_processed_like(&cloud, &batch.keys[1], &first).await;
    assert_processed_like(&cloud, &batch.keys[2], &first).await;
    cloud.wait_for_drained_queue().await;
    assert_nothing_of_run_in_dlq(&cloud, &batch.run).await;
    let now = cloud.item(&batch.keys[0]).await.expect("still recorded");
    assert_eq!(now.updated_at, first.updated_at, "the first was not redone");
}

#[tokio::test]
async fn an_emulator_that_stops_listening_mid_batch_loses_nothing_once_it_is_back() {
    emulator_fails_mid_batch("refuse", "faults-refuse").await;
}

#[tokio::test]
async fn an_emulator_answering_503_mid_batch_loses_nothing_once_it_recovers() {
    emulator_fails_mid_batch("unavailable", "faults-503").await;
}

#[tokio::test]
async fn a_function_killed_inside_a_record_loses_nothing() {
    let cloud = Cloud::from_env().await;
    let faults = Faults::from_env();
    let _healed = faults.healed_at_end();
    cloud.wait_for_drained_queue().await;
    let run = unique("faults-kill");
    let reference_key = format!("{run}/reference.jpg");
    cloud.upload(&reference_key, fixture(PHOTO)).await;
    let reference = cloud
        .wait_for_item(&reference_key, |i| i.record.status == Status::Processed)
        .await;
    let before = faults.state();

    let key = format!("{run}/killed.jpg");
    faults.set("hold", Some(&format!("/{}/{key}", cloud.uploads)));
    cloud.upload(&key, fixture(PHOTO)).await;
    let state = faults
        .wait_for("the function to be inside the record", |s| {
            s["held"].as_u64() > Some(0)
        })
        .await;
    let pid = state["function_pid"]
        .as_u64()
        .expect("the function's process is running")
        .to_string();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -KILL {pid}");
    faults.heal();

    assert_processed_like(&cloud, &key, &reference).await;
    cloud.wait_for_drained_queue().await;
    assert_nothing_of_run_in_dlq(&cloud, &run).await;
    let after = faults.state();
    assert!(
        after["failed_invocations"].as_u64() > before["failed_invocations"].as_u64(),
        "the killed invocation failed: {after}"
    );
    assert!(
        after["function_restarts"].as_u64() > before["function_restarts"].as_u64(),
        "a new instance took over: {after}"
    );
    assert_ne!(after["function_pid"].to_string(), pid, "a new process");
}

#[tokio::test]
async fn an_older_event_losing_the_condition_is_acknowledged_not_retried() {
    let cloud = Cloud::from_env().await;
    let faults = Faults::from_env();
    let invoke_url = std::env::var("LAMBDA_INVOKE_URL").expect("LAMBDA_INVOKE_URL");
    cloud.wait_for_drained_queue().await;
    let key = format!("{}/late.jpg", unique("faults-stale"));
    cloud.upload(&key, fixture(BLOCKER)).await;
    let current = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;
    cloud.wait_for_drained_queue().await;

    // An upload and a delete of the same object, both from before the recorded upload: both of
    // DynamoDB's conditional writes fail, and neither is an error for the function.
    let encoded = key.replace('/', "%2F");
    let stale = |event| s3_event_body(event, &cloud.uploads, &encoded, "2020-01-01T00:00:00.000Z");
    let messages: Vec<Value> = ["ObjectCreated:Put", "ObjectRemoved:Delete"]
        .iter()
        .enumerate()
        .map(|(i, event)| {
            json!({"messageId": format!("stale-{i}"), "receiptHandle": "r", "body": stale(event),
                   "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    let reply = http(
        "POST",
        &invoke_url,
        &json!({"Records": messages}).to_string(),
    );
    assert!(
        !reply
            .head
            .to_ascii_lowercase()
            .contains("x-amz-function-error"),
        "the invocation succeeded: {}",
        reply.head
    );
    let response = json_of(&reply, "the function's answer");
    assert_eq!(
        response["batchItemFailures"],
        json!([]),
        "no message reported as failed"
    );

    // Through the queue too: acknowledged and deleted, never left for redelivery.
    let retried_before = faults.counter("messages_left_for_retry");
    cloud.send_event(stale("ObjectCreated:Put")).await;
    cloud.wait_for_drained_queue().await;
    assert_eq!(faults.counter("messages_left_for_retry"), retried_before);
    assert_nothing_of_run_in_dlq(&cloud, &key).await;

    let after = cloud.item(&key).await.expect("still recorded");
    assert_eq!(after.updated_at, current.updated_at, "nothing was written");
    assert_eq!(outcome(&after), outcome(&current));
    assert_eq!(
        variant_objects(&cloud, &after).await.len(),
        current.record.variants.len(),
        "the variants are still there"
    );
}
