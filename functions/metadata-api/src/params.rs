//! `GET /images` query parameters, validated into a listing plan that names its index.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;
const KNOWN: [&str; 8] = [
    "sha256",
    "status",
    "camera",
    "taken_from",
    "taken_to",
    "prefix",
    "limit",
    "cursor",
];
const STATUSES: [&str; 3] = ["processed", "rejected", "deleted"];
const MAX_TEXT: usize = 1024;

/// Which secondary index serves a listing, and by which keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    /// Everything, newest upload first.
    ByUpload,
    /// One camera (`make model`), newest upload first.
    ByCamera(String),
    /// A taken-at range, most recent shot first.
    ByTaken,
    /// The processed uploads with these exact bytes (hex SHA-256), newest first.
    BySha256(String),
}

impl Index {
    pub fn name(&self) -> &'static str {
        match self {
            Index::ByUpload => "by_upload",
            Index::ByCamera(_) => "by_camera",
            Index::ByTaken => "by_taken",
            Index::BySha256(_) => "by_sha256",
        }
    }

    /// The attributes DynamoDB needs in an exclusive start key for this index.
    pub fn key_attributes(&self) -> [&'static str; 3] {
        match self {
            Index::ByUpload => ["id", "list_pk", "uploaded_at"],
            Index::ByCamera(_) => ["id", "camera", "uploaded_at"],
            Index::ByTaken => ["id", "list_pk", "taken_at"],
            Index::BySha256(_) => ["id", "sha256", "uploaded_at"],
        }
    }
}

/// A validated listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub index: Index,
    pub status: Option<String>,
    /// A camera to filter by when another index serves the listing (`sha256`).
    pub camera: Option<String>,
    pub prefix: Option<String>,
    /// Inclusive bounds on the EXIF taken-at (camera-local wall time, as EXIF records it).
    pub taken_from: Option<String>,
    pub taken_to: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ApiError::bad(
                unknown,
                format!("unknown parameter `{unknown}`; known: {}", KNOWN.join(", ")),
            ));
        }
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            match params.get(name) {
                None => Ok(None),
                Some(v) if v.is_empty() => Err(ApiError::bad(name, format!("`{name}` is empty"))),
                Some(v) if v.len() > MAX_TEXT => Err(ApiError::bad(
                    name,
                    format!("`{name}` is longer than {MAX_TEXT} bytes"),
                )),
                Some(v) => Ok(Some(v.clone())),
            }
        };
        let status = text("status")?;
        if let Some(s) = &status {
            if !STATUSES.contains(&s.as_str()) {
                return Err(ApiError::bad(
                    "status",
                    format!("`status` must be one of {}", STATUSES.join(", ")),
                ));
            }
        }
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad(
                        "limit",
                        format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let taken_from = text("taken_from")?.map(|v| lower_bound(&v)).transpose()?;
        let taken_to = text("taken_to")?.map(|v| upper_bound(&v)).transpose()?;
        let camera = text("camera")?;
        let sha256 = text("sha256")?
            .map(|hash| {
                let hash = hash.to_ascii_lowercase();
                let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
                hex.then_some(hash).ok_or_else(|| {
                    ApiError::bad("sha256", "`sha256` must be 64 hexadecimal digits")
                })
            })
            .transpose()?;
        // An exact hash names few items: its index serves the listing, other filters filter.
        let (index, camera) = match (sha256, camera) {
            (Some(hash), camera) => (Index::BySha256(hash), camera),
            (None, Some(camera)) => (Index::ByCamera(camera), None),
            (None, None) if taken_from.is_some() || taken_to.is_some() => (Index::ByTaken, None),
            (None, None) => (Index::ByUpload, None),
        };
        Ok(ListQuery {
            index,
            status,
            camera,
            prefix: text("prefix")?,
            taken_from,
            taken_to,
            limit,
            cursor: text("cursor")?,
        })
    }

    /// A taken-at range that starts after it ends: it holds no photo, so the listing is empty.
    /// (Answered without a query: DynamoDB refuses a `BETWEEN` whose bounds are reversed.)
    pub fn is_empty_range(&self) -> bool {
        matches!((&self.taken_from, &self.taken_to), (Some(from), Some(to)) if from > to)
    }

    /// Identifies the query (index, key and filters, not limit or cursor) inside its cursors.
    pub fn fingerprint(&self) -> String {
        let key = match &self.index {
            Index::ByCamera(c) => c.as_str(),
            Index::BySha256(hash) => hash.as_str(),
            _ => "",
        };
        let parts = [
            self.index.name(),
            key,
            self.camera.as_deref().unwrap_or(""),
            self.status.as_deref().unwrap_or(""),
            self.prefix.as_deref().unwrap_or(""),
            self.taken_from.as_deref().unwrap_or(""),
            self.taken_to.as_deref().unwrap_or(""),
        ];
        let mut hash = Sha256::new();
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        hex_prefix(&hash.finalize())
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Taken-at values are stored as `YYYY-MM-DDTHH:MM:SS` (plus an offset when the camera wrote
/// one) and compared as strings. A bound is a date or a date-time; RFC 3339 offsets are
/// accepted and dropped, since EXIF times are the camera's wall clock.
fn parse_bound(name: &str, value: &str) -> Result<(Date, Option<PrimitiveDateTime>), ApiError> {
    let date_only = format_description!("[year]-[month]-[day]");
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(date) = Date::parse(value, date_only) {
        return Ok((date, None));
    }
    if let Ok(t) = PrimitiveDateTime::parse(value, local) {
        return Ok((t.date(), Some(t)));
    }
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        let wall = PrimitiveDateTime::new(t.date(), t.time());
        return Ok((t.date(), Some(wall)));
    }
    Err(ApiError::bad(
        name,
        format!("`{name}` must be an RFC 3339 date or date-time, like 2024-05-30 or 2024-05-30T15:56:01Z"),
    ))
}

fn stamp(t: PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn day(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn lower_bound(value: &str) -> Result<String, ApiError> {
    let (date, time) = parse_bound("taken_from", value)?;
    Ok(time.map_or_else(|| day(date), stamp))
}

fn upper_bound(value: &str) -> Result<String, ApiError> {
    let (date, time) = parse_bound("taken_to", value)?;
    // A bare date includes the whole day: `T~` sorts after every `THH:MM:SS…` of that date.
    Ok(time.map_or_else(|| format!("{}T~", day(date)), |t| format!("{}~", stamp(t))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        let params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&params)
    }

    fn parameter_of(err: ApiError) -> String {
        match err {
            ApiError::BadParameter { parameter, .. } => parameter,
            other => panic!("not a parameter error: {other}"),
        }
    }

    #[test]
    fn picks_the_index_for_the_filters() {
        assert_eq!(parse(&[]).expect("ok").index, Index::ByUpload);
        assert_eq!(
            parse(&[("camera", "NIKON D70")]).expect("ok").index,
            Index::ByCamera("NIKON D70".into())
        );
        assert_eq!(
            parse(&[("taken_from", "2008-01-01")]).expect("ok").index,
            Index::ByTaken
        );
        assert_eq!(parse(&[]).expect("ok").limit, DEFAULT_LIMIT);
    }

    #[test]
    fn date_bounds_cover_whole_days() {
        let q = parse(&[("taken_from", "2008-05-30"), ("taken_to", "2008-05-30")]).expect("ok");
        let (from, to) = (q.taken_from.expect("from"), q.taken_to.expect("to"));
        for inside in [
            "2008-05-30T00:00:00",
            "2008-05-30T23:59:59",
            "2008-05-30T15:56:01+02:00",
        ] {
            assert!(
                from.as_str() <= inside && inside <= to.as_str(),
                "{inside} in [{from}, {to}]"
            );
        }
        assert!("2008-05-31T00:00:00" > to.as_str());
        let q = parse(&[("taken_to", "2008-05-30T15:56:01Z")]).expect("ok");
        assert!("2008-05-30T15:56:01" <= q.taken_to.as_deref().expect("to"));
    }

    #[test]
    fn names_the_offending_parameter() {
        assert_eq!(
            parameter_of(parse(&[("limit", "0")]).expect_err("0")),
            "limit"
        );
        assert_eq!(
            parameter_of(parse(&[("limit", "101")]).expect_err("101")),
            "limit"
        );
        assert_eq!(
            parameter_of(parse(&[("limit", "ten")]).expect_err("ten")),
            "limit"
        );
        assert_eq!(
            parameter_of(parse(&[("status", "lost")]).expect_err("lost")),
            "status"
        );
        assert_eq!(
            parameter_of(parse(&[("taken_from", "yesterday")]).expect_err("date")),
            "taken_from"
        );
        assert_eq!(
            parameter_of(parse(&[("colour", "red")]).expect_err("unknown")),
            "colour"
        );
    }

    #[test]
    fn a_reversed_taken_range_is_empty_not_an_error() {
        // Valid by the document (each bound is a date), so it must not be a 400: it holds nothing.
        let reversed = parse(&[("taken_from", "2009-01-01"), ("taken_to", "2008-01-01")])
            .expect("each bound is valid");
        assert!(reversed.is_empty_range());
        let same_day =
            parse(&[("taken_from", "2008-05-30"), ("taken_to", "2008-05-30")]).expect("valid");
        assert!(!same_day.is_empty_range());
        assert!(!parse(&[("taken_from", "2009-01-01")])
            .expect("valid")
            .is_empty_range());
    }

    #[test]
    fn fingerprints_differ_by_filter_not_by_page() {
        let a = parse(&[("status", "processed")]).expect("ok");
        let b = parse(&[("status", "processed"), ("limit", "5"), ("cursor", "x.y")]).expect("ok");
        let c = parse(&[("status", "rejected")]).expect("ok");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    /// A `by_camera` listing reads one camera's partition; its cursor must not open another's.
    #[test]
    fn a_cursor_from_one_cameras_listing_is_foreign_to_every_other_listing() {
        use crate::cursor::{CursorError, CursorSigner, Position};
        let signer = CursorSigner::new(b"0123456789abcdef");
        let nikon = parse(&[("camera", "NIKON D70")]).expect("ok");
        let cursor = signer.encode(&Position {
            query: nikon.fingerprint(),
            key: [
                ("camera".to_owned(), "NIKON D70".to_owned()),
                ("id".to_owned(), "abc".to_owned()),
                (
                    "uploaded_at".to_owned(),
                    "2026-11-26T00:00:00.000Z".to_owned(),
                ),
            ]
            .into(),
        });
        assert!(signer.decode(&cursor, &nikon.fingerprint()).is_ok());
        for other in [
            vec![("camera", "Canon EOS 40D")],
            vec![("camera", "nikon d70")],
            vec![],
            vec![("taken_from", "2008-01-01")],
        ] {
            let query = parse(&other).expect("ok");
            assert_eq!(
                signer.decode(&cursor, &query.fingerprint()),
                Err(CursorError::Foreign),
                "{other:?}"
            );
        }
    }
}
