//! What we learn about a photo: EXIF fields as typed values, and the record we store.

pub mod exif;
pub mod record;

pub use exif::{read_exif, read_exif_tiff, ExifFields, ExifSummary, Gps};
pub use record::{ImageRecord, Status, VariantRecord};
