//! Log setup shared by the binaries: JSON lines in Lambda (CloudWatch parses them), readable
//! text on a terminal; `RUST_LOG` filters, `info` by default.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch stamps each line itself.
        builder.json().without_time().init();
    } else {
        builder.init();
    }
}
