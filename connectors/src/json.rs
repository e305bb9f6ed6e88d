//! Byte-level JSON helpers for untrusted input: BOM and invalid UTF-8
//! handling, the bounded-depth check every reader runs before serde sees a
//! text, the tolerant structure scanner ([`scan`]), whitespace-insensitive
//! content hashing, byte positions.

pub mod scan;

use sha2::{Digest, Sha256};

/// The deepest nesting of arrays and objects any reader accepts in one value
/// (a release, a member, an opportunity, an API body). Real OCDS packages
/// from Find a Tender and Contracts Finder nest at most 11 levels, a release
/// inside one at most 9; 64 leaves room for any honest publisher while
/// keeping every recursive consumer (serde, our own code) far from the end
/// of a 2 MiB thread stack.
pub const MAX_DEPTH: usize = 64;

/// A value nests deeper than allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nested deeper than {max_depth} levels of arrays/objects at byte {position}")]
pub struct DepthError {
    /// Byte offset (in the text checked) of the bracket that went too deep.
    pub position: usize,
    pub max_depth: usize,
}

/// Checks that no array/object in `text` nests deeper than `max_depth`
/// (the outermost `{` or `[` is level 1). Iterative, aware of strings and
/// escapes, O(n), no allocation; it does not otherwise validate the JSON, so
/// run it before serde, which then never recurses deeper than this.
pub fn check_depth(text: &[u8], max_depth: usize) -> Result<(), DepthError> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'"' => {
                // Skip the string in one jump; an unterminated one ends the text.
                i = scan::string_end(text, i).unwrap_or(text.len());
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(DepthError {
                        position: i,
                        max_depth,
                    });
                }
            }
            // Unbalanced closers are serde's to report, not ours.
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

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

/// Reads a whole input file, refusing one larger than `max` bytes before
/// reading it (files are read whole, so a huge one would exhaust memory).
pub fn read_bounded(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is {len} bytes; at most {max} are read (split it into smaller files)"
            ),
        ));
    }
    std::fs::read(path)
}

/// SHA-256 of the JSON text with insignificant whitespace removed, so a
/// release re-indented by a server hashes the same as the original.
pub fn content_hash(json: &str) -> [u8; 32] {
    // Whitespace-free bytes go through a buffer so SHA-256 is fed in large
    // blocks, not in one small piece per whitespace run (pretty-printed
    // releases have thousands of them).
    let mut h = Sha256::new();
    let mut buf = [0u8; 8192];
    let mut len = 0;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
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
            continue;
        }
        buf[len] = b;
        len += 1;
        if len == buf.len() {
            h.update(&buf[..]);
            len = 0;
        }
    }
    h.update(&buf[..len]);
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

/// Every `.json` file under `../shared/data/ocds` with its bytes, and the
/// folder searched (tests and measurements over the real data).
#[cfg(test)]
pub(crate) fn real_ocds_files() -> (std::path::PathBuf, Vec<(std::path::PathBuf, Vec<u8>)>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ocds");
    let mut stack = vec![root.clone()];
    let mut out = Vec::new();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(
                std::fs::read_dir(&p)
                    .expect("dir")
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if p.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&p).expect("file");
            out.push((p, bytes));
        }
    }
    (root, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert_eq!(check_depth(b"[[1]]", 2), Ok(()));
        assert_eq!(
            check_depth(b"[[[1]]]", 2),
            Err(DepthError {
                position: 2,
                max_depth: 2
            })
        );
        assert_eq!(check_depth(br#"{"a":"[[[[\"[[["}"#, 1), Ok(()));
        assert_eq!(check_depth(b"]]]]{}", 1), Ok(()));
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let e = check_depth(deep.as_bytes(), MAX_DEPTH).expect_err("too deep");
        assert_eq!(e.position, MAX_DEPTH);
    }

    #[test]
    fn real_files_pass_the_depth_check() {
        let (root, files) = real_ocds_files();
        for (p, bytes) in &files {
            assert_eq!(check_depth(bytes, MAX_DEPTH), Ok(()), "{}", p.display());
        }
        if std::env::var("SEBROKER_REQUIRE_DATA").as_deref() == Ok("1") {
            assert!(
                !files.is_empty(),
                "no real OCDS files under {}",
                root.display()
            );
        }
    }

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
    fn buffered_hash_equals_the_hash_of_the_whitespace_free_text() {
        // Stored hashes must not change: the buffer only changes how the
        // same bytes reach SHA-256. Longer than the buffer, strings with
        // spaces and escaped quotes.
        let mut text = String::from("{\"items\": [\n");
        for i in 0..2_000 {
            text.push_str(&format!("  {{\"id\": {i}, \"t\": \"a \\\" b {i}\"}},\n"));
        }
        text.push_str("  {}\n]}");
        let mut plain = Vec::new();
        let (mut in_string, mut escaped) = (false, false);
        for &b in text.as_bytes() {
            let keep = in_string || !matches!(b, b' ' | b'\n' | b'\r' | b'\t');
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
            }
            if keep {
                plain.push(b);
            }
        }
        let expected: [u8; 32] = Sha256::digest(&plain).into();
        assert_eq!(content_hash(&text), expected);
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
