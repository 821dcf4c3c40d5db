//! S3 and SQS event payloads, object keys and sequencers, as the function receives them.

use imgpipe::event::{
    decode_key, parse_invocation, parse_s3_body, Invocation, S3Record, Sequencer,
};

/// A sequencer is always 32 upper-case hex digits, so that string order is event order.
fn well_formed(sequencer: &Sequencer) {
    let s = sequencer.as_str();
    assert_eq!(s.len(), 32, "{s}");
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{s}"
    );
}

fn records_ok(records: &[S3Record]) {
    for record in records {
        well_formed(&record.sequencer);
    }
}

pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(payload) = serde_json::from_str(text) {
        match parse_invocation(payload) {
            Ok(Invocation::S3(records)) => records_ok(&records),
            Ok(Invocation::Sqs(messages)) => {
                for message in messages {
                    if let Ok(records) = message.records {
                        records_ok(&records);
                    }
                }
            }
            Err(_) => {}
        }
    }
    if let Ok(records) = parse_s3_body(text) {
        records_ok(&records);
    }
    match decode_key(text) {
        // Without escapes there is nothing to decode.
        Ok(key) if !text.contains(['%', '+']) => assert_eq!(key, text),
        _ => {}
    }
    well_formed(&Sequencer::from_event(Some(text), Some(text)));
    well_formed(&Sequencer::from_event(None, Some(text)));
}
