//! Pagination cursors: opaque to clients, signed so that they cannot be forged, and bound to
//! the query that issued them, so that a cursor from another listing is refused instead of
//! silently restarting or reading elsewhere.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;
/// The signature is truncated to 128 bits: plenty against forgery, shorter URLs.
const SIGNATURE_BYTES: usize = 16;
/// A cursor longer than this is not one of ours; refuse before decoding it.
const MAX_CURSOR_CHARS: usize = 2048;

/// Where the next page starts: DynamoDB's exclusive start key (all our keys are strings),
/// plus the query it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Fingerprint of the index and filters of the query.
    pub query: String,
    pub key: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    #[error("cursor is malformed")]
    Malformed,
    #[error("cursor signature does not match")]
    Forged,
    #[error("cursor belongs to a different query")]
    Foreign,
}

pub struct CursorSigner {
    key: Vec<u8>,
}

impl CursorSigner {
    pub fn new(secret: &[u8]) -> Self {
        CursorSigner {
            key: secret.to_vec(),
        }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(payload.as_bytes());
        mac
    }

    pub fn encode(&self, position: &Position) -> String {
        let json = serde_json::to_vec(position).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(&tag[..SIGNATURE_BYTES])
        )
    }

    /// Checks the signature first, then that the cursor was issued for `query`.
    pub fn decode(&self, cursor: &str, query: &str) -> Result<Position, CursorError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(CursorError::Malformed);
        }
        let (payload, signature) = cursor.split_once('.').ok_or(CursorError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| CursorError::Malformed)?;
        if signature.len() != SIGNATURE_BYTES {
            return Err(CursorError::Forged);
        }
        self.mac(payload)
            .verify_truncated_left(&signature)
            .map_err(|_| CursorError::Forged)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| CursorError::Malformed)?;
        let position: Position =
            serde_json::from_slice(&json).map_err(|_| CursorError::Malformed)?;
        if position.query != query {
            return Err(CursorError::Foreign);
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(query: &str) -> Position {
        Position {
            query: query.to_owned(),
            key: [
                ("id".to_owned(), "abc".to_owned()),
                ("uploaded_at".to_owned(), "2026".to_owned()),
            ]
            .into(),
        }
    }

    #[test]
    fn round_trips() {
        let signer = CursorSigner::new(b"0123456789abcdef");
        let cursor = signer.encode(&position("q1"));
        assert_eq!(signer.decode(&cursor, "q1"), Ok(position("q1")));
    }

    #[test]
    fn refuses_tampering_other_keys_and_other_queries() {
        let signer = CursorSigner::new(b"0123456789abcdef");
        let cursor = signer.encode(&position("q1"));
        let (payload, signature) = cursor.split_once('.').expect("two parts");

        // Re-encode the payload with a different start key, keeping the old signature.
        let mut forged = position("q1");
        forged.key.insert("id".into(), "zzz".into());
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        assert_eq!(
            signer.decode(&format!("{forged_payload}.{signature}"), "q1"),
            Err(CursorError::Forged)
        );

        let other_signer = CursorSigner::new(b"another secret key!!");
        assert_eq!(other_signer.decode(&cursor, "q1"), Err(CursorError::Forged));
        assert_eq!(signer.decode(&cursor, "q2"), Err(CursorError::Foreign));
        assert_eq!(
            signer.decode(&format!("{payload}.AAAA"), "q1"),
            Err(CursorError::Forged)
        );
        assert_eq!(signer.decode("garbage", "q1"), Err(CursorError::Malformed));
        assert_eq!(
            signer.decode(&"x".repeat(5000), "q1"),
            Err(CursorError::Malformed)
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Short enough that every encoded cursor stays under `MAX_CURSOR_CHARS`.
        fn any_position() -> impl Strategy<Value = Position> {
            (
                "\\PC{0,24}",
                proptest::collection::btree_map("\\PC{0,12}", "\\PC{0,24}", 0..4),
            )
                .prop_map(|(query, key)| Position { query, key })
        }

        fn any_secret() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(any::<u8>(), 0..80)
        }

        proptest! {
            #[test]
            fn a_cursor_decodes_to_its_position(secret in any_secret(), position in any_position()) {
                let signer = CursorSigner::new(&secret);
                let cursor = signer.encode(&position);
                prop_assert_eq!(signer.decode(&cursor, &position.query), Ok(position));
            }

            #[test]
            fn a_cursor_is_refused_for_another_query(
                position in any_position(),
                other in "\\PC{0,24}",
            ) {
                prop_assume!(other != position.query);
                let signer = CursorSigner::new(b"secret");
                let cursor = signer.encode(&position);
                prop_assert_eq!(signer.decode(&cursor, &other), Err(CursorError::Foreign));
            }

            #[test]
            fn any_changed_character_is_refused(
                position in any_position(),
                at in any::<proptest::sample::Index>(),
                replacement in "[A-Za-z0-9_.-]",
            ) {
                let signer = CursorSigner::new(b"secret");
                let cursor = signer.encode(&position);
                // Cursors are ASCII, so every byte index is a character boundary.
                let at = at.index(cursor.len());
                let mut changed = cursor.clone();
                changed.replace_range(at..=at, &replacement);
                prop_assume!(changed != cursor);
                prop_assert!(signer.decode(&changed, &position.query).is_err());
            }

            #[test]
            fn arbitrary_text_is_never_a_cursor(text in "\\PC{0,200}", secret in any_secret()) {
                prop_assert!(CursorSigner::new(&secret).decode(&text, "").is_err());
            }
        }
    }
}
