//! Day-two operations against the local cloud: `imgpipe redrive` brings a message from the
//! dead-letter queue back to the event queue, where the function processes it; and every
//! record says which configuration made it.

use std::path::PathBuf;
use std::process::Command;

use imgpipe::config::PipelineConfig;
use imgpipe::metadata::Status;
use imgpipe_e2e::{fixture, s3_event_body, unique, Cloud};

/// The `imgpipe` tool of the same build as this test (`target/<profile>/imgpipe`).
fn imgpipe() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test> → target/<profile>/imgpipe
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("imgpipe")
}

fn run(args: &[&str]) -> String {
    let output = Command::new(imgpipe())
        .args(args)
        .output()
        .expect("imgpipe runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "imgpipe {args:?}: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[tokio::test]
async fn a_dead_letter_comes_back_with_redrive_and_is_processed() {
    let cloud = Cloud::from_env().await;
    let key = format!("{}/redriven.jpg", unique("redrive"));
    cloud.upload(&key, fixture("cameras/Canon_40D.jpg")).await;
    let first = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;
    assert_eq!(
        first.record.pipeline.as_deref(),
        Some(PipelineConfig::default().pipeline_id().as_str()),
        "the record says what made it"
    );

    // An event that failed three times, as the DLQ would hold it: a later event for the key.
    let when = "2099-01-01T00:00:00.000Z";
    cloud
        .sqs
        .send_message()
        .queue_url(&cloud.dlq_url)
        .message_body(s3_event_body(
            "ObjectCreated:Put",
            &cloud.uploads,
            &key,
            when,
        ))
        .send()
        .await
        .expect("SendMessage to the DLQ");

    let listed = run(&["redrive", "--dry-run"]);
    assert!(listed.contains(&key), "dry run lists the key: {listed}");
    assert!(listed.contains("received"), "{listed}");
    assert!(
        cloud.item(&key).await.and_then(|i| i.event_time) != Some(when.to_owned()),
        "a dry run moves nothing"
    );

    let moved = run(&["redrive"]);
    assert!(
        moved.contains(&key) || moved.contains("message-move task"),
        "{moved}"
    );
    let again = cloud
        .wait_for_item(&key, |i| i.event_time.as_deref() == Some(when))
        .await;
    assert_eq!(again.record.status, Status::Processed);
    assert!(
        cloud.dlq_bodies().await.iter().all(|b| !b.contains(&key)),
        "the dead-letter queue no longer holds it"
    );
}
