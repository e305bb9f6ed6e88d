//! The followers of the store's change log. The single writer only writes
//! releases and notices; everything derived from a notice follows the
//! change log with its own cursor in the store (`meta/cursor/<name>`), so
//! each is restartable (a crash leaves its cursor behind and the next run
//! redoes that window; every step is idempotent) and off the ingest path:
//!
//! 1. `groups`: probable duplicates from other sources linked into one
//!    opportunity group;
//! 2. `matches`: the members ranked for each notice, and award links to
//!    members' track records;
//! 3. the alert engine follows last with its own cursor, never past
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
        let linked = follow_one(store, GROUPS, last, &mut |n| {
            Ok(groups::file_notice(store, n)? as u64)
        })?;
        done.groups_linked = linked.1;
        let mut batch = Vec::new();
        let matched = follow_window(store, MATCHES, last, &mut batch, &mut |ns| {
            Ok(matches.refresh(ns)? as u64)
        })?;
        done.changes = linked.0.max(matched.0);
        done.links_new = matched.1;
        if done.changes > 0 {
            store.flush()?;
        }
        Ok(done)
    }

    /// Re-matches every notice (after members changed) and moves the
    /// matches cursor to the last change, as one catch-up. Returns the
    /// number of notices matched.
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
            matches.refresh(chunk)?;
            n += chunk.len();
        }
        if store.cursor(MATCHES)? < last {
            store.set_cursor(MATCHES, last)?;
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
    follow_window(store, name, last, &mut batch, &mut |ns| {
        let mut sum = 0;
        for n in ns {
            sum += f(n)?;
        }
        Ok(sum)
    })
}

fn follow_window(
    store: &dyn NoticeStore,
    name: &str,
    last: u64,
    batch: &mut Vec<Notice>,
    f: &mut dyn FnMut(&[Notice]) -> Result<u64>,
) -> Result<(u64, u64)> {
    let mut from = store.cursor(name)?;
    let (start, mut sum) = (from, 0);
    while from < last {
        let upto = from.saturating_add(WINDOW).min(last);
        let (ocids, _) = store.changes_between(from, upto)?;
        batch.clear();
        for ocid in &ocids {
            if let Some(n) = store.get_notice(ocid)? {
                batch.push(n);
            }
        }
        sum += f(batch)?;
        store.set_cursor(name, upto)?;
        from = upto;
    }
    Ok((from - start, sum))
}


#[cfg(test)]
mod tests {
    use sebroker_connectors::ocds;

    use super::*;
    use crate::ingest::IngestOptions;

    /// The demo's tender notices again, under new ocids, as one package.
    fn renamed_tenders(prefix: &str) -> String {
        let text = include_str!("../../fixtures/demo/fts-2026-11.json");
        let mut pkg: serde_json::Value = serde_json::from_str(text).expect("demo json");
        let releases = pkg["releases"].as_array_mut().expect("releases");
        releases.retain(|r| r["tag"].to_string().contains("tender"));
        for r in releases.iter_mut() {
            let ocid = r["ocid"].as_str().expect("ocid").replace("ocds-h6vhtk", prefix);
            r["ocid"] = serde_json::Value::String(ocid);
        }
        pkg.to_string()
    }

    /// Writes through the single writer only: no follower runs.
    fn write_only(engine: &crate::Engine, text: &str) {
        let outcome = ocds::read_bytes(text.as_bytes(), false, false);
        engine
            .writer
            .submit("test", outcome, &IngestOptions::default(), true)
            .expect("written");
    }

    fn stored_matches(engine: &crate::Engine) -> Vec<(String, Vec<sebroker_model::Match>)> {
        let mut out = Vec::new();
        engine
            .store
            .for_each_notice(&mut |n| {
                out.push((n.ocid.clone(), Vec::new()));
                Ok(())
            })
            .expect("notices");
        for (ocid, m) in &mut out {
            *m = engine.store.matches_of_notice(ocid).expect("matches");
        }
        out
    }

    #[test]
    fn followers_catch_up_from_their_cursors_off_the_writer() {
        let (_dir, engine) = crate::demo::open_in_tempdir();
        let last = engine.store.last_seq().expect("seq");
        assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), last);
        assert_eq!(engine.store.cursor(GROUPS).expect("cursor"), last);

        write_only(&engine, &renamed_tenders("ocds-test01"));
        let now = engine.store.last_seq().expect("seq");
        assert!(now > last, "the write made changes");
        // The writer wrote and indexed, but matched nothing: that is the
        // followers' job, and they have not run.
        assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), last);
        let new: Vec<_> = stored_matches(&engine)
            .into_iter()
            .filter(|(o, _)| o.starts_with("ocds-test01"))
            .collect();
        assert!(!new.is_empty());
        assert!(new.iter().all(|(_, m)| m.is_empty()), "{new:?}");

        let done = engine.follow().expect("follow");
        assert_eq!(done.changes, now - last);
        assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), now);
        assert_eq!(engine.store.cursor(GROUPS).expect("cursor"), now);
        let matched = stored_matches(&engine);
        assert!(
            matched
                .iter()
                .any(|(o, m)| o.starts_with("ocds-test01") && !m.is_empty()),
            "the new tenders are matched once followed"
        );
        // Nothing left to do: a second catch-up is empty.
        assert_eq!(engine.follow().expect("follow").changes, 0);
    }

    #[test]
    fn a_follower_restarted_behind_redoes_its_window_with_the_same_result() {
        let (_dir, engine) = crate::demo::open_in_tempdir();
        write_only(&engine, &renamed_tenders("ocds-test02"));
        engine.follow().expect("follow");
        let before = stored_matches(&engine);
        // A crash after the matches were stored but before the cursor moved
        // leaves the cursor behind: the window is redone, idempotently.
        engine.store.set_cursor(MATCHES, 0).expect("rewind");
        engine.store.set_cursor(GROUPS, 0).expect("rewind");
        let redone = engine.follow().expect("follow");
        assert_eq!(redone.changes, engine.store.last_seq().expect("seq"));
        assert_eq!(redone.links_new, 0, "links are never made twice");
        assert_eq!(stored_matches(&engine), before);
    }

    #[test]
    fn a_rematch_moves_the_matches_cursor_to_the_last_change() {
        let (_dir, engine) = crate::demo::open_in_tempdir();
        write_only(&engine, &renamed_tenders("ocds-test03"));
        let last = engine.store.last_seq().expect("seq");
        assert!(engine.store.cursor(MATCHES).expect("cursor") < last);
        engine.rematch_all().expect("rematch");
        assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), last);
    }
}
