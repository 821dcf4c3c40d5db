//! Reads the images table for the API: listings through the secondary indexes (never a table
//! scan), single items by id, and presigned links to variants.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::presigning::PresigningConfig;
use imgpipe::store::{dynamo, StoredImage, LIST_PARTITION};

use crate::cursor::{CursorSigner, Position};
use crate::error::ApiError;
use crate::params::{Index, ListQuery};

/// A listing reads at most this many DynamoDB pages per request; with selective filters the
/// page may come back short, with a cursor to go on.
const MAX_PAGES_PER_REQUEST: usize = 10;
/// Page size when filters may discard items (DynamoDB applies `Limit` before filtering).
const FILTERED_PAGE: i32 = 100;
/// A pending upload's marker outlives its presigned request by a day: an upload sent just
/// before the link expires may wait in the queue a while before it is processed.
const PENDING_GRACE_SECONDS: i64 = 24 * 3600;

pub struct Catalog {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub derivatives_bucket: String,
    pub signer: CursorSigner,
}

pub struct Page {
    pub items: Vec<StoredImage>,
    pub next_cursor: Option<String>,
}

fn internal(context: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("{context}: {detail}"))
}

/// What the table holds under an id.
pub enum Lookup {
    Found(Box<StoredImage>),
    /// An upload the API issued (`POST /uploads`) that the pipeline has not recorded yet.
    Pending,
    Missing,
}

/// A presigned request for the client to send its file with.
pub struct PresignedUpload {
    pub method: String,
    pub url: String,
    /// Every header the signature covers, which the client must send as they are.
    pub headers: BTreeMap<String, String>,
}

impl Catalog {
    pub async fn get(&self, id: &str) -> Result<Lookup, ApiError> {
        let response = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(|e| internal("GetItem", DisplayErrorContext(&e)))?;
        let Some(item) = response.item else {
            return Ok(Lookup::Missing);
        };
        if dynamo::is_pending_marker(&item) {
            return Ok(Lookup::Pending);
        }
        dynamo::from_attributes(item)
            .map(|image| Lookup::Found(Box::new(image)))
            .map_err(|e| internal("item", e))
    }

    /// Records that an upload was issued, so that `GET /images/{id}` can tell "not processed
    /// yet" from "unknown" until the pipeline writes the real record over it. Never replaces
    /// an item (the key is fresh and random, so one would be a bug, not a race). The item has
    /// no `list_pk`, so no listing index holds it; `expires_at_epoch` lets DynamoDB's TTL drop it
    /// when the upload never came.
    pub async fn put_pending(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        expires: time::OffsetDateTime,
    ) -> Result<(), ApiError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let ttl = expires.unix_timestamp() + PENDING_GRACE_SECONDS;
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .item("id", s(id))
            .item("status", s(dynamo::PENDING_STATUS))
            .item("source_bucket", s(bucket))
            .item("source_key", s(key))
            .item("sequencer", s(""))
            .item("expires_at_epoch", AttributeValue::N(ttl.to_string()))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| internal("PutItem (pending upload)", DisplayErrorContext(&e)))?;
        Ok(())
    }

    /// A presigned `PUT` of exactly `bytes` bytes of `content_type` to `bucket`/`key`: both are
    /// signed headers, so S3 refuses the request with another size or type.
    pub async fn presign_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        bytes: u64,
        expiry: std::time::Duration,
    ) -> Result<PresignedUpload, ApiError> {
        let config = PresigningConfig::expires_in(expiry).map_err(|e| internal("presign", e))?;
        let length = i64::try_from(bytes).map_err(|e| internal("presign", e))?;
        let request = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(config)
            .await
            .map_err(|e| internal("presign", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        Ok(PresignedUpload {
            method: request.method().to_owned(),
            url: request.uri().to_owned(),
            headers: request
                .headers()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
                .collect(),
        })
    }

    pub async fn list(&self, query: &ListQuery) -> Result<Page, ApiError> {
        let fingerprint = query.fingerprint();
        let mut start = match &query.cursor {
            None => None,
            Some(cursor) => {
                let position = self.signer.decode(cursor, &fingerprint).map_err(|e| {
                    ApiError::bad(
                        "cursor",
                        format!("`cursor` is not valid for this listing: {e}"),
                    )
                })?;
                Some(start_key(&query.index, position.key)?)
            }
        };
        if query.is_empty_range() {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let filtered = query.status.is_some()
            || query.prefix.is_some()
            || taken_filter(query)
            || matches!(query.index, Index::BySha256(_));
        let mut items = Vec::new();
        let mut next = None;
        for _ in 0..MAX_PAGES_PER_REQUEST {
            next = None;
            let wanted = query.limit - items.len();
            let page_size = if filtered {
                FILTERED_PAGE
            } else {
                wanted as i32
            };
            let page = self.query_page(query, start.take(), page_size).await?;
            let raw = page.items.unwrap_or_default();
            let in_page = raw.len();
            for (n, attributes) in raw.into_iter().enumerate() {
                let position = position_of(&query.index, &attributes);
                items.push(dynamo::from_attributes(attributes).map_err(|e| internal("item", e))?);
                if items.len() == query.limit {
                    // Full. The next page starts after the last item returned, if anything
                    // may follow it: more items in this page, or more pages.
                    let more = n + 1 < in_page || page.last_evaluated_key.is_some();
                    next = more.then_some(position);
                    break;
                }
            }
            if items.len() == query.limit {
                break;
            }
            match page.last_evaluated_key {
                None => break,
                Some(last) => {
                    // If the page budget runs out here, the client goes on from this key.
                    next = Some(string_key(&last));
                    start = Some(last);
                }
            }
        }
        let next_cursor = next.map(|key| {
            self.signer.encode(&Position {
                query: fingerprint,
                key,
            })
        });
        Ok(Page { items, next_cursor })
    }

    async fn query_page(
        &self,
        query: &ListQuery,
        start: Option<HashMap<String, AttributeValue>>,
        page_size: i32,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput, ApiError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let mut request = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .index_name(query.index.name())
            .scan_index_forward(false)
            .limit(page_size.max(1))
            .set_exclusive_start_key(start);
        let mut filters = Vec::new();
        let (from, to) = (query.taken_from.as_deref(), query.taken_to.as_deref());
        let taken_range = match (from, to) {
            (Some(_), Some(_)) => Some("taken_at BETWEEN :from AND :to"),
            (Some(_), None) => Some("taken_at >= :from"),
            (None, Some(_)) => Some("taken_at <= :to"),
            (None, None) => None,
        };
        if let Some(f) = from {
            request = request.expression_attribute_values(":from", s(f));
        }
        if let Some(t) = to {
            request = request.expression_attribute_values(":to", s(t));
        }
        request = match &query.index {
            Index::ByUpload => request
                .key_condition_expression("list_pk = :p")
                .expression_attribute_values(":p", s(LIST_PARTITION)),
            Index::ByTaken => request
                .key_condition_expression(format!(
                    "list_pk = :p AND {}",
                    taken_range.unwrap_or("taken_at >= :from")
                ))
                .expression_attribute_values(":p", s(LIST_PARTITION)),
            Index::ByCamera(camera) => {
                if let Some(range) = taken_range {
                    filters.push(range.to_owned());
                }
                request
                    .key_condition_expression("camera = :camera")
                    .expression_attribute_values(":camera", s(camera))
            }
            Index::BySha256(hash) => {
                if let Some(range) = taken_range {
                    filters.push(range.to_owned());
                }
                if let Some(camera) = &query.camera {
                    filters.push("camera = :camera".to_owned());
                    request = request.expression_attribute_values(":camera", s(camera));
                }
                // Duplicates are processed photos only: a rejected or deleted upload is none.
                filters.push("#status = :processed".to_owned());
                request
                    .key_condition_expression("sha256 = :sha256")
                    .expression_attribute_values(":sha256", s(hash))
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":processed", s("processed"))
            }
        };
        if let Some(status) = &query.status {
            filters.push("#status = :status".to_owned());
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status));
        }
        if let Some(prefix) = &query.prefix {
            filters.push("begins_with(source_key, :prefix)".to_owned());
            request = request.expression_attribute_values(":prefix", s(prefix));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        request
            .send()
            .await
            .map_err(|e| internal("Query", DisplayErrorContext(&e)))
    }

    /// A GET link to one variant, valid for `expiry`.
    pub async fn presign(
        &self,
        key: &str,
        expiry: std::time::Duration,
    ) -> Result<String, ApiError> {
        let config = PresigningConfig::expires_in(expiry).map_err(|e| internal("presign", e))?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.derivatives_bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| internal("presign", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        Ok(request.uri().to_owned())
    }
}

fn taken_filter(query: &ListQuery) -> bool {
    // On by_taken the range is the key condition; on by_camera it is a filter.
    matches!(query.index, Index::ByCamera(_))
        && (query.taken_from.is_some() || query.taken_to.is_some())
}

fn position_of(index: &Index, item: &HashMap<String, AttributeValue>) -> BTreeMap<String, String> {
    index
        .key_attributes()
        .iter()
        .filter_map(|name| {
            item.get(*name)
                .and_then(|v| v.as_s().ok())
                .map(|v| (name.to_string(), v.clone()))
        })
        .collect()
}

fn string_key(key: &HashMap<String, AttributeValue>) -> BTreeMap<String, String> {
    key.iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone())))
        .collect()
}

/// Rebuilds DynamoDB's exclusive start key from a verified cursor; it must name exactly the
/// index's key attributes.
fn start_key(
    index: &Index,
    key: BTreeMap<String, String>,
) -> Result<HashMap<String, AttributeValue>, ApiError> {
    let expected = index.key_attributes();
    if key.len() != expected.len() || !expected.iter().all(|a| key.contains_key(*a)) {
        return Err(ApiError::bad(
            "cursor",
            "`cursor` is not valid for this listing",
        ));
    }
    Ok(key
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

    /// Presigning is local signing, no call: clients with made-up credentials will do.
    fn catalog() -> Catalog {
        let credentials = Credentials::new("AKIDEXAMPLE", "not-a-secret", None, None, "test");
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(credentials.clone())
            .build();
        let dynamodb = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .credentials_provider(credentials)
            .build();
        Catalog {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            s3: aws_sdk_s3::Client::from_conf(s3),
            table: "images".into(),
            derivatives_bucket: "derivatives".into(),
            signer: CursorSigner::new(b"0123456789abcdef"),
        }
    }

    #[tokio::test]
    async fn a_presigned_link_is_a_get_of_one_variant_that_expires_as_configured() {
        let url = catalog()
            .presign("0123abcd/thumb.jpg", std::time::Duration::from_secs(900))
            .await
            .expect("presigns");
        let (address, query) = url.split_once('?').expect("a query string");
        assert!(
            address.ends_with("derivatives.s3.eu-west-1.amazonaws.com/0123abcd/thumb.jpg"),
            "{address}"
        );
        let params: Vec<&str> = query.split('&').collect();
        for expected in ["X-Amz-Expires=900", "X-Amz-SignedHeaders=host"] {
            assert!(params.contains(&expected), "{expected} in {query}");
        }
        assert!(
            params.iter().any(|p| p.starts_with("X-Amz-Signature=")),
            "{query}"
        );
        assert!(
            !query.contains("not-a-secret"),
            "the secret key never appears in a link"
        );
    }
}
