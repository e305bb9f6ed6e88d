//! UK local time (Europe/London) without a time-zone database: GMT, or BST
//! (+01:00) from 01:00 UTC on the last Sunday of March until 01:00 UTC on
//! the last Sunday of October. Find a Tender and Contracts Finder read their
//! window parameters as UK local time.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

const BST: UtcOffset = match UtcOffset::from_hms(1, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// The format of window parameters: `YYYY-MM-DDTHH:MM:SS`.
pub const PARAM_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let next = match month {
        Month::December => Date::from_calendar_date(year + 1, Month::January, 1).ok()?,
        m => Date::from_calendar_date(year, m.next(), 1).ok()?,
    };
    let mut d = next.previous_day()?;
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day()?;
    }
    Some(d)
}

/// The UK's offset from UTC at the instant `t`.
pub fn uk_offset(t: OffsetDateTime) -> UtcOffset {
    let utc = t.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let one_am = Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT);
    let (Some(start), Some(end)) = (
        last_sunday(year, Month::March),
        last_sunday(year, Month::October),
    ) else {
        return UtcOffset::UTC;
    };
    let start = PrimitiveDateTime::new(start, one_am).assume_utc();
    let end = PrimitiveDateTime::new(end, one_am).assume_utc();
    if utc >= start && utc < end {
        BST
    } else {
        UtcOffset::UTC
    }
}

/// UK wall-clock time of an instant.
pub fn to_uk_local(t: OffsetDateTime) -> PrimitiveDateTime {
    let o = t.to_offset(uk_offset(t));
    PrimitiveDateTime::new(o.date(), o.time())
}

/// The instant of a UK wall-clock time. In the autumn hour that happens
/// twice the earlier (BST) one is chosen; a spring time that never happened
/// is read as GMT.
pub fn from_uk_local(p: PrimitiveDateTime) -> OffsetDateTime {
    let as_bst = p.assume_offset(BST);
    if uk_offset(as_bst) == BST {
        return as_bst;
    }
    p.assume_utc()
}

/// A UK calendar day at a given time of day, with its offset
/// (e.g. `2026-08-10 23:59 → 2026-08-10T23:59:00+01:00`).
pub fn uk_datetime(date: Date, time: Time) -> OffsetDateTime {
    let t = from_uk_local(PrimitiveDateTime::new(date, time));
    t.to_offset(uk_offset(t))
}

/// Formats a window parameter.
pub fn format_param(p: PrimitiveDateTime) -> String {
    p.format(PARAM_FORMAT).unwrap_or_default()
}

/// Parses a window parameter (a trailing `Z` is ignored, as the APIs do).
pub fn parse_param(s: &str) -> Option<PrimitiveDateTime> {
    PrimitiveDateTime::parse(s.trim().trim_end_matches('Z'), PARAM_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    #[test]
    fn summer_and_winter() {
        assert_eq!(uk_offset(datetime!(2026-08-10 12:00 UTC)), BST);
        assert_eq!(uk_offset(datetime!(2026-01-10 12:00 UTC)), UtcOffset::UTC);
        // 2026: BST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(uk_offset(datetime!(2026-03-29 00:59 UTC)), UtcOffset::UTC);
        assert_eq!(uk_offset(datetime!(2026-03-29 01:00 UTC)), BST);
        assert_eq!(uk_offset(datetime!(2026-10-25 00:59 UTC)), BST);
        assert_eq!(uk_offset(datetime!(2026-10-25 01:00 UTC)), UtcOffset::UTC);
    }

    #[test]
    fn local_round_trip() {
        let t = datetime!(2026-08-09 23:30 UTC);
        assert_eq!(to_uk_local(t), datetime!(2026-08-10 00:30));
        assert_eq!(from_uk_local(datetime!(2026-08-10 00:30)), t);
        assert_eq!(
            uk_datetime(date!(2026 - 12 - 01), time!(12:00)).offset(),
            UtcOffset::UTC
        );
        assert_eq!(
            format_param(datetime!(2026-08-10 00:00)),
            "2026-08-10T00:00:00"
        );
        assert_eq!(
            parse_param("2026-08-10T00:00:00Z"),
            Some(datetime!(2026-08-10 00:00))
        );
    }
}
