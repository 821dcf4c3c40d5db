use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn direct(name: &str) -> Vec<S3Record> {
    let payload: Value = serde_json::from_str(&fixture(name)).expect("fixture is JSON");
    match parse_invocation(payload).expect("parses") {
        Invocation::S3(records) => records,
        Invocation::Sqs(_) => panic!("{name} is a direct S3 event"),
    }
}

#[test]
fn decodes_aws_form_urlencoded_key_with_plus_and_unicode() {
    let records = direct("s3-put-aws.json");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.event, ObjectEvent::Created);
    assert_eq!(record.bucket, "imgpipe-uploads");
    assert_eq!(record.key, "holiday/my photo été +1.jpg");
    assert_eq!(record.size, Some(12345));
    assert_eq!(
        record.sequencer.as_str(),
        format!("{:0>32}", "0055AED6DCD90281E5")
    );
}

#[test]
fn decodes_moto_key_with_encoded_slash_and_tolerates_missing_fields() {
    let records = parse_s3_body(&fixture("s3-put-moto.json")).expect("lenient parse");
    assert_eq!(records[0].key, "uploads/my photo.jpg");
    assert_eq!(
        records[0].etag.as_deref(),
        Some("900150983cd24fb0d6963f7d28e17f72")
    );
    // No sequencer: the event time stands in, and it orders like one.
    let earlier = Sequencer::from_event(None, Some("2026-11-26T05:43:40.139Z"));
    assert!(earlier < records[0].sequencer);
}

#[test]
fn decodes_localstack_percent_encoded_space() {
    let records = parse_s3_body(&fixture("s3-put-localstack.json")).expect("parses");
    assert_eq!(records[0].key, "uploads/my photo.jpg");
}

#[test]
fn test_event_yields_no_records() {
    assert_eq!(
        parse_s3_body(&fixture("s3-test-event.json")),
        Ok(Vec::new())
    );
}

#[test]
fn removed_event_without_size_is_a_removal() {
    let records = direct("s3-delete-aws.json");
    assert_eq!(records[0].event, ObjectEvent::Removed);
    assert_eq!(records[0].size, None);
    let created = &direct("s3-put-aws.json")[0];
    assert!(
        created.sequencer < records[0].sequencer,
        "the delete came later"
    );
}

#[test]
fn sqs_batch_keeps_message_ids_and_isolates_bad_bodies() {
    let mut payload: Value = serde_json::from_str(&fixture("sqs-s3-batch-aws.json")).expect("JSON");
    let records = payload["Records"].as_array_mut().expect("array");
    let mut broken = records[0].clone();
    broken["messageId"] = "msg-broken".into();
    broken["body"] = "{not json".into();
    records.push(broken);

    let Ok(Invocation::Sqs(messages)) = parse_invocation(payload) else {
        panic!("an SQS event");
    };
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["msg-1", "msg-2", "msg-3", "msg-broken"]);
    assert_eq!(messages[0].records.as_ref().map(Vec::len), Ok(1));
    assert_eq!(
        messages[1].records.as_ref().map(Vec::len),
        Ok(0),
        "test event"
    );
    assert_eq!(
        messages[2].records.as_ref().map(|r| r[0].key.clone()),
        Ok("uploads/my photo.jpg".to_owned())
    );
    assert!(matches!(messages[3].records, Err(EventError::Body(_))));
}

#[test]
fn key_decoding_handles_plus_escapes_and_bad_utf8() {
    assert_eq!(decode_key("a+b%2Bc%2Fd"), Ok("a b+c/d".to_owned()));
    assert_eq!(decode_key("caf%C3%A9"), Ok("café".to_owned()));
    assert!(matches!(decode_key("bad%FF"), Err(EventError::Key { .. })));
}

#[test]
fn ignores_events_it_does_not_act_on() {
    let body = r#"{"Records":[{"eventName":"ObjectRestore:Completed","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
    assert_eq!(parse_s3_body(body), Ok(Vec::new()));
}

#[test]
fn non_event_payload_is_a_shape_error() {
    assert!(matches!(
        parse_invocation(serde_json::json!([1, 2])),
        Err(EventError::Shape(_))
    ));
}
