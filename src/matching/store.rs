//! Keeping stored matches fresh: members (with their linked track record)
//! in memory with their index, matching notices as they are ingested, and
//! re-matching everything when members change.

use std::collections::HashMap;

use serde::Serialize;

use sebroker_index::{Member, MemberIndex, Notice, Stage, Status};

use super::{Match, Matcher, Timing, Weights};
use crate::app::App;
use crate::error::Result;
use crate::members::links::{self, MemberLookup};

/// Matches kept per notice.
pub const STORED_PER_NOTICE: usize = 50;
/// Matches below this score are not stored.
pub const STORED_MIN_SCORE: f64 = 0.2;

/// Members as matching sees them: stored members with links merged into
/// their track records, and their index.
pub struct MemberSet {
    pub members: HashMap<String, Member>,
    pub index: MemberIndex,
}

impl MemberSet {
    pub fn load(app_store: &dyn crate::store::NoticeStore) -> Result<MemberSet> {
        let mut members: HashMap<String, Member> = app_store
            .members()?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        for l in app_store.links()? {
            if let (Some(m), Some(t)) = (members.get_mut(&l.member_id), l.track_record()) {
                // A record the broker already typed in (same ocid) is not doubled.
                if !m
                    .track_record
                    .iter()
                    .any(|x| x.ocid.is_some() && x.ocid == t.ocid)
                {
                    m.track_record.push(t);
                }
            }
        }
        let list: Vec<Member> = members.values().cloned().collect();
        Ok(MemberSet {
            index: MemberIndex::build(&list)?,
            members,
        })
    }
}

/// Whether a notice can still be bid for at some point (so worth matching).
fn biddable(n: &Notice) -> bool {
    matches!(n.stage, Stage::Tender | Stage::Pipeline | Stage::Planned)
}

impl App {
    pub fn matcher<'a>(
        &'a self,
        set: &'a MemberSet,
        places: &'a sebroker_connectors::places::Places,
    ) -> Matcher<'a> {
        Matcher {
            members: &set.members,
            index: &set.index,
            places,
            weights: self.weights,
        }
    }

    /// Matches and stores the given notices; links their awards to members.
    /// Returns the number of new award links.
    pub fn refresh_notices(&self, notices: &[Notice]) -> Result<usize> {
        let set = self.member_set();
        if set.members.is_empty() {
            return Ok(0);
        }
        let places = self.places();
        let matcher = self.matcher(&set, &places);
        let lookup = MemberLookup::new(set.members.values());
        let mut new_links = 0;
        for n in notices {
            let matches: Vec<Match> = if biddable(n) {
                matcher
                    .match_notice(n, Timing::Ignore, STORED_PER_NOTICE)?
                    .into_iter()
                    .filter(|m| m.score >= STORED_MIN_SCORE)
                    .collect()
            } else {
                Vec::new()
            };
            self.store.put_matches(&n.ocid, &matches)?;
            for l in links::links_for(n, &lookup) {
                if self.store.put_link(&l, false)? {
                    tracing::info!(member_id = %l.member_id, ocid = %l.ocid, method = %l.method, "award linked to a member");
                    new_links += 1;
                }
            }
        }
        drop(set);
        if new_links > 0 {
            self.reload_members()?;
        }
        Ok(new_links)
    }

    /// Rebuilds the member set from the store and re-matches every notice
    /// (after a member import or a link decision). Returns notices matched.
    pub fn rematch_all(&self) -> Result<usize> {
        self.reload_members()?;
        let mut batch = Vec::new();
        let mut n = 0;
        self.store.for_each_notice(&mut |notice| {
            batch.push(notice);
            Ok(())
        })?;
        for chunk in batch.chunks(1000) {
            self.refresh_notices(chunk)?;
            n += chunk.len();
        }
        self.store.flush()?;
        Ok(n)
    }

    pub fn reload_members(&self) -> Result<()> {
        let set = MemberSet::load(self.store.as_ref())?;
        *self.members.write().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
    }

    pub fn member_set(&self) -> std::sync::RwLockReadGuard<'_, MemberSet> {
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The members ranked for a notice (any status), or `None` for an
    /// unknown ocid.
    pub fn notice_matches(&self, ocid: &str, top: usize) -> Result<Option<(Notice, Vec<Match>)>> {
        let Some(n) = self.store.get_notice(ocid)? else {
            return Ok(None);
        };
        let set = self.member_set();
        let places = self.places();
        let matches = self
            .matcher(&set, &places)
            .match_notice(&n, Timing::Ignore, top)?;
        Ok(Some((n, matches)))
    }

    /// Consortium proposals for a notice, or `None` for an unknown ocid.
    pub fn consortia(
        &self,
        ocid: &str,
        max_size: usize,
        top: usize,
    ) -> Result<Option<(Notice, crate::consortia::Proposals)>> {
        let Some(n) = self.store.get_notice(ocid)? else {
            return Ok(None);
        };
        let set = self.member_set();
        let places = self.places();
        let p = crate::consortia::propose(&n, &self.matcher(&set, &places), max_size, top)?;
        Ok(Some((n, p)))
    }

    /// The current weights.
    pub fn weights(&self) -> Weights {
        self.weights
    }
}

#[derive(Serialize)]
pub struct MemberMatch {
    pub ocid: String,
    pub title: String,
    pub status: Status,
    #[serde(flatten)]
    pub matched: Match,
}

/// A member's stored matches, with timing judged at `now` and closed,
/// awarded and cancelled notices left out.
pub fn member_matches(
    app: &App,
    member_id: &str,
    statuses: &[Status],
    now: time::OffsetDateTime,
    top: usize,
) -> Result<Vec<MemberMatch>> {
    let mut out = Vec::new();
    for (ocid, mut m) in app.store.matches_of_member(member_id)? {
        let Some(n) = app.store.get_notice(&ocid)? else {
            continue;
        };
        let status = n.status(now);
        if !statuses.is_empty() && !statuses.contains(&status) {
            continue;
        }
        let Some((timing, reason)) = crate::matching::components::timing(&n, now) else {
            continue;
        };
        m.components.timing = timing;
        m.score = m.components.score(&app.weights);
        m.reasons
            .retain(|r| !r.contains("days left") && !r.starts_with("early signal"));
        m.reasons.extend(reason);
        out.push(MemberMatch {
            ocid,
            title: n.title.clone(),
            status,
            matched: m,
        });
    }
    out.sort_by(|a, b| {
        b.matched
            .score
            .total_cmp(&a.matched.score)
            .then_with(|| a.ocid.cmp(&b.ocid))
    });
    out.truncate(top);
    Ok(out)
}
