//! Byte-level JSON helpers for untrusted input: BOM and invalid UTF-8
//! handling, whitespace-insensitive content hashing, byte positions.

use sha2::{Digest, Sha256};

/// Text decoded from bytes, with what had to be repaired.
pub struct Decoded {
    pub text: String,
    /// Bytes removed from the start (a UTF-8 byte-order mark).
    pub bom_len: usize,
    /// The input was not valid UTF-8; bad sequences became U+FFFD.
    pub lossy: bool,
}

/// Strips a BOM and decodes UTF-8 lossily.
pub fn decode(bytes: &[u8]) -> Decoded {
    let (bom_len, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, bytes),
    };
    match std::str::from_utf8(body) {
        Ok(s) => Decoded {
            text: s.to_owned(),
            bom_len,
            lossy: false,
        },
        Err(_) => Decoded {
            text: String::from_utf8_lossy(body).into_owned(),
            bom_len,
            lossy: true,
        },
    }
}

/// SHA-256 of the JSON text with insignificant whitespace removed, so a
/// release re-indented by a server hashes the same as the original.
pub fn content_hash(json: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut in_string = false;
    let mut escaped = false;
    let bytes = json.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            h.update(&bytes[start..i]);
            start = i + 1;
        }
    }
    h.update(&bytes[start..]);
    h.finalize().into()
}

/// Byte offset of a 1-based line and column (as serde_json reports them).
pub fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// Removes control characters (NUL and friends) that published text sometimes
/// carries, keeping line breaks and tabs, and trims.
pub fn clean_text(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    cleaned.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_indentation_not_content() {
        let a = r#"{"a": 1, "b": "x y"}"#;
        let b = "{\n  \"a\":1,\n  \"b\":\"x y\"\n}";
        let c = r#"{"a": 1, "b": "xy"}"#;
        assert_eq!(content_hash(a), content_hash(b));
        assert_ne!(content_hash(a), content_hash(c));
        assert_ne!(
            content_hash(r#"{"a":"\" "}"#),
            content_hash(r#"{"a":"\""}"#)
        );
    }

    #[test]
    fn decode_handles_bom_and_bad_bytes() {
        let d = decode(b"\xEF\xBB\xBF{}");
        assert_eq!((d.text.as_str(), d.bom_len, d.lossy), ("{}", 3, false));
        let d = decode(b"{\"a\":\"\xff\"}");
        assert!(d.lossy);
        assert!(d.text.contains('\u{FFFD}'));
    }

    #[test]
    fn offsets_from_line_and_column() {
        let t = "ab\ncd\nef";
        assert_eq!(byte_offset(t, 1, 1), 0);
        assert_eq!(byte_offset(t, 2, 2), 4);
        assert_eq!(byte_offset(t, 3, 1), 6);
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(clean_text(" a\u{0}b\nc "), "ab\nc");
    }
}
