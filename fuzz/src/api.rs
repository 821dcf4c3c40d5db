//! The metadata API's listing query: the query string as the router extracts it, the
//! validated listing, and the signed pagination cursor.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Query;
use axum::http::Uri;
use metadata_api::cursor::CursorSigner;
use metadata_api::params::{ListQuery, MAX_LIMIT};

/// The key the corpus's valid cursors were signed with (see fuzz/README.md).
pub const CURSOR_SECRET: &[u8] = b"imgpipe-fuzz-cursor-secret";

static SIGNER: LazyLock<CursorSigner> = LazyLock::new(|| CursorSigner::new(CURSOR_SECRET));

/// A cursor is accepted only if we issued it: then re-encoding what it says gives it back.
fn cursor(text: &str, fingerprint: &str) {
    if let Ok(position) = SIGNER.decode(text, fingerprint) {
        assert_eq!(
            SIGNER.encode(&position),
            text,
            "accepted a cursor we did not issue"
        );
        assert_eq!(position.query, fingerprint);
    }
}

pub fn query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    cursor(text, "");
    let Ok(uri) = format!("/images?{text}").parse::<Uri>() else {
        return;
    };
    let Ok(Query(params)) = Query::<HashMap<String, String>>::try_from_uri(&uri) else {
        return;
    };
    let Ok(listing) = ListQuery::parse(&params) else {
        return;
    };
    assert!((1..=MAX_LIMIT).contains(&listing.limit));
    // A reversed range is accepted, as an empty listing that is never queried.
    if let (Some(from), Some(to)) = (&listing.taken_from, &listing.taken_to) {
        assert_eq!(from > to, listing.is_empty_range(), "{from} vs {to}");
    }
    let fingerprint = listing.fingerprint();
    assert_eq!(fingerprint.len(), 24);
    if let Some(text) = &listing.cursor {
        cursor(text, &fingerprint);
    }
}
