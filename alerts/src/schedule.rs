//! Digest scheduling in UK local time (Europe/London: GMT in winter, BST
//! in summer, by the rules in `sebroker_connectors::uktime`): daily at the
//! configured time, weekly on the configured day at that time. A digest is
//! due when the latest slot at or before now is later than the last digest.

use time::{Date, Duration, OffsetDateTime, Time, Weekday};

use serde::{Deserialize, Serialize};

use sebroker_connectors::uktime::{to_uk_local, uk_datetime};

/// How often a recipient hears of new matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// After each ingest that brings a match.
    Instant,
    /// One digest a day at `digest_time` (UK time).
    Daily,
    /// One digest a week, on `digest_weekday` at `digest_time`.
    Weekly,
    /// No alerts (the feed still shows past ones).
    Off,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Instant => "instant",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Frequency> {
        [
            Frequency::Instant,
            Frequency::Daily,
            Frequency::Weekly,
            Frequency::Off,
        ]
        .into_iter()
        .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// When digests go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestSchedule {
    /// UK local time of day.
    pub time: Time,
    /// The day of weekly digests.
    pub weekday: Weekday,
}

impl Default for DigestSchedule {
    fn default() -> Self {
        DigestSchedule {
            time: Time::from_hms(8, 0, 0).unwrap_or(Time::MIDNIGHT),
            weekday: Weekday::Monday,
        }
    }
}

impl DigestSchedule {
    pub fn parse(time: Option<&str>, weekday: Option<&str>) -> Result<DigestSchedule, String> {
        let mut s = DigestSchedule::default();
        if let Some(t) = time {
            let (h, m) = t
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("digest_time: {t:?} is not HH:MM"))?;
            let (h, m) = (h.parse::<u8>(), m.parse::<u8>());
            s.time = match (h, m) {
                (Ok(h), Ok(m)) => Time::from_hms(h, m, 0)
                    .map_err(|_| format!("digest_time: {t:?} is not a time of day"))?,
                _ => return Err(format!("digest_time: {t:?} is not HH:MM")),
            };
        }
        if let Some(w) = weekday {
            let all = [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
                Weekday::Saturday,
                Weekday::Sunday,
            ];
            s.weekday = all
                .into_iter()
                .find(|d| d.to_string().eq_ignore_ascii_case(w.trim()))
                .ok_or_else(|| format!("digest_weekday: {w:?} is not a day of the week"))?;
        }
        Ok(s)
    }
}

fn slot_on(day: Date, s: &DigestSchedule) -> OffsetDateTime {
    uk_datetime(day, s.time)
}

/// The latest slot at or before `now` for a digest frequency.
pub fn last_slot(
    freq: Frequency,
    s: &DigestSchedule,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let today = to_uk_local(now).date();
    match freq {
        Frequency::Daily => {
            let t = slot_on(today, s);
            if t <= now {
                Some(t)
            } else {
                today.previous_day().map(|d| slot_on(d, s))
            }
        }
        Frequency::Weekly => {
            let mut d = today;
            for _ in 0..8 {
                if d.weekday() == s.weekday {
                    let t = slot_on(d, s);
                    if t <= now {
                        return Some(t);
                    }
                }
                d = d.previous_day()?;
            }
            None
        }
        Frequency::Instant | Frequency::Off => None,
    }
}

/// The next slot after `now` (daily; weekly digests fall on a daily slot).
pub fn next_slot(s: &DigestSchedule, now: OffsetDateTime) -> OffsetDateTime {
    let today = to_uk_local(now).date();
    let t = slot_on(today, s);
    if t > now {
        return t;
    }
    today
        .next_day()
        .map(|d| slot_on(d, s))
        .unwrap_or(now + Duration::days(1))
}

/// Whether a digest is due at `now` given the last one sent.
pub fn due(
    freq: Frequency,
    s: &DigestSchedule,
    last: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> bool {
    match (last_slot(freq, s, now), last) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(slot), Some(last)) => slot > last,
    }
}

/// A day as people read it in the UK (`Fri 12 Feb 2027`).
pub fn uk_day(t: OffsetDateTime) -> String {
    let d = to_uk_local(t).date();
    format!(
        "{} {} {} {}",
        &d.weekday().to_string()[..3],
        d.day(),
        &d.month().to_string()[..3],
        d.year()
    )
}

/// A time as people read it in the UK (`Fri 12 Feb 2027 12:00`).
pub fn uk_day_time(t: OffsetDateTime) -> String {
    let l = to_uk_local(t);
    format!("{} {:02}:{:02}", uk_day(t), l.hour(), l.minute())
}

/// Whole days from `now` to `deadline` (negative when past).
pub fn days_left(deadline: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (deadline - now).whole_days()
}

/// `start` plus `n` working days (Monday to Friday; bank holidays are not
/// known, so a window may end a day early around them).
pub fn add_working_days(start: OffsetDateTime, n: u32) -> OffsetDateTime {
    let mut t = start;
    let mut left = n;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(
            to_uk_local(t).weekday(),
            Weekday::Saturday | Weekday::Sunday
        ) {
            left -= 1;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn daily_slots_follow_uk_time_across_bst() {
        let s = DigestSchedule::parse(Some("08:00"), Some("monday")).expect("valid");
        // Summer: 08:00 BST is 07:00 UTC.
        let summer = datetime!(2026-07-15 07:30 UTC);
        assert_eq!(
            last_slot(Frequency::Daily, &s, summer),
            Some(datetime!(2026-07-15 07:00 UTC))
        );
        // Winter: 08:00 GMT is 08:00 UTC; at 07:30 UTC the slot is yesterday's.
        let winter = datetime!(2026-12-15 07:30 UTC);
        assert_eq!(
            last_slot(Frequency::Daily, &s, winter),
            Some(datetime!(2026-12-14 08:00 UTC))
        );
        // The autumn change day (25 Oct 2026): 08:00 is GMT again.
        assert_eq!(
            next_slot(&s, datetime!(2026-10-25 00:30 UTC)),
            datetime!(2026-10-25 08:00 UTC)
        );
        // The spring change day (29 Mar 2026): 08:00 BST.
        assert_eq!(
            next_slot(&s, datetime!(2026-03-29 00:30 UTC)),
            datetime!(2026-03-29 07:00 UTC)
        );
    }

    #[test]
    fn weekly_and_due() {
        let s = DigestSchedule::parse(Some("07:30"), Some("Friday")).expect("valid");
        // Tue 1 Dec 2026: the last Friday slot is 27 Nov 07:30 GMT.
        let now = datetime!(2026-12-01 12:00 UTC);
        let slot = last_slot(Frequency::Weekly, &s, now).expect("slot");
        assert_eq!(slot, datetime!(2026-11-27 07:30 UTC));
        assert!(due(Frequency::Weekly, &s, None, now));
        assert!(!due(Frequency::Weekly, &s, Some(slot), now));
        assert!(due(
            Frequency::Weekly,
            &s,
            Some(slot - Duration::minutes(1)),
            now
        ));
        assert!(!due(Frequency::Instant, &s, None, now));
        assert!(DigestSchedule::parse(Some("25:00"), None).is_err());
        assert!(DigestSchedule::parse(None, Some("someday")).is_err());
    }

    #[test]
    fn working_days_skip_weekends() {
        // Thu 3 Dec 2026 + 8 working days = Tue 15 Dec.
        let t = add_working_days(datetime!(2026-12-03 10:00 UTC), 8);
        assert_eq!(t, datetime!(2026-12-15 10:00 UTC));
        assert_eq!(uk_day(t), "Tue 15 Dec 2026");
    }
}
