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
    run_with(args, &[])
}

/// `imgpipe ARGS` with extra environment variables; its standard output, once it succeeded.
fn run_with(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(imgpipe())
        .args(args)
        .envs(env.iter().copied())
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

/// The specs the reprocess test changes to: `thumb` smaller, `medium` renamed `mid`, `large`
/// as it was.
const NEW_SPECS: &str =
    "thumb:160x160:cover:jpeg:80,mid:800x800:inside:jpeg:82,large:1600x1600:inside:jpeg:82";

/// The running local cloud's functions, restarted with other settings for the length of a test
/// (`IMGPIPE_VARIANTS=... make up` on a cloud that is up), and with this process's own settings
/// again afterwards, even when the test fails.
struct Reconfigured;

impl Reconfigured {
    fn with_variants(specs: &str) -> Reconfigured {
        up(Some(specs));
        Reconfigured
    }
}

impl Drop for Reconfigured {
    fn drop(&mut self) {
        up(std::env::var("IMGPIPE_VARIANTS").ok().as_deref());
    }
}

/// `localcloud.py up` on the suite's cloud (`IMGPIPE_STATE_DIR`, which `make test` sets; else
/// `make up`'s `.imgpipe`), with `IMGPIPE_VARIANTS` set to `specs` or unset.
fn up(specs: Option<&str>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let state = std::env::var("IMGPIPE_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".imgpipe"));
    let mut command = Command::new(root.join(".venv/bin/python"));
    command
        .arg(root.join("infra/local/localcloud.py"))
        .arg("up")
        .arg("--state-dir")
        .arg(&state);
    match specs {
        Some(specs) => command.env("IMGPIPE_VARIANTS", specs),
        None => command.env_remove("IMGPIPE_VARIANTS"),
    };
    let output = command.output().expect("localcloud.py runs");
    assert!(
        output.status.success(),
        "localcloud.py up: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `imgpipe reprocess ARGS` with `IMGPIPE_VARIANTS` set to `specs`, as the function has them.
fn reprocess(specs: &str, args: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("reprocess")
        .chain(args.iter().copied())
        .collect();
    run_with(&args, &[("IMGPIPE_VARIANTS", specs)])
}

/// The number on the summary line that starts with `label` (`found`, `sent`, `skipped`…).
fn count(report: &str, label: &str) -> u64 {
    report
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{report}"))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn reprocess_after_a_spec_change_remakes_stale_records_and_nothing_else() {
    let cloud = Cloud::from_env().await;
    let old_pipeline = PipelineConfig::default().pipeline_id();
    let prefix = format!("{}/", unique("reprocess"));
    let key = |name: &str| format!("{prefix}{name}");
    let photos = [
        ("landscape.jpg", "photos/Landscape_6.jpg"),
        ("nikon.jpg", "photos/DSCN0010.jpg"),
        ("deleted-before.jpg", "photos/fujifilm-dx10.jpg"),
        ("deleted-during.jpg", "photos/Canon_40D.jpg"),
        ("replaced-during.jpg", "photos/Canon_40D.jpg"),
        ("corrupt.jpg", "invalid/corrupted.jpg"),
    ];
    for (name, fixture_path) in photos {
        cloud.upload(&key(name), fixture(fixture_path)).await;
    }
    for (name, _) in photos {
        let item = cloud
            .wait_for_item(&key(name), |i| i.record.pipeline.is_some())
            .await;
        assert_eq!(item.record.pipeline.as_deref(), Some(old_pipeline.as_str()));
    }
    cloud.delete_upload(&key("deleted-before.jpg")).await;
    cloud
        .wait_for_item(&key("deleted-before.jpg"), |i| {
            i.record.status == Status::Deleted
        })
        .await;

    // The function now runs with the new specs; the records are stale.
    let _new_specs = Reconfigured::with_variants(NEW_SPECS);
    let new_pipeline = PipelineConfig {
        variants: imgpipe::config::parse_variants(NEW_SPECS).expect("valid specs"),
        ..PipelineConfig::default()
    }
    .pipeline_id();
    let dry = reprocess(NEW_SPECS, &["--prefix", &prefix, "--dry-run"]);
    assert_eq!(
        count(&dry, "found"),
        5,
        "the deleted photo is not a candidate"
    );
    assert_eq!(count(&dry, "to send"), 5);

    // The events go to a holding queue first, so that a delete and a newer upload can land
    // between the scan and the processing, deterministically; then on to the event queue.
    let hold = cloud
        .sqs
        .create_queue()
        .queue_name(unique("imgpipe-reprocess-hold"))
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue URL");
    let sent = reprocess(NEW_SPECS, &["--prefix", &prefix, "--queue-url", &hold]);
    assert_eq!(
        (count(&sent, "sent"), count(&sent, "failed")),
        (5, 0),
        "{sent}"
    );

    cloud.delete_upload(&key("deleted-during.jpg")).await;
    cloud
        .wait_for_item(&key("deleted-during.jpg"), |i| {
            i.record.status == Status::Deleted
        })
        .await;
    let newer = fixture("photos/Portrait_8.jpg");
    cloud
        .upload(&key("replaced-during.jpg"), newer.clone())
        .await;
    let replaced = cloud
        .wait_for_item(&key("replaced-during.jpg"), |i| {
            i.record.sha256 == sha256(&newer)
        })
        .await;

    run(&["redrive", "--dlq-url", &hold]);
    for name in ["landscape.jpg", "nikon.jpg", "corrupt.jpg"] {
        cloud
            .wait_for_item(&key(name), |i| {
                i.record.pipeline.as_deref() == Some(new_pipeline.as_str())
            })
            .await;
    }
    cloud.wait_for_drained_queue().await;

    // New variants, at their new sizes, and nothing under the old name.
    for name in ["landscape.jpg", "nikon.jpg"] {
        let item = cloud.item(&key(name)).await.expect("record");
        assert_eq!(item.record.status, Status::Processed);
        let mut names: Vec<&str> = item
            .record
            .variants
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["large", "mid", "thumb"], "{name}");
        let thumb = &item
            .record
            .variants
            .iter()
            .find(|v| v.name == "thumb")
            .expect("thumb");
        assert_eq!((thumb.width, thumb.height), (160, 160), "{name}");
        let stored = image::load_from_memory(&cloud.derivative(&thumb.key).await).expect("decodes");
        assert_eq!((stored.width(), stored.height()), (160, 160), "{name}");
        let mut objects = cloud
            .derivative_keys(&cloud.names.variant_prefix(&item.id))
            .await;
        objects.sort();
        let mut expected: Vec<String> =
            item.record.variants.iter().map(|v| v.key.clone()).collect();
        expected.sort();
        assert_eq!(
            objects, expected,
            "{name}: medium.jpg is gone, nothing else is left"
        );
    }
    let corrupt = cloud.item(&key("corrupt.jpg")).await.expect("record");
    assert_eq!(corrupt.record.status, Status::Rejected);

    // A delete or a newer upload since the scan wins over the reprocess.
    for name in ["deleted-before.jpg", "deleted-during.jpg"] {
        let item = cloud.item(&key(name)).await.expect("record");
        assert_eq!(item.record.status, Status::Deleted, "{name} stays deleted");
        assert!(
            cloud
                .derivative_keys(&cloud.names.variant_prefix(&item.id))
                .await
                .is_empty(),
            "{name} has no variants"
        );
    }
    let still = cloud
        .item(&key("replaced-during.jpg"))
        .await
        .expect("record");
    assert_eq!(
        still.record.sha256,
        sha256(&newer),
        "the newer upload's record"
    );
    assert_eq!(
        still.sequencer, replaced.sequencer,
        "not rewritten by the older event"
    );

    // Settled: a second run finds nothing to do.
    let again = reprocess(NEW_SPECS, &["--prefix", &prefix]);
    assert_eq!(
        (count(&again, "found"), count(&again, "sent")),
        (4, 0),
        "{again}"
    );
    assert_eq!(count(&again, "skipped"), 4, "{again}");

    // A send that fails is counted, named and makes the run fail.
    let missing = format!("{}-missing", cloud.queue_url);
    let output = Command::new(imgpipe())
        .args([
            "reprocess",
            "--all",
            "--prefix",
            &prefix,
            "--queue-url",
            &missing,
        ])
        .env("IMGPIPE_VARIANTS", NEW_SPECS)
        .output()
        .expect("imgpipe runs");
    let report = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exits non-zero: {report}");
    assert_eq!(count(&report, "failed"), 4, "{report}");
    assert!(
        errors.contains(&key("landscape.jpg")),
        "names what it could not send: {errors}"
    );

    cloud
        .sqs
        .delete_queue()
        .queue_url(&hold)
        .send()
        .await
        .expect("DeleteQueue");
}
