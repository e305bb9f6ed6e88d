//! Keeping stored matches fresh: the members (with their linked track
//! record) in memory with their index, matching notices as the change log
//! brings them, re-matching everything when members change, and the
//! rankings and consortia asked for one notice.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use sebroker_connectors::places::Places;
use sebroker_matching::consortia::{self, Proposals};
use sebroker_matching::links::{self, MemberLookup};
use sebroker_matching::members::{biddable, STORED_MIN_SCORE, STORED_PER_NOTICE};
use sebroker_matching::ranker::Model;
use sebroker_matching::{Match, Matcher, MemberSet, Timing, Weights};
use sebroker_model::Notice;
use sebroker_store::NoticeStore;

use crate::error::Result;

/// Members, their index and the weights, over the store's matches and links.
pub struct Matches {
    store: Arc<dyn NoticeStore>,
    places: Arc<RwLock<Places>>,
    members: RwLock<MemberSet>,
    weights: Weights,
    model: Option<Model>,
}

/// Notices below which a batch is matched on the calling thread (a
/// thread costs more than matching a few notices).
const PARALLEL_FROM: usize = 64;

/// Notices whose matches are stored together: the store's member index
/// gets one entry per member and batch instead of one per match.
const STORE_BATCH: usize = 1024;

/// Threads for matching `n` notices: the cores, at most four.
fn match_threads(n: usize) -> usize {
    if n < PARALLEL_FROM {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    cores.clamp(1, 4).min(n / (PARALLEL_FROM / 2))
}

fn load(store: &dyn NoticeStore, model: &Option<Model>) -> Result<MemberSet> {
    let mut set = MemberSet::build(store.members()?, &store.links()?)?;
    set.set_model(model.clone());
    Ok(set)
}

impl Matches {
    /// Loads the stored members and links; matches with `weights`, or
    /// with the learned `model` when one is given.
    pub fn new(
        store: Arc<dyn NoticeStore>,
        places: Arc<RwLock<Places>>,
        weights: Weights,
        model: Option<Model>,
    ) -> Result<Matches> {
        let members = RwLock::new(load(store.as_ref(), &model)?);
        Ok(Matches {
            store,
            places,
            members,
            weights,
            model,
        })
    }

    /// The weights matches are scored with (`[weights]`).
    pub fn weights(&self) -> Weights {
        self.weights
    }

    pub fn member_set(&self) -> RwLockReadGuard<'_, MemberSet> {
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }

    fn places(&self) -> RwLockReadGuard<'_, Places> {
        self.places.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn matcher<'a>(&self, set: &'a MemberSet, places: &'a Places) -> Matcher<'a> {
        Matcher {
            members: &set.members,
            index: &set.index,
            places,
            weights: self.weights,
            ranker: set.ranker(),
        }
    }

    /// Ranks the members for each notice that can still be bid for and
    /// stores the strongest (none for the others). Large batches are
    /// split over the machine's cores: each notice is matched on its own,
    /// so the stored matches are the same whatever the split.
    pub fn match_notices(&self, notices: &[Notice]) -> Result<()> {
        let set = self.member_set();
        if set.members.is_empty() {
            return Ok(());
        }
        let places = self.places();
        let matcher = self.matcher(&set, &places);
        let threads = match_threads(notices.len());
        if threads <= 1 {
            return self.match_and_store(&matcher, notices);
        }
        let chunk = notices.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let running: Vec<_> = notices
                .chunks(chunk)
                .map(|part| scope.spawn(|| self.match_and_store(&matcher, part)))
                .collect();
            running.into_iter().try_for_each(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(crate::error::Error::Failed(
                        "a matching thread stopped unexpectedly".into(),
                    ))
                })
            })
        })
    }

    fn match_and_store(&self, matcher: &Matcher<'_>, notices: &[Notice]) -> Result<()> {
        for part in notices.chunks(STORE_BATCH) {
            let mut batch: Vec<(&str, Vec<Match>)> = Vec::with_capacity(part.len());
            for n in part {
                let matches: Vec<Match> = if biddable(n) {
                    matcher
                        .match_notice(n, Timing::Ignore, STORED_PER_NOTICE)?
                        .into_iter()
                        .filter(|m| m.score >= STORED_MIN_SCORE)
                        .collect()
                } else {
                    Vec::new()
                };
                batch.push((n.ocid.as_str(), matches));
            }
            let refs: Vec<(&str, &[Match])> =
                batch.iter().map(|(o, m)| (*o, m.as_slice())).collect();
            self.store.put_matches_many(&refs)?;
        }
        Ok(())
    }

    /// Links the awards of these notices to members' track records (a
    /// broker's decision is never overwritten); each new link updates its
    /// member's entry in the member set, not the whole set. Returns the
    /// number of new links.
    pub fn link_awards(&self, notices: &[Notice]) -> Result<usize> {
        let set = self.member_set();
        if set.members.is_empty() {
            return Ok(0);
        }
        let lookup = MemberLookup::new(set.members.values());
        let mut new = Vec::new();
        for n in notices {
            for l in links::links_for(n, &lookup) {
                if self.store.put_link(&l, false)? {
                    tracing::debug!(member_id = %l.member_id, ocid = %l.ocid, method = %l.method, "award linked to a member");
                    new.push(l);
                }
            }
        }
        drop(set);
        if !new.is_empty() {
            tracing::info!(new_links = new.len(), "awards linked to members");
            let mut set = self.members.write().unwrap_or_else(|e| e.into_inner());
            for l in &new {
                set.add_link(l);
            }
        }
        Ok(new.len())
    }

    /// Rebuilds the member set from the store (after a member import or a
    /// link decision).
    pub fn reload_members(&self) -> Result<()> {
        let set = load(self.store.as_ref(), &self.model)?;
        *self.members.write().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
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

    /// The notice page's view: its best `top` members and its consortium
    /// proposals from one match of the notice (the top members are the
    /// first of the proposals' candidates: the ranking is a total order),
    /// or `None` for an unknown ocid.
    pub fn notice_view(
        &self,
        ocid: &str,
        top: usize,
        max_size: usize,
        proposals: usize,
    ) -> Result<Option<(Notice, Vec<Match>, Proposals)>> {
        let Some(n) = self.store.get_notice(ocid)? else {
            return Ok(None);
        };
        let set = self.member_set();
        let places = self.places();
        let matcher = self.matcher(&set, &places);
        let candidates =
            matcher.match_notice(&n, Timing::Ignore, top.max(consortia::CANDIDATES))?;
        let shown = candidates.iter().take(top).cloned().collect();
        let candidates = candidates.into_iter().take(consortia::CANDIDATES).collect();
        let p = consortia::propose_among(&n, &matcher, candidates, max_size, proposals);
        Ok(Some((n, shown, p)))
    }

    /// Consortium proposals for a notice, or `None` for an unknown ocid.
    pub fn consortia(
        &self,
        ocid: &str,
        max_size: usize,
        top: usize,
    ) -> Result<Option<(Notice, Proposals)>> {
        let Some(n) = self.store.get_notice(ocid)? else {
            return Ok(None);
        };
        let set = self.member_set();
        let places = self.places();
        let p = consortia::propose(&n, &self.matcher(&set, &places), max_size, top)?;
        Ok(Some((n, p)))
    }
}
