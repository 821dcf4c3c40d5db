//! The API's settings, from the environment.

use std::time::Duration;

use crate::uploads::UploadsConfig;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: &'static str },
    #[error("environment variable {name}=`{value}`: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: &'static str,
    },
}

/// Presigned links live 15 minutes unless configured; S3 allows at most 7 days.
const DEFAULT_PRESIGN_SECONDS: u64 = 900;
const MAX_PRESIGN_SECONDS: u64 = 7 * 24 * 3600;
/// Where `POST /uploads` puts keys unless `UPLOAD_PREFIX` says otherwise.
const DEFAULT_UPLOAD_PREFIX: &str = "uploads/";
/// An HMAC key shorter than this is too easy to guess.
const MIN_CURSOR_SECRET_BYTES: usize = 16;

#[derive(Clone)]
pub struct ApiConfig {
    pub table: String,
    pub derivatives_bucket: String,
    /// GPS is private unless the deployment opts in (`API_EXPOSE_GPS=true`).
    pub expose_gps: bool,
    /// `API_CORS_ORIGINS`: comma-separated origins, or `*`; empty means no CORS headers.
    pub cors_origins: Vec<String>,
    /// `API_PRESIGN_SECONDS`: lifetime of the variant links.
    pub presign_expiry: Duration,
    /// `API_CURSOR_SECRET`: the key that signs pagination cursors. Shared by every instance
    /// of the function, so a cursor from one instance is valid on the next.
    pub cursor_secret: Vec<u8>,
    /// `POST /uploads`, when `UPLOADS_BUCKET` is set (the template sets it only together with
    /// an authorizer); without it the route answers 404 and the API stays read-only.
    pub uploads: Option<UploadsConfig>,
}

impl ApiConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ApiConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ApiConfigError::Missing { name })
        };
        let expose_gps = match lookup("API_EXPOSE_GPS").as_deref().map(str::trim) {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ApiConfigError::Invalid {
                    name: "API_EXPOSE_GPS",
                    value: other.to_owned(),
                    problem: "expected true or false",
                })
            }
        };
        let presign_seconds = match lookup("API_PRESIGN_SECONDS") {
            None => DEFAULT_PRESIGN_SECONDS,
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=MAX_PRESIGN_SECONDS).contains(s))
                .ok_or(ApiConfigError::Invalid {
                    name: "API_PRESIGN_SECONDS",
                    value,
                    problem: "expected whole seconds from 1 to 604800 (7 days)",
                })?,
        };
        let cursor_secret = required("API_CURSOR_SECRET")?;
        if cursor_secret.len() < MIN_CURSOR_SECRET_BYTES {
            return Err(ApiConfigError::Invalid {
                name: "API_CURSOR_SECRET",
                value: "(hidden)".to_owned(),
                problem: "must be at least 16 bytes",
            });
        }
        let uploads = match lookup("UPLOADS_BUCKET").filter(|b| !b.trim().is_empty()) {
            None => None,
            Some(bucket) => Some(UploadsConfig {
                bucket,
                prefix: lookup("UPLOAD_PREFIX").unwrap_or_else(|| DEFAULT_UPLOAD_PREFIX.to_owned()),
                max_bytes: match lookup("IMGPIPE_MAX_BYTES") {
                    None => imgpipe::config::DEFAULT_MAX_BYTES,
                    Some(value) => value.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or(
                        ApiConfigError::Invalid {
                            name: "IMGPIPE_MAX_BYTES",
                            value,
                            problem: "expected a whole number of bytes above 0",
                        },
                    )?,
                },
            }),
        };
        Ok(ApiConfig {
            uploads,
            table: required("TABLE_NAME")?,
            derivatives_bucket: required("DERIVATIVES_BUCKET")?,
            expose_gps,
            cors_origins: lookup("API_CORS_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
            presign_expiry: Duration::from_secs(presign_seconds),
            cursor_secret: cursor_secret.into_bytes(),
        })
    }

    pub fn from_env() -> Result<Self, ApiConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Written by hand so that the cursor secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("table", &self.table)
            .field("derivatives_bucket", &self.derivatives_bucket)
            .field("expose_gps", &self.expose_gps)
            .field("cors_origins", &self.cors_origins)
            .field("presign_expiry", &self.presign_expiry)
            .field("cursor_secret", &"(hidden)")
            .field("uploads", &self.uploads)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<ApiConfig, ApiConfigError> {
        let mut env: HashMap<&str, &str> = [
            ("TABLE_NAME", "t"),
            ("DERIVATIVES_BUCKET", "d"),
            ("API_CURSOR_SECRET", "0123456789abcdef0123"),
        ]
        .into();
        env.extend(pairs.iter().copied());
        ApiConfig::from_lookup(|k| env.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn gps_is_private_by_default() {
        assert!(!config(&[]).expect("valid").expose_gps);
        assert!(
            config(&[("API_EXPOSE_GPS", "true")])
                .expect("valid")
                .expose_gps
        );
        assert!(config(&[("API_EXPOSE_GPS", "yes please")]).is_err());
    }

    #[test]
    fn parses_cors_origins_and_presign_expiry() {
        let c = config(&[
            ("API_CORS_ORIGINS", "https://a.example, https://b.example"),
            ("API_PRESIGN_SECONDS", "60"),
        ])
        .expect("valid");
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(c.presign_expiry, Duration::from_secs(60));
        assert!(config(&[("API_PRESIGN_SECONDS", "0")]).is_err());
    }

    #[test]
    fn the_cursor_secret_never_shows_in_debug_output() {
        let shown = format!("{:?}", config(&[]).expect("valid"));
        assert!(!shown.contains("0123456789abcdef0123"), "{shown}");
        assert!(shown.contains("cursor_secret: \"(hidden)\""), "{shown}");
    }

    #[test]
    fn refuses_a_short_cursor_secret() {
        let err = config(&[("API_CURSOR_SECRET", "short")]).expect_err("too short");
        assert!(err.to_string().contains("16 bytes"), "{err}");
        assert!(
            !err.to_string().contains("short"),
            "the secret is not echoed"
        );
    }

    #[test]
    fn uploads_are_off_unless_a_bucket_is_named() {
        assert_eq!(config(&[]).expect("valid").uploads, None);
        let on = config(&[("UPLOADS_BUCKET", "up")]).expect("valid");
        assert_eq!(
            on.uploads,
            Some(UploadsConfig {
                bucket: "up".into(),
                prefix: "uploads/".into(),
                max_bytes: imgpipe::config::DEFAULT_MAX_BYTES,
            })
        );
        let tuned = config(&[
            ("UPLOADS_BUCKET", "up"),
            ("UPLOAD_PREFIX", "inbox/"),
            ("IMGPIPE_MAX_BYTES", "1000"),
        ])
        .expect("valid");
        let uploads = tuned.uploads.expect("on");
        assert_eq!(
            (uploads.prefix.as_str(), uploads.max_bytes),
            ("inbox/", 1000)
        );
        assert!(config(&[("UPLOADS_BUCKET", "up"), ("IMGPIPE_MAX_BYTES", "lots")]).is_err());
    }
}
