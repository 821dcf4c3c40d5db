//! Why an input was refused. Every variant is a property of the input, so a rejected upload is
//! recorded and never retried: retrying cannot change the bytes.

use super::sniff::Sniffed;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Rejection {
    #[error("empty file")]
    Empty,
    #[error("file is {bytes} bytes, over the {limit}-byte limit")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("unsupported format: {detected}")]
    UnsupportedFormat { detected: Sniffed },
    /// A container we read whose image is coded in a way no decoder here handles (a HEIF whose
    /// primary image is JPEG 2000 or VVC, say).
    #[error("unsupported {format} coding: {detail}")]
    UnsupportedCoding {
        format: &'static str,
        detail: String,
    },
    #[error("image is {width}x{height} ({pixels} pixels), over the {limit}-pixel limit")]
    TooManyPixels {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    /// An image whose decoding would need more memory than the function has: refused before
    /// decoding, because a process the runtime kills mid-batch records nothing and is retried.
    #[error(
        "a {width}x{height} {kind} needs about {needed_mib} MiB to decode, over the {available_mib} MiB \
         this function has for it (raise its memory or lower IMGPIPE_MAX_PIXELS)"
    )]
    OverMemory {
        /// What decides the cost, in words: "10-bit 4:4:4 AVIF with alpha".
        kind: String,
        width: u32,
        height: u32,
        needed_mib: u64,
        available_mib: u64,
    },
    #[error("corrupt {format}: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
    #[error("cannot encode variant `{variant}`: {detail}")]
    Encode { variant: String, detail: String },
    /// A codec panicked on this input (a bug the input found): refused, and the batch goes on.
    /// The panic's text is a library's internals, so it goes to the log, never into the reason.
    #[error("the {format} decoder failed on this input")]
    DecoderPanic { format: String, detail: String },
}

impl Rejection {
    /// A short stable code for the reason, for filtering and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::UnsupportedFormat { .. } | Rejection::UnsupportedCoding { .. } => {
                "unsupported_format"
            }
            Rejection::TooManyPixels { .. } => "too_many_pixels",
            Rejection::OverMemory { .. } => "over_memory",
            Rejection::Corrupt { .. } => "corrupt",
            Rejection::Encode { .. } => "encode_failed",
            Rejection::DecoderPanic { .. } => "decoder_failed",
        }
    }
}
