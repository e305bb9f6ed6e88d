//! A test double of [`NoticeStore`]: delegates to a real store, except that
//! the reads and writes of notices (and the list of synced sources, which
//! `/api/v1/sources` reads now that notices are counted by the index) fail
//! once `fail` is set, as a damaged
//! or unreachable store would (for tests that store errors are reported,
//! never turned into empty answers).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sebroker_connectors::places::PlaceEntry;
use sebroker_connectors::sync::{SourceProgress, SyncProgress};
use sebroker_model::{Member, Notice};

use super::{NoticeStore, PutNotice, PutRelease, StoreCounts};
use crate::error::{Error, Result};
use sebroker_model::AwardLink;
use sebroker_model::Match;

pub struct FailingStore {
    inner: Arc<dyn NoticeStore>,
    pub fail: AtomicBool,
}

impl FailingStore {
    pub fn new(inner: Arc<dyn NoticeStore>) -> FailingStore {
        FailingStore {
            inner,
            fail: AtomicBool::new(false),
        }
    }

    fn check(&self, what: &str) -> Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Corrupt {
                key: what.to_owned(),
                message: "injected store failure".into(),
            });
        }
        Ok(())
    }
}

impl NoticeStore for FailingStore {
    fn put_release(&self, o: &str, id: &str, h: &[u8; 32], j: &str) -> Result<PutRelease> {
        self.inner.put_release(o, id, h, j)
    }
    fn releases_of(&self, ocid: &str) -> Result<Vec<String>> {
        self.inner.releases_of(ocid)
    }
    fn has_releases(&self, ocid: &str) -> Result<bool> {
        self.inner.has_releases(ocid)
    }
    fn get_notice(&self, ocid: &str) -> Result<Option<Notice>> {
        self.check(&format!("notices/{ocid}"))?;
        self.inner.get_notice(ocid)
    }
    fn put_notice(&self, notice: &Notice) -> Result<PutNotice> {
        self.check(&format!("notices/{}", notice.ocid))?;
        self.inner.put_notice(notice)
    }
    fn for_each_notice(&self, f: &mut dyn FnMut(Notice) -> Result<()>) -> Result<()> {
        self.check("notices")?;
        self.inner.for_each_notice(f)
    }
    fn changes_between(&self, seq: u64, upto: u64) -> Result<(Vec<String>, u64)> {
        self.inner.changes_between(seq, upto)
    }
    fn last_seq(&self) -> Result<u64> {
        self.inner.last_seq()
    }
    fn ledger_mark(&self) -> Result<Option<Vec<u8>>> {
        self.inner.ledger_mark()
    }
    fn put_ledger_mark(&self, mark: &[u8], durable: bool) -> Result<()> {
        self.inner.put_ledger_mark(mark, durable)
    }
    fn counts(&self) -> Result<StoreCounts> {
        self.check("counts")?;
        self.inner.counts()
    }
    fn cpv_descriptions(&self) -> Result<Vec<(String, String)>> {
        self.inner.cpv_descriptions()
    }
    fn put_cpv(&self, e: &[(String, String)], replace: bool) -> Result<usize> {
        self.inner.put_cpv(e, replace)
    }
    fn place_entries(&self) -> Result<Vec<PlaceEntry>> {
        self.inner.place_entries()
    }
    fn put_place_entries(&self, e: &[PlaceEntry]) -> Result<usize> {
        self.inner.put_place_entries(e)
    }
    fn log_ingest(&self, e: &serde_json::Value) -> Result<()> {
        self.inner.log_ingest(e)
    }
    fn put_member(&self, m: &Member) -> Result<()> {
        self.inner.put_member(m)
    }
    fn get_member(&self, id: &str) -> Result<Option<Member>> {
        self.inner.get_member(id)
    }
    fn members(&self) -> Result<Vec<Member>> {
        self.inner.members()
    }
    fn put_matches(&self, ocid: &str, m: &[Match]) -> Result<()> {
        self.inner.put_matches(ocid, m)
    }
    fn check(&self) -> Result<u64> {
        self.inner.check()
    }
    fn put_matches_many(&self, batch: &[(&str, &[Match])]) -> Result<()> {
        self.inner.put_matches_many(batch)
    }
    fn matches_of_notice(&self, ocid: &str) -> Result<Vec<Match>> {
        self.inner.matches_of_notice(ocid)
    }
    fn matches_of_member(&self, id: &str) -> Result<Vec<(String, Match)>> {
        self.inner.matches_of_member(id)
    }
    fn put_link(&self, l: &AwardLink, replace: bool) -> Result<bool> {
        self.inner.put_link(l, replace)
    }
    fn links(&self) -> Result<Vec<AwardLink>> {
        self.inner.links()
    }
    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }
    fn sync_progress(&self, source: &str) -> Result<SourceProgress> {
        self.inner.sync_progress(source)
    }
    fn put_sync_progress(&self, source: &str, p: &SourceProgress) -> Result<()> {
        self.inner.put_sync_progress(source, p)
    }
    fn sync_sources(&self) -> Result<Vec<String>> {
        self.check("sync")?;
        self.inner.sync_sources()
    }
    fn as_progress(&self) -> &dyn SyncProgress {
        self.inner.as_progress()
    }
    fn put_candidate_keys(&self, ocid: &str, source: &str, keys: &[String]) -> Result<Vec<String>> {
        self.inner.put_candidate_keys(ocid, source, keys)
    }
    fn group_of(&self, ocid: &str) -> Result<Vec<String>> {
        self.inner.group_of(ocid)
    }
    fn link_group(&self, a: &str, b: &str) -> Result<bool> {
        self.inner.link_group(a, b)
    }
    fn groups(&self) -> Result<Vec<Vec<String>>> {
        self.inner.groups()
    }
    fn cursor(&self, consumer: &str) -> Result<u64> {
        self.inner.cursor(consumer)
    }
    fn set_cursor(&self, consumer: &str, seq: u64) -> Result<()> {
        self.inner.set_cursor(consumer, seq)
    }
}
