//! Object keys in S3 events are form-urlencoded: `+` is a space, `%XX` a byte.

use percent_encoding::percent_decode_str;

use super::EventError;

pub fn decode_key(raw: &str) -> Result<String, EventError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| EventError::Key {
            raw: raw.to_owned(),
        })
}
