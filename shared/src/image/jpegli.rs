//! jpegli, libjxl's JPEG encoder, through `jpegli-sys` directly: the `jpegli` crate's wrapper
//! only sets a whole-number quality, which gives Cb and Cr one quantisation table between them,
//! and a fixed progression. `jpegli_set_distance` (a table per chroma channel, what jpegli is
//! tuned for), `jpegli_set_progressive_level` and `jpegli_enable_adaptive_quantization` are in
//! the same static library, declared here; our own scan scripts go in as libjpeg's `scan_info`.
//!
//! libjpeg-style errors arrive through `error_exit`, which must not return: it unwinds, and the
//! unwind is caught at `encode`'s edge, so a failure is an `Err` like any other. (jpegli is C++,
//! built with unwind tables, so the unwind crosses its frames as a foreign exception.)

use std::mem;
use std::os::raw::{c_int, c_uchar, c_ulong};
use std::panic::{catch_unwind, AssertUnwindSafe};

use jpegli_sys as ffi;

extern "C-unwind" {
    fn jpegli_set_distance(
        cinfo: &mut ffi::jpegli_compress_struct,
        distance: f32,
        force_baseline: ffi::boolean,
    );
    fn jpegli_set_progressive_level(cinfo: &mut ffi::jpegli_compress_struct, level: c_int);
    fn jpegli_quality_to_distance(quality: c_int) -> f32;
    fn jpegli_enable_adaptive_quantization(
        cinfo: &mut ffi::jpegli_compress_struct,
        value: ffi::boolean,
    );
}

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Butteraugli distance: 1.0 is about visually lossless; `distance_for_quality` maps a
    /// libjpeg-style quality.
    pub distance: f32,
    /// 4:2:0 rather than 4:4:4.
    pub subsample_chroma: bool,
    /// Sequential or progressive, and with which scans.
    pub progression: Progression,
    /// Huffman tables fitted to the image (a second pass over the coefficients).
    pub optimize_coding: bool,
    /// Per-block quantisation scaled by local contrast (jpegli's default).
    pub adaptive_quantization: bool,
}

/// The order the coefficients are written in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progression {
    /// jpegli's own scripts: 0 is sequential (marked extended, SOF1, as jpegli does without
    /// force_baseline); 1 and 2 progressive, with successive approximation (more scans at 2).
    Level(u8),
    /// These scans, in this order (progressive).
    Scans(&'static [Scan]),
}

/// One scan of a progressive JPEG: coefficients `first..=last` of these components, from bit
/// `low_bit` up (`high_bit` 0), or refining bit `low_bit` after a scan down to `high_bit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scan {
    pub components: &'static [u8],
    pub first: u8,
    pub last: u8,
    pub high_bit: u8,
    pub low_bit: u8,
}

impl Scan {
    /// A band of coefficients of `components`, all their bits at once.
    pub const fn band(components: &'static [u8], first: u8, last: u8) -> Scan {
        Scan {
            components,
            first,
            last,
            high_bit: 0,
            low_bit: 0,
        }
    }

    fn to_ffi(self) -> ffi::jpegli_scan_info {
        let mut component_index = [0; 4];
        for (slot, &c) in component_index.iter_mut().zip(self.components) {
            *slot = c_int::from(c);
        }
        ffi::jpegli_scan_info {
            comps_in_scan: self.components.len() as c_int,
            component_index,
            Ss: c_int::from(self.first),
            Se: c_int::from(self.last),
            Ah: c_int::from(self.high_bit),
            Al: c_int::from(self.low_bit),
        }
    }
}

/// jpegli's own mapping from a libjpeg-style quality (1–100) to a distance.
pub fn distance_for_quality(quality: u8) -> f32 {
    // SAFETY: a pure function of its argument.
    unsafe { jpegli_quality_to_distance(c_int::from(quality)) }
}

/// Encodes 8-bit RGB (`width` × `height`, rows packed) as a JPEG with no markers but the
/// frame's own (no JFIF, EXIF or ICC).
pub fn encode(rgb: &[u8], width: u32, height: u32, options: &Options) -> Result<Vec<u8>, String> {
    let row_bytes = width as usize * 3;
    if width == 0 || height == 0 || row_bytes.checked_mul(height as usize) != Some(rgb.len()) {
        return Err(format!(
            "jpegli: {} bytes of pixels for {width}×{height} RGB",
            rgb.len()
        ));
    }
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `Session` owns every pointer jpegli is handed and outlives each call; the
        // rows are `row_bytes` long and there are `height` of them, as declared.
        unsafe { encode_unguarded(rgb, width, height, row_bytes, options) }
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "jpegli failed".to_owned())
    })
}

/// What one encode owns, released in order on every path out, unwinding included.
struct Session {
    cinfo: Box<ffi::jpegli_compress_struct>,
    // Referenced by `cinfo.common.err`: boxed, so it does not move.
    _err: Box<ffi::jpegli_error_mgr>,
    /// jpegli's output buffer (malloc'd by its memory destination) and its size, both written
    /// by jpegli through the pointers `jpegli_mem_dest` was given: boxed for the same reason.
    out: Box<(*mut c_uchar, c_ulong)>,
    /// The scan script `cinfo.scan_info` points into, if one was given.
    scans: Vec<ffi::jpegli_scan_info>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: created by `jpegli_CreateCompress`; destroying it once is its contract.
        unsafe { ffi::jpegli_destroy_compress(&mut self.cinfo) };
        if !self.out.0.is_null() {
            // SAFETY: the memory destination allocates with malloc and leaves it to the caller.
            unsafe { libc::free(self.out.0.cast()) };
        }
    }
}

unsafe fn encode_unguarded(
    rgb: &[u8],
    width: u32,
    height: u32,
    row_bytes: usize,
    options: &Options,
) -> Vec<u8> {
    let mut err: Box<ffi::jpegli_error_mgr> = Box::new(mem::zeroed());
    ffi::jpegli_std_error(&mut err);
    err.error_exit = Some(unwind_on_error);
    err.emit_message = Some(ignore_warning);
    let mut session = Session {
        cinfo: Box::new(mem::zeroed()),
        out: Box::new((std::ptr::null_mut(), 0)),
        _err: err,
        scans: Vec::new(),
    };
    session.cinfo.common.err = &mut *session._err;
    ffi::jpegli_CreateCompress(
        &mut session.cinfo,
        ffi::JPEG_LIB_VERSION,
        mem::size_of::<ffi::jpegli_compress_struct>(),
    );
    let cinfo = &mut *session.cinfo;
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = ffi::J_COLOR_SPACE::JCS_RGB;
    ffi::jpegli_set_defaults(cinfo);
    jpegli_set_distance(cinfo, options.distance, 0);
    let luma_sampling = if options.subsample_chroma { 2 } else { 1 };
    let components = std::slice::from_raw_parts_mut(cinfo.comp_info, 3);
    for (i, component) in components.iter_mut().enumerate() {
        let factor = if i == 0 { luma_sampling } else { 1 };
        component.h_samp_factor = factor;
        component.v_samp_factor = factor;
    }
    cinfo.optimize_coding = c_int::from(options.optimize_coding);
    jpegli_enable_adaptive_quantization(cinfo, c_int::from(options.adaptive_quantization));
    match options.progression {
        Progression::Level(level) => jpegli_set_progressive_level(cinfo, c_int::from(level)),
        Progression::Scans(scans) => {
            // jpegli validates the script in start_compress and errors (unwinds) on a bad one.
            session.scans = scans.iter().map(|scan| scan.to_ffi()).collect();
            cinfo.scan_info = session.scans.as_ptr();
            cinfo.num_scans = session.scans.len() as c_int;
        }
    }
    let (buffer, size) = &mut *session.out;
    ffi::jpegli_mem_dest(cinfo, buffer, size);
    ffi::jpegli_start_compress(cinfo, 1);
    let rows: Vec<ffi::JSAMPROW> = rgb.chunks_exact(row_bytes).map(<[u8]>::as_ptr).collect();
    let mut written = 0usize;
    while written < rows.len() {
        let left = (rows.len() - written) as u32;
        let done = ffi::jpegli_write_scanlines(cinfo, rows[written..].as_ptr(), left);
        if done == 0 {
            std::panic::resume_unwind(Box::new("jpegli took no rows".to_owned()));
        }
        written += done as usize;
    }
    ffi::jpegli_finish_compress(cinfo);
    let (buffer, size) = *session.out;
    std::slice::from_raw_parts(buffer, size as usize).to_vec()
}

/// libjpeg's fatal-error hook: must not return, so it unwinds with the library's message.
unsafe extern "C-unwind" fn unwind_on_error(cinfo: &mut ffi::jpegli_common_struct) {
    let mut message = format!("jpegli: error {}", (*cinfo.err).msg_code);
    if let Some(format) = (*cinfo.err).format_message {
        let buffer = [0u8; 80];
        format(cinfo, &buffer);
        let text = buffer.split(|&b| b == 0).next().unwrap_or_default();
        message = format!("jpegli: {}", String::from_utf8_lossy(text));
    }
    std::panic::resume_unwind(Box::new(message));
}

/// Warnings (corrupt-data notices of a decoder, mostly) have nothing to say to an encoder.
unsafe extern "C-unwind" fn ignore_warning(_cinfo: &mut ffi::jpegli_common_struct, _level: c_int) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> Vec<u8> {
        (0..height)
            .flat_map(|y| (0..width).flat_map(move |x| [(x * 3) as u8, (y * 5) as u8, 128]))
            .collect()
    }

    #[test]
    fn encodes_a_decodable_jpeg_without_markers() {
        let options = Options {
            distance: distance_for_quality(80),
            subsample_chroma: true,
            progression: Progression::Level(1),
            optimize_coding: true,
            adaptive_quantization: true,
        };
        let jpeg = encode(&gradient(67, 45), 67, 45, &options).expect("encodes");
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert!(!jpeg.windows(4).any(|w| w == b"JFIF" || w == b"Exif"));
        let decoded = image::load_from_memory(&jpeg).expect("decodes").to_rgb8();
        assert_eq!(decoded.dimensions(), (67, 45));
    }

    #[test]
    fn a_bad_request_is_an_error_not_a_crash() {
        let options = Options {
            distance: 1.0,
            subsample_chroma: false,
            progression: Progression::Level(0),
            optimize_coding: false,
            adaptive_quantization: true,
        };
        assert!(encode(&[0; 10], 2, 2, &options).is_err(), "too few bytes");
        // Wider than JPEG allows: jpegli refuses through error_exit, which unwinds to here.
        let wide = encode(&vec![0; 70_000 * 3], 70_000, 1, &options);
        let message = wide.expect_err("refused");
        assert!(message.starts_with("jpegli: "), "{message}");
    }

    #[test]
    fn a_scan_script_is_followed_and_an_incomplete_one_refused() {
        const ALL_AT_ONCE: &[Scan] = &[
            Scan::band(&[0, 1, 2], 0, 0),
            Scan::band(&[0], 1, 63),
            Scan::band(&[1], 1, 63),
            Scan::band(&[2], 1, 63),
        ];
        let options = |scans| Options {
            distance: 1.0,
            subsample_chroma: false,
            progression: Progression::Scans(scans),
            optimize_coding: true,
            adaptive_quantization: true,
        };
        let jpeg = encode(&gradient(67, 45), 67, 45, &options(ALL_AT_ONCE)).expect("encodes");
        let marker = |code: u8| jpeg.windows(2).filter(|w| w == &[0xFF, code]).count();
        assert_eq!(marker(0xC2), 1, "a progressive frame");
        assert_eq!(
            marker(0xDA),
            ALL_AT_ONCE.len(),
            "one start-of-scan per scan"
        );
        let decoded = image::load_from_memory(&jpeg).expect("decodes").to_rgb8();
        assert_eq!(decoded.dimensions(), (67, 45));
        // Cb and Cr's AC coefficients are never written: jpegli refuses the script.
        let message =
            encode(&gradient(8, 8), 8, 8, &options(&ALL_AT_ONCE[..2])).expect_err("refused");
        assert!(message.contains("Incomplete scan"), "{message}");
    }

    #[test]
    fn quality_maps_as_jpegli_documents() {
        assert!((distance_for_quality(90) - 1.0).abs() < 1e-6);
        assert!(distance_for_quality(50) > distance_for_quality(80));
    }
}
