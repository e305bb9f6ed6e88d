//! sebroker-store: the source of truth for raw releases, compiled notices, the
//! change log the index follows, learned CPV descriptions, imported place
//! tables, the ingest log, the sync progress of live sources, the groups
//! of notices that are one opportunity, members, their stored matches and
//! award links, and each change-log follower's cursor. Storage sits behind
//! [`NoticeStore`] so the engine (sled today) can change without touching
//! callers; [`failing`] is a test double that fails on demand.

pub mod compact;
mod dict;
mod error;
#[doc(hidden)]
pub mod failing;
mod lock;
mod member_matches;
mod sled_config;
mod sled_store;

pub use error::{Error, Result};
pub use lock::DirLock;
pub use sled_store::SledStore;

use sebroker_connectors::places::PlaceEntry;
use sebroker_connectors::sync::{SourceProgress, SyncProgress};
use sebroker_model::{Member, Notice};

use sebroker_model::AwardLink;
use sebroker_model::Match;

/// The schema version of the store; see [`SledStore::open`] for migrations.
/// 2: raw releases and notices may be zstd-compressed (version 1 values,
/// plain JSON, are still read as they are). 3: `matches` holds one value
/// per notice (version 2 held one per notice and member; moved on open).
/// 4: releases and notices may be compressed with a trained dictionary
/// kept in `meta` (an older sebroker could not read them; nothing moves).
/// 5: `member_matches` holds one entry per member and batch of matched
/// notices (version 4 entries still read; nothing moves).
pub const STORE_VERSION: u64 = 5;

/// What storing a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutRelease {
    New,
    /// The same release (same content, whitespace aside) is already stored.
    Duplicate,
    /// A release with the same id but other content was stored; replaced.
    Replaced,
}

/// What storing a compiled notice did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutNotice {
    Created,
    Updated,
    Unchanged,
}

/// Counts for `sebroker stats`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct StoreCounts {
    pub notices: u64,
    pub releases: u64,
}

pub trait NoticeStore: Send + Sync {
    /// Stores a raw release under its ocid and release id.
    fn put_release(
        &self,
        ocid: &str,
        release_id: &str,
        hash: &[u8; 32],
        json: &str,
    ) -> Result<PutRelease>;
    /// Every raw release of an ocid.
    fn releases_of(&self, ocid: &str) -> Result<Vec<String>>;
    /// Whether any release of an ocid is stored (a seek, not a read of them all).
    fn has_releases(&self, ocid: &str) -> Result<bool> {
        Ok(!self.releases_of(ocid)?.is_empty())
    }
    fn get_notice(&self, ocid: &str) -> Result<Option<Notice>>;
    /// Stores a notice if it differs from the stored one, logging the change.
    fn put_notice(&self, notice: &Notice) -> Result<PutNotice>;
    /// Calls `f` for every stored notice, in ocid order.
    fn for_each_notice(&self, f: &mut dyn FnMut(Notice) -> Result<()>) -> Result<()>;
    /// Ocids changed after sequence `seq`, and the last sequence.
    fn changes_since(&self, seq: u64) -> Result<(Vec<String>, u64)> {
        self.changes_between(seq, u64::MAX)
    }
    /// Ocids changed after sequence `seq` up to `upto` (included), sorted
    /// and deduplicated, and the last sequence read (`seq` if none).
    fn changes_between(&self, seq: u64, upto: u64) -> Result<(Vec<String>, u64)>;
    fn last_seq(&self) -> Result<u64>;
    fn counts(&self) -> Result<StoreCounts>;
    /// Learned or imported CPV descriptions.
    fn cpv_descriptions(&self) -> Result<Vec<(String, String)>>;
    /// Records CPV descriptions; `replace` overwrites known ones.
    fn put_cpv(&self, entries: &[(String, String)], replace: bool) -> Result<usize>;
    fn place_entries(&self) -> Result<Vec<PlaceEntry>>;
    fn put_place_entries(&self, entries: &[PlaceEntry]) -> Result<usize>;
    /// Appends a JSON line to the ingest log.
    fn log_ingest(&self, entry: &serde_json::Value) -> Result<()>;
    /// Adds or replaces a member (by id).
    fn put_member(&self, member: &Member) -> Result<()>;
    fn get_member(&self, id: &str) -> Result<Option<Member>>;
    /// Every member, in id order.
    fn members(&self) -> Result<Vec<Member>>;
    /// Replaces the stored matches of a notice.
    fn put_matches(&self, ocid: &str, matches: &[Match]) -> Result<()>;
    /// Replaces the stored matches of each notice of a batch (a store may
    /// write its member index once for the batch).
    fn put_matches_many(&self, batch: &[(&str, &[Match])]) -> Result<()> {
        batch.iter().try_for_each(|(o, m)| self.put_matches(o, m))
    }
    fn matches_of_notice(&self, ocid: &str) -> Result<Vec<Match>>;
    /// (ocid, match) for every stored match of a member.
    fn matches_of_member(&self, member_id: &str) -> Result<Vec<(String, Match)>>;
    /// Stores a link unless one exists for the same member, ocid and award
    /// (a broker's decision is never overwritten). Returns true when new.
    fn put_link(&self, link: &AwardLink, replace: bool) -> Result<bool>;
    fn links(&self) -> Result<Vec<AwardLink>>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<()>;
    /// Reads every entry of every tree (so every page's checksum is
    /// checked) and checks that keys come in order; returns the entries
    /// read. Damage sled only notices when a page is read is found here,
    /// before a server starts on it.
    fn check(&self) -> Result<u64>;

    /// What the data folder remembers of its ledger (identity and last
    /// head, JSON written by `sebroker_ledger::identity`), kept beside the
    /// notices so that a missing or replaced ledger is noticed.
    fn ledger_mark(&self) -> Result<Option<Vec<u8>>>;
    /// Records it; `durable` flushes (else sled persists it within its
    /// flush interval).
    fn put_ledger_mark(&self, mark: &[u8], durable: bool) -> Result<()>;

    /// The sync progress of a live source (`fts`, `cf`, `ocds:<name>`).
    fn sync_progress(&self, source: &str) -> Result<SourceProgress>;
    /// Stores a source's sync progress, durably.
    fn put_sync_progress(&self, source: &str, progress: &SourceProgress) -> Result<()>;
    /// Every source with stored progress.
    fn sync_sources(&self) -> Result<Vec<String>>;
    /// The store as the connectors' [`SyncProgress`].
    fn as_progress(&self) -> &dyn SyncProgress;

    /// Files `ocid` (published by `source`) under duplicate-candidate
    /// `keys`; returns the other ocids already filed under any of them
    /// from other sources (a duplicate is always from another source).
    fn put_candidate_keys(&self, ocid: &str, source: &str, keys: &[String]) -> Result<Vec<String>>;
    /// The ocids of the group `ocid` belongs to (itself included), or empty.
    fn group_of(&self, ocid: &str) -> Result<Vec<String>>;
    /// Puts `a` and `b` (and their groups) in one group. True when it changed.
    fn link_group(&self, a: &str, b: &str) -> Result<bool>;
    /// Every group, each sorted.
    fn groups(&self) -> Result<Vec<Vec<String>>>;

    /// How far a follower of the change log (`matches`, `groups`…) has
    /// got: the last change sequence it has applied (0: none).
    fn cursor(&self, consumer: &str) -> Result<u64>;
    /// Records a follower's progress (made durable by the next flush).
    fn set_cursor(&self, consumer: &str, seq: u64) -> Result<()>;
}
