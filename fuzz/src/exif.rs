//! EXIF from any container: broken EXIF must degrade to "none", never fail or yield nonsense.

use imgpipe::metadata::read_exif;

pub fn read(data: &[u8]) {
    let summary = read_exif(data);
    assert!((1..=8).contains(&summary.orientation));
    if let Some(fields) = &summary.fields {
        for value in [
            fields.exposure_time,
            fields.f_number,
            fields.focal_length_mm,
        ]
        .into_iter()
        .flatten()
        {
            assert!(value.is_finite(), "non-finite EXIF number {value}");
        }
    }
    if let Some(gps) = &summary.gps {
        assert!((-90.0..=90.0).contains(&gps.latitude), "{gps:?}");
        assert!((-180.0..=180.0).contains(&gps.longitude), "{gps:?}");
        assert!(gps.altitude_m.is_none_or(f64::is_finite), "{gps:?}");
    }
}
