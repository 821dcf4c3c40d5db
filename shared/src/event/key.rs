//! Object keys in S3 events are form-urlencoded: `+` is a space, `%XX` a byte.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

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

/// What `encode_key` leaves as it is: letters, digits and `-_.~/`, which S3 leaves too.
const KEY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A key as an S3 event carries it (for the events `imgpipe reprocess` sends): every other byte
/// as `%XX`, a space and a `+` included, so that `decode_key` gives back exactly `key`.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ESCAPES).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_decode_to_themselves() {
        for key in [
            "../../etc/passwd",
            "trip/a b+c%41.jpg",
            "nul\0line\nbreak\r\t\u{7f}.jpg",
            "caf\u{e9}.jpg",
            "cafe\u{301}.jpg",
            "~/-_.",
            "",
        ] {
            let encoded = encode_key(key);
            assert!(!encoded.contains([' ', '+']), "{encoded}");
            assert_eq!(decode_key(&encoded).as_deref(), Ok(key), "{encoded}");
        }
    }

    #[test]
    fn hostile_keys_decode_to_exactly_what_was_uploaded() {
        for (raw, key) in [
            ("%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "../../etc/passwd"),
            ("../a+b%2Bc.jpg", "../a b+c.jpg"),
            (
                "nul%00line%0Abreak%0D%09%7F.jpg",
                "nul\0line\nbreak\r\t\u{7f}.jpg",
            ),
            ("caf%C3%A9.jpg", "caf\u{e9}.jpg"),
            ("cafe%CC%81.jpg", "cafe\u{301}.jpg"),
            ("Photo.JPG", "Photo.JPG"),
        ] {
            assert_eq!(decode_key(raw).as_deref(), Ok(key), "{raw}");
        }
    }

    #[test]
    fn a_key_that_is_not_utf8_is_an_error_naming_it() {
        assert_eq!(
            decode_key("bad%FF.jpg"),
            Err(EventError::Key {
                raw: "bad%FF.jpg".into()
            })
        );
    }
}
