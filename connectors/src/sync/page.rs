//! One page of a paged OCDS API: its releases (read tolerantly, invalid
//! UTF-8 decoded lossily, gzip decoded within a size cap) and its
//! `links.next`.

use crate::ocds::read::{read_bytes_with, ErrorKind, Limits};
use crate::ocds::ReadOutcome;

/// A page that parsed completely.
#[derive(Debug)]
pub struct Page {
    pub outcome: ReadOutcome,
    pub next: Option<String>,
}

/// Parses a page within the default limits.
pub fn parse_page(body: &[u8]) -> Result<Page, String> {
    parse_page_with(body, &Limits::default())
}

/// Parses a page. A page that is not a whole release package (an HTML error
/// page, a body cut short, a gzip bomb, an array nested 10,000 deep) is an
/// error, so that it is fetched again rather than half-ingested. A bad
/// release inside a whole package (a bad token, too deep) is not: it stays
/// in `outcome.errors`, is reported, and the walk goes on.
pub fn parse_page_with(body: &[u8], limits: &Limits) -> Result<Page, String> {
    let outcome = read_bytes_with(body, false, false, limits);
    if let Some(e) = outcome.errors.iter().find(|e| e.kind == ErrorKind::Damaged) {
        return Err(format!(
            "not a complete OCDS release package (at byte {}): {}",
            e.position, e.message
        ));
    }
    if !outcome.package.releases {
        let why = outcome
            .errors
            .first()
            .map(|e| format!(" ({} at byte {})", e.message, e.position))
            .unwrap_or_default();
        return Err(format!(
            "not a release package: no `releases` array at the top level{why}"
        ));
    }
    let next = outcome.package.next.clone();
    Ok(Page { outcome, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_non_pages() {
        let p = parse_page(br#"{"links":{"next":"http://x/?cursor=a"},"releases":[{"ocid":"a","id":"1","n":1e9999}]}"#)
            .expect("a page");
        assert_eq!(p.outcome.releases.len(), 1);
        assert_eq!(p.next.as_deref(), Some("http://x/?cursor=a"));
        let p = parse_page(br#"{"releases":[]}"#).expect("an empty page");
        assert!(p.next.is_none() && p.outcome.releases.is_empty());
        assert!(parse_page(b"<html><body>Service unavailable</body></html>").is_err());
        assert!(parse_page(br#"{"releases":[{"ocid":"a","id":"1"},{"oc"#).is_err());
        assert!(parse_page(br#"{"error":"x"}"#).is_err());
        let p = parse_page(b"{\"releases\":[{\"ocid\":\"a\",\"id\":\"1\",\"t\":\"\xff\"}]}")
            .expect("lossy page");
        assert!(p.outcome.lossy_utf8);
    }

    #[test]
    fn bad_releases_are_kept_out_but_deep_pages_are_refused() {
        let p = parse_page(br#"{"releases":[{"ocid":"a","id":"1"},{"ocid":"b","id":"2","v":NaN}],"links":{"next":"n"}}"#)
            .expect("a page with one bad release");
        assert_eq!((p.outcome.releases.len(), p.outcome.errors.len()), (1, 1));
        assert_eq!(p.next.as_deref(), Some("n"));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = parse_page(deep.as_bytes()).expect_err("not a package");
        assert!(e.contains("no `releases`"), "{e}");
        assert!(e.contains("nested deeper than 64 levels at byte 64"), "{e}");
        let bomb = {
            use std::io::Write;
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(&vec![b' '; 2 << 20]).expect("gzip");
            z.finish().expect("gzip")
        };
        let limits = Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let e = parse_page_with(&bomb, &limits).expect_err("capped");
        assert!(e.contains("gzip bomb"), "{e}");
    }
}
