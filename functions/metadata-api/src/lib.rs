//! The metadata query API: an axum router over the images table, served in Lambda through
//! `lambda_http` (API Gateway HTTP API, payload v2) or as a plain local HTTP server.

pub mod catalog;
pub mod config;
pub mod cursor;
pub mod error;
pub mod gallery;
pub mod params;
pub mod routes;
pub mod similar;
pub mod uploads;

pub use config::ApiConfig;
pub use routes::{router, AppState};

use std::sync::Arc;

/// Builds the router's state: clients made once, from one SDK config.
pub fn state_from(config: ApiConfig, sdk: &aws_config::SdkConfig) -> Arc<AppState> {
    let catalog = catalog::Catalog {
        dynamodb: imgpipe::store::clients::dynamodb_client(sdk),
        s3: imgpipe::store::clients::s3_client(sdk),
        table: config.table.clone(),
        derivatives_bucket: config.derivatives_bucket.clone(),
        signer: cursor::CursorSigner::new(&config.cursor_secret),
    };
    Arc::new(AppState { config, catalog })
}
