//! Entry point of the metadata API: in Lambda (API Gateway HTTP API, payload v2) through
//! `lambda_http`; anywhere else as a plain HTTP server on `API_LISTEN` (default 127.0.0.1:8080).

use metadata_api::{router, state_from, ApiConfig};

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    imgpipe::logging::init();
    let config = ApiConfig::from_env()?;
    let sdk = imgpipe::store::clients::load_sdk_config().await;
    let app = router(state_from(config, &sdk));
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_http::run(app).await;
    }
    let listen = std::env::var("API_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(
        "metadata API listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
