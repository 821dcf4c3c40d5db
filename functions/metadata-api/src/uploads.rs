//! `POST /uploads`: what a client asks to upload, checked, and the key the server chooses for it.
//! The presigned request itself is made by the catalog (it holds the S3 client).

use serde_json::Value;
use time::OffsetDateTime;

use crate::error::ApiError;

/// Longest file name kept in a key (in bytes, after making it safe); the rest is cut, keeping
/// the extension.
const MAX_NAME_BYTES: usize = 100;
/// Longest file name accepted in a request, before making it safe.
const MAX_FILENAME_BYTES: usize = 1024;

/// Where uploads go, and how large they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadsConfig {
    /// `UPLOADS_BUCKET`: the bucket whose events the pipeline processes.
    pub bucket: String,
    /// `UPLOAD_PREFIX` (default `uploads/`): every key the API chooses starts with it.
    pub prefix: String,
    /// `IMGPIPE_MAX_BYTES`: the largest upload the pipeline processes, so the largest issued.
    pub max_bytes: u64,
}

/// A checked `POST /uploads` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub filename: String,
    pub content_type: String,
    pub bytes: u64,
}

impl UploadRequest {
    /// Parses and checks the body; every refusal is a 400 that names the field.
    pub fn parse(body: &[u8], max_bytes: u64) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad("body", format!("the body is not JSON: {e}")))?;
        let object = value.as_object().ok_or_else(|| {
            ApiError::bad(
                "body",
                "the body must be a JSON object with filename, content_type and bytes",
            )
        })?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !["filename", "content_type", "bytes"].contains(&k.as_str()))
        {
            return Err(ApiError::bad(
                unknown,
                format!("unknown field `{unknown}`; known: filename, content_type, bytes"),
            ));
        }
        let filename = match object.get("filename") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            Some(Value::String(_)) => {
                return Err(ApiError::bad("filename", "`filename` is empty"));
            }
            Some(_) => return Err(ApiError::bad("filename", "`filename` must be a string")),
            None => return Err(ApiError::bad("filename", "`filename` is required")),
        };
        if filename.len() > MAX_FILENAME_BYTES {
            return Err(ApiError::bad(
                "filename",
                format!("`filename` is longer than {MAX_FILENAME_BYTES} bytes"),
            ));
        }
        let content_type = match object.get("content_type") {
            Some(Value::String(kind)) => kind.trim().to_ascii_lowercase(),
            Some(_) => {
                return Err(ApiError::bad(
                    "content_type",
                    "`content_type` must be a string",
                ))
            }
            None => return Err(ApiError::bad("content_type", "`content_type` is required")),
        };
        if !is_image_type(&content_type) {
            return Err(ApiError::bad(
                "content_type",
                "`content_type` must be an image type such as image/jpeg or image/heic",
            ));
        }
        let bytes = match object.get("bytes") {
            Some(number) => whole_number(number)
                .ok_or_else(|| ApiError::bad("bytes", "`bytes` must be a whole number of bytes"))?,
            None => return Err(ApiError::bad("bytes", "`bytes` is required")),
        };
        if bytes == 0 || bytes > max_bytes {
            return Err(ApiError::bad(
                "bytes",
                format!("`bytes` must be from 1 to {max_bytes} (the largest upload processed)"),
            ));
        }
        Ok(UploadRequest {
            filename,
            content_type,
            bytes,
        })
    }
}

/// A JSON number that is a whole number: `1234`, and `1234.0` too, which JSON Schema counts as
/// an integer (clients serialising through floats send it).
fn whole_number(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let n = value.as_f64()?;
    // Below 2^53 every whole f64 is exact; a size beyond that is refused by the limit anyway.
    (n >= 0.0 && n.fract() == 0.0 && n < 9_007_199_254_740_992.0).then_some(n as u64)
}

/// `image/<subtype>` with a subtype of token characters (RFC 9110), nothing else: no
/// parameters, so the signed header is exactly what the client sends.
fn is_image_type(kind: &str) -> bool {
    kind.strip_prefix("image/").is_some_and(|subtype| {
        !subtype.is_empty()
            && subtype.len() <= 100
            && subtype
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    })
}

/// The key for an upload: the prefix, the UTC date, a random id, then the file name made safe,
/// `uploads/2026-12-01/4f3c…9a/IMG_0042.jpg`. The server chooses it, so a client can neither
/// overwrite another upload nor guess one; the name keeps the key readable.
pub fn upload_key(prefix: &str, now: OffsetDateTime, random: &[u8; 16], filename: &str) -> String {
    let date = now.date();
    format!(
        "{prefix}{:04}-{:02}-{:02}/{}/{}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        hex::encode(random),
        safe_name(filename)
    )
}

/// The name's last path component with letters, digits, `.`, `-` and `_` kept and every other
/// run of characters as one `-`, at most `MAX_NAME_BYTES` with its extension kept, and `upload`
/// for a name with nothing left. No `/`, `..`, control or non-ASCII character reaches a key.
pub fn safe_name(filename: &str) -> String {
    let last = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    // An extension is 1 to 10 letters or digits after the last dot.
    let (stem, extension) = match last.rsplit_once('.') {
        Some((stem, ext))
            if (1..=10).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (stem, Some(ext))
        }
        _ => (last, None),
    };
    let mut clean = String::with_capacity(stem.len());
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            clean.push(c);
        } else if !clean.ends_with('-') {
            clean.push('-');
        }
    }
    // No leading dots or dashes: no hidden files, no `..`.
    let clean = clean.trim_start_matches(['.', '-']).trim_end_matches('-');
    let stem = if clean.is_empty() { "upload" } else { clean };
    let suffix = extension.map(|e| format!(".{e}")).unwrap_or_default();
    let room = MAX_NAME_BYTES - suffix.len();
    // ASCII only by now, so any byte index is a character boundary.
    format!("{}{suffix}", &stem[..stem.len().min(room)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn parse(body: &str) -> Result<UploadRequest, ApiError> {
        UploadRequest::parse(body.as_bytes(), 1000)
    }

    fn refused_for(body: &str) -> String {
        match parse(body) {
            Err(ApiError::BadParameter { parameter, .. }) => parameter,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_good_request_parses() {
        let request =
            parse(r#"{"filename": "IMG_0042.JPG", "content_type": "Image/HEIC", "bytes": 1000}"#)
                .expect("valid");
        assert_eq!(request.filename, "IMG_0042.JPG");
        assert_eq!(request.content_type, "image/heic");
        assert_eq!(request.bytes, 1000);
        let float = parse(r#"{"filename": "a", "content_type": "image/png", "bytes": 12.0}"#);
        assert_eq!(float.expect("a whole float is a whole number").bytes, 12);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (body, field) in [
            ("not json", "body"),
            ("[1, 2]", "body"),
            (r#"{"content_type": "image/jpeg", "bytes": 1}"#, "filename"),
            (
                r#"{"filename": "  ", "content_type": "image/jpeg", "bytes": 1}"#,
                "filename",
            ),
            (
                r#"{"filename": 7, "content_type": "image/jpeg", "bytes": 1}"#,
                "filename",
            ),
            (r#"{"filename": "a.jpg", "bytes": 1}"#, "content_type"),
            (
                r#"{"filename": "a.jpg", "content_type": "text/plain", "bytes": 1}"#,
                "content_type",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/", "bytes": 1}"#,
                "content_type",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg; x=1", "bytes": 1}"#,
                "content_type",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg"}"#,
                "bytes",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 0}"#,
                "bytes",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 1001}"#,
                "bytes",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": -1}"#,
                "bytes",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 1.5}"#,
                "bytes",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": "1"}"#,
                "bytes",
            ),
            (
                r#"{"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 1, "key": "x"}"#,
                "key",
            ),
        ] {
            assert_eq!(refused_for(body), field, "{body}");
        }
    }

    #[test]
    fn keys_have_prefix_date_random_id_and_a_safe_name() {
        let key = upload_key(
            "uploads/",
            datetime!(2026-12-01 23:59:59 UTC),
            &[0xab; 16],
            "My Holiday (1).JPG",
        );
        assert_eq!(
            key,
            "uploads/2026-12-01/abababababababababababababababab/My-Holiday-1.JPG"
        );
    }

    #[test]
    fn names_lose_paths_controls_and_length_but_keep_the_extension() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\me\\IMG_1.heic"), "IMG_1.heic");
        assert_eq!(safe_name(".."), "upload");
        assert_eq!(safe_name("..."), "upload");
        assert_eq!(safe_name(".hidden.jpg"), "hidden.jpg");
        assert_eq!(safe_name("фото.jpg"), "upload.jpg");
        assert_eq!(safe_name("photo.tar.gz"), "photo.tar.gz");
        assert_eq!(safe_name("no extension here"), "no-extension-here");
        assert_eq!(safe_name("a\u{0}b\nc.png"), "a-b-c.png");
        assert_eq!(safe_name("🙂"), "upload");
        let long = format!("{}.jpeg", "x".repeat(300));
        let kept = safe_name(&long);
        assert_eq!(kept.len(), MAX_NAME_BYTES);
        assert!(kept.ends_with("x.jpeg"), "{kept}");
    }

    #[test]
    fn only_plain_image_types_pass() {
        for good in [
            "image/jpeg",
            "image/heic",
            "image/svg+xml",
            "image/x-canon-cr2",
        ] {
            assert!(is_image_type(good), "{good}");
        }
        for bad in [
            "",
            "image",
            "image/",
            "text/html",
            "image/jpeg;q=1",
            "image/a b",
            "imagex/y",
        ] {
            assert!(!is_image_type(bad), "{bad}");
        }
    }
}
