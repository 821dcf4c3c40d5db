//! Event order for one key. S3's `sequencer` is a hex string that grows for later events on the
//! same key (compared after left-padding to equal length). Emulators that omit it get the event
//! time instead, in the same shape, so that one string comparison orders both.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Width of the stored form: longer than any sequencer S3 emits, so padding never truncates.
const WIDTH: usize = 32;

/// A sequencer normalised to `WIDTH` upper-case hex digits, so that string order is event order
/// (DynamoDB compares strings byte by byte).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sequencer(String);

impl Sequencer {
    pub fn from_event(sequencer: Option<&str>, event_time: Option<&str>) -> Self {
        if let Some(hex) = sequencer.map(str::trim).filter(|s| {
            !s.is_empty() && s.len() <= WIDTH && s.bytes().all(|b| b.is_ascii_hexdigit())
        }) {
            return Sequencer(format!("{:0>WIDTH$}", hex.to_ascii_uppercase()));
        }
        let nanos = event_time
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .map(|t| t.unix_timestamp_nanos().max(0) as u128)
            .unwrap_or(0);
        Sequencer(format!("{nanos:0WIDTH$X}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
