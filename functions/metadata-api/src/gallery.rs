//! The browser gallery: three static files compiled into the binary, so the API serves its own
//! page with no build step, no CDN and no other host (it works offline against the local cloud).

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("../gallery/index.html");
const GALLERY_CSS: &str = include_str!("../gallery/gallery.css");
const GALLERY_JS: &str = include_str!("../gallery/gallery.js");

/// The page may load only its own script, style and images from this origin or from the
/// presigned S3 links the API hands out (another host), and send uploads there.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' https: http: data: blob:; \
     connect-src 'self' https: http:; style-src 'self'; script-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Small and compiled in: a new deployment is a new binary, so a short cache is enough.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", GALLERY_CSS)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", GALLERY_JS)
}
