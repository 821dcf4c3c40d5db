//! Output names for `imgpipe process`: one plain file name per input, unique within the run, so
//! that whatever the input paths are, every output lands directly under `--out` and no input's
//! outputs overwrite another's.

use std::collections::HashSet;
use std::path::Path;

/// Leaves room for `~NNNN` and `.json` within the usual 255-byte limit on a file name.
const MAX_NAME_BYTES: usize = 200;

/// Hands out names; remembers every name given so far in this run.
#[derive(Default)]
pub struct OutputNames {
    /// Case-folded, so that `X.jpg` and `x.jpg` stay apart on case-insensitive file systems too.
    taken: HashSet<String>,
}

impl OutputNames {
    /// The name for `input`'s outputs: its file stem made safe (`thumb/<name>.jpg`,
    /// `<name>.json`), with `~2`, `~3`… appended when an earlier input of this run already has
    /// it (`a/x.jpg` and `b/x.jpg`, or `x.jpg` and `x.png`).
    pub fn claim(&mut self, input: &Path) -> String {
        let base = safe_stem(input);
        let mut name = base.clone();
        let mut n = 1;
        while !self.taken.insert(name.to_lowercase()) {
            n += 1;
            name = format!("{base}~{n}");
        }
        name
    }
}

/// A single path component that is never `.`/`..`, holds no separator or control character and
/// is not too long; `image` when nothing usable is left.
fn safe_stem(input: &Path) -> String {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut end = cleaned.len().min(MAX_NAME_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &cleaned[..end];
    if cut.is_empty() || cut.chars().all(|c| c == '.') {
        "image".to_owned()
    } else {
        cut.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(inputs: &[&str]) -> Vec<String> {
        let mut names = OutputNames::default();
        inputs.iter().map(|i| names.claim(Path::new(i))).collect()
    }

    #[test]
    fn same_stems_get_distinct_names_in_argument_order() {
        assert_eq!(
            names(&["a/x.jpg", "b/x.jpg", "x.png", "X.jpg", "y.jpg"]),
            ["x", "x~2", "x~3", "X~4", "y"]
        );
    }

    #[test]
    fn a_numbered_name_already_taken_is_skipped() {
        assert_eq!(names(&["x~2.jpg", "x.jpg", "x.png"]), ["x~2", "x", "x~3"]);
    }

    #[test]
    fn names_are_single_safe_components() {
        let long = format!("{}.jpg", "é".repeat(150));
        let got = names(&[
            "../../etc/passwd.jpg",
            "..",
            "/",
            "...jpg",
            "line\nbreak\r\u{7}.jpg",
            &long,
        ]);
        assert_eq!(got[0], "passwd");
        assert_eq!(got[1], "image");
        assert_eq!(got[2], "image~2");
        assert_eq!(got[3], "image~3");
        assert_eq!(got[4], "line_break__");
        assert!(got[5].len() <= MAX_NAME_BYTES && got[5].starts_with('é'));
        for name in &got {
            assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
            assert!(Path::new(name).components().count() == 1, "{name}");
        }
    }
}
