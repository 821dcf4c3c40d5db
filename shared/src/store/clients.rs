//! AWS clients, built once per cold start. The endpoint comes from the standard
//! `AWS_ENDPOINT_URL`, so the same binary talks to AWS or to a local emulator.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;

/// The full provider chain: environment, profile files, web identity, ECS, IMDS.
pub async fn load_sdk_config() -> SdkConfig {
    defaults().load().await
}

/// The SDK's defaults with the one HTTP client the workspace compiles (the SDKs' default
/// clients are left out to keep the Lambda zip small; see the workspace Cargo.toml). Anything
/// that loads an SDK config through the provider chain starts here, the tests included.
pub fn defaults() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

fn http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("neither AWS_REGION nor AWS_DEFAULT_REGION is set (Lambda sets AWS_REGION)")]
    NoRegion,
}

/// The SDK config from the environment alone: region, credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and `AWS_ENDPOINT_URL`, which is all that Lambda
/// and the local cloud give a function. process-upload starts here: not naming the provider chain
/// keeps its profile-file, web-identity, ECS, IMDS and STS code out of the deployed binary.
/// Retries (standard mode), timeouts and the identity cache are left to the clients' defaults;
/// the fault tests (`tests/tests/faults.rs`) run process-upload through its retries this way.
pub fn from_environment() -> Result<SdkConfig, EnvironmentError> {
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = variable("AWS_REGION")
        .or_else(|| variable("AWS_DEFAULT_REGION"))
        .ok_or(EnvironmentError::NoRegion)?;
    let credentials = EnvironmentVariableCredentialsProvider::new();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client());
    if let Some(endpoint) = variable("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
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
