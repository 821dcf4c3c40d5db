//! Properties of key decoding and sequencer order, over generated keys, sequencers and times.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
use proptest::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{decode_key, Sequencer};

/// The least a form-urlencoded key must escape: controls, non-ASCII, `%` and `+` (a space is
/// written `+`). S3 escapes more; `NON_ALPHANUMERIC` stands for that end.
const LEAST: &AsciiSet = &CONTROLS.add(b'%').add(b'+');

fn form_encode(key: &str, escape: &'static AsciiSet) -> String {
    utf8_percent_encode(key, escape)
        .to_string()
        .replace(' ', "+")
}

fn hex_value(hex: &str) -> u128 {
    u128::from_str_radix(hex, 16).expect("the strategy makes at most 32 hex digits")
}

fn rfc3339(seconds: i64, nanos: u32) -> String {
    let nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let instant = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .expect("the strategy stays within years 1970..2100");
    instant.format(&Rfc3339).expect("four-digit years format")
}

/// 1970 to 2100: the range S3 events can carry.
const SECONDS: std::ops::Range<i64> = 0..4_102_444_800;

proptest! {
    #[test]
    fn a_form_encoded_key_decodes_to_itself(key in any::<String>()) {
        prop_assert_eq!(decode_key(&form_encode(&key, LEAST)), Ok(key.clone()));
        prop_assert_eq!(decode_key(&form_encode(&key, NON_ALPHANUMERIC)), Ok(key));
    }

    #[test]
    fn any_raw_key_decodes_or_is_refused(raw in any::<String>()) {
        // Only a non-UTF-8 escape is refused, and then with the raw key for the log.
        if let Err(super::EventError::Key { raw: reported }) = decode_key(&raw) {
            prop_assert_eq!(reported, raw);
        }
    }

    #[test]
    fn sequencers_order_like_their_hex_values(
        a in "[0-9a-fA-F]{1,32}",
        b in "[0-9a-fA-F]{1,32}",
    ) {
        let (sa, sb) = (Sequencer::from_event(Some(&a), None), Sequencer::from_event(Some(&b), None));
        prop_assert_eq!(sa.cmp(&sb), hex_value(&a).cmp(&hex_value(&b)));
    }

    #[test]
    fn event_times_order_like_the_instants_they_name(
        a in (SECONDS, 0u32..1_000_000_000),
        b in (SECONDS, 0u32..1_000_000_000),
    ) {
        let sa = Sequencer::from_event(None, Some(&rfc3339(a.0, a.1)));
        let sb = Sequencer::from_event(None, Some(&rfc3339(b.0, b.1)));
        prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
    }

    #[test]
    fn every_sequencer_is_32_upper_case_hex_digits(
        sequencer in proptest::option::of(any::<String>()),
        event_time in proptest::option::of(any::<String>()),
    ) {
        let s = Sequencer::from_event(sequencer.as_deref(), event_time.as_deref());
        prop_assert_eq!(s.as_str().len(), 32);
        prop_assert!(s.as_str().bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
    }
}
