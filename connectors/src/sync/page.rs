//! One page of a paged OCDS API: its releases (read tolerantly, invalid
//! UTF-8 decoded lossily) and its `links.next`.

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::json;
use crate::ocds::{read_bytes, ReadOutcome};

/// A page that parsed completely.
#[derive(Debug)]
pub struct Page {
    pub outcome: ReadOutcome,
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    links: Option<Links>,
    #[serde(default)]
    releases: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

/// Parses a page. A page that is not a whole release package (an HTML error
/// page, a body cut short) is an error, so that it is fetched again rather
/// than half-ingested.
pub fn parse_page(body: &[u8]) -> Result<Page, String> {
    let outcome = read_bytes(body, false, false);
    if let Some(e) = outcome.errors.first() {
        return Err(format!(
            "not a complete OCDS release package (at byte {}): {}",
            e.position, e.message
        ));
    }
    let text = json::decode(body).text;
    // Ignored values are skipped unparsed, so `1e9999` does not fail here.
    let pkg: Package =
        serde_json::from_str(&text).map_err(|e| format!("not a release package: {e}"))?;
    if pkg.releases.is_none() {
        return Err("not a release package: no `releases`".into());
    }
    let next = pkg
        .links
        .and_then(|l| l.next)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
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
}
