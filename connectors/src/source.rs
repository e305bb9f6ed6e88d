//! Source names — one vocabulary for the CLI, the API and the config:
//! `fts`, `cf`, `anchor:<slug>`, `ocds:<name>` — and the public notice page
//! of each source.

/// ocid prefix of Find a Tender.
pub const FTS_PREFIX: &str = "ocds-h6vhtk-";
/// ocid prefix of Contracts Finder.
pub const CF_PREFIX: &str = "ocds-b5fd17-";

/// The source a release belongs to, from its ocid prefix.
pub fn source_of_ocid(ocid: &str) -> String {
    if ocid.starts_with(FTS_PREFIX) {
        "fts".to_owned()
    } else if ocid.starts_with(CF_PREFIX) {
        "cf".to_owned()
    } else {
        // OCDS prefixes are `ocds-` plus a 6-character publisher code.
        let code = ocid
            .strip_prefix("ocds-")
            .and_then(|rest| rest.split('-').next())
            .filter(|c| !c.is_empty())
            .unwrap_or("unknown");
        format!("ocds:{}", code.to_ascii_lowercase())
    }
}

/// Checks a user-given source name.
pub fn is_valid_source(s: &str) -> bool {
    match s.split_once(':') {
        None => matches!(s, "fts" | "cf" | "anchor" | "ocds"),
        Some(("anchor" | "ocds", name)) => is_slug(name),
        Some(_) => false,
    }
}

/// Lower-case letters, digits and dashes, 1 to 64 characters.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The public page of a notice on its source's website.
pub fn notice_url(source: &str, ocid: &str, release_id: Option<&str>) -> Option<String> {
    match source {
        "fts" => release_id.map(|id| format!("https://www.find-tender.service.gov.uk/Notice/{id}")),
        "cf" => ocid
            .strip_prefix(CF_PREFIX)
            .map(|uuid| format!("https://www.contractsfinder.service.gov.uk/Notice/{uuid}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_ocids() {
        assert_eq!(source_of_ocid("ocds-h6vhtk-06e086"), "fts");
        assert_eq!(source_of_ocid("ocds-b5fd17-e3b5f385-5989"), "cf");
        assert_eq!(source_of_ocid("ocds-AB12cd-001"), "ocds:ab12cd");
        assert!(is_valid_source("anchor:walsall-council"));
        assert!(!is_valid_source("anchor:Walsall Council"));
        assert!(!is_valid_source("ted"));
    }
}
