//! The metadata API's router against the emulator's DynamoDB and S3, over items written by the
//! real processing path (photos uploaded through the local cloud), plus the Lambda entry point
//! fed an API Gateway v2 event.

use std::collections::{BTreeMap, HashSet};
use std::future::IntoFuture;
use std::io::{Read, Write};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use imgpipe::metadata::Status;
use imgpipe::store::StoredImage;
use imgpipe_e2e::{fixture, unique, Cloud};
use metadata_api::uploads::UploadsConfig;
use metadata_api::{router, state_from, ApiConfig};
use serde_json::Value;
use tokio::sync::OnceCell;
use tower::ServiceExt;

/// The photos every test here reads, uploaded once per test binary.
struct Library {
    prefix: String,
    /// source key -> record, as processed.
    items: BTreeMap<String, StoredImage>,
}

const PHOTOS: [(&str, &str); 7] = [
    ("canon.jpg", "cameras/Canon_40D.jpg"),
    ("nikon.jpg", "cameras/Nikon_D70.jpg"),
    ("gps.jpg", "cameras/DSCN0010.jpg"),
    ("fuji.jpg", "cameras/Fujifilm_FinePix_E500.jpg"),
    ("pentax.jpg", "cameras/Pentax_K10D.jpg"),
    ("nested/panasonic.jpg", "cameras/Panasonic_DMC-FZ30.jpg"),
    ("broken.jpg", "invalid/corrupted.jpg"),
];

static LIBRARY: OnceCell<Library> = OnceCell::const_new();

async fn library() -> &'static Library {
    LIBRARY
        .get_or_init(|| async {
            let cloud = Cloud::from_env().await;
            let prefix = format!("{}/", unique("api"));
            for (name, path) in PHOTOS {
                cloud
                    .upload(&format!("{prefix}{name}"), fixture(path))
                    .await;
            }
            let mut items = BTreeMap::new();
            for (name, _) in PHOTOS {
                let key = format!("{prefix}{name}");
                let item = cloud
                    .wait_for_item(&key, |i| i.record.status != Status::Deleted)
                    .await;
                items.insert(key, item);
            }
            Library { prefix, items }
        })
        .await
}

fn config(cloud: &Cloud) -> ApiConfig {
    ApiConfig {
        table: cloud.table.clone(),
        derivatives_bucket: cloud.derivatives.clone(),
        expose_gps: false,
        cors_origins: Vec::new(),
        presign_expiry: Duration::from_secs(120),
        cursor_secret: b"end-to-end test cursor secret".to_vec(),
        uploads: None,
    }
}

fn uploads_on(cloud_uploads: &str) -> impl FnOnce(&mut ApiConfig) + '_ {
    move |c: &mut ApiConfig| {
        c.uploads = Some(UploadsConfig {
            bucket: cloud_uploads.to_owned(),
            prefix: "uploads/".to_owned(),
            max_bytes: imgpipe::config::DEFAULT_MAX_BYTES,
        })
    }
}

async fn api_with(configure: impl FnOnce(&mut ApiConfig)) -> Router {
    let cloud = Cloud::from_env().await;
    let mut config = config(&cloud);
    configure(&mut config);
    let sdk = imgpipe::store::clients::defaults().load().await;
    router(state_from(config, &sdk))
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

async fn call(app: &Router, method: &str, uri: &str, origin: Option<&str>) -> Reply {
    call_with(app, method, uri, origin, Vec::new()).await
}

async fn call_with(
    app: &Router,
    method: &str,
    uri: &str,
    origin: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"))
    {
        serde_json::from_slice(&bytes).expect("JSON body")
    } else {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    Reply {
        status,
        headers,
        json,
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    call(app, "GET", uri, None).await
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn keys_of(reply: &Reply) -> Vec<String> {
    reply.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["source_key"].as_str().expect("source_key").to_owned())
        .collect()
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], code, "{}", reply.json);
    assert!(reply.json["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn lists_newest_first_with_a_prefix() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let reply = get(&app, &format!("/images?prefix={}", encode(&lib.prefix))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let keys = keys_of(&reply);
    assert_eq!(
        keys.iter().cloned().collect::<HashSet<_>>(),
        lib.items.keys().cloned().collect()
    );
    let uploaded: Vec<&str> = reply.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["uploaded_at"].as_str().expect("uploaded_at"))
        .collect();
    assert!(
        uploaded.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {uploaded:?}"
    );
    assert!(
        reply.json["next_cursor"].is_null(),
        "one page holds them all"
    );
}

#[tokio::test]
async fn pages_through_everything_without_losing_or_repeating_an_item() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    for filter in [String::new(), "&status=processed".to_owned()] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let mut uri = format!("/images?limit=2&prefix={}{filter}", encode(&lib.prefix));
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={}", encode(c)));
            }
            let reply = get(&app, &uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
            let keys = keys_of(&reply);
            assert!(keys.len() <= 2);
            seen.extend(keys);
            match reply.json["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no repeats: {seen:?}");
        let expected: HashSet<&String> = lib
            .items
            .iter()
            .filter(|(_, i)| filter.is_empty() || i.record.status == Status::Processed)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(unique, expected, "nothing lost ({filter})");
    }
}

#[tokio::test]
async fn filters_by_status_camera_and_taken_date() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let prefix = encode(&lib.prefix);

    let rejected = get(&app, &format!("/images?status=rejected&prefix={prefix}")).await;
    assert_eq!(keys_of(&rejected), [format!("{}broken.jpg", lib.prefix)]);
    let reason = rejected.json["items"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.starts_with("corrupt jpeg: "), "{reason}");

    let nikon = get(
        &app,
        &format!(
            "/images?camera={}&prefix={prefix}",
            encode("NIKON CORPORATION NIKON D70")
        ),
    )
    .await;
    assert_eq!(keys_of(&nikon), [format!("{}nikon.jpg", lib.prefix)]);
    assert_eq!(nikon.json["items"][0]["camera"]["model"], "NIKON D70");

    // Canon 40D: 2008-05-30; Nikon D70: 2008-03-15; COOLPIX: 2008-10-22; FinePix: 2006.
    let may = get(
        &app,
        &format!("/images?taken_from=2008-05-30&taken_to=2008-05-30&prefix={prefix}"),
    )
    .await;
    assert_eq!(keys_of(&may), [format!("{}canon.jpg", lib.prefix)]);
    let in_2008 = get(
        &app,
        &format!("/images?taken_from=2008-01-01&taken_to=2008-12-31&prefix={prefix}"),
    )
    .await;
    let keys = keys_of(&in_2008);
    for expected in ["canon.jpg", "nikon.jpg", "gps.jpg"] {
        assert!(
            keys.contains(&format!("{}{expected}", lib.prefix)),
            "{expected} in {keys:?}"
        );
    }
    assert!(!keys.contains(&format!("{}fuji.jpg", lib.prefix)));
    let taken: Vec<&str> = in_2008.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["taken_at"].as_str().unwrap_or(""))
        .collect();
    assert!(
        taken.windows(2).all(|w| w[0] >= w[1]),
        "most recent shot first: {taken:?}"
    );

    let nested = get(
        &app,
        &format!(
            "/images?prefix={}",
            encode(&format!("{}nested/", lib.prefix))
        ),
    )
    .await;
    assert_eq!(
        keys_of(&nested),
        [format!("{}nested/panasonic.jpg", lib.prefix)]
    );
}

#[tokio::test]
async fn refuses_forged_foreign_and_tampered_cursors() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let prefix = encode(&lib.prefix);
    let first = get(&app, &format!("/images?limit=1&prefix={prefix}")).await;
    let cursor = first.json["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();

    // Another listing's cursor.
    let foreign = get(
        &app,
        &format!(
            "/images?limit=1&status=processed&prefix={prefix}&cursor={}",
            encode(&cursor)
        ),
    )
    .await;
    assert_error(&foreign, StatusCode::BAD_REQUEST, "bad_parameter");
    assert_eq!(foreign.json["error"]["parameter"], "cursor");

    // One character changed.
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let reply = get(
        &app,
        &format!(
            "/images?limit=1&prefix={prefix}&cursor={}",
            encode(&tampered)
        ),
    )
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "bad_parameter");

    // Signed with another secret.
    let other_app =
        api_with(|c| c.cursor_secret = b"some other deployment's secret".to_vec()).await;
    let reply = get(
        &other_app,
        &format!("/images?limit=1&prefix={prefix}&cursor={}", encode(&cursor)),
    )
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "bad_parameter");

    for junk in ["", "abc", "a.b", "%00"] {
        let reply = get(&app, &format!("/images?prefix={prefix}&cursor={junk}")).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "bad_parameter");
    }
}

#[tokio::test]
async fn bad_parameters_are_400s_that_name_the_parameter() {
    let app = api_with(|_| {}).await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=many", "limit"),
        ("status=lost", "status"),
        ("taken_from=yesterday", "taken_from"),
        ("taken_to=2024-13-01", "taken_to"),
        ("colour=red", "colour"),
        ("prefix=", "prefix"),
    ] {
        let reply = get(&app, &format!("/images?{query}")).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "bad_parameter");
        assert_eq!(
            reply.json["error"]["parameter"], parameter,
            "{query}: {}",
            reply.json
        );
    }
    // Each bound valid, the range reversed: valid by the document, and it holds nothing.
    let reversed = get(&app, "/images?taken_from=2024-02-01&taken_to=2024-01-01").await;
    assert_eq!(reversed.status, StatusCode::OK, "{}", reversed.json);
    assert_eq!(reversed.json["items"].as_array().map(Vec::len), Some(0));
    assert!(reversed.json["next_cursor"].is_null());
}

#[tokio::test]
async fn one_image_has_its_record_and_presigned_variant_links_but_no_gps() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let item = &lib.items[&format!("{}gps.jpg", lib.prefix)];
    let reply = get(&app, &format!("/images/{}", item.id)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["id"], item.id.as_str());
    assert_eq!(reply.json["exif"]["model"], "COOLPIX P6000");
    assert!(
        reply.json.get("gps").is_none(),
        "GPS is private by default: {}",
        reply.json
    );
    assert!(reply.json.get("list_pk").is_none());
    let variants = reply.json["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 3);
    for variant in variants {
        let url = variant["url"].as_str().expect("presigned url");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        let (status, body) = http_get(url);
        assert_eq!(status, 200, "{url}");
        let image = image::load_from_memory(&body).expect("a variant image");
        assert_eq!(
            u64::from(image.width()),
            variant["width"].as_u64().expect("width")
        );
        assert_eq!(
            variant["href"],
            format!(
                "/images/{}/variants/{}",
                item.id,
                variant["name"].as_str().unwrap_or("")
            )
        );
    }

    let gps_app = api_with(|c| c.expose_gps = true).await;
    let reply = get(&gps_app, &format!("/images/{}", item.id)).await;
    let latitude = reply.json["gps"]["latitude"]
        .as_f64()
        .expect("GPS when enabled");
    assert!((latitude - 43.467).abs() < 0.01);
}

#[tokio::test]
async fn a_variant_link_redirects_to_a_working_presigned_url() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let item = &lib.items[&format!("{}canon.jpg", lib.prefix)];
    let reply = get(&app, &format!("/images/{}/variants/thumb", item.id)).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let location = reply.headers[header::LOCATION]
        .to_str()
        .expect("ascii Location");
    let (status, body) = http_get(location);
    assert_eq!(status, 200);
    assert!(image::load_from_memory(&body).is_ok());

    let missing = get(&app, &format!("/images/{}/variants/poster", item.id)).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let rejected = &lib.items[&format!("{}broken.jpg", lib.prefix)];
    let none = get(&app, &format!("/images/{}/variants/thumb", rejected.id)).await;
    assert_error(&none, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn unknown_ids_routes_and_methods_get_json_errors() {
    let app = api_with(|_| {}).await;
    assert_error(
        &get(&app, "/images/0123456789abcdef0123456789abcdef").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&app, "/images/not-an-id").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&app, "/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &call(&app, "POST", "/images", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(
        &call(
            &app,
            "DELETE",
            "/images/0123456789abcdef0123456789abcdef",
            None,
        )
        .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let health = get(&app, "/health").await;
    assert_eq!(
        (health.status, health.json["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let doc = get(&app, "/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.json["openapi"], "3.1.0");
    let paths: HashSet<&str> = doc.json["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    // The API's routes; the gallery's two static files are not API and are left out.
    let routes: HashSet<&str> = [
        "/",
        "/health",
        "/openapi.json",
        "/images",
        "/images/{id}",
        "/images/{id}/variants/{name}",
        "/images/{id}/similar",
        "/uploads",
    ]
    .into();
    assert_eq!(paths, routes);
    let item = &lib.items[&format!("{}canon.jpg", lib.prefix)];
    let cloud = Cloud::from_env().await;
    let with_uploads = api_with(uploads_on(&cloud.uploads)).await;
    for path in paths {
        let concrete = path.replace("{id}", &item.id).replace("{name}", "thumb");
        let operations = doc.json["paths"][path].as_object().expect("operations");
        for method in operations.keys() {
            // Each operation, as documented, on a deployment without and with uploads.
            for app in [&app, &with_uploads] {
                let body = br#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 5}"#;
                let reply = match method.as_str() {
                    "get" => get(app, &concrete).await,
                    "post" => call_with(app, "POST", &concrete, None, body.to_vec()).await,
                    other => panic!("{path}: undocumented method handling for {other}"),
                };
                let documented = &operations[method]["responses"];
                assert!(
                    documented.get(reply.status.as_str()).is_some(),
                    "{method} {concrete} answered {} which {path} does not document",
                    reply.status
                );
            }
        }
    }
}

#[tokio::test]
async fn cors_headers_follow_the_configured_origins() {
    let app = api_with(|c| c.cors_origins = vec!["https://app.example".into()]).await;
    let allowed = call(&app, "GET", "/health", Some("https://app.example")).await;
    assert_eq!(
        allowed
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(&b"https://app.example"[..])
    );
    let other = call(&app, "GET", "/health", Some("https://evil.example")).await;
    assert!(other
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let closed = api_with(|_| {}).await;
    let none = call(&closed, "GET", "/health", Some("https://app.example")).await;
    assert!(
        none.headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none(),
        "no CORS unless configured"
    );
}

#[tokio::test]
async fn an_api_gateway_v2_event_gets_the_same_answer_as_the_local_server() {
    let lib = library().await;
    let app = api_with(|_| {}).await;
    let item = &lib.items[&format!("{}nikon.jpg", lib.prefix)];
    // The local server, on a real socket.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(axum::serve(listener, app.clone()).into_future());

    let fixture_event: Value =
        serde_json::from_slice(&fixture("events/apigw-v2-get-image.json")).expect("JSON");
    for path in [
        format!("/images/{}", item.id),
        "/images/00000000000000000000000000000000".to_owned(),
    ] {
        let mut event = fixture_event.clone();
        event["rawPath"] = path.clone().into();
        event["requestContext"]["http"]["path"] = path.clone().into();
        event["pathParameters"]["id"] = path.rsplit('/').next().unwrap_or_default().into();
        let request: lambda_http::request::LambdaRequest =
            serde_json::from_value(event).expect("an API Gateway v2 request");
        let lambda_event = lambda_http::LambdaEvent::new(request, lambda_http::Context::default());
        let response = lambda_http::Adapter::from(app.clone())
            .oneshot(lambda_event)
            .await
            .expect("handled");
        let lambda_json = serde_json::to_value(&response).expect("serialisable");

        let (status, body) = tokio::task::spawn_blocking({
            let url = format!("http://{address}{path}");
            move || http_get(&url)
        })
        .await
        .expect("http");
        assert_eq!(
            lambda_json["statusCode"].as_u64(),
            Some(u64::from(status)),
            "{path}"
        );
        let lambda_body: Value =
            serde_json::from_str(lambda_json["body"].as_str().expect("text body")).expect("JSON");
        let local_body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            without_urls(lambda_body),
            without_urls(local_body),
            "{path}"
        );
    }
    server.abort();
}

#[tokio::test]
async fn the_local_clouds_api_server_answers_for_an_uploaded_photo() {
    let cloud = Cloud::from_env().await;
    let api = std::env::var("API_URL").expect("API_URL: the local cloud starts the API server");
    let key = format!("{}/through the api.jpg", unique("http"));
    cloud.upload(&key, fixture("cameras/Pentax_K10D.jpg")).await;
    let item = cloud
        .wait_for_item(&key, |i| i.record.status == Status::Processed)
        .await;

    let (status, body) = tokio::task::spawn_blocking({
        let url = format!("{api}/images/{}", item.id);
        move || http_get(&url)
    })
    .await
    .expect("http");
    assert_eq!(status, 200);
    let record: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(record["source_key"], key.as_str());
    assert_eq!(record["variants"].as_array().map(Vec::len), Some(3));

    let (status, body) = tokio::task::spawn_blocking({
        let url = format!("{api}/images?prefix={}", encode(&key));
        move || http_get(&url)
    })
    .await
    .expect("http");
    assert_eq!(status, 200);
    let listing: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(listing["items"][0]["id"], item.id.as_str());
}

/// Presigned URLs carry their signing second; everything else must match exactly.
fn without_urls(mut body: Value) -> Value {
    if let Some(variants) = body.get_mut("variants").and_then(Value::as_array_mut) {
        for variant in variants {
            if let Some(map) = variant.as_object_mut() {
                map.remove("url");
            }
        }
    }
    body
}

/// A minimal HTTP/1.1 GET for the emulator's and the local server's plain-HTTP URLs.
fn http_get(url: &str) -> (u16, Vec<u8>) {
    http_request("GET", url, &[], &[])
}

/// A minimal HTTP/1.1 request with headers and a body (sent with its Content-Length).
fn http_request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("plain-HTTP URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".to_owned()));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        && method != "GET"
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// Phone formats end to end: an iPhone HEIC (grid, Display P3, EXIF in an Exif item) and an AVIF
/// stored sideways with `irot` plus an agreeing EXIF orientation, uploaded through the local
/// cloud, come out processed and upright, with the camera recorded, and the API lists them.
#[tokio::test]
async fn heic_and_avif_uploads_are_processed_upright_and_listed() {
    let cloud = Cloud::from_env().await;
    let prefix = format!("{}/", unique("phone"));
    let photos = [
        ("IMG_0001.HEIC", "heif/iphone.heic", (2566, 3313), "heic"),
        ("portrait.avif", "heif/rotated.avif", (400, 600), "avif"),
    ];
    for (name, path, _, _) in photos {
        cloud
            .upload(&format!("{prefix}{name}"), fixture(path))
            .await;
    }
    let app = api_with(|_| {}).await;
    for (name, _, (width, height), format) in photos {
        let key = format!("{prefix}{name}");
        let item = cloud
            .wait_for_item(&key, |i| i.record.status != Status::Deleted)
            .await;
        assert_eq!(
            item.record.status,
            Status::Processed,
            "{key}: {:?}",
            item.record.reason
        );
        assert_eq!(
            (item.record.width, item.record.height),
            (Some(width), Some(height)),
            "{key}"
        );
        let large = item
            .record
            .variants
            .iter()
            .find(|v| v.name == "large")
            .expect("large variant");
        let bytes = cloud.derivative(&large.key).await;
        let image = image::load_from_memory(&bytes).expect("variant decodes");
        // Portrait stays portrait: the rotation was applied exactly once.
        assert!(
            image.height() > image.width(),
            "{key}: {}x{}",
            image.width(),
            image.height()
        );

        let reply = get(&app, &format!("/images/{}", item.id)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        assert_eq!(reply.json["format"], format, "{}", reply.json);
    }
    let iphone = cloud
        .item(&format!("{prefix}IMG_0001.HEIC"))
        .await
        .expect("item");
    assert_eq!(iphone.camera.as_deref(), Some("Apple iPhone 11 Pro Max"));
    let avif = cloud
        .item(&format!("{prefix}portrait.avif"))
        .await
        .expect("item");
    assert_eq!(avif.record.orientation, Some(6));

    let reply = get(&app, &format!("/images?prefix={}", encode(&prefix))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let mut keys = keys_of(&reply);
    keys.sort();
    assert_eq!(
        keys,
        vec![
            format!("{prefix}IMG_0001.HEIC"),
            format!("{prefix}portrait.avif")
        ]
    );
}

/// `POST /uploads` end to end: a presigned PUT whose size and type are signed, under a key the
/// server chose, whose id answers `pending` until the pipeline has processed the file, then the
/// record; the same id the pipeline gives it.
#[tokio::test]
async fn an_issued_upload_is_pending_until_processed_then_found_by_its_id() {
    let cloud = Cloud::from_env().await;
    let app = api_with(uploads_on(&cloud.uploads)).await;
    let photo = fixture("cameras/Canon_40D.jpg");
    let body = serde_json::json!({
        "filename": "My Trip/IMG 0042.jpg",
        "content_type": "image/jpeg",
        "bytes": photo.len(),
    });
    let issued = call_with(
        &app,
        "POST",
        "/uploads",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.json);
    let id = issued.json["id"].as_str().expect("id").to_owned();
    let key = issued.json["key"].as_str().expect("key").to_owned();
    // uploads/<date>/<32 hex>/<safe name>: chosen by the server, the client's path dropped.
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 4, "{key}");
    assert_eq!(parts[0], "uploads");
    let date = parts[1].as_bytes();
    assert!(
        date.len() == 10
            && date.iter().enumerate().all(|(n, b)| if n == 4 || n == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }),
        "{key}"
    );
    assert_eq!(parts[3], "IMG-0042.jpg");
    assert_eq!(id, imgpipe::store::image_id(&cloud.uploads, &key));
    assert_eq!(issued.json["href"], format!("/images/{id}"));
    assert!(issued.json["expires_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    // Size and type are in the signature, and the client is told to send them as they are.
    let upload = &issued.json["upload"];
    assert_eq!(upload["method"], "PUT");
    let url = upload["url"].as_str().expect("url");
    let signed = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .expect("signed headers");
    assert_eq!(signed, "content-length%3Bcontent-type%3Bhost", "{url}");
    assert_eq!(upload["headers"]["content-type"], "image/jpeg");
    assert_eq!(upload["headers"]["content-length"], photo.len().to_string());

    let pending = get(&app, &format!("/images/{id}")).await;
    assert_error(&pending, StatusCode::NOT_FOUND, "pending");
    assert_error(
        &get(&app, "/images/0123456789abcdef0123456789abcdef").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Not listed while pending.
    let listed = get(&app, &format!("/images?prefix={}", encode(&key))).await;
    assert_eq!(
        listed.json["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.json
    );

    let (status, answer) = tokio::task::spawn_blocking({
        let url = url.to_owned();
        let photo = photo.clone();
        move || http_request("PUT", &url, &[("Content-Type", "image/jpeg")], &photo)
    })
    .await
    .expect("http");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let item = cloud
        .wait_for_item(&key, |i| i.record.status != Status::Deleted)
        .await;
    assert_eq!(item.id, id);
    assert_eq!(
        item.record.status,
        Status::Processed,
        "{:?}",
        item.record.reason
    );
    let found = get(&app, &format!("/images/{id}")).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.json);
    assert_eq!(found.json["source_key"], key.as_str());
    assert_eq!(found.json["exif"]["model"], "Canon EOS 40D");
}

#[tokio::test]
async fn bad_upload_requests_are_400s_and_uploads_can_be_off() {
    let cloud = Cloud::from_env().await;
    let app = api_with(uploads_on(&cloud.uploads)).await;
    for (body, field) in [
        ("{", "body"),
        (r#"{"content_type": "image/jpeg", "bytes": 10}"#, "filename"),
        (
            r#"{"filename": "", "content_type": "image/jpeg", "bytes": 10}"#,
            "filename",
        ),
        (
            r#"{"filename": "a.jpg", "content_type": "text/html", "bytes": 10}"#,
            "content_type",
        ),
        (
            r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 0}"#,
            "bytes",
        ),
        (
            r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 52428801}"#,
            "bytes",
        ),
    ] {
        let reply = call_with(&app, "POST", "/uploads", None, body.as_bytes().to_vec()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "bad_parameter");
        assert_eq!(reply.json["error"]["parameter"], field, "{body}");
    }
    assert_error(
        &call(&app, "GET", "/uploads", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let read_only = api_with(|_| {}).await;
    let body = r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 10}"#;
    let off = call_with(
        &read_only,
        "POST",
        "/uploads",
        None,
        body.as_bytes().to_vec(),
    )
    .await;
    assert_error(&off, StatusCode::NOT_FOUND, "not_found");
    assert!(off.json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("not enabled")));
}

#[tokio::test]
async fn the_gallery_is_served_from_the_binary_with_a_strict_content_policy() {
    let app = api_with(|_| {}).await;
    for (path, kind, needle) in [
        ("/", "text/html", "imgpipe gallery"),
        ("/gallery.css", "text/css", "{"),
        ("/gallery.js", "text/javascript", "/images"),
    ] {
        let reply = get(&app, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let content_type = reply.headers.get(header::CONTENT_TYPE).expect("type");
        assert!(
            content_type.to_str().is_ok_and(|t| t.starts_with(kind)),
            "{path}: {content_type:?}"
        );
        assert!(
            reply.json.as_str().is_some_and(|b| b.contains(needle)),
            "{path}"
        );
        let policy = reply
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .expect("CSP");
        assert!(
            policy
                .to_str()
                .is_ok_and(|p| p.contains("script-src 'self'")),
            "{path}"
        );
    }
}

/// Duplicates end to end: a photo, a copy of it as a sharing service would make one (upright,
/// half the size, re-encoded at quality 60, no EXIF), its exact bytes under another key, and
/// unrelated photos. `similar` finds both copies and none of the others, `sha256` the exact one;
/// a deleted copy is gone from both.
#[tokio::test]
async fn duplicates_are_found_by_sha256_and_by_similarity_until_deleted() {
    let cloud = Cloud::from_env().await;
    let prefix = format!("{}/", unique("dupes"));
    let original = fixture("photos/Landscape_6.jpg");
    let shared = {
        let config = imgpipe::config::PipelineConfig {
            variants: imgpipe::config::parse_variants("copy:900x900:inside:jpeg:60").expect("spec"),
            ..Default::default()
        };
        let copy = imgpipe::image::process(&original, &config).expect("processed");
        copy.variants[0].data.clone()
    };
    let uploads = [
        ("original.jpg", original.clone()),
        ("shared-copy.jpg", shared),
        ("exact-copy.jpg", original.clone()),
        ("portrait.jpg", fixture("photos/Portrait_8.jpg")),
        ("village.jpg", fixture("cameras/DSCN0010.jpg")),
        ("fuji.jpg", fixture("photos/fujifilm-dx10.jpg")),
    ];
    let mut ids = BTreeMap::new();
    for (name, bytes) in uploads.clone() {
        cloud.upload(&format!("{prefix}{name}"), bytes).await;
    }
    for (name, _) in &uploads {
        let item = cloud
            .wait_for_item(&format!("{prefix}{name}"), |i| {
                i.record.status != Status::Deleted
            })
            .await;
        assert_eq!(item.record.status, Status::Processed, "{name}");
        ids.insert(*name, item.id);
    }
    let app = api_with(|_| {}).await;
    let similar_ids = |reply: &Reply| -> HashSet<String> {
        reply.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let similar = get(&app, &format!("/images/{}/similar", ids["original.jpg"])).await;
    assert_eq!(similar.status, StatusCode::OK, "{}", similar.json);
    let found = similar_ids(&similar);
    for copy in ["shared-copy.jpg", "exact-copy.jpg"] {
        assert!(
            found.contains(&ids[copy]),
            "{copy} not found: {}",
            similar.json
        );
    }
    for other in ["portrait.jpg", "village.jpg", "fuji.jpg"] {
        assert!(
            !found.contains(&ids[other]),
            "{other} listed as similar: {}",
            similar.json
        );
    }
    assert!(
        !found.contains(&ids["original.jpg"]),
        "a photo is not similar to itself"
    );
    let distances: Vec<u64> = similar.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["distance"].as_u64().expect("distance"))
        .collect();
    assert!(
        distances.windows(2).all(|w| w[0] <= w[1]),
        "nearest first: {distances:?}"
    );

    let sha256 = imgpipe::metadata::record::sha256_hex(&original);
    let exact = format!("/images?sha256={sha256}&prefix={}", encode(&prefix));
    let both: HashSet<String> = keys_of(&get(&app, &exact).await).into_iter().collect();
    let expected: HashSet<String> = ["original.jpg", "exact-copy.jpg"]
        .iter()
        .map(|n| format!("{prefix}{n}"))
        .collect();
    assert_eq!(both, expected);

    // Delete the exact copy: gone from both searches.
    cloud
        .delete_upload(&format!("{prefix}exact-copy.jpg"))
        .await;
    cloud
        .wait_for_item(&format!("{prefix}exact-copy.jpg"), |i| {
            i.record.status == Status::Deleted
        })
        .await;
    let after = similar_ids(&get(&app, &format!("/images/{}/similar", ids["original.jpg"])).await);
    assert!(
        !after.contains(&ids["exact-copy.jpg"]),
        "a deleted photo is never a duplicate"
    );
    assert!(after.contains(&ids["shared-copy.jpg"]));
    assert_eq!(
        keys_of(&get(&app, &exact).await),
        vec![format!("{prefix}original.jpg")]
    );
    // A deleted photo has no hash to compare.
    assert_error(
        &get(&app, &format!("/images/{}/similar", ids["exact-copy.jpg"])).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
