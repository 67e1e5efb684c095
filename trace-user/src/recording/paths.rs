//! Paths and other byte strings of the container, and their text form in recording.json.
//!
//! File names on Linux are bytes, not UTF-8. A [`PathBytes`] keeps them as bytes (ordered by bytes)
//! and writes them as a JSON string that is readable for ordinary names and lossless for every
//! other one (docs/recording.md, "Byte strings"):
//!
//! - valid UTF-8 that is not a control character is written as is;
//! - a backslash is doubled: `\\`;
//! - every other byte (control characters, including newline and NUL, and bytes that are not
//!   valid UTF-8) is written as `\xHH` (two lowercase hex digits).
//!
//! Reading accepts exactly that canonical form, so every accepted recording is written back byte
//! for byte.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a byte string's text form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteTextError {
    /// A backslash not followed by `\` or `x` and two hex digits.
    #[error("bad escape at byte {at} of {text:?}: use \\\\ or \\xHH")]
    BadEscape {
        /// The text.
        text: String,
        /// Byte offset of the backslash.
        at: usize,
    },
    /// Valid but not canonical: a byte escaped that is written as is, or the reverse.
    #[error("{text:?} is not in canonical form; write it as {canonical:?}")]
    NotCanonical {
        /// The text.
        text: String,
        /// How trace writes the same bytes.
        canonical: String,
    },
}

/// The canonical text form of `bytes` (see the module documentation).
pub fn encode(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                text.push_str("\\\\");
            } else if c.is_control() {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(text, "\\x{b:02x}");
                }
            } else {
                text.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(text, "\\x{b:02x}");
        }
    }
    text
}

/// Unicode's bidirectional controls (embeddings, overrides, isolates and marks): shown as they
/// are, they make text read in another order than a shell or a YAML parser reads it.
pub fn reorders(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// The bytes of a canonical text form; the inverse of [`encode`].
pub fn decode(text: &str) -> Result<Vec<u8>, ByteTextError> {
    let raw = text.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            bytes.push(raw[i]);
            i += 1;
            continue;
        }
        let bad = || ByteTextError::BadEscape {
            text: text.to_owned(),
            at: i,
        };
        match raw.get(i + 1) {
            Some(b'\\') => {
                bytes.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = raw.get(i + 2..i + 4).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                bytes.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 4;
            }
            _ => return Err(bad()),
        }
    }
    let canonical = encode(&bytes);
    if canonical != text {
        return Err(ByteTextError::NotCanonical {
            text: text.to_owned(),
            canonical,
        });
    }
    Ok(bytes)
}

/// An absolute path inside the container, as bytes. Ordered by bytes.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathBytes(Vec<u8>);

impl PathBytes {
    /// The path `bytes` exactly as given (no normalisation; see [`absolute`] for that).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        PathBytes(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether this path is `dir` or lies below it (component-wise: `/etc2` is not below `/etc`).
    pub fn is_within(&self, dir: &PathBytes) -> bool {
        let dir = dir.0.strip_suffix(b"/").unwrap_or(&dir.0);
        match self.0.strip_prefix(dir) {
            Some(rest) => rest.is_empty() || rest.starts_with(b"/"),
            None => false,
        }
    }

    /// The parent directory (`/` for `/` and for top-level names); `None` for a relative path.
    pub fn parent(&self) -> Option<PathBytes> {
        let slash = self.0.iter().rposition(|&b| b == b'/')?;
        Some(PathBytes(self.0[..slash.max(1)].to_vec()))
    }
}

impl From<&str> for PathBytes {
    fn from(s: &str) -> Self {
        PathBytes(s.as_bytes().to_vec())
    }
}

impl From<&[u8]> for PathBytes {
    fn from(b: &[u8]) -> Self {
        PathBytes(b.to_vec())
    }
}

impl AsRef<[u8]> for PathBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The text form, as in recording.json.
impl fmt::Display for PathBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(&self.0))
    }
}

impl fmt::Debug for PathBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", encode(&self.0))
    }
}

impl Serialize for PathBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for PathBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        decode(&text)
            .map(PathBytes)
            .map_err(serde::de::Error::custom)
    }
}

/// One command-line argument of an executed program, as bytes; written like a [`PathBytes`].
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArgBytes(pub Vec<u8>);

impl fmt::Debug for ArgBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", encode(&self.0))
    }
}

impl Serialize for ArgBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for ArgBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        decode(&text)
            .map(ArgBytes)
            .map_err(serde::de::Error::custom)
    }
}

/// The absolute, lexically normalised form of `requested`, resolved against the directory `base`
/// when it is relative: joins, collapses `//` and `.`, applies `..` to the component before it and
/// never climbs above `/`; no trailing slash except for `/` itself. Symlinks are not followed (the
/// probe reports resolved paths separately). A relative `base` is taken from `/`.
///
/// ```
/// use trace_user::recording::{PathBytes, absolute};
/// let cwd = PathBytes::from("/srv/app");
/// assert_eq!(absolute(&cwd, b"../data//x/./y"), PathBytes::from("/srv/data/x/y"));
/// assert_eq!(absolute(&cwd, b"/../../etc/"), PathBytes::from("/etc"));
/// ```
pub fn absolute(base: &PathBytes, requested: &[u8]) -> PathBytes {
    let sources: &[&[u8]] = if requested.starts_with(b"/") {
        &[requested]
    } else {
        &[base.as_bytes(), requested]
    };
    let mut parts: Vec<&[u8]> = Vec::new();
    for source in sources {
        for part in source.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                name => parts.push(name),
            }
        }
    }
    let mut path = Vec::with_capacity(requested.len() + 1);
    for part in &parts {
        path.push(b'/');
        path.extend_from_slice(part);
    }
    if path.is_empty() {
        path.push(b'/');
    }
    PathBytes(path)
}

/// [`absolute`] from `/`: how the recording stores every path it is given.
pub fn normalize(path: &[u8]) -> PathBytes {
    absolute(&PathBytes(vec![b'/']), path)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn text_form_is_readable_and_escapes_the_rest() {
        assert_eq!(encode(b"/etc/passwd"), "/etc/passwd");
        assert_eq!(
            encode("/tmp/caf\u{e9} \u{1f600}".as_bytes()),
            "/tmp/caf\u{e9} \u{1f600}"
        );
        assert_eq!(encode(b"/a\\b"), "/a\\\\b");
        assert_eq!(encode(b"/a\nb\tc\x7f"), "/a\\x0ab\\x09c\\x7f");
        assert_eq!(encode(b"/\xff\xc3"), "/\\xff\\xc3");
        assert_eq!(
            encode("/\u{85}".as_bytes()),
            "/\\xc2\\x85",
            "C1 controls too"
        );
        assert_eq!(encode(b"/\"q\""), "/\"q\"", "JSON escapes quotes itself");
    }

    #[test]
    fn decoding_refuses_bad_and_non_canonical_text() {
        assert_eq!(decode("/a\\\\b\\x0a").unwrap(), b"/a\\b\n");
        for bad in ["/a\\", "/a\\n", "/a\\x4", "/a\\xzz", "/a\\x\u{e9}0"] {
            assert!(
                matches!(decode(bad), Err(ByteTextError::BadEscape { .. })),
                "{bad:?}"
            );
        }
        for odd in ["/\\x41", "/\\xc3\\xa9", "/\\x0A"] {
            assert!(
                matches!(decode(odd), Err(ByteTextError::NotCanonical { .. })),
                "{odd:?}"
            );
        }
    }

    #[test]
    fn json_holds_any_path() {
        let path = PathBytes::new(b"/x\n\xff\\\"".to_vec());
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, r#""/x\\x0a\\xff\\\\\"""#);
        assert_eq!(serde_json::from_str::<PathBytes>(&json).unwrap(), path);
        assert!(serde_json::from_str::<PathBytes>(r#""/x\\q""#).is_err());
    }

    #[test]
    fn absolute_joins_and_collapses() {
        let base = PathBytes::from("/srv/app");
        let cases: &[(&[u8], &str)] = &[
            (b"data.txt", "/srv/app/data.txt"),
            (b"./a//b/.", "/srv/app/a/b"),
            (b"../../../..", "/"),
            (b"..", "/srv"),
            (b"/etc//passwd/", "/etc/passwd"),
            (b"/a/b/../c", "/a/c"),
            (b"/..", "/"),
            (b"", "/srv/app"),
            (b"//", "/"),
            (b"a\xff/../b\n", "/srv/app/b\n"),
        ];
        for (requested, expected) in cases {
            assert_eq!(
                absolute(&base, requested),
                PathBytes::from(*expected),
                "{requested:?}"
            );
        }
        assert_eq!(
            absolute(&PathBytes::from("rel"), b"x"),
            PathBytes::from("/rel/x")
        );
        assert_eq!(normalize(b"etc"), PathBytes::from("/etc"));
    }

    #[test]
    fn within_and_parent_work_by_components() {
        let etc = PathBytes::from("/etc");
        assert!(PathBytes::from("/etc").is_within(&etc));
        assert!(PathBytes::from("/etc/hosts").is_within(&etc));
        assert!(!PathBytes::from("/etc2/hosts").is_within(&etc));
        assert!(PathBytes::from("/x").is_within(&PathBytes::from("/")));
        assert_eq!(
            PathBytes::from("/a/b").parent(),
            Some(PathBytes::from("/a"))
        );
        assert_eq!(PathBytes::from("/a").parent(), Some(PathBytes::from("/")));
        assert_eq!(PathBytes::from("/").parent(), Some(PathBytes::from("/")));
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = encode(&bytes);
            prop_assert!(!text.chars().any(char::is_control));
            prop_assert_eq!(decode(&text).unwrap(), bytes.clone());
            let path = PathBytes::new(bytes);
            let json = serde_json::to_string(&path).unwrap();
            prop_assert_eq!(serde_json::from_str::<PathBytes>(&json).unwrap(), path);
        }

        #[test]
        fn absolute_is_normal_and_idempotent(
            base in proptest::collection::vec(prop_oneof![Just(b'/'), Just(b'.'), Just(b'a'), any::<u8>()], 0..24),
            requested in proptest::collection::vec(prop_oneof![Just(b'/'), Just(b'.'), Just(b'a'), any::<u8>()], 0..24),
        ) {
            let path = absolute(&PathBytes::new(base), &requested);
            let bytes = path.as_bytes();
            prop_assert!(bytes.starts_with(b"/"));
            prop_assert!(bytes == b"/" || !bytes.ends_with(b"/"));
            prop_assert!(!bytes.windows(2).any(|w| w == b"//"));
            prop_assert!(!bytes.split(|&b| b == b'/').any(|c| c == b"." || c == b".."));
            prop_assert_eq!(normalize(bytes), path.clone());
        }
    }
}
