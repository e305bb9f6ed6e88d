//! Sums a market row, the total and the timeline from a snapshot's facts.
//! Every answer reads its `now` and window, so nothing here is kept
//! between answers; the scratch arrays (one slot per opportunity group,
//! member and CPV division) make a row cost a pass over its own notices.

use super::snapshot::{Fact, Snapshot};
use super::{MarketRow, Month, Query, MAX_GAPS};
use crate::error::{Error, Result};

/// Adds pence, failing with where it overflowed.
fn add(a: i64, b: i64, what: &str) -> Result<i64> {
    a.checked_add(b).ok_or_else(|| {
        Error::Invalid(format!(
            "market: the sum of {what} passes the largest amount held"
        ))
    })
}

fn fact(snap: &Snapshot, i: u32) -> Option<&Fact> {
    snap.facts.get(i as usize).map(|f| f.as_ref())
}

/// Whether fact `i` has an award (to a VCSE, if `vcse`) in the window:
/// its award span first, so most notices are judged without a look at
/// their awards.
fn awarded_in(q: &Query, snap: &Snapshot, i: u32, vcse: bool) -> bool {
    let (from, to) = q.window_seconds();
    snap.hot
        .get(i as usize)
        .is_some_and(|h| h.may_have_awards_in(from, to))
        && fact(snap, i).is_some_and(|f| {
            f.awards
                .iter()
                .any(|a| (a.vcse || !vcse) && q.in_window(a.at))
        })
}

/// Sums rows from facts.
pub(super) struct Acc<'a> {
    q: &'a Query,
    snap: &'a Snapshot,
    threshold: f64,
    now_ts: i64,
    /// Generation stamps: a slot counts as empty unless it holds `gen`.
    gen: u32,
    unit_stamp: Vec<u32>,
    unit_best: Vec<u32>,
    member_stamp: Vec<u32>,
    division_stamp: Vec<u32>,
    division_value: Vec<i64>,
    covered_stamp: Vec<u32>,
}

impl<'a> Acc<'a> {
    pub fn new(q: &'a Query, snap: &'a Snapshot, threshold: f64) -> Acc<'a> {
        let divisions = snap.divisions.len();
        Acc {
            q,
            snap,
            threshold,
            now_ts: q.now.unix_timestamp(),
            gen: 0,
            unit_stamp: vec![0; snap.units],
            unit_best: vec![0; snap.units],
            member_stamp: vec![0; snap.members.facts.len()],
            division_stamp: vec![0; divisions],
            division_value: vec![0; divisions],
            covered_stamp: vec![0; divisions],
        }
    }

    fn next_gen(&mut self) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            // After 2^32 generations the stamps could collide: start over.
            for v in [
                &mut self.unit_stamp,
                &mut self.member_stamp,
                &mut self.division_stamp,
                &mut self.covered_stamp,
            ] {
                v.iter_mut().for_each(|x| *x = 0);
            }
            self.gen = 1;
        }
        self.gen
    }

    /// Of each opportunity group among `facts` that pass `keep`, the notice
    /// search shows: the least in (source rank, ocid) order.
    fn representatives(&mut self, facts: &[u32], keep: impl Fn(u32) -> bool) -> Vec<u32> {
        let g = self.next_gen();
        let snap = self.snap;
        let hot = &snap.hot;
        let mut units = Vec::new();
        for &i in facts {
            let Some(h) = hot.get(i as usize).filter(|_| keep(i)) else {
                continue;
            };
            let u = h.unit as usize;
            let (Some(stamp), Some(best)) = (self.unit_stamp.get_mut(u), self.unit_best.get_mut(u))
            else {
                continue;
            };
            if *stamp != g {
                *stamp = g;
                *best = i;
                units.push(u);
            } else if hot.get(*best as usize).is_some_and(|b| {
                // Only probable duplicates meet here: rare, so the ocids
                // are compared only then.
                h.rank < b.rank
                    || (h.rank == b.rank
                        && fact(snap, i).map(|f| &f.ocid) < fact(snap, *best).map(|f| &f.ocid))
            }) {
                *best = i;
            }
        }
        units
            .into_iter()
            .filter_map(|u| self.unit_best.get(u).copied())
            .collect()
    }

    /// The row of these facts (already admitted and placed in the row).
    pub fn row(&mut self, facts: &[u32]) -> Result<MarketRow> {
        let now = self.now_ts;
        let snap = self.snap;
        let hot = &snap.hot;
        let open: Vec<u32> = facts
            .iter()
            .copied()
            .filter(|i| hot.get(*i as usize).is_some_and(|h| h.open_at(now)))
            .collect();
        let mut row = MarketRow::default();
        let g = self.next_gen();
        let mut divisions: Vec<u16> = Vec::new();
        for f in self
            .representatives(&open, |_| true)
            .into_iter()
            .filter_map(|i| fact(snap, i))
        {
            row.open_notices += 1;
            row.open_value_pence = add(row.open_value_pence, f.value, "open values")?;
            row.vcse_suitable_open_value_pence = add(
                row.vcse_suitable_open_value_pence,
                f.vcse_value,
                "VCSE-suitable values",
            )?;
            if f.reserved {
                row.reserved_open_value_pence =
                    add(row.reserved_open_value_pence, f.value, "reserved values")?;
            }
            row.social_value_weighted_notices += u64::from(f.social);
            for d in &f.divisions {
                let (Some(stamp), Some(v)) = (
                    self.division_stamp.get_mut(*d as usize),
                    self.division_value.get_mut(*d as usize),
                ) else {
                    continue;
                };
                if *stamp != g {
                    *stamp = g;
                    *v = 0;
                    divisions.push(*d);
                }
                *v = add(*v, f.value, "division values")?;
            }
        }
        row.matched_members = self.matched(&open, g);
        row.gaps = self.gaps(&divisions, g);
        self.awards(facts, &mut row)?;
        Ok(row)
    }

    /// The members matched at the threshold on these open notices (marking
    /// the divisions those matches cover with `g`).
    fn matched(&mut self, open: &[u32], g: u32) -> u64 {
        let snap = self.snap;
        let mut members = 0u64;
        for f in open.iter().filter_map(|i| fact(snap, *i)) {
            let mut any = false;
            for (m, score) in &f.matches {
                if *score >= self.threshold {
                    any = true;
                    if let Some(s) = self.member_stamp.get_mut(*m as usize) {
                        if *s != g {
                            *s = g;
                            members += 1;
                        }
                    }
                }
            }
            if any {
                for d in &f.divisions {
                    if let Some(s) = self.covered_stamp.get_mut(*d as usize) {
                        *s = g;
                    }
                }
            }
        }
        members
    }

    /// `division=value` of the open value no match covers, largest first.
    fn gaps(&self, divisions: &[u16], g: u32) -> Vec<String> {
        let mut gaps: Vec<(&str, i64)> = divisions
            .iter()
            .filter(|d| self.covered_stamp.get(**d as usize) != Some(&g))
            .filter_map(|d| {
                let code = self.snap.divisions.get(*d as usize)?;
                let v = *self.division_value.get(*d as usize)?;
                Some((code.as_str(), v))
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        gaps.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        gaps.iter()
            .take(MAX_GAPS)
            .map(|(d, v)| format!("{d}={v}"))
            .collect()
    }

    /// Awards in the window, each opportunity once.
    fn awards(&mut self, facts: &[u32], row: &mut MarketRow) -> Result<()> {
        let q = self.q;
        let snap = self.snap;
        let in_window = |i: u32| awarded_in(q, snap, i, false);
        for f in self
            .representatives(facts, in_window)
            .into_iter()
            .filter_map(|i| fact(snap, i))
        {
            for a in f.awards.iter().filter(|a| q.in_window(a.at)) {
                row.awarded_value_pence = add(row.awarded_value_pence, a.value, "award values")?;
                if a.vcse {
                    row.awarded_to_vcse_value_pence = add(
                        row.awarded_to_vcse_value_pence,
                        a.value,
                        "VCSE award values",
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Month by month over the window: VCSE-suitable value open and
    /// published, and value awarded to VCSEs (each opportunity once).
    pub fn timeline(&mut self, facts: &[u32], months: &mut [Month], first: i32) -> Result<()> {
        let q = self.q;
        let snap = self.snap;
        let slot = |m: i32| usize::try_from(m - first).ok();
        let suitable = |i: u32| snap.hot.get(i as usize).is_some_and(|h| h.suitable);
        for f in self
            .representatives(facts, suitable)
            .into_iter()
            .filter_map(|i| fact(snap, i))
        {
            if let Some((start, end)) = f.open_months {
                let last = first.saturating_add(i32::try_from(months.len()).unwrap_or(0)) - 1;
                for k in start.max(first)..=end.min(last) {
                    if let Some(m) = slot(k).and_then(|s| months.get_mut(s)) {
                        m.open_vcse_suitable_value_pence = add(
                            m.open_vcse_suitable_value_pence,
                            f.vcse_value,
                            "open values",
                        )?;
                    }
                }
            }
            let Some(m) = f
                .published
                .filter(|(at, _)| q.in_window(*at))
                .and_then(|(_, month)| slot(month))
                .and_then(|s| months.get_mut(s))
            else {
                continue;
            };
            m.published_vcse_suitable_value_pence = add(
                m.published_vcse_suitable_value_pence,
                f.vcse_value,
                "published values",
            )?;
        }
        let awarded = |i: u32| awarded_in(q, snap, i, true);
        for f in self
            .representatives(facts, awarded)
            .into_iter()
            .filter_map(|i| fact(snap, i))
        {
            for a in f.awards.iter().filter(|a| a.vcse && q.in_window(a.at)) {
                if let Some(m) = slot(a.month).and_then(|s| months.get_mut(s)) {
                    m.awarded_to_vcse_value_pence =
                        add(m.awarded_to_vcse_value_pence, a.value, "awarded values")?;
                }
            }
        }
        Ok(())
    }
}
