//! EXIF to typed fields with `kamadak-exif`. Broken EXIF never sinks a photo: partial results
//! are kept, and a photo whose EXIF cannot be read at all simply has none.

use std::io::Cursor;

use exif::{Exif, Field, In, Reader, Tag, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExifFields {
    pub make: Option<String>,
    pub model: Option<String>,
    pub lens: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS`, with the UTC offset appended when the camera recorded one.
    pub taken_at: Option<String>,
    /// Seconds.
    pub exposure_time: Option<f64>,
    pub f_number: Option<f64>,
    pub iso: Option<u32>,
    pub focal_length_mm: Option<f64>,
}

/// Signed decimal degrees (south and west negative); altitude in metres, negative below sea level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gps {
    pub latitude: f64,
    pub longitude: f64,
    pub altitude_m: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifSummary {
    /// EXIF orientation 1–8; 1 when absent or out of range.
    pub orientation: u8,
    /// `None` when the file has no readable EXIF at all.
    pub fields: Option<ExifFields>,
    pub gps: Option<Gps>,
}

/// Reads EXIF from a JPEG, PNG, WebP or TIFF container.
pub fn read_exif(bytes: &[u8]) -> ExifSummary {
    let parsed = Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut Cursor::new(bytes));
    summarise_parsed(parsed)
}

/// Reads an EXIF block given as bare TIFF data, as HEIF's Exif item holds it (kamadak-exif's
/// container reader does not read HEIF: it fails on a Xiaomi file's 192 KB block).
pub fn read_exif_tiff(tiff: Vec<u8>) -> ExifSummary {
    summarise_parsed(Reader::new().continue_on_error(true).read_raw(tiff))
}

fn summarise_parsed(parsed: Result<Exif, exif::Error>) -> ExifSummary {
    let parsed = parsed.or_else(|e| {
        e.distill_partial_result(|errors| {
            tracing::debug!(
                count = errors.len(),
                "EXIF partly unreadable; kept the rest"
            );
        })
    });
    match parsed {
        Ok(exif) => summarise(&exif),
        Err(_) => ExifSummary {
            orientation: 1,
            ..ExifSummary::default()
        },
    }
}

fn summarise(exif: &Exif) -> ExifSummary {
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY);
    let orientation = field(Tag::Orientation)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1);
    let fields = ExifFields {
        make: field(Tag::Make).and_then(text),
        model: field(Tag::Model).and_then(text),
        lens: field(Tag::LensModel).and_then(text),
        taken_at: taken_at(field(Tag::DateTimeOriginal), field(Tag::OffsetTimeOriginal)),
        exposure_time: field(Tag::ExposureTime).and_then(|f| number(&f.value)),
        f_number: field(Tag::FNumber).and_then(|f| number(&f.value)),
        iso: field(Tag::PhotographicSensitivity).and_then(|f| f.value.get_uint(0)),
        focal_length_mm: field(Tag::FocalLength).and_then(|f| number(&f.value)),
    };
    ExifSummary {
        orientation,
        fields: Some(fields),
        gps: gps(exif),
    }
}

/// The first ASCII string of a field, trimmed of the padding cameras leave; empty is absent.
fn text(field: &Field) -> Option<String> {
    let Value::Ascii(ref strings) = field.value else {
        return None;
    };
    let raw = strings.first()?;
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty()).then(|| text.to_owned())
}

/// A rational or integer value as a finite float; a zero denominator is absent, not infinity.
fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Rational(v) => v.first().map(|r| r.to_f64()),
        Value::SRational(v) => v.first().map(|r| r.to_f64()),
        Value::Short(v) => v.first().map(|&s| f64::from(s)),
        Value::Long(v) => v.first().map(|&l| f64::from(l)),
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

/// EXIF writes `2008:05:30 15:56:01`; we store `2008-05-30T15:56:01` (plus `+02:00` if known).
fn taken_at(datetime: Option<&Field>, offset: Option<&Field>) -> Option<String> {
    let raw = text(datetime?)?;
    let (date, time) = raw.split_once(' ')?;
    let date_parts: Vec<&str> = date.split(':').collect();
    let time_parts: Vec<&str> = time.split(':').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let valid = matches!(date_parts[..], [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2))
        && matches!(time_parts[..], [h, mi, s] if digits(h, 2) && digits(mi, 2) && digits(s, 2));
    // Cameras with an unset clock write `0000:00:00 00:00:00`: that is no date at all.
    if !valid || date_parts[0] == "0000" {
        return None;
    }
    let mut out = format!("{}T{}", date_parts.join("-"), time);
    if let Some(offset) = offset.and_then(text) {
        let b = offset.as_bytes();
        if b.len() == 6 && (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
            out.push_str(&offset);
        }
    }
    Some(out)
}

fn gps(exif: &Exif) -> Option<Gps> {
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY);
    let latitude =
        degrees(field(Tag::GPSLatitude)?)? * hemisphere(field(Tag::GPSLatitudeRef), b'S');
    let longitude =
        degrees(field(Tag::GPSLongitude)?)? * hemisphere(field(Tag::GPSLongitudeRef), b'W');
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return None;
    }
    let below_sea = field(Tag::GPSAltitudeRef).and_then(|f| f.value.get_uint(0)) == Some(1);
    let altitude_m = field(Tag::GPSAltitude)
        .and_then(|f| number(&f.value))
        .map(|a| if below_sea { -a } else { a });
    Some(Gps {
        latitude,
        longitude,
        altitude_m,
    })
}

/// Degrees, minutes, seconds as three rationals.
fn degrees(field: &Field) -> Option<f64> {
    let Value::Rational(ref dms) = field.value else {
        return None;
    };
    let part = |i: usize| dms.get(i).map(|r| r.to_f64()).filter(|v| v.is_finite());
    let value = part(0)? + part(1).unwrap_or(0.0) / 60.0 + part(2).unwrap_or(0.0) / 3600.0;
    value.is_finite().then_some(value)
}

/// -1 when the reference letter names the negative hemisphere.
fn hemisphere(field: Option<&Field>, negative: u8) -> f64 {
    let letter = field.and_then(text).and_then(|t| t.bytes().next());
    if letter.map(|b| b.to_ascii_uppercase()) == Some(negative) {
        -1.0
    } else {
        1.0
    }
}
