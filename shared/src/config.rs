//! Configuration: the variant specs, the input limits and the deployment names, read from env.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// The variants produced when `IMGPIPE_VARIANTS` is not set.
pub const DEFAULT_VARIANTS: &str =
    "thumb:200x200:cover:jpeg:80,medium:800x800:inside:jpeg:82,large:1600x1600:inside:jpeg:82";
/// 50 MiB: larger uploads are rejected by size before their body is read.
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// 100 megapixels: larger images are rejected from their header, before decoding.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// Upper bound on a variant's box, so a typo cannot ask for a gigapixel thumbnail.
const MAX_VARIANT_EDGE: u32 = 8192;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("variant spec `{spec}`: expected name:WIDTHxHEIGHT:fit:format:quality, {problem}")]
    BadVariant { spec: String, problem: String },
    #[error("variant name `{name}` is used twice")]
    DuplicateVariant { name: String },
    #[error("no variants configured")]
    NoVariants,
    #[error("environment variable {name} is required but not set")]
    Missing { name: &'static str },
    #[error("UPLOADS_BUCKET and DERIVATIVES_BUCKET are the same bucket: set DERIVATIVES_PREFIX so that variants cannot trigger the function")]
    SharedBucketWithoutPrefix,
    #[error("environment variable {name}=`{value}` is not a positive whole number")]
    BadNumber { name: &'static str, value: String },
}

/// How a variant fits its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The whole image, scaled to fit inside the box (aspect ratio kept).
    Inside,
    /// Fill the box, cropping the overflow around the centre.
    Cover,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    WebP,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::WebP => "webp",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::WebP => "image/webp",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::WebP => "webp",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One configured output: `thumb:200x200:cover:jpeg:80`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantSpec {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub format: OutputFormat,
    /// 1–100.
    pub quality: u8,
}

impl FromStr for VariantSpec {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |problem: &str| ConfigError::BadVariant {
            spec: spec.to_owned(),
            problem: problem.to_owned(),
        };
        let parts: Vec<&str> = spec.trim().split(':').collect();
        let [name, size, fit, format, quality] = parts[..] else {
            return Err(bad("it needs exactly five `:`-separated fields"));
        };
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(bad(
                "the name must be non-empty letters, digits, `-` or `_`",
            ));
        }
        let (width, height) = size
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .ok_or_else(|| bad("the size must look like 800x600"))?;
        if !(1..=MAX_VARIANT_EDGE).contains(&width) || !(1..=MAX_VARIANT_EDGE).contains(&height) {
            return Err(bad(&format!(
                "width and height must be 1..={MAX_VARIANT_EDGE}"
            )));
        }
        let fit = match fit.to_ascii_lowercase().as_str() {
            "inside" => Fit::Inside,
            "cover" => Fit::Cover,
            _ => return Err(bad("the fit must be `inside` or `cover`")),
        };
        let format = match format.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => OutputFormat::Jpeg,
            "webp" => OutputFormat::WebP,
            _ => return Err(bad("the format must be `jpeg` or `webp`")),
        };
        let quality = quality
            .parse::<u8>()
            .ok()
            .filter(|q| (1..=100).contains(q))
            .ok_or_else(|| bad("the quality must be 1..=100"))?;
        Ok(VariantSpec {
            name: name.to_owned(),
            width,
            height,
            fit,
            format,
            quality,
        })
    }
}

/// Parses a comma-separated list of variant specs, refusing duplicates and empty lists.
pub fn parse_variants(list: &str) -> Result<Vec<VariantSpec>, ConfigError> {
    let specs = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<VariantSpec>, _>>()?;
    if specs.is_empty() {
        return Err(ConfigError::NoVariants);
    }
    let mut seen = HashSet::new();
    for spec in &specs {
        if !seen.insert(spec.name.as_str()) {
            return Err(ConfigError::DuplicateVariant {
                name: spec.name.clone(),
            });
        }
    }
    Ok(specs)
}

/// Bounds checked before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    /// Memory the process has, in bytes, when known: the function's memory size. Decoders whose
    /// peak can be told from the header (HEIF/AVIF) refuse an image that would need more, instead
    /// of being killed by the runtime mid-batch. `None` (the command line) checks nothing.
    pub max_memory: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_pixels: DEFAULT_MAX_PIXELS,
            max_memory: None,
        }
    }
}

/// The version of the image path: bump it whenever the same input and the same variant specs
/// would give different output (another codec or codec setting, resize filter, colour or
/// orientation handling, fingerprint algorithm, a fixed bug that changes pixels), so that
/// `imgpipe reprocess --stale` finds every record made before. Changes that leave every output
/// byte the same (speed, logging, limits) do not bump it.
/// 1: the path as of HEIF support, fingerprints and the mean perceptual hash.
/// 2: JPEG variants from jpegli (4:4:4, its own quantisation, qualities mapped to distances).
/// 3: their progressive scans without successive approximation (`encode::VARIANT_SCANS`), and
///    JPEGs decoded at 3/8 scale where that is enough.
pub const IMAGE_PATH_VERSION: u32 = 3;

/// Everything the image path needs: what to make and what to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub variants: Vec<VariantSpec>,
    pub limits: Limits,
}

impl PipelineConfig {
    /// Reads `IMGPIPE_VARIANTS`, `IMGPIPE_MAX_BYTES`, `IMGPIPE_MAX_PIXELS` and the memory size
    /// (`IMGPIPE_MEMORY_MB`, else the `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` Lambda sets, in MiB)
    /// through `lookup` (the process environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let variants = parse_variants(
            lookup("IMGPIPE_VARIANTS")
                .as_deref()
                .unwrap_or(DEFAULT_VARIANTS),
        )?;
        let limits = Limits {
            max_bytes: number(&lookup, "IMGPIPE_MAX_BYTES", DEFAULT_MAX_BYTES)?,
            max_pixels: number(&lookup, "IMGPIPE_MAX_PIXELS", DEFAULT_MAX_PIXELS)?,
            max_memory: memory_bytes(&lookup)?,
        };
        Ok(PipelineConfig { variants, limits })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// What made a record's variants, short and stable: `<IMAGE_PATH_VERSION>-<8 hex>`, the hex
    /// being the start of the SHA-256 of `canonical_variants` joined by commas. The same specs
    /// in another order or spelling give the same id; any change of size, fit, format, quality
    /// or name gives another. Limits are left out: they decide what is refused, not what a
    /// variant looks like.
    pub fn pipeline_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.canonical_variants().join(",").as_bytes());
        format!("{IMAGE_PATH_VERSION}-{}", hex::encode(&digest[..4]))
    }

    /// The variant specs in canonical form: `name:WxH:fit:format:quality`, sorted by name.
    pub fn canonical_variants(&self) -> Vec<String> {
        let mut specs: Vec<String> = self
            .variants
            .iter()
            .map(|v| {
                let fit = match v.fit {
                    Fit::Inside => "inside",
                    Fit::Cover => "cover",
                };
                format!(
                    "{}:{}x{}:{fit}:{}:{}",
                    v.name,
                    v.width,
                    v.height,
                    v.format.extension(),
                    v.quality
                )
            })
            .collect();
        specs.sort();
        specs
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            variants: parse_variants(DEFAULT_VARIANTS).unwrap_or_default(),
            limits: Limits::default(),
        }
    }
}

/// Where the function reads and writes: the names the deployment gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageNames {
    pub uploads_bucket: String,
    pub derivatives_bucket: String,
    pub table_name: String,
    /// Key prefix of the variants (`DERIVATIVES_PREFIX`, default none). Required when one
    /// bucket serves both roles, so that the function can tell its own output from uploads.
    pub derivatives_prefix: String,
}

impl StorageNames {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing { name })
        };
        let names = StorageNames {
            uploads_bucket: required("UPLOADS_BUCKET")?,
            derivatives_bucket: required("DERIVATIVES_BUCKET")?,
            table_name: required("TABLE_NAME")?,
            derivatives_prefix: lookup("DERIVATIVES_PREFIX").unwrap_or_default(),
        };
        if names.uploads_bucket == names.derivatives_bucket && names.derivatives_prefix.is_empty() {
            return Err(ConfigError::SharedBucketWithoutPrefix);
        }
        Ok(names)
    }

    /// Whether an object is one of our variants: such events are ignored, so the function
    /// can never trigger itself.
    pub fn is_derivative(&self, bucket: &str, key: &str) -> bool {
        bucket == self.derivatives_bucket && key.starts_with(&self.derivatives_prefix)
    }

    /// Where a variant of image `id` lives. Deterministic, so a repeated event overwrites the
    /// same objects; all of one image's variants share `variant_prefix(id)`.
    pub fn variant_key(&self, id: &str, name: &str, format: OutputFormat) -> String {
        format!("{}{name}.{}", self.variant_prefix(id), format.extension())
    }

    pub fn variant_prefix(&self, id: &str) -> String {
        format!("{}{id}/", self.derivatives_prefix)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ConfigError::BadNumber { name, value }),
    }
}

/// The memory the process has, in bytes. Lambda tells every function its size in
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, so a change in the console is seen without redeploying;
/// `IMGPIPE_MEMORY_MB` overrides it (a command-line run that should behave like the function).
fn memory_bytes(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<u64>, ConfigError> {
    const MIB: u64 = 1024 * 1024;
    for name in ["IMGPIPE_MEMORY_MB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] {
        if lookup(name).is_some() {
            return Ok(Some(number(lookup, name, 0)?.saturating_mul(MIB)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn default_spec_parses_into_three_jpeg_variants() {
        let specs = parse_variants(DEFAULT_VARIANTS).expect("default parses");
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["thumb", "medium", "large"]);
        assert_eq!(specs[0].fit, Fit::Cover);
        assert_eq!((specs[2].width, specs[2].height), (1600, 1600));
        assert!(specs.iter().all(|s| s.format == OutputFormat::Jpeg));
    }

    #[test]
    fn webp_variant_is_accepted() {
        let spec: VariantSpec = "card:640x480:inside:webp:75".parse().expect("parses");
        assert_eq!(spec.format, OutputFormat::WebP);
        assert_eq!(spec.quality, 75);
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, needle) in [
            ("thumb:200x200:cover:jpeg", "five"),
            ("thumb:200:cover:jpeg:80", "800x600"),
            ("thumb:0x200:cover:jpeg:80", "1..="),
            ("thumb:200x200:stretch:jpeg:80", "fit"),
            ("thumb:200x200:cover:gif:80", "format"),
            ("thumb:200x200:cover:jpeg:0", "quality"),
            ("th/umb:200x200:cover:jpeg:80", "name"),
        ] {
            let err = parse_variants(spec).expect_err(spec).to_string();
            assert!(err.contains(needle), "{spec}: {err}");
        }
        assert_eq!(
            parse_variants("a:1x1:inside:jpeg:80,a:2x2:inside:jpeg:80"),
            Err(ConfigError::DuplicateVariant { name: "a".into() })
        );
        assert_eq!(parse_variants(" , "), Err(ConfigError::NoVariants));
    }

    #[test]
    fn env_overrides_limits_and_rejects_garbage() {
        let env: HashMap<&str, &str> = [("IMGPIPE_MAX_BYTES", "1024")].into();
        let config = PipelineConfig::from_lookup(|k| env.get(k).map(|v| v.to_string()))
            .expect("valid config");
        assert_eq!(config.limits.max_bytes, 1024);
        assert_eq!(config.limits.max_pixels, DEFAULT_MAX_PIXELS);

        let env: HashMap<&str, &str> = [("IMGPIPE_MAX_PIXELS", "lots")].into();
        let err = PipelineConfig::from_lookup(|k| env.get(k).map(|v| v.to_string()));
        assert!(matches!(
            err,
            Err(ConfigError::BadNumber {
                name: "IMGPIPE_MAX_PIXELS",
                ..
            })
        ));
    }

    #[test]
    fn memory_comes_from_lambda_unless_overridden() {
        let config = |pairs: &[(&str, &str)]| {
            let env: HashMap<&str, &str> = pairs.iter().copied().collect();
            PipelineConfig::from_lookup(|k| env.get(k).map(|v| v.to_string()))
        };
        let memory = |pairs: &[(&str, &str)]| config(pairs).expect("valid").limits.max_memory;
        assert_eq!(memory(&[]), None, "a command-line run checks nothing");
        assert_eq!(
            memory(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1280")]),
            Some(1280 * 1024 * 1024)
        );
        assert_eq!(
            memory(&[
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1280"),
                ("IMGPIPE_MEMORY_MB", "3008")
            ]),
            Some(3008 * 1024 * 1024)
        );
        assert!(matches!(
            config(&[("IMGPIPE_MEMORY_MB", "0")]),
            Err(ConfigError::BadNumber {
                name: "IMGPIPE_MEMORY_MB",
                ..
            })
        ));
    }

    #[test]
    fn storage_names_are_required() {
        let err = StorageNames::from_lookup(|_| None);
        assert_eq!(
            err,
            Err(ConfigError::Missing {
                name: "UPLOADS_BUCKET"
            })
        );
    }

    fn names(pairs: &[(&str, &str)]) -> Result<StorageNames, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        StorageNames::from_lookup(|k| env.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn one_bucket_for_both_needs_a_prefix_and_then_skips_only_variants() {
        let shared = [
            ("UPLOADS_BUCKET", "b"),
            ("DERIVATIVES_BUCKET", "b"),
            ("TABLE_NAME", "t"),
        ];
        assert_eq!(names(&shared), Err(ConfigError::SharedBucketWithoutPrefix));
        let mut with_prefix = shared.to_vec();
        with_prefix.push(("DERIVATIVES_PREFIX", "variants/"));
        let names = names(&with_prefix).expect("valid");
        let key = names.variant_key("abc", "thumb", OutputFormat::Jpeg);
        assert_eq!(key, "variants/abc/thumb.jpg");
        assert!(names.is_derivative("b", &key));
        assert!(!names.is_derivative("b", "photos/cat.jpg"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_spec() -> impl Strategy<Value = VariantSpec> {
            (
                "[A-Za-z0-9_-]{1,16}",
                1..=MAX_VARIANT_EDGE,
                1..=MAX_VARIANT_EDGE,
                prop_oneof![Just(Fit::Inside), Just(Fit::Cover)],
                prop_oneof![Just(OutputFormat::Jpeg), Just(OutputFormat::WebP)],
                1u8..=100,
            )
                .prop_map(|(name, width, height, fit, format, quality)| VariantSpec {
                    name,
                    width,
                    height,
                    fit,
                    format,
                    quality,
                })
        }

        fn written(spec: &VariantSpec) -> String {
            let fit = match spec.fit {
                Fit::Inside => "inside",
                Fit::Cover => "cover",
            };
            format!(
                "{}:{}x{}:{fit}:{}:{}",
                spec.name, spec.width, spec.height, spec.format, spec.quality
            )
        }

        proptest! {
            #[test]
            fn a_written_spec_parses_back(spec in any_spec()) {
                prop_assert_eq!(written(&spec).parse::<VariantSpec>(), Ok(spec));
            }

            #[test]
            fn a_written_list_parses_back(specs in proptest::collection::vec(any_spec(), 1..5)) {
                let names: HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                let list = specs.iter().map(written).collect::<Vec<_>>().join(",");
                let parsed = parse_variants(&list);
                if names.len() == specs.len() {
                    prop_assert_eq!(parsed, Ok(specs));
                } else {
                    prop_assert!(matches!(parsed, Err(ConfigError::DuplicateVariant { .. })), "{parsed:?}");
                }
            }

            /// Near-miss specs (wrong counts, zeros, huge numbers, unknown words) are refused
            /// with a reason, and whatever is accepted is within bounds.
            #[test]
            fn near_miss_specs_are_refused_or_in_bounds(
                spec in "[a-z_/]{0,4}:[0-9]{0,6}[xX*][0-9]{0,6}:(inside|cover|fill):(jpeg|jpg|webp|png|JPEG):[0-9]{0,4}(:x)?",
            ) {
                match spec.parse::<VariantSpec>() {
                    Ok(parsed) => {
                        prop_assert!((1..=MAX_VARIANT_EDGE).contains(&parsed.width));
                        prop_assert!((1..=MAX_VARIANT_EDGE).contains(&parsed.height));
                        prop_assert!((1..=100).contains(&parsed.quality));
                        prop_assert!(!parsed.name.is_empty());
                    }
                    Err(e) => prop_assert!(matches!(e, ConfigError::BadVariant { .. }), "{e:?}"),
                }
            }
        }
    }

    #[test]
    fn the_pipeline_id_names_the_specs_not_their_order_or_limits() {
        let config = |spec: &str| PipelineConfig {
            variants: parse_variants(spec).expect("valid"),
            limits: Limits::default(),
        };
        let default = PipelineConfig::default().pipeline_id();
        assert!(
            default.starts_with(&format!("{IMAGE_PATH_VERSION}-")),
            "{default}"
        );
        assert_eq!(default.len(), format!("{IMAGE_PATH_VERSION}-").len() + 8);
        let a = config("a:10x10:cover:jpeg:80,b:20x20:inside:webp:70");
        let b = config("b:20x20:inside:webp:70, a:10x10:cover:jpeg:80");
        assert_eq!(a.pipeline_id(), b.pipeline_id(), "order does not matter");
        for changed in [
            "a:10x11:cover:jpeg:80,b:20x20:inside:webp:70",
            "a:10x10:inside:jpeg:80,b:20x20:inside:webp:70",
            "a:10x10:cover:webp:80,b:20x20:inside:webp:70",
            "a:10x10:cover:jpeg:81,b:20x20:inside:webp:70",
            "c:10x10:cover:jpeg:80,b:20x20:inside:webp:70",
            "a:10x10:cover:jpeg:80",
        ] {
            assert_ne!(config(changed).pipeline_id(), a.pipeline_id(), "{changed}");
        }
        let mut limited = a.clone();
        limited.limits.max_pixels = 10;
        assert_eq!(
            limited.pipeline_id(),
            a.pipeline_id(),
            "limits do not matter"
        );
    }
}
