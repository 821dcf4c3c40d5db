//! Image records in DynamoDB. Every write is conditional on its event being at least as new as
//! the one already recorded, so repeats are harmless and older events never overwrite newer.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;

use super::{
    normalise_time, utc_now, Deletion, ImageTable, PutOutcome, StoreError, StoredImage,
    WriteOutcome, LIST_PARTITION,
};
use crate::metadata::Status;

/// Equal sequencers pass: a redelivered event rewrites the same item, which is idempotent, and
/// an emulator's millisecond event times can tie.
const NEWER_OR_SAME: &str = "attribute_not_exists(id) OR sequencer <= :sequencer";

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoImages {
    client: Client,
    table: String,
}

impl DynamoImages {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoImages {
            client,
            table: table.into(),
        }
    }

    /// A conditional write's result: a failed condition means a newer event is recorded.
    fn conditional<T, E, R>(
        &self,
        operation: &'static str,
        id: &str,
        result: Result<T, SdkError<E, R>>,
    ) -> Result<WriteOutcome, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Ok(WriteOutcome::Stale)
            }
            Err(e) => Err(self.error(operation, id, DisplayErrorContext(&e).to_string())),
        }
    }

    fn error(&self, operation: &'static str, id: &str, detail: String) -> StoreError {
        StoreError::Dynamo {
            operation,
            table: self.table.clone(),
            id: id.to_owned(),
            detail,
        }
    }
}

pub fn to_attributes(item: &StoredImage) -> Result<Item, serde_dynamo::Error> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(item)
}

/// Whether an item is the metadata API's marker of an upload it issued (`POST /uploads`) that
/// the pipeline has not recorded yet: `status` is `pending` and the `sequencer` is empty, older
/// than any event's, so the pipeline's conditional writes replace it.
pub fn is_pending_marker(item: &Item) -> bool {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    text("status") == Some(PENDING_STATUS) && text("sequencer") == Some("")
}

/// The status of a record a put replaced; `None` for a pending-upload marker or a status this
/// build does not know.
fn replaced_status(old: &Item) -> Option<Status> {
    if is_pending_marker(old) {
        return None;
    }
    let status = old.get("status")?.as_s().ok()?;
    serde_json::from_value(serde_json::Value::String(status.clone())).ok()
}

/// The `status` of a pending-upload marker.
pub const PENDING_STATUS: &str = "pending";

pub fn from_attributes(item: Item) -> Result<StoredImage, serde_dynamo::Error> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
}

impl ImageTable for DynamoImages {
    async fn put_if_newer(&self, item: &StoredImage) -> Result<PutOutcome, StoreError> {
        let attributes =
            to_attributes(item).map_err(|e| self.error("PutItem", &item.id, e.to_string()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attributes))
            .condition_expression(NEWER_OR_SAME)
            .expression_attribute_values(":sequencer", AttributeValue::S(item.sequencer.clone()))
            // What it replaced, free with the write: the handler cleans up after a record whose
            // variants may have had other names.
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let replaced = match &result {
            Ok(output) => output.attributes().and_then(replaced_status),
            Err(_) => None,
        };
        Ok(match self.conditional("PutItem", &item.id, result)? {
            WriteOutcome::Written => PutOutcome::Written { replaced },
            WriteOutcome::Stale => PutOutcome::Stale,
        })
    }

    async fn mark_deleted(&self, deletion: &Deletion) -> Result<WriteOutcome, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let source = &deletion.source;
        let now = utc_now();
        let uploaded_at = source
            .event_time
            .as_deref()
            .and_then(normalise_time)
            .unwrap_or_else(|| now.clone());
        let event_time = source
            .event_time
            .as_deref()
            .map_or(AttributeValue::Null(true), s);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(&source.id))
            .update_expression(
                "SET #status = :deleted, variants = :none, sequencer = :sequencer, \
                 source_bucket = :bucket, source_key = :key, event_time = :event_time, \
                 updated_at = :now, list_pk = :list_pk, \
                 uploaded_at = if_not_exists(uploaded_at, :uploaded_at) \
                 REMOVE expires_at_epoch, sha256, phash, phash_b0, phash_b1, phash_b2, \
                 phash_b3, phash_b4, thumbhash, dominant_color",
                // Without its hashes a deleted photo leaves the duplicate indexes, and its
                // placeholder (a blurred copy of the picture) goes with the variants. A delete
                // that lands on a pending-upload marker must not inherit its TTL: the deleted
                // record is what keeps an older, redelivered create from coming back.
            )
            .condition_expression(NEWER_OR_SAME)
            // `status` is a DynamoDB reserved word.
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":deleted", s(Status::Deleted.as_str()))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":sequencer", s(&deletion.sequencer))
            .expression_attribute_values(":bucket", s(&source.bucket))
            .expression_attribute_values(":key", s(&source.key))
            .expression_attribute_values(":event_time", event_time)
            .expression_attribute_values(":now", s(&now))
            .expression_attribute_values(":list_pk", s(LIST_PARTITION))
            .expression_attribute_values(":uploaded_at", s(&uploaded_at))
            .send()
            .await;
        self.conditional("UpdateItem", &source.id, result)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredImage>, StoreError> {
        let response = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", id, DisplayErrorContext(&e).to_string()))?;
        match response.item {
            // The API's marker of an upload it issued is not a record yet (nothing to compare
            // with or clean up after): as if absent, and the first event's write replaces it.
            Some(item) if is_pending_marker(&item) => Ok(None),
            Some(item) => from_attributes(item)
                .map(Some)
                .map_err(|e| self.error("GetItem", id, e.to_string())),
            None => Ok(None),
        }
    }
}
