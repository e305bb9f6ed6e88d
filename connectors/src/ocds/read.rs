//! Reading OCDS files of every published shape — release packages, record
//! packages, JSON Lines of releases or packages, single releases, arrays, and
//! gzip of any of these — into raw releases, keeping every good release and
//! reporting each bad spot by byte position.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json;

/// One release as published, verbatim, with where it was found.
#[derive(Debug, Clone)]
pub struct RawRelease {
    pub json: String,
    /// Byte offset of the release in the (decompressed) file.
    pub position: u64,
}

/// A problem at a byte position of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub position: u64,
    pub message: String,
}

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub releases: Vec<RawRelease>,
    pub errors: Vec<FileError>,
    /// The file was not valid UTF-8 and was decoded lossily.
    pub lossy_utf8: bool,
}

/// Reads a file (`.json`, `.jsonl`, `.ndjson`, optionally `.gz`).
pub fn read_path(path: &Path) -> std::io::Result<ReadOutcome> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let bytes = std::fs::read(path)?;
    let gz = name.ends_with(".gz");
    let stem = name.trim_end_matches(".gz");
    let lines = stem.ends_with(".jsonl") || stem.ends_with(".ndjson");
    Ok(read_bytes(&bytes, gz, lines))
}

/// Reads bytes; `gz` when gzip-compressed, `lines` when JSON Lines.
pub fn read_bytes(bytes: &[u8], gz: bool, lines: bool) -> ReadOutcome {
    let mut out = ReadOutcome::default();
    let owned;
    let bytes = if gz {
        let mut buf = Vec::new();
        if let Err(e) = flate2::read::GzDecoder::new(bytes).read_to_end(&mut buf) {
            // Keep what decompressed before the damage.
            out.errors.push(FileError {
                position: buf.len() as u64,
                message: format!("gzip stream is damaged after {} bytes: {e}", buf.len()),
            });
        }
        owned = buf;
        &owned[..]
    } else {
        bytes
    };
    let decoded = json::decode(bytes);
    out.lossy_utf8 = decoded.lossy;
    let base = decoded.bom_len as u64;
    if lines {
        read_lines(&decoded.text, base, &mut out);
    } else {
        read_document(&decoded.text, base, &mut out);
    }
    out
}

fn read_lines(text: &str, base: u64, out: &mut ReadOutcome) {
    let mut offset = 0usize;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if line.trim().is_empty() {
            continue;
        }
        let line_base = base + start as u64;
        let mut sink = Sink::new(text, base);
        match serde_json::from_str::<&RawValue>(line) {
            Ok(raw) => sink.classify(raw),
            Err(e) => sink.errors.push(FileError {
                position: line_base + json::byte_offset(line, 1, e.column()) as u64,
                message: format!("line {}: {}", n + 1, e),
            }),
        }
        out.releases.append(&mut sink.releases);
        out.errors.append(&mut sink.errors);
    }
}

fn read_document(text: &str, base: u64, out: &mut ReadOutcome) {
    let mut sink = Sink::new(text, base);
    let mut de = serde_json::Deserializer::from_str(text);
    let result = TopSeed { sink: &mut sink }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = result {
        let position = base + json::byte_offset(text, e.line(), e.column()) as u64;
        let message = if e.is_eof() {
            format!("file ends too early (truncated?): {e}")
        } else {
            format!("invalid JSON: {e}")
        };
        sink.errors.push(FileError { position, message });
    }
    if sink.whole_is_release {
        sink.releases.clear();
        sink.push(text.trim());
    }
    out.releases.append(&mut sink.releases);
    out.errors.append(&mut sink.errors);
}

/// Collects releases from JSON values, however they are packaged.
struct Sink<'t> {
    text: &'t str,
    base: u64,
    releases: Vec<RawRelease>,
    errors: Vec<FileError>,
    whole_is_release: bool,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    releases: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default, rename = "compiledRelease")]
    compiled_release: Option<&'a RawValue>,
    #[serde(default)]
    ocid: Option<IgnoredAny>,
}

impl<'t> Sink<'t> {
    fn new(text: &'t str, base: u64) -> Self {
        Sink {
            text,
            base,
            releases: Vec::new(),
            errors: Vec::new(),
            whole_is_release: false,
        }
    }

    /// Offset of a slice of `text` (or of any other string, 0).
    fn offset_of(&self, s: &str) -> u64 {
        let start = self.text.as_ptr() as usize;
        let p = s.as_ptr() as usize;
        let off = if p >= start && p <= start + self.text.len() {
            p - start
        } else {
            0
        };
        self.base + off as u64
    }

    fn push(&mut self, json: &str) {
        self.releases.push(RawRelease {
            json: json.to_owned(),
            position: self.offset_of(json),
        });
    }

    fn error(&mut self, at: &str, message: String) {
        let position = self.offset_of(at);
        self.errors.push(FileError { position, message });
    }

    /// A value that is a release, a release package, a record package, a
    /// record, or an array of any of these.
    fn classify(&mut self, raw: &RawValue) {
        let s = raw.get().trim_start();
        if s.starts_with('[') {
            match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
                Ok(items) => items.into_iter().for_each(|i| self.classify(i)),
                Err(e) => self.error(raw.get(), format!("invalid array: {e}")),
            }
            return;
        }
        if !s.starts_with('{') {
            self.error(
                raw.get(),
                "expected a JSON object (a release or a package)".into(),
            );
            return;
        }
        match serde_json::from_str::<Probe>(raw.get()) {
            Ok(p) if p.ocid.is_some() && p.releases.is_none() => self.push(raw.get()),
            Ok(p) => self.package(p, raw.get()),
            Err(e) => self.error(raw.get(), format!("invalid object: {e}")),
        }
    }

    fn package(&mut self, p: Probe, at: &str) {
        let mut any = false;
        for r in p.releases.into_iter().flatten() {
            any = true;
            self.release_or_link(r);
        }
        for rec in p.records.into_iter().flatten() {
            any = true;
            self.record(rec);
        }
        if let Some(c) = p.compiled_release {
            any = true;
            self.push(c.get());
        }
        if !any {
            self.error(at, "no releases or records in this object".into());
        }
    }

    /// A record: its embedded releases, or its compiled release when the
    /// releases are only links.
    fn record(&mut self, rec: &RawValue) {
        match serde_json::from_str::<Probe>(rec.get()) {
            Ok(p) => {
                let full: Vec<&RawValue> = p
                    .releases
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| is_full_release(r))
                    .collect();
                if full.is_empty() {
                    match p.compiled_release {
                        Some(c) => self.push(c.get()),
                        None => self.error(
                            rec.get(),
                            "record has no embedded or compiled release".into(),
                        ),
                    }
                } else {
                    full.into_iter().for_each(|r| self.push(r.get()));
                }
            }
            Err(e) => self.error(rec.get(), format!("invalid record: {e}")),
        }
    }

    fn release_or_link(&mut self, r: &RawValue) {
        if r.get().trim_start().starts_with('{') {
            self.push(r.get());
        } else {
            self.error(r.get(), "a release must be a JSON object".into());
        }
    }
}

/// A linked release (`{"url", "date", "tag"}`) has no `id`.
fn is_full_release(r: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Id {
        #[serde(default)]
        id: Option<IgnoredAny>,
    }
    serde_json::from_str::<Id>(r.get()).is_ok_and(|i| i.id.is_some())
}

/// Streams the top-level value, so that releases before a truncation or
/// corruption are kept.
struct TopSeed<'s, 't> {
    sink: &'s mut Sink<'t>,
}

impl<'de, 's, 't> DeserializeSeed<'de> for TopSeed<'s, 't>
where
    'de: 't,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 's, 't> Visitor<'de> for TopSeed<'s, 't>
where
    'de: 't,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an OCDS release, release package, record package or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            self.sink.classify(item);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut saw_content = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "releases" => {
                    saw_content = true;
                    map.next_value_seed(EachRaw {
                        sink: &mut *self.sink,
                        record: false,
                    })?;
                }
                "records" => {
                    saw_content = true;
                    map.next_value_seed(EachRaw {
                        sink: &mut *self.sink,
                        record: true,
                    })?;
                }
                "ocid" => {
                    self.sink.whole_is_release = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if self.sink.whole_is_release && saw_content {
            // A record (ocid + releases), not a release.
            self.sink.whole_is_release = false;
        }
        if !saw_content && !self.sink.whole_is_release {
            self.sink.errors.push(FileError {
                position: self.sink.base,
                message: "no releases, records or ocid in this file".into(),
            });
        }
        Ok(())
    }
}

/// Pushes each element of a `releases` or `records` array as it is read.
struct EachRaw<'s, 't> {
    sink: &'s mut Sink<'t>,
    record: bool,
}

impl<'de, 's, 't> DeserializeSeed<'de> for EachRaw<'s, 't>
where
    'de: 't,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, 's, 't> Visitor<'de> for EachRaw<'s, 't>
where
    'de: 't,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if self.record {
                self.sink.record(item);
            } else {
                self.sink.release_or_link(item);
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(()) // `"releases": null`
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> ReadOutcome {
        read_bytes(s.as_bytes(), false, false)
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
