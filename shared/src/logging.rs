//! Log setup shared by the binaries: JSON lines in Lambda (CloudWatch parses them), readable
//! text on a terminal; `RUST_LOG` filters (`warn`, `imgpipe=debug,info`: levels per target),
//! `info` by default.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch stamps each line itself.
        let json = fmt.json().without_time();
        tracing_subscriber::registry()
            .with(json)
            .with(filter)
            .init();
    } else {
        tracing_subscriber::registry().with(fmt).with(filter).init();
    }
}

/// Per-target levels, not `EnvFilter`: its span and field filters need a regex engine in the
/// deployed binary, for a feature the functions' logging does not use. A `RUST_LOG` that does not
/// parse means `info`.
fn filter_from(setting: Option<&str>) -> Targets {
    setting
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::filter_from;
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_per_target_and_falls_back_to_info() {
        let plain = filter_from(Some("warn"));
        assert!(plain.would_enable("imgpipe", &Level::WARN));
        assert!(!plain.would_enable("imgpipe", &Level::INFO));

        let per_target = filter_from(Some("imgpipe=debug,info"));
        assert!(per_target.would_enable("imgpipe::image", &Level::DEBUG));
        assert!(!per_target.would_enable("aws_sdk_s3", &Level::DEBUG));
        assert!(per_target.would_enable("aws_sdk_s3", &Level::INFO));

        for fallback in [filter_from(None), filter_from(Some("imgpipe=loud"))] {
            assert!(fallback.would_enable("imgpipe", &Level::INFO));
            assert!(!fallback.would_enable("imgpipe", &Level::DEBUG));
        }
    }
}
