//! The followers of the store's change log. The single writer only writes
//! releases and notices; everything derived from a notice follows the
//! change log with its own cursor in the store (`meta/cursor/<name>`), so
//! each is restartable (a crash leaves its cursor behind and the next run
//! redoes that window; every step is idempotent) and off the ingest path:
//!
//! 1. `groups`: probable duplicates from other sources linked into one
//!    opportunity group;
//! 2. `links`: award notices linked to members' track records (before
//!    matching, so a new link counts at once);
//! 3. `matches`: the members ranked for each notice;
//! 4. the alert engine follows last with its own cursor, never past
//!    `matches` (`sebroker_alerts::Host::matched_upto`).
//!
//! `serve` runs [`Followers::follow`] on a task woken by every writer
//! drain; one-shot commands (`ingest`, `sync`, `anchors import`, the demo)
//! run it before they exit.

use std::sync::Mutex;

use serde::Serialize;

use sebroker_model::Notice;
use sebroker_store::NoticeStore;

use crate::error::Result;
use crate::groups;
use crate::matches::Matches;

/// The cursor names, in the order they run.
pub const GROUPS: &str = "groups";
pub const LINKS: &str = "links";
pub const MATCHES: &str = "matches";

/// Change-log sequences applied per window: a window's notices are read
/// at once, and the cursor moves after each window.
const WINDOW: u64 = 2_000;

/// What one catch-up did.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Followed {
    /// Change-log entries the followers applied (each follower counted once).
    pub changes: u64,
    pub groups_linked: u64,
    pub links_new: u64,
}

/// One catch-up at a time (the serve task, a command, a re-match).
#[derive(Default)]
pub struct Followers {
    lock: Mutex<()>,
}

impl Followers {
    /// Brings every follower up to the store's last change.
    pub fn follow(&self, store: &dyn NoticeStore, matches: &Matches) -> Result<Followed> {
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let last = store.last_seq()?;
        let mut done = Followed::default();
        let started = std::time::Instant::now();
        let mut batch = Vec::new();
        // Groups and links read the same windows: when their cursors agree
        // (always, but after a crash between the two) each window's
        // notices are decoded once for both.
        let (linked, links) = if store.cursor(GROUPS)? == store.cursor(LINKS)? {
            let mut groups_linked = 0u64;
            let both = follow_window(store, &[GROUPS, LINKS], last, &mut batch, &mut |ns| {
                for n in ns {
                    groups_linked =
                        groups_linked.saturating_add(groups::file_notice(store, n)? as u64);
                }
                Ok(matches.link_awards(ns)? as u64)
            })?;
            ((both.0, groups_linked), both)
        } else {
            let linked = follow_one(store, GROUPS, last, &mut |n| {
                Ok(groups::file_notice(store, n)? as u64)
            })?;
            let links = follow_window(store, &[LINKS], last, &mut batch, &mut |ns| {
                Ok(matches.link_awards(ns)? as u64)
            })?;
            (linked, links)
        };
        let grouped_in = started.elapsed();
        done.groups_linked = linked.1;
        done.links_new = links.1;
        let matched = follow_window(store, &[MATCHES], last, &mut batch, &mut |ns| {
            matches.match_notices(ns)?;
            Ok(0)
        })?;
        done.changes = linked.0.max(links.0).max(matched.0);
        if done.changes > 0 {
            store.flush()?;
            tracing::info!(
                changes = done.changes,
                groups_and_links_ms = grouped_in.as_millis() as u64,
                total_ms = started.elapsed().as_millis() as u64,
                "followers caught up"
            );
        }
        Ok(done)
    }

    /// Re-links and re-matches every notice (after members changed) and
    /// moves the links and matches cursors to the last change, as one
    /// catch-up. Returns the number of notices matched.
    pub fn rematch_all(&self, store: &dyn NoticeStore, matches: &Matches) -> Result<usize> {
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let last = store.last_seq()?;
        matches.reload_members()?;
        let mut batch = Vec::new();
        let mut n = 0;
        store.for_each_notice(&mut |notice| {
            batch.push(notice);
            Ok(())
        })?;
        for chunk in batch.chunks(1000) {
            matches.link_awards(chunk)?;
            matches.match_notices(chunk)?;
            n += chunk.len();
        }
        for name in [LINKS, MATCHES] {
            if store.cursor(name)? < last {
                store.set_cursor(name, last)?;
            }
        }
        store.flush()?;
        Ok(n)
    }
}

/// Applies `f` to each changed notice, window by window, from the cursor
/// `name` to `last`. Returns (changes applied, sum of `f`).
fn follow_one(
    store: &dyn NoticeStore,
    name: &str,
    last: u64,
    f: &mut dyn FnMut(&Notice) -> Result<u64>,
) -> Result<(u64, u64)> {
    let mut batch = Vec::new();
    follow_window(store, &[name], last, &mut batch, &mut |ns| {
        let mut sum = 0u64;
        for n in ns {
            sum = sum.saturating_add(f(n)?);
        }
        Ok(sum)
    })
}

/// Applies `f` window by window from the cursor of `names[0]` (the
/// others are at the same place) to `last`, moving every cursor of
/// `names` after each window.
fn follow_window(
    store: &dyn NoticeStore,
    names: &[&str],
    last: u64,
    batch: &mut Vec<Notice>,
    f: &mut dyn FnMut(&[Notice]) -> Result<u64>,
) -> Result<(u64, u64)> {
    let Some(first) = names.first() else {
        return Ok((0, 0));
    };
    let mut from = store.cursor(first)?;
    let (start, mut sum) = (from, 0u64);
    while from < last {
        let upto = from.saturating_add(WINDOW).min(last);
        let (ocids, _) = store.changes_between(from, upto)?;
        batch.clear();
        for ocid in &ocids {
            if let Some(n) = store.get_notice(ocid)? {
                batch.push(n);
            }
        }
        sum = sum.saturating_add(f(batch)?);
        for name in names {
            store.set_cursor(name, upto)?;
        }
        from = upto;
    }
    Ok((from - start, sum))
}
