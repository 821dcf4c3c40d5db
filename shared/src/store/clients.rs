//! AWS clients, built once per cold start. The endpoint comes from the standard
//! `AWS_ENDPOINT_URL`, so the same binary talks to AWS or to a local emulator.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;

pub async fn load_sdk_config() -> SdkConfig {
    defaults().load().await
}

/// The SDK's defaults with the one HTTP client the workspace compiles (the SDKs' default
/// clients are left out to keep the Lambda zip small; see the workspace Cargo.toml). Anything
/// that loads an SDK config starts here, the tests included.
pub fn defaults() -> ConfigLoader {
    let http = Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http)
}

/// Emulators serve buckets by path (`http://host/bucket/key`), not by virtual host.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}
