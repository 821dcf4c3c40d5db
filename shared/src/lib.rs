//! imgpipe's core: turns an uploaded photo into upright, resized, metadata-free variants and a
//! typed metadata record, and knows how to read S3 events and talk to S3 and DynamoDB.
//! Nothing here knows about Lambda; the functions under `functions/` are thin adapters.

pub mod allocator;
pub mod config;
pub mod event;
pub mod image;
pub mod logging;
pub mod metadata;
pub mod metrics;
pub mod store;
