//! The metadata record: the same JSON in the `imgpipe` tool's output and (with the AWS fields
//! added by `store::dynamo`) in the DynamoDB table.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::exif::{ExifFields, Gps};
use crate::image::{sniff, ProcessedImage, Rejection, Sniffed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Processed,
    Rejected,
    /// The upload was removed; its variants are gone.
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Processed => "processed",
            Status::Rejected => "rejected",
            Status::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantRecord {
    pub name: String,
    /// Where the variant was written: an S3 key, or a path relative to the tool's `--out`.
    pub key: String,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub status: Status,
    /// Why the input was rejected, for people; `null` unless rejected.
    pub reason: Option<String>,
    /// A stable code for the reason (`corrupt`, `unsupported_format`, …).
    pub reason_code: Option<String>,
    /// The sniffed format, when the magic bytes named one.
    pub format: Option<String>,
    pub mime_type: Option<String>,
    /// Upright dimensions, after the EXIF orientation.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub orientation: Option<u8>,
    /// Size of the original. (Defaults: an item created by a delete has no original.)
    #[serde(default)]
    pub bytes: u64,
    /// Hex SHA-256 of the original; absent when the original was never read (refused by its
    /// declared size), because it is the `by_sha256` index key, which may not be empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// ThumbHash placeholder (base64), `#rrggbb` dominant colour and 64-bit perceptual hash (16
    /// hex digits) of a processed photo (`image::fingerprint`); null otherwise.
    #[serde(default)]
    pub thumbhash: Option<String>,
    #[serde(default)]
    pub dominant_color: Option<String>,
    #[serde(default)]
    pub phash: Option<String>,
    /// What made the variants (`PipelineConfig::pipeline_id`), for finding records a new
    /// configuration would make differently; null in records written before it existed.
    #[serde(default)]
    pub pipeline: Option<String>,
    pub exif: Option<ExifFields>,
    pub gps: Option<Gps>,
    #[serde(default)]
    pub variants: Vec<VariantRecord>,
}

impl ImageRecord {
    /// The record of a processed photo; `variants` already carry the keys they were written to.
    pub fn processed(
        original: &[u8],
        image: &ProcessedImage,
        variants: Vec<VariantRecord>,
    ) -> Self {
        ImageRecord {
            status: Status::Processed,
            reason: None,
            reason_code: None,
            format: Some(image.format.name().to_owned()),
            mime_type: Some(image.format.mime_type().to_owned()),
            width: Some(image.width),
            height: Some(image.height),
            orientation: Some(image.orientation),
            bytes: original.len() as u64,
            sha256: sha256_hex(original),
            thumbhash: Some(image.fingerprints.thumbhash.clone()),
            dominant_color: Some(image.fingerprints.dominant_color.clone()),
            phash: Some(image.fingerprints.phash.clone()),
            pipeline: None,
            exif: image.exif.clone(),
            gps: image.gps.clone(),
            variants,
        }
    }

    /// The record of a refused input. `original` may be empty when the body was never read
    /// (refused by its declared size); `bytes` is then the declared size.
    pub fn rejected(original: &[u8], declared_bytes: u64, rejection: &Rejection) -> Self {
        let format = match sniff(original) {
            Sniffed::Supported(f) => Some((f.name().to_owned(), f.mime_type().to_owned())),
            _ => None,
        };
        ImageRecord {
            status: Status::Rejected,
            reason: Some(rejection.to_string()),
            reason_code: Some(rejection.code().to_owned()),
            mime_type: format.as_ref().map(|f| f.1.clone()),
            format: format.map(|f| f.0),
            width: None,
            height: None,
            orientation: None,
            bytes: declared_bytes,
            sha256: if original.is_empty() && declared_bytes > 0 {
                String::new()
            } else {
                sha256_hex(original)
            },
            thumbhash: None,
            dominant_color: None,
            phash: None,
            pipeline: None,
            exif: None,
            gps: None,
            variants: Vec::new(),
        }
    }
}

impl ImageRecord {
    /// The record, saying which configuration made it.
    pub fn made_by(mut self, pipeline: &str) -> Self {
        self.pipeline = Some(pipeline.to_owned());
        self
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
