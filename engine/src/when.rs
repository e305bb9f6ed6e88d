//! Times as people type them in filters and windows: an RFC 3339 time or
//! a date. Its own module so that search and the market map, which both
//! read them, need not depend on each other.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// Parses an RFC 3339 time, or a date (midnight UTC, or the end of that day
/// when `end_of_day`).
pub fn parse_when(field: &str, s: &str, end_of_day: bool) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s.trim(), &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s.trim(), &fmt).map_err(|_| {
        Error::Invalid(format!(
            "{field}: {s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
        ))
    })?;
    let t = if end_of_day {
        d.with_hms(23, 59, 59)
    } else {
        d.with_hms(0, 0, 0)
    };
    Ok(t.map_err(|e| Error::Invalid(e.to_string()))?.assume_utc())
}
