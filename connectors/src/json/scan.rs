//! A tolerant, iterative scanner of JSON structure: where values, array
//! items and object entries start and end, found by tracking strings and
//! brackets only. Readers split a package into releases with it, then let
//! serde validate each release on its own, so a bad token (`Infinity`, `NaN`,
//! a control character, `01`) costs the release it is in and reading goes
//! on at the next item. No recursion: any depth is scanned in O(n) with a
//! heap stack.

use std::ops::Range;

/// Why scanning stopped. Positions are byte offsets in the scanned text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The text ends inside a value (a truncated file or body).
    #[error("the text ends inside a value at byte {position} (truncated?)")]
    Truncated { position: usize },
    /// A byte that cannot be where it is (a closing bracket of the wrong
    /// kind, a missing `:`): the structure is damaged from here on.
    #[error("unexpected {found} at byte {position}; expected {expected}")]
    Unexpected {
        position: usize,
        found: String,
        expected: &'static str,
    },
}

impl ScanError {
    pub fn position(&self) -> usize {
        match self {
            ScanError::Truncated { position } | ScanError::Unexpected { position, .. } => *position,
        }
    }

    fn unexpected(b: &[u8], position: usize, expected: &'static str) -> ScanError {
        let found = match b.get(position) {
            Some(c) if c.is_ascii_graphic() => format!("`{}`", *c as char),
            Some(c) => format!("byte 0x{c:02x}"),
            None => return ScanError::Truncated { position },
        };
        ScanError::Unexpected {
            position,
            found,
            expected,
        }
    }
}

/// Skips JSON whitespace from `i`.
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

fn is_scalar_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')
}

/// The end (exclusive) of the string starting with the `"` at `start`.
pub fn string_end(b: &[u8], start: usize) -> Result<usize, ScanError> {
    let mut i = start + 1;
    // Jump between quotes and backslashes (SIMD search): descriptions are long.
    while let Some(off) = b
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        i += off;
        if b[i] == b'"' {
            return Ok(i + 1);
        }
        i += 2;
    }
    Err(ScanError::Truncated { position: b.len() })
}

/// The byte range of the value starting at `start` (whitespace already
/// skipped). Scalars (numbers, `true`, `Infinity`…) are runs of letters,
/// digits and `+-.`; serde judges them later.
pub fn value_span(b: &[u8], start: usize) -> Result<Range<usize>, ScanError> {
    match b.get(start) {
        None => Err(ScanError::Truncated { position: start }),
        Some(b'"') => Ok(start..string_end(b, start)?),
        Some(b'[' | b'{') => Ok(start..container_end(b, start)?),
        Some(&c) if is_scalar_byte(c) => {
            let mut i = start;
            while b.get(i).is_some_and(|c| is_scalar_byte(*c)) {
                i += 1;
            }
            Ok(start..i)
        }
        Some(_) => Err(ScanError::unexpected(b, start, "a value")),
    }
}

/// The end (exclusive) of the array or object opening at `start`.
fn container_end(b: &[u8], start: usize) -> Result<usize, ScanError> {
    let mut closers: Vec<u8> = Vec::new();
    let mut i = start;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i = string_end(b, i)?;
                continue;
            }
            b'[' => closers.push(b']'),
            b'{' => closers.push(b'}'),
            b']' | b'}' => {
                if closers.pop() != Some(c) {
                    return Err(ScanError::unexpected(b, i, "the matching closing bracket"));
                }
                if closers.is_empty() {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(ScanError::Truncated { position: b.len() })
}

/// One item of an array, or one piece of junk between items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Value(Range<usize>),
    /// Bytes that are no value (a stray control character, a doubled
    /// comma); skipped and reported, the next item is read.
    Junk(Range<usize>),
}

/// The items of the array whose `[` is at `open`. Stops at the first
/// structural error, which [`Items::error`] returns afterwards.
pub struct Items<'b> {
    b: &'b [u8],
    pos: usize,
    /// A value was just read: a `,` (or, tolerated, nothing) comes next.
    after_value: bool,
    done: bool,
    error: Option<ScanError>,
    /// One past the closing `]`, once reached.
    end: Option<usize>,
}

/// Iterates the items of the array opening at `open` (`b[open] == b'['`).
pub fn items(b: &[u8], open: usize) -> Items<'_> {
    Items {
        b,
        pos: open + 1,
        after_value: false,
        done: false,
        error: None,
        end: None,
    }
}

fn starts_value(c: u8) -> bool {
    matches!(c, b'"' | b'[' | b'{') || is_scalar_byte(c)
}

impl Items<'_> {
    /// The error that stopped the iteration, if any.
    pub fn error(&self) -> Option<&ScanError> {
        self.error.as_ref()
    }

    /// One past the closing `]` when the array ended properly.
    pub fn end(&self) -> Option<usize> {
        self.end
    }

    fn fail(&mut self, e: ScanError) -> Option<Item> {
        self.error = Some(e);
        self.done = true;
        None
    }
}

impl Iterator for Items<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        // Each turn consumes at least one byte or ends the iteration.
        while !self.done {
            self.pos = skip_ws(self.b, self.pos);
            let Some(&c) = self.b.get(self.pos) else {
                let position = self.b.len();
                return self.fail(ScanError::Truncated { position });
            };
            match c {
                b']' => {
                    self.done = true;
                    self.end = Some(self.pos + 1);
                }
                b',' if self.after_value => {
                    self.after_value = false;
                    self.pos += 1;
                }
                b',' => {
                    // A leading or doubled comma.
                    self.pos += 1;
                    self.after_value = true;
                    return Some(Item::Junk(self.pos - 1..self.pos));
                }
                b'}' => {
                    let e = ScanError::unexpected(self.b, self.pos, "an array item or `]`");
                    return self.fail(e);
                }
                // A missing comma before a value is tolerated: read it.
                c if starts_value(c) => match value_span(self.b, self.pos) {
                    Ok(r) => {
                        self.pos = r.end;
                        self.after_value = true;
                        return Some(Item::Value(r));
                    }
                    Err(e) => return self.fail(e),
                },
                _ => {
                    let start = self.pos;
                    while self
                        .b
                        .get(self.pos)
                        .is_some_and(|&c| !starts_value(c) && !matches!(c, b',' | b']' | b'}'))
                    {
                        self.pos += 1;
                    }
                    // Junk stands in for an item: a `,` may follow it.
                    self.after_value = true;
                    return Some(Item::Junk(start..self.pos));
                }
            }
        }
        None
    }
}

/// One `"key": value` of an object: the key's range (quotes included) and
/// the value's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Range<usize>,
    pub value: Range<usize>,
}

/// The entries of the object opening at `open` (`b[open] == b'{'`), up to
/// the first structural error (returned with what was read). `end` is one
/// past the closing `}` when it was reached.
pub fn entries(b: &[u8], open: usize) -> (Vec<Entry>, Result<usize, ScanError>) {
    let mut out = Vec::new();
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return (out, Ok(i + 1));
    }
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return (out, Err(ScanError::unexpected(b, i, "a key in quotes")));
        }
        let key = match string_end(b, i) {
            Ok(e) => i..e,
            Err(e) => return (out, Err(e)),
        };
        i = skip_ws(b, key.end);
        if b.get(i) != Some(&b':') {
            return (out, Err(ScanError::unexpected(b, i, "`:`")));
        }
        i = skip_ws(b, i + 1);
        let value = match value_span(b, i) {
            Ok(v) => v,
            Err(e) => return (out, Err(e)),
        };
        i = skip_ws(b, value.end);
        out.push(Entry { key, value });
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return (out, Ok(i + 1)),
            _ => return (out, Err(ScanError::unexpected(b, i, "`,` or `}`"))),
        }
    }
}

/// The value of `key` (written plainly, without escapes) among `entries`.
pub fn find<'e>(b: &[u8], entries: &'e [Entry], key: &str) -> Option<&'e Entry> {
    entries.iter().find(|e| key_is(b, e, key))
}

/// Whether an entry's key is `key`.
pub fn key_is(b: &[u8], e: &Entry, key: &str) -> bool {
    b.get(e.key.start + 1..e.key.end.saturating_sub(1)) == Some(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(s: &str) -> (Vec<String>, Option<ScanError>) {
        let b = s.as_bytes();
        let mut it = items(b, 0);
        let v = it
            .by_ref()
            .map(|i| match i {
                Item::Value(r) => s[r].to_owned(),
                Item::Junk(r) => format!("junk:{:?}", &s[r]),
            })
            .collect();
        (v, it.error().cloned())
    }

    #[test]
    fn items_of_arrays() {
        assert_eq!(values("[]"), (vec![], None));
        assert_eq!(
            values(r#"[1, "a,]", {"b":[1,2]}, Infinity ,[] ]"#).0,
            vec!["1", r#""a,]""#, r#"{"b":[1,2]}"#, "Infinity", "[]"]
        );
        let (v, e) = values(r#"[{"a":1},{"b":"#);
        assert_eq!(v, vec![r#"{"a":1}"#]);
        assert!(matches!(e, Some(ScanError::Truncated { .. })));
        let (v, e) = values("[{\"a\":1},\u{1},{\"b\":2} {\"c\":3}]");
        assert_eq!(
            v,
            vec![r#"{"a":1}"#, "junk:\"\\u{1}\"", r#"{"b":2}"#, r#"{"c":3}"#]
        );
        assert_eq!(e, None);
        let (v, e) = values(r#"[{"a":[1}]"#);
        assert!(v.is_empty());
        assert!(
            matches!(e, Some(ScanError::Unexpected { position: 8, .. })),
            "{e:?}"
        );
    }

    #[test]
    fn deep_values_are_scanned_without_recursion() {
        let deep = format!("[{}{}]", "[".repeat(300_000), "]".repeat(300_000));
        let (v, e) = values(&deep);
        assert_eq!((v.len(), e), (1, None));
    }

    #[test]
    fn entries_of_objects() {
        let s = r#"{ "uri" : "x", "releases": [1,2], "n": -1e9999 }"#;
        let (es, end) = entries(s.as_bytes(), 0);
        assert_eq!(end, Ok(s.len()));
        assert_eq!(es.len(), 3);
        let r = find(s.as_bytes(), &es, "releases").expect("releases");
        assert_eq!(&s[r.value.clone()], "[1,2]");
        assert_eq!(&s[es[2].value.clone()], "-1e9999");
        let (es, end) = entries(br#"{"a":1,"b""#, 0);
        assert_eq!(es.len(), 1);
        assert!(end.is_err());
    }
}
