//! The routes. Every response is JSON (or a redirect); every error has the same shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use imgpipe::store::StoredImage;
use serde_json::{json, Map, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::catalog::{Catalog, Lookup};
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::gallery;
use crate::params::ListQuery;
use crate::similar::SimilarQuery;
use crate::uploads::{upload_key, UploadRequest};

/// The OpenAPI document, kept beside the template and served as it is.
pub const OPENAPI: &str = include_str!("../../../infra/openapi.json");

/// Item attributes that only the pipeline and the indexes need.
const INTERNAL_ATTRIBUTES: [&str; 7] = [
    "list_pk",
    "sequencer",
    "phash_b0",
    "phash_b1",
    "phash_b2",
    "phash_b3",
    "phash_b4",
];

pub struct AppState {
    pub config: ApiConfig,
    pub catalog: Catalog,
}

pub fn router(state: Arc<AppState>) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    let router = Router::new()
        .route("/", get(gallery::index))
        .route("/gallery.css", get(gallery::stylesheet))
        .route("/gallery.js", get(gallery::script))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/images", get(list_images))
        .route("/images/{id}", get(get_image))
        .route("/images/{id}/variants/{name}", get(redirect_to_variant))
        .route("/images/{id}/similar", get(similar_images))
        .route("/uploads", post(create_upload))
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state);
    match cors {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            // Authorization: a deployment with an authorizer takes a bearer token.
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
    )
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list_images(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(&params)?;
    let page = state.catalog.list(&query).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let mut entry = summary(item);
        entry["thumbnail"] = thumbnail(&state, item).await?;
        items.push(entry);
    }
    Ok(Json(
        json!({ "items": items, "next_cursor": page.next_cursor }),
    ))
}

/// What a listing shows of each image.
fn summary(item: &StoredImage) -> Value {
    let exif = item.record.exif.as_ref();
    json!({
        "id": item.id,
        "source_key": item.source_key,
        "status": item.record.status,
        "reason": item.record.reason,
        "width": item.record.width,
        "height": item.record.height,
        "camera": {
            "make": exif.and_then(|e| e.make.clone()),
            "model": exif.and_then(|e| e.model.clone()),
        },
        "taken_at": item.taken_at,
        "uploaded_at": item.uploaded_at,
        "thumbhash": item.record.thumbhash,
        "dominant_color": item.record.dominant_color,
        "phash": item.record.phash,
        "href": format!("/images/{}", item.id),
    })
}

/// `GET /images/{id}/similar`: photos whose perceptual hash is near this one's.
async fn similar_images(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let query = SimilarQuery::parse(&params)?;
    let photo = find(&state, &id).await?;
    // Rejected photos never had a hash; a delete removes it.
    let Some(hash) = photo
        .record
        .phash
        .as_deref()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
    else {
        return Err(ApiError::NotFound(format!(
            "image `{}` has no perceptual hash: only processed photos are compared",
            photo.id
        )));
    };
    let page = state.catalog.similar(&photo, hash, &query).await?;
    tracing::info!(id = %photo.id, queries = page.queries, found = page.items.len(), "similar photos");
    let mut items = Vec::with_capacity(page.items.len());
    for (distance, item) in &page.items {
        let mut entry = summary(item);
        entry["thumbnail"] = thumbnail(&state, item).await?;
        entry["distance"] = json!(distance);
        items.push(entry);
    }
    Ok(Json(json!({
        "items": items,
        "next_cursor": page.next_cursor,
        "max_distance": query.max_distance,
    })))
}

/// The smallest variant of a processed image, with a presigned link: what a grid shows. A link
/// rather than the `/variants/{name}` redirect, because an `<img>` cannot send the bearer token a
/// deployment with an authorizer requires. Presigning is local signing, no request to S3.
async fn thumbnail(state: &AppState, item: &StoredImage) -> Result<Value, ApiError> {
    let smallest = item
        .record
        .variants
        .iter()
        .min_by_key(|v| u64::from(v.width) * u64::from(v.height));
    let Some(variant) = smallest else {
        return Ok(Value::Null);
    };
    let url = state
        .catalog
        .presign(&variant.key, state.config.presign_expiry)
        .await?;
    Ok(json!({
        "name": variant.name,
        "url": url,
        "width": variant.width,
        "height": variant.height,
    }))
}

/// Ids are 32 lower-case hex digits; anything else cannot name an image.
fn checked_id(id: &str) -> Result<&str, ApiError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id)
    } else {
        Err(ApiError::NotFound(format!(
            "no image with id `{}`",
            truncate(id)
        )))
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

async fn find(state: &AppState, id: &str) -> Result<StoredImage, ApiError> {
    let id = checked_id(id)?;
    match state.catalog.get(id).await? {
        Lookup::Found(item) => Ok(*item),
        Lookup::Pending => Err(ApiError::Pending(format!(
            "image `{id}` was issued an upload but has not been processed yet"
        ))),
        Lookup::Missing => Err(ApiError::NotFound(format!("no image with id `{id}`"))),
    }
}

/// `POST /uploads`: a presigned request to upload one file, under a key the server chooses,
/// and the id its record will have.
async fn create_upload(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(uploads) = &state.config.uploads else {
        return Err(ApiError::NotFound(
            "uploads are not enabled on this deployment (it has no authorizer)".to_owned(),
        ));
    };
    let request = UploadRequest::parse(&body, uploads.max_bytes)?;
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).map_err(|e| ApiError::Internal(format!("random id: {e}")))?;
    let now = time::OffsetDateTime::now_utc();
    let key = upload_key(&uploads.prefix, now, &random, &request.filename);
    let id = imgpipe::store::image_id(&uploads.bucket, &key);
    let expiry = state.config.presign_expiry;
    let expires_at = now + expiry;
    let presigned = state
        .catalog
        .presign_upload(
            &uploads.bucket,
            &key,
            &request.content_type,
            request.bytes,
            expiry,
        )
        .await?;
    state
        .catalog
        .put_pending(&id, &uploads.bucket, &key, expires_at)
        .await?;
    let expires_text = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::Internal(format!("expiry time: {e}")))?;
    let body = json!({
        "id": id,
        "key": key,
        "upload": {
            "method": presigned.method,
            "url": presigned.url,
            "headers": presigned.headers,
        },
        "expires_at": expires_text,
        "href": format!("/images/{id}"),
    });
    let location = HeaderValue::from_str(&format!("/images/{id}"))
        .map_err(|e| ApiError::Internal(format!("location: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

async fn get_image(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let item = find(&state, &id).await?;
    let mut body = match serde_json::to_value(&item) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(ApiError::Internal(format!(
                "item {id} does not serialise to an object"
            )))
        }
    };
    for attribute in INTERNAL_ATTRIBUTES {
        body.remove(attribute);
    }
    if !state.config.expose_gps {
        // Location is private by default: not even `null` hints at whether there was one.
        body.remove("gps");
    }
    let mut variants = Vec::with_capacity(item.record.variants.len());
    for variant in &item.record.variants {
        let mut entry = match serde_json::to_value(variant) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let url = state
            .catalog
            .presign(&variant.key, state.config.presign_expiry)
            .await?;
        entry.insert("url".into(), Value::String(url));
        entry.insert(
            "href".into(),
            Value::String(format!("/images/{}/variants/{}", item.id, variant.name)),
        );
        variants.push(Value::Object(entry));
    }
    body.insert("variants".into(), Value::Array(variants));
    Ok(Json(Value::Object(body)))
}

async fn redirect_to_variant(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let item = find(&state, &id).await?;
    let variant = item
        .record
        .variants
        .iter()
        .find(|v| v.name == name)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "image `{}` has no variant `{}`",
                item.id,
                truncate(&name)
            ))
        })?;
    let url = state
        .catalog
        .presign(&variant.key, state.config.presign_expiry)
        .await?;
    let location = HeaderValue::from_str(&url)
        .map_err(|e| ApiError::Internal(format!("presigned URL: {e}")))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}
