//! `GET /images/{id}/similar`: the processed photos whose perceptual hash is within
//! `max_distance` bits of this one's, nearest first, found through the band indexes
//! (`imgpipe::store::similar`), never by scanning the table.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use imgpipe::image::phash::distance;
use imgpipe::store::similar::{band_key, bands, probes, radius_for, ATTRIBUTES, INDEXES};
use imgpipe::store::StoredImage;
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::cursor::Position;
use crate::error::ApiError;
use crate::params::{DEFAULT_LIMIT, MAX_LIMIT};

/// The default search distance, from the measurement (`docs/fingerprint-eval.txt`): every
/// re-encoded, resized or brightened copy and 44 of 47 cropped by 5% came within 8 bits, and no
/// two different photos but the same scene shot with and without HDR.
pub const DEFAULT_MAX_DISTANCE: u32 = 8;
/// The largest accepted: all measured copies were within 12; beyond it, different photos start
/// to match (1% of different pairs were within 14).
pub const MAX_DISTANCE: u32 = 12;
/// Band queries in flight at once.
const CONCURRENT_QUERIES: usize = 16;

/// A validated `similar` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimilarQuery {
    pub max_distance: u32,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl SimilarQuery {
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        const KNOWN: [&str; 3] = ["max_distance", "limit", "cursor"];
        if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ApiError::bad(
                unknown,
                format!("unknown parameter `{unknown}`; known: {}", KNOWN.join(", ")),
            ));
        }
        let number =
            |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| match params
                .get(name)
            {
                None => Ok(default),
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        ApiError::bad(
                            name,
                            format!(
                                "`{name}` must be a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        )
                    }),
            };
        let max_distance = number(
            "max_distance",
            DEFAULT_MAX_DISTANCE as usize,
            0..=MAX_DISTANCE as usize,
        )? as u32;
        let limit = number("limit", DEFAULT_LIMIT, 1..=MAX_LIMIT)?;
        let cursor = match params.get("cursor") {
            Some(c) if c.is_empty() => return Err(ApiError::bad("cursor", "`cursor` is empty")),
            other => other.cloned(),
        };
        Ok(SimilarQuery {
            max_distance,
            limit,
            cursor,
        })
    }

    /// Binds cursors to the photo and the distance (not the page size).
    fn fingerprint(&self, id: &str) -> String {
        let digest = Sha256::new()
            .chain_update(b"similar\0")
            .chain_update(id.as_bytes())
            .chain_update(self.max_distance.to_be_bytes())
            .finalize();
        hex::encode(&digest[..12])
    }
}

/// A page of similar photos: each with its distance, nearest first.
pub struct SimilarPage {
    pub items: Vec<(u32, StoredImage)>,
    pub next_cursor: Option<String>,
    /// How many band-index keys were queried (for the log: the search's cost).
    pub queries: usize,
}

/// A photo a band query found: its id and whether it may be listed.
struct Candidate {
    id: String,
    phash: u64,
    processed: bool,
}

impl Catalog {
    pub async fn similar(
        &self,
        photo: &StoredImage,
        hash: u64,
        query: &SimilarQuery,
    ) -> Result<SimilarPage, ApiError> {
        let fingerprint = query.fingerprint(&photo.id);
        let after = match &query.cursor {
            None => None,
            Some(cursor) => {
                let position = self.signer.decode(cursor, &fingerprint).map_err(|e| {
                    ApiError::bad(
                        "cursor",
                        format!("`cursor` is not valid for this search: {e}"),
                    )
                })?;
                let distance = position
                    .key
                    .get("distance")
                    .and_then(|d| d.parse::<u32>().ok());
                let id = position.key.get("id").cloned();
                match (distance, id) {
                    (Some(d), Some(id)) => Some((d, id)),
                    _ => {
                        return Err(ApiError::bad(
                            "cursor",
                            "`cursor` is not valid for this search",
                        ))
                    }
                }
            }
        };
        let radius = radius_for(query.max_distance);
        let keys: Vec<(usize, String)> = bands(hash)
            .iter()
            .enumerate()
            .flat_map(|(band, value)| {
                probes(band, *value, radius)
                    .into_iter()
                    .map(move |probe| (band, band_key(probe)))
            })
            .collect();
        let queries = keys.len();
        let found: Vec<Vec<Candidate>> = stream::iter(keys)
            .map(|(band, key)| self.band_candidates(band, key))
            .buffer_unordered(CONCURRENT_QUERIES)
            .try_collect()
            .await?;
        // Nearest first, then by id: the same order on every page.
        let mut matches: BTreeMap<(u32, String), ()> = BTreeMap::new();
        for candidate in found.into_iter().flatten() {
            let d = distance(hash, candidate.phash);
            if candidate.processed && candidate.id != photo.id && d <= query.max_distance {
                matches.insert((d, candidate.id), ());
            }
        }
        let mut ordered = matches.into_keys().filter(|key| match &after {
            None => true,
            Some(after) => key > after,
        });
        let page: Vec<(u32, String)> = ordered.by_ref().take(query.limit).collect();
        let more = ordered.next().is_some();
        let next_cursor = match (more, page.last()) {
            (true, Some((d, id))) => Some(self.signer.encode(&Position {
                query: fingerprint,
                key: BTreeMap::from([
                    ("distance".to_owned(), d.to_string()),
                    ("id".to_owned(), id.clone()),
                ]),
            })),
            _ => None,
        };
        let mut items = Vec::with_capacity(page.len());
        for (d, id) in page {
            // Deleted or replaced since the band query: left out, not an error.
            if let crate::catalog::Lookup::Found(item) = self.get(&id).await? {
                if item.record.status == imgpipe::metadata::Status::Processed {
                    items.push((d, *item));
                }
            }
        }
        Ok(SimilarPage {
            items,
            next_cursor,
            queries,
        })
    }

    /// Everything one band index holds under one key (all its pages).
    async fn band_candidates(&self, band: usize, key: String) -> Result<Vec<Candidate>, ApiError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .index_name(INDEXES[band])
                .key_condition_expression("#band = :value")
                .expression_attribute_names("#band", ATTRIBUTES[band])
                .expression_attribute_values(":value", AttributeValue::S(key.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| {
                    ApiError::Internal(format!(
                        "Query {}: {}",
                        INDEXES[band],
                        DisplayErrorContext(&e)
                    ))
                })?;
            for item in page.items() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let (Some(id), Some(phash)) = (text("id"), text("phash")) else {
                    continue;
                };
                let Ok(phash) = u64::from_str_radix(phash, 16) else {
                    continue;
                };
                out.push(Candidate {
                    id: id.clone(),
                    phash,
                    processed: text("status").map(String::as_str) == Some("processed"),
                });
            }
            match page.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<SimilarQuery, ApiError> {
        let params: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SimilarQuery::parse(&params)
    }

    #[test]
    fn defaults_and_bounds() {
        let q = parse(&[]).expect("defaults");
        assert_eq!(
            (q.max_distance, q.limit),
            (DEFAULT_MAX_DISTANCE, DEFAULT_LIMIT)
        );
        assert_eq!(
            parse(&[("max_distance", "12")]).expect("max").max_distance,
            12
        );
        for (name, value) in [
            ("max_distance", "13"),
            ("max_distance", "-1"),
            ("limit", "0"),
            ("limit", "101"),
            ("cursor", ""),
            ("near", "1"),
        ] {
            match parse(&[(name, value)]) {
                Err(ApiError::BadParameter { parameter, .. }) => assert_eq!(parameter, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn cursors_are_bound_to_the_photo_and_the_distance() {
        let q = parse(&[]).expect("defaults");
        let wider = parse(&[("max_distance", "10")]).expect("valid");
        assert_ne!(q.fingerprint("a"), q.fingerprint("b"));
        assert_ne!(q.fingerprint("a"), wider.fingerprint("a"));
        let smaller_page = parse(&[("limit", "5")]).expect("valid");
        assert_eq!(q.fingerprint("a"), smaller_page.fingerprint("a"));
    }
}
