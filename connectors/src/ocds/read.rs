//! Reading OCDS files of every published shape — release packages, record
//! packages, JSON Lines of releases or packages, single releases, arrays, and
//! gzip of any of these — into raw releases, keeping every good release and
//! reporting each bad spot by byte position.
//!
//! The structure is walked by the iterative scanner of [`crate::json::scan`]
//! (no recursion, any depth, O(n)); each release is then depth-checked and
//! validated by serde on its own, so a bad token, an invalid number, a
//! control character or a too-deep value costs that release only, and
//! reading goes on at the next one. Damage to the structure itself (a
//! truncation, a wrong bracket) keeps everything read before it.

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use serde::de::IgnoredAny;

use crate::json::{self, scan, scan::Item, scan::ScanError};

/// One release as published, verbatim, with where it was found.
#[derive(Debug, Clone)]
pub struct RawRelease {
    pub json: String,
    /// Byte offset of the release in the (decompressed) file.
    pub position: u64,
}

/// What a [`FileError`] cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The file or body is damaged (truncated, not OCDS, a gzip bomb):
    /// what follows the position was not read.
    #[default]
    Damaged,
    /// One release (or one item between releases) was skipped; reading went
    /// on after it.
    Release,
}

/// A problem at a byte position of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub position: u64,
    pub message: String,
    pub kind: ErrorKind,
}

/// What the top-level object said about itself (paged APIs need it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageInfo {
    /// The top level is an object with a `releases` array (or `null`).
    pub releases: bool,
    /// Its `links.next`, trimmed, when it is a non-empty string.
    pub next: Option<String>,
}

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub releases: Vec<RawRelease>,
    pub errors: Vec<FileError>,
    /// The file was not valid UTF-8 and was decoded lossily.
    pub lossy_utf8: bool,
    pub package: PackageInfo,
}

/// Decompressed files above this are cut here and reported (a gzip bomb
/// must not exhaust memory); 1 GiB holds any real OCDS bulk file we know.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;
/// The largest file [`read_path`] reads (it reads files whole).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Bounds of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Gzip input may expand to at most this many bytes.
    pub max_decompressed_bytes: u64,
    /// Arrays/objects may nest at most this deep in one release (and
    /// arrays of packages at most this deep in a file).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: MAX_DECOMPRESSED_BYTES,
            max_depth: json::MAX_DEPTH,
        }
    }
}

/// Reads a file (`.json`, `.jsonl`, `.ndjson`, optionally `.gz`).
pub fn read_path(path: &Path) -> std::io::Result<ReadOutcome> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let bytes = crate::json::read_bounded(path, MAX_FILE_BYTES)?;
    let gz = name.ends_with(".gz");
    let stem = name.trim_end_matches(".gz");
    let lines = stem.ends_with(".jsonl") || stem.ends_with(".ndjson");
    Ok(read_bytes(&bytes, gz, lines))
}

/// Reads bytes; `gz` when gzip-compressed (also detected by its magic
/// bytes), `lines` when JSON Lines.
pub fn read_bytes(bytes: &[u8], gz: bool, lines: bool) -> ReadOutcome {
    read_bytes_with(bytes, gz, lines, &Limits::default())
}

/// [`read_bytes`] within explicit limits.
pub fn read_bytes_with(bytes: &[u8], gz: bool, lines: bool, limits: &Limits) -> ReadOutcome {
    let mut out = ReadOutcome::default();
    let owned;
    let bytes = if gz || bytes.starts_with(&[0x1f, 0x8b]) {
        owned = gunzip(bytes, limits.max_decompressed_bytes, &mut out.errors);
        &owned[..]
    } else {
        bytes
    };
    let decoded = json::decode(bytes);
    out.lossy_utf8 = decoded.lossy;
    let base = decoded.bom_len as u64;
    if lines {
        read_lines(&decoded.text, base, limits, &mut out);
    } else {
        let mut r = Reader::new(&decoded.text, base, limits, &mut out);
        r.document(true);
    }
    out
}

/// Decompresses (concatenated members too) up to `cap` bytes; damage or the
/// cap is reported and what decoded before it is kept.
fn gunzip(bytes: &[u8], cap: u64, errors: &mut Vec<FileError>) -> Vec<u8> {
    let mut dec = flate2::read::MultiGzDecoder::new(bytes);
    let (buf, result) = read_capped(&mut dec, usize::try_from(cap).unwrap_or(usize::MAX));
    let damaged = |position: usize, message: String| FileError {
        position: position as u64,
        message,
        kind: ErrorKind::Damaged,
    };
    match result {
        Ok(true) => errors.push(damaged(
            buf.len(),
            format!("gzip data expands to more than {cap} bytes (a gzip bomb?); reading stopped there"),
        )),
        Ok(false) => {}
        Err(e) => errors.push(damaged(
            buf.len(),
            format!(
                "gzip stream is damaged after {} decompressed bytes: {e}; what decoded before is kept",
                buf.len()
            ),
        )),
    }
    buf
}

/// Reads at most `cap` bytes, growing the buffer by doubling but never past
/// `cap` (`read_to_end` would double a full buffer of `cap` bytes to twice
/// that, and an allocator that copies on `realloc` would hold both). Says
/// whether more than `cap` bytes were there.
fn read_capped(r: &mut impl Read, cap: usize) -> (Vec<u8>, std::io::Result<bool>) {
    const FIRST: usize = 64 << 10;
    let (mut buf, mut filled) = (Vec::new(), 0usize);
    let result = loop {
        if filled == buf.len() {
            if filled >= cap {
                // Full: one more byte says whether the data goes on.
                let mut probe = [0u8; 1];
                break match r.read(&mut probe) {
                    Ok(n) => Ok(n > 0),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
            }
            let grow = buf.len().max(FIRST).min(cap - filled);
            buf.reserve_exact(grow);
            buf.resize(filled + grow, 0);
        }
        match r.read(&mut buf[filled..]) {
            Ok(0) => break Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    buf.truncate(filled);
    (buf, result)
}

fn read_lines(text: &str, base: u64, limits: &Limits, out: &mut ReadOutcome) {
    let mut offset = 0usize;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if line.trim().is_empty() {
            continue;
        }
        let before = out.errors.len();
        let mut r = Reader::new(line, base + start as u64, limits, out);
        r.document(false);
        for e in &mut out.errors[before..] {
            e.message = format!("line {}: {}", n + 1, e.message);
        }
    }
}

/// What an object turned out to hold.
#[derive(Default)]
struct Shape {
    ocid: bool,
    releases: bool,
    records: bool,
    compiled: Option<Range<usize>>,
    links: Option<Range<usize>>,
}

/// Walks one text (a file, or one line of JSON Lines) into `out`.
struct Reader<'t, 'o> {
    t: &'t str,
    b: &'t [u8],
    /// Position of `t` in the file.
    base: u64,
    limits: &'t Limits,
    out: &'o mut ReadOutcome,
}

impl<'t, 'o> Reader<'t, 'o> {
    fn new(t: &'t str, base: u64, limits: &'t Limits, out: &'o mut ReadOutcome) -> Self {
        Reader {
            t,
            b: t.as_bytes(),
            base,
            limits,
            out,
        }
    }

    fn error(&mut self, at: usize, kind: ErrorKind, message: String) {
        self.out.errors.push(FileError {
            position: self.base + at as u64,
            message,
            kind,
        });
    }

    fn damaged(&mut self, e: &ScanError) {
        let message = match e {
            ScanError::Truncated { position } => {
                format!(
                    "file ends too early (truncated?) at byte {}",
                    self.base + *position as u64
                )
            }
            e => format!("invalid JSON: {}", self.rebase(e)),
        };
        self.error(e.position(), ErrorKind::Damaged, message);
    }

    /// A scan error's message with file positions.
    fn rebase(&self, e: &ScanError) -> String {
        match e {
            ScanError::Truncated { position } => ScanError::Truncated {
                position: position + self.base as usize,
            },
            ScanError::Unexpected {
                position,
                found,
                expected,
            } => ScanError::Unexpected {
                position: position + self.base as usize,
                found: found.clone(),
                expected,
            },
        }
        .to_string()
    }

    fn skipped(&mut self, at: usize, message: String) {
        self.error(at, ErrorKind::Release, message);
    }

    /// The whole text: one value, then nothing but whitespace.
    fn document(&mut self, file: bool) {
        let what = if file { "file" } else { "line" };
        let i = scan::skip_ws(self.b, 0);
        let end = match self.b.get(i) {
            None => {
                self.error(0, ErrorKind::Damaged, format!("the {what} is empty"));
                return;
            }
            Some(b'{') => self.object(i, true),
            Some(b'[') => self.array(i),
            Some(_) => {
                let message = format!(
                    "expected a JSON object (a release or a package) or an array; the {what} starts with {}",
                    describe_start(&self.b[i..])
                );
                self.error(i, ErrorKind::Damaged, message);
                return;
            }
        };
        match end {
            Ok(end) => {
                let rest = scan::skip_ws(self.b, end);
                if rest < self.b.len() {
                    let message = format!(
                        "unexpected data after the end of the JSON value at byte {}",
                        self.base + rest as u64
                    );
                    self.error(rest, ErrorKind::Damaged, message);
                }
            }
            Err(e) => self.damaged(&e),
        }
    }

    /// A top-level array of releases, packages or arrays of them, walked
    /// with a heap stack; arrays nested deeper than the limit are skipped.
    fn array(&mut self, open: usize) -> Result<usize, ScanError> {
        let b = self.b;
        let mut stack = vec![scan::items(b, open)];
        loop {
            let Some(top) = stack.last_mut() else {
                return Err(ScanError::Truncated { position: b.len() });
            };
            match top.next() {
                Some(Item::Value(r)) => match b[r.start] {
                    b'[' if stack.len() >= self.limits.max_depth => self.skipped(
                        r.start,
                        format!(
                            "item skipped: arrays nested deeper than {} levels",
                            self.limits.max_depth
                        ),
                    ),
                    b'[' => stack.push(scan::items(b, r.start)),
                    b'{' => {
                        if let Err(e) = self.object(r.start, false) {
                            let message = format!("object skipped: {}", self.rebase(&e));
                            self.skipped(e.position(), message);
                        }
                    }
                    _ => self.skipped(
                        r.start,
                        "item skipped: expected a JSON object (a release or a package)".into(),
                    ),
                },
                Some(Item::Junk(r)) => self.junk(r),
                None => {
                    let done = stack.pop();
                    let done = done.as_ref();
                    if let Some(e) = done.and_then(|d| d.error()) {
                        return Err(e.clone());
                    }
                    if stack.is_empty() {
                        let end = done.and_then(|d| d.end());
                        return end.ok_or(ScanError::Truncated { position: b.len() });
                    }
                }
            }
        }
    }

    fn junk(&mut self, r: Range<usize>) {
        let message = format!(
            "{} unexpected byte(s) between items skipped ({})",
            r.len(),
            describe_start(&self.b[r.start..])
        );
        self.skipped(r.start, message);
    }

    /// An object: a package (its `releases`/`records` streamed item by item,
    /// so a truncation keeps what came before), a record or a release.
    fn object(&mut self, open: usize, top: bool) -> Result<usize, ScanError> {
        let b = self.b;
        let mut shape = Shape::default();
        let mut i = scan::skip_ws(b, open + 1);
        if b.get(i) == Some(&b'}') {
            return Ok(self.finish(open..i + 1, shape, top));
        }
        loop {
            i = scan::skip_ws(b, i);
            let key = match b.get(i) {
                Some(b'"') => scan::value_span(b, i)?,
                _ => return Err(unexpected(b, i, "a key in quotes")),
            };
            let name = &b[key.start + 1..key.end - 1];
            i = scan::skip_ws(b, key.end);
            if b.get(i) != Some(&b':') {
                return Err(unexpected(b, i, "`:`"));
            }
            i = scan::skip_ws(b, i + 1);
            let list = matches!(name, b"releases" | b"records");
            if list && b.get(i) == Some(&b'[') {
                i = self.each(i, name == b"records")?;
            } else {
                let v = scan::value_span(b, i)?;
                if list && &b[v.clone()] == b"null" {
                    // `"releases": null`: an empty package.
                } else {
                    match name {
                        b"ocid" => shape.ocid = true,
                        b"compiledRelease" => shape.compiled = Some(v.clone()),
                        b"links" => shape.links = Some(v.clone()),
                        b"releases" | b"records" => {
                            let message = format!(
                                "`{}` is not an array; ignored",
                                String::from_utf8_lossy(name)
                            );
                            self.skipped(v.start, message);
                        }
                        _ => {}
                    }
                }
                i = v.end;
            }
            if name == b"releases" {
                shape.releases = true;
            } else if name == b"records" {
                shape.records = true;
            }
            i = scan::skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => return Ok(self.finish(open..i + 1, shape, top)),
                _ => return Err(unexpected(b, i, "`,` or `}`")),
            }
        }
    }

    /// Decides what a complete object was; returns its end.
    fn finish(&mut self, span: Range<usize>, shape: Shape, top: bool) -> usize {
        let end = span.end;
        if top {
            self.out.package.releases = shape.releases;
            if let Some(l) = shape.links.clone() {
                self.links(l);
            }
        }
        if shape.ocid && !shape.releases && !shape.records {
            self.release(span);
        } else if !shape.releases && !shape.records {
            match shape.compiled {
                Some(c) => self.release(c),
                None => {
                    let kind = if top {
                        ErrorKind::Damaged
                    } else {
                        ErrorKind::Release
                    };
                    let what = if top {
                        "this file"
                    } else {
                        "this object (skipped)"
                    };
                    self.error(
                        span.start,
                        kind,
                        format!("no releases, records or ocid in {what}"),
                    );
                }
            }
        }
        end
    }

    /// `links.next` of a top-level package.
    fn links(&mut self, span: Range<usize>) {
        let b = self.b;
        if b[span.start] != b'{' {
            return;
        }
        let (entries, _) = scan::entries(b, span.start);
        let Some(next) = scan::find(b, &entries, "next") else {
            return;
        };
        let raw = self.t.get(next.value.clone()).unwrap_or("");
        match serde_json::from_str::<Option<String>>(raw) {
            Ok(n) => {
                self.out.package.next = n.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
            }
            Err(e) => {
                let message = format!("links.next is not a string: {e}");
                self.error(next.value.start, ErrorKind::Damaged, message);
            }
        }
    }

    /// Each item of a `releases` or `records` array, as it is reached.
    fn each(&mut self, open: usize, records: bool) -> Result<usize, ScanError> {
        let mut it = scan::items(self.b, open);
        for item in it.by_ref() {
            match item {
                Item::Value(r) if self.b[r.start] == b'{' => {
                    if records {
                        self.record(r);
                    } else {
                        self.release(r);
                    }
                }
                Item::Value(r) => {
                    let what = if records { "record" } else { "release" };
                    self.skipped(r.start, format!("skipped: a {what} must be a JSON object"));
                }
                Item::Junk(r) => self.junk(r),
            }
        }
        match (it.error(), it.end()) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(end)) => Ok(end),
            (None, None) => Err(ScanError::Truncated {
                position: self.b.len(),
            }),
        }
    }

    /// A record: its embedded releases, or its compiled release when the
    /// releases are only links.
    fn record(&mut self, span: Range<usize>) {
        let b = self.b;
        if let Err(e) = json::check_depth(&b[span.clone()], self.limits.max_depth) {
            let why = format!(
                "nested deeper than {} levels of arrays/objects",
                e.max_depth
            );
            self.skip_release(span.clone(), span.start + e.position, &why);
            return;
        }
        let (entries, end) = scan::entries(b, span.start);
        if let Err(e) = end {
            let why = format!("invalid record: {}", self.rebase(&e));
            self.skip_release(span.clone(), e.position(), &why);
            return;
        }
        let mut full = Vec::new();
        if let Some(rel) = scan::find(b, &entries, "releases").filter(|e| b[e.value.start] == b'[')
        {
            for item in scan::items(b, rel.value.start) {
                match item {
                    Item::Value(r) if b[r.start] == b'{' && has_id(b, &r) => full.push(r),
                    _ => {}
                }
            }
        }
        if !full.is_empty() {
            full.into_iter().for_each(|r| self.release(r));
            return;
        }
        match scan::find(b, &entries, "compiledRelease") {
            Some(c) if b[c.value.start] == b'{' => self.release(c.value.clone()),
            _ => self.skipped(
                span.start,
                "record skipped: it has no embedded or compiled release".into(),
            ),
        }
    }

    /// Checks one release (depth, then serde) and keeps it, or reports it.
    fn release(&mut self, span: Range<usize>) {
        let Some(text) = self.t.get(span.clone()) else {
            self.skipped(
                span.start,
                "release skipped: not on a character boundary".into(),
            );
            return;
        };
        if let Err(e) = json::check_depth(text.as_bytes(), self.limits.max_depth) {
            let why = format!(
                "nested deeper than {} levels of arrays/objects",
                e.max_depth
            );
            self.skip_release(span.clone(), span.start + e.position, &why);
            return;
        }
        if let Err(e) = serde_json::from_str::<IgnoredAny>(text) {
            let at = span.start + json::byte_offset(text, e.line(), e.column());
            let why = format!("invalid JSON: {}", serde_message(&e));
            self.skip_release(span, at, &why);
            return;
        }
        self.out.releases.push(RawRelease {
            json: text.to_owned(),
            position: self.base + span.start as u64,
        });
    }

    /// Reports a skipped release: which one (ocid, id when readable), where, why.
    fn skip_release(&mut self, span: Range<usize>, at: usize, why: &str) {
        let who = identify(self.t, &span);
        let message = format!(
            "release{who} at byte {} skipped: {why} (at byte {})",
            self.base + span.start as u64,
            self.base + at as u64
        );
        self.error(at, ErrorKind::Release, message);
    }
}

fn unexpected(b: &[u8], at: usize, expected: &'static str) -> ScanError {
    if at >= b.len() {
        return ScanError::Truncated { position: b.len() };
    }
    ScanError::Unexpected {
        position: at,
        found: describe_start(&b[at..]),
        expected,
    }
}

/// The first byte of `b`, printable.
fn describe_start(b: &[u8]) -> String {
    match b.first() {
        Some(c) if c.is_ascii_graphic() => format!("`{}`", *c as char),
        Some(c) => format!("byte 0x{c:02x}"),
        None => "nothing".into(),
    }
}

/// A linked release (`{"url", "date", "tag"}`) has no `id`.
fn has_id(b: &[u8], span: &Range<usize>) -> bool {
    let (entries, _) = scan::entries(b, span.start);
    scan::find(b, &entries, "id").is_some()
}

/// ` ocds-…/id` of a release, from its plain-string `ocid` and `id`, for messages.
fn identify(t: &str, span: &Range<usize>) -> String {
    let b = t.as_bytes();
    let (entries, _) = scan::entries(b, span.start);
    let field = |k: &str| {
        let e = scan::find(b, &entries, k)?;
        let raw = t.get(e.value.clone())?;
        let v: String = serde_json::from_str(raw).ok()?;
        Some(json::clean_text(&v).chars().take(80).collect::<String>())
    };
    match (field("ocid"), field("id")) {
        (Some(o), Some(i)) => format!(" {o} (id {i})"),
        (Some(o), None) => format!(" {o}"),
        (None, Some(i)) => format!(" (id {i})"),
        (None, None) => String::new(),
    }
}

/// A serde error without its `at line L column C` (positions are given in bytes).
fn serde_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> ReadOutcome {
        read_bytes(s.as_bytes(), false, false)
    }

    #[test]
    fn a_capped_read_never_holds_more_than_its_cap() {
        let data = vec![7u8; 200_000];
        let (buf, more) = read_capped(&mut &data[..], 150_000);
        assert_eq!((buf.len(), more.expect("read")), (150_000, true));
        assert!(buf.capacity() <= 150_000, "capacity {}", buf.capacity());
        let (buf, more) = read_capped(&mut &data[..], 200_000);
        assert_eq!((buf.len(), more.expect("read")), (200_000, false));
        let (buf, more) = read_capped(&mut &data[..], 1 << 30);
        assert_eq!((buf.len(), more.expect("read")), (200_000, false));
        // A stream that fails part-way keeps what came before.
        let mut failing = (&data[..100_000]).chain(FailingRead);
        let (buf, more) = read_capped(&mut failing, 1 << 30);
        assert_eq!(buf.len(), 100_000);
        assert!(more.is_err());
    }

    struct FailingRead;
    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("damaged"))
        }
    }

    #[test]
    fn release_package() {
        let o = read(r#"{"uri":"x","releases":[{"ocid":"a","id":"1"},{"ocid":"b","id":"2"}]}"#);
        assert_eq!(o.releases.len(), 2);
        assert!(o.errors.is_empty());
        assert_eq!(o.releases[1].json, r#"{"ocid":"b","id":"2"}"#);
        assert_eq!(o.releases[1].position, 45);
    }

    #[test]
    fn single_release_and_array() {
        let o = read(r#" {"ocid":"a","id":"1","tender":{"x":1e9999}} "#);
        assert_eq!(o.releases.len(), 1);
        assert!(o.releases[0].json.contains("1e9999"));
        let o = read(r#"[{"ocid":"a","id":"1"},{"releases":[{"ocid":"b","id":"2"}]}]"#);
        assert_eq!(o.releases.len(), 2);
    }

    #[test]
    fn record_package_uses_embedded_or_compiled() {
        let o = read(
            r#"{"records":[
              {"ocid":"a","releases":[{"ocid":"a","id":"1"},{"ocid":"a","id":"2"}]},
              {"ocid":"b","releases":[{"url":"http://x","date":"2020"}],"compiledRelease":{"ocid":"b","id":"c"}}]}"#,
        );
        let ids: Vec<&str> = o.releases.iter().map(|r| r.json.as_str()).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids[2].contains(r#""id":"c""#));
    }

    #[test]
    fn truncated_file_keeps_what_came_before() {
        let text = r#"{"releases":[{"ocid":"a","id":"1"},{"ocid":"b","id":"2"},{"ocid":"c","#;
        let o = read(text);
        assert_eq!(o.releases.len(), 2);
        assert_eq!(o.errors.len(), 1);
        assert!(o.errors[0].message.contains("truncated"), "{:?}", o.errors);
        assert!(o.errors[0].position >= text.len() as u64 - 1);
    }

    #[test]
    fn json_lines_report_bad_lines() {
        let text = "{\"ocid\":\"a\",\"id\":\"1\"}\n{\"ocid\":\n\n{\"releases\":[{\"ocid\":\"b\",\"id\":\"2\"}]}\n";
        let o = read_bytes(text.as_bytes(), false, true);
        assert_eq!(o.releases.len(), 2);
        assert_eq!(o.errors.len(), 1);
        assert!(o.errors[0].message.starts_with("line 2"));
        assert!(o.errors[0].position >= 22);
    }

    #[test]
    fn bom_and_invalid_utf8() {
        let mut bytes =
            b"\xEF\xBB\xBF{\"releases\":[{\"ocid\":\"a\",\"id\":\"1\",\"t\":\"\xff\"}]}".to_vec();
        let o = read_bytes(&bytes, false, false);
        assert_eq!(o.releases.len(), 1);
        assert!(o.lossy_utf8);
        assert_eq!(o.releases[0].position, 16);
        bytes.truncate(20);
        assert_eq!(read_bytes(&bytes, false, false).errors.len(), 1);
    }

    #[test]
    fn not_ocds_is_an_error() {
        let o = read(r#"{"hello":"world"}"#);
        assert!(o.releases.is_empty());
        assert_eq!(o.errors.len(), 1);
        let o = read("42");
        assert_eq!(o.errors.len(), 1);
    }
}

#[cfg(test)]
mod hostile_tests {
    use super::*;

    fn read(s: &str) -> ReadOutcome {
        read_bytes(s.as_bytes(), false, false)
    }

    fn ids(o: &ReadOutcome) -> Vec<String> {
        o.releases
            .iter()
            .map(|r| {
                #[derive(serde::Deserialize)]
                struct Id {
                    id: String,
                }
                serde_json::from_str::<Id>(&r.json).expect("valid").id
            })
            .collect()
    }

    /// The cause of the `serve` crash: every nested array was classified by
    /// a recursive call, so 10,000 `[` overflowed a 2 MiB tokio worker
    /// stack. This runs on a stack of that size.
    #[test]
    fn deep_arrays_do_not_overflow_a_tokio_sized_stack() {
        let h = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(|| {
                let mut counts = Vec::new();
                for n in [10_000, 200_000] {
                    let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
                    let o = read_bytes(deep.as_bytes(), false, false);
                    counts.push((o.releases.len(), o.errors.len()));
                    let lines = read_bytes(deep.as_bytes(), false, true);
                    counts.push((lines.releases.len(), lines.errors.len()));
                    let obj = format!(r#"{{"releases":[{{"ocid":"a","id":"1","x":{deep}}}]}}"#);
                    let o = read_bytes(obj.as_bytes(), false, false);
                    counts.push((o.releases.len(), o.errors.len()));
                }
                counts
            })
            .expect("thread");
        let counts = h.join().expect("no overflow, no panic");
        assert!(counts.iter().all(|c| *c == (0, 1)), "{counts:?}");
    }

    #[test]
    fn a_too_deep_release_is_skipped_and_the_rest_kept() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let text = format!(
            r#"{{"releases":[{{"ocid":"a","id":"1"}},{{"ocid":"b","id":"2","x":{deep}}},{{"ocid":"c","id":"3"}}]}}"#
        );
        let o = read(&text);
        assert_eq!(ids(&o), vec!["1", "3"]);
        assert_eq!(o.errors.len(), 1);
        let e = &o.errors[0];
        assert_eq!(e.kind, ErrorKind::Release);
        assert!(
            e.message.contains("release b (id 2) at byte 35 skipped"),
            "{}",
            e.message
        );
        assert!(e.message.contains("deeper than 64"), "{}", e.message);
        // The bracket that went too deep: 63 levels into `x`.
        assert_eq!(e.position, text.find("[[").expect("x") as u64 + 63);
    }

    #[test]
    fn bad_tokens_cost_their_release_only() {
        for bad in [
            "Infinity",
            "-Infinity",
            "NaN",
            "01",
            "1.",
            "--1",
            "tru",
            "\"\u{1}\"",
            "\"a\tb\"",
        ] {
            let text = format!(
                r#"{{"uri":"x","releases":[{{"ocid":"a","id":"1"}},{{"ocid":"b","id":"2","v":{bad}}},{{"ocid":"c","id":"3","n":1e9999}}],"publisher":{{}}}}"#
            );
            let o = read(&text);
            assert_eq!(ids(&o), vec!["1", "3"], "{bad}");
            assert_eq!(o.errors.len(), 1, "{bad}: {:?}", o.errors);
            assert_eq!(o.errors[0].kind, ErrorKind::Release);
            let at = text.find(r#"{"ocid":"b""#).expect("b") as u64;
            assert!(o.errors[0].position > at, "{bad}: {:?}", o.errors);
            assert!(o.package.releases);
        }
    }

    #[test]
    fn junk_between_releases_and_missing_commas_are_survived() {
        let o = read("{\"releases\":[{\"ocid\":\"a\",\"id\":\"1\"},\u{1},,{\"ocid\":\"b\",\"id\":\"2\"} {\"ocid\":\"c\",\"id\":\"3\"}, 7]}");
        assert_eq!(ids(&o), vec!["1", "2", "3"]);
        assert_eq!(o.errors.len(), 3, "{:?}", o.errors);
        assert!(o.errors.iter().all(|e| e.kind == ErrorKind::Release));
    }

    #[test]
    fn broken_structure_keeps_what_came_before() {
        let o = read(
            r#"{"releases":[{"ocid":"a","id":"1"},{"ocid":"b","id":"2"]},{"ocid":"c","id":"3"}]}"#,
        );
        assert_eq!(ids(&o), vec!["1"]);
        assert_eq!(o.errors.len(), 1);
        assert_eq!(o.errors[0].kind, ErrorKind::Damaged);
        let o = read(r#"{"releases":[{"ocid":"a","id":"1"}]} trailing"#);
        assert_eq!((o.releases.len(), o.errors.len()), (1, 1));
    }

    #[test]
    fn links_next_is_read_from_the_top_package() {
        let o = read(r#"{"links":{"next":" http://x/?cursor=2 "},"releases":[]}"#);
        assert_eq!(o.package.next.as_deref(), Some("http://x/?cursor=2"));
        assert!(o.package.releases && o.errors.is_empty());
        let o = read(r#"{"links":{"next":7},"releases":[]}"#);
        assert_eq!(o.errors[0].kind, ErrorKind::Damaged);
        let o = read(r#"[{"releases":[],"links":{"next":"x"}}]"#);
        assert_eq!(o.package, PackageInfo::default());
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    #[test]
    fn truncated_gzip_keeps_what_decoded() {
        let mut text = String::from(r#"{"releases":["#);
        for i in 0..2000 {
            text.push_str(&format!(
                r#"{{"ocid":"o-{i}","id":"{i}","t":"{}"}},"#,
                i * 7919
            ));
        }
        text.push_str(r#"{"ocid":"last","id":"last"}]}"#);
        let z = gz(text.as_bytes());
        let whole = read_bytes(&z, true, false);
        assert_eq!((whole.releases.len(), whole.errors.len()), (2001, 0));
        // Detected by its magic bytes too.
        assert_eq!(read_bytes(&z, false, false).releases.len(), 2001);
        let cut = read_bytes(&z[..z.len() / 2], true, false);
        assert!(
            cut.releases.len() > 100 && cut.releases.len() < 2001,
            "{}",
            cut.releases.len()
        );
        assert!(
            cut.errors
                .iter()
                .any(|e| e.message.contains("gzip stream is damaged")),
            "{:?}",
            cut.errors
        );
    }

    #[test]
    fn gzip_bombs_are_capped() {
        let z = gz(&vec![b' '; 4 << 20]);
        assert!(z.len() < 64 << 10);
        let limits = Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let o = read_bytes_with(&z, true, false, &limits);
        assert!(o.releases.is_empty());
        assert!(
            o.errors[0].message.contains("more than 1048576 bytes"),
            "{:?}",
            o.errors
        );
        assert_eq!(o.errors[0].kind, ErrorKind::Damaged);
    }
}

#[cfg(test)]
mod speed {
    /// `cargo test --release -p sebroker-connectors --lib read_speed -- --ignored --nocapture`:
    /// the reader against serde_json merely validating the same real files.
    #[test]
    #[ignore = "a measurement, run by hand in release mode"]
    fn read_speed() {
        let texts: Vec<Vec<u8>> = crate::json::real_ocds_files()
            .1
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let bytes: usize = texts.iter().map(Vec::len).sum();
        let rounds = 20;
        let t = std::time::Instant::now();
        let mut releases = 0;
        for _ in 0..rounds {
            for b in &texts {
                releases += super::read_bytes(b, false, false).releases.len();
            }
        }
        let ours = t.elapsed();
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            for b in &texts {
                let _ = serde_json::from_slice::<serde::de::IgnoredAny>(b);
            }
        }
        let serde = t.elapsed();
        let mb = (bytes * rounds) as f64 / 1e6;
        println!(
            "{} files, {:.1} MB x {rounds}: reader {:.0} MB/s ({} releases), serde validation alone {:.0} MB/s",
            texts.len(),
            bytes as f64 / 1e6,
            mb / ours.as_secs_f64(),
            releases / rounds,
            mb / serde.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it() {
        let dir = std::env::temp_dir().join(format!("sebroker-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("huge.json");
        // Sparse: takes no disk, and is never read.
        let f = std::fs::File::create(&p).expect("file");
        f.set_len(MAX_FILE_BYTES + 1).expect("set_len");
        let e = read_path(&p).expect_err("refused");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("at most"), "{e}");
        std::fs::write(&p, br#"{"releases":[{"ocid":"a","id":"1"}]}"#).expect("write");
        assert_eq!(read_path(&p).expect("small file").releases.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
