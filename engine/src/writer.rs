//! The single ingest writer: every source (files, live sources, anchors,
//! the demo) feeds its batches through one bounded queue, and exactly one
//! thread at a time owns the store's write path and the index commit.
//!
//! How it works (group commit): a caller puts its batch on the queue, then
//! takes the writer lock. Whoever holds the lock drains the queue, writes
//! each batch to the store in order, brings the index up to the store from
//! the change log, commits it once with the sequence it really indexed, and
//! hands every caller its own report. A caller that finds its report ready
//! when it gets the lock (another holder wrote it) just returns it.
//!
//! The index never records a sequence it has not seen: it is fed from the
//! store's change log (`changes_since`) at commit time, not from what each
//! batch believed it wrote, so a batch that failed half-way (or a crash
//! between the store write and the commit) leaves its changes for the next
//! commit or for catch-up on open to index.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use sebroker_connectors::ocds::ReadOutcome;
use sebroker_connectors::places::Places;
use sebroker_index::{Notice, NoticeIndex};
use sebroker_store::NoticeStore;

use crate::batch::{write_batch, IngestOptions, IngestReport};
use crate::error::{Error, Result};

/// Commit the index after this many changed notices, not per document.
const INDEX_BATCH: usize = 5_000;

/// Notices kept in memory for the next index commit at most.
const FRESH_MAX: usize = 20_000;

/// Batches waiting for the writer; a caller blocks on a full queue.
const QUEUE: usize = 64;
/// Batches written before one index commit at most.
const MAX_BATCH: usize = 16;

/// Called after a batch is written to the store and before the index
/// commit (tests inject pauses and failures here); an error aborts the
/// whole drain before its commit, as a crash there would.
pub type Hook = Arc<dyn Fn(&str) -> Result<()> + Send + Sync>;

/// One caller's batch.
struct Job {
    name: String,
    outcome: ReadOutcome,
    opts: IngestOptions,
    /// Commit the index before replying (otherwise the store is flushed
    /// and the index follows within [`INDEX_BATCH`] changes).
    commit: bool,
    reply: mpsc::Sender<Result<IngestReport>>,
}

fn lost(name: &str) -> Error {
    Error::Io {
        path: name.into(),
        source: std::io::Error::other(
            "the ingest writer stopped before this batch was written (see the log); retry it",
        ),
    }
}

/// The single writer: it owns the store's write path and the index's
/// commits.
pub struct Writer {
    store: Arc<dyn NoticeStore>,
    index: Arc<NoticeIndex>,
    places: Arc<RwLock<Places>>,
    /// Woken after every drain that wrote something (the followers of the
    /// change log listen in `serve`).
    written: Arc<tokio::sync::Notify>,
    tx: SyncSender<Job>,
    /// Holding this lock is being the writer.
    rx: Mutex<Receiver<Job>>,
    hook: RwLock<Option<Hook>>,
    /// Batches sent and not yet taken by a writer.
    queued: AtomicUsize,
    /// Notices written since the last index commit, by ocid (the latest).
    fresh: Mutex<HashMap<String, Notice>>,
}

impl Writer {
    /// The writer of `store` and `index`; notices are compiled with `places`.
    pub fn new(
        store: Arc<dyn NoticeStore>,
        index: Arc<NoticeIndex>,
        places: Arc<RwLock<Places>>,
    ) -> Self {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        Writer {
            store,
            index,
            places,
            written: Arc::default(),
            tx,
            rx: Mutex::new(rx),
            hook: RwLock::new(None),
            queued: AtomicUsize::new(0),
            fresh: Mutex::default(),
        }
    }

    /// Notified after each drain that wrote to the store.
    pub fn written(&self) -> Arc<tokio::sync::Notify> {
        self.written.clone()
    }

    /// Sets (or clears) the hook between store write and index commit.
    #[doc(hidden)]
    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.hook.write().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    /// Batches waiting for the writer.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Takes the writer lock (a panic of an earlier holder leaves nothing
    /// half-owned: the store and the index settle at the next commit).
    fn lock(&self) -> MutexGuard<'_, Receiver<Job>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `outcome` through the single writer and returns its report
    /// once it is in the store (flushed) and, with `commit`, searchable.
    pub fn submit(
        &self,
        name: &str,
        outcome: ReadOutcome,
        opts: &IngestOptions,
        commit: bool,
    ) -> Result<IngestReport> {
        let (reply, answer) = mpsc::channel();
        let job = Job {
            name: name.to_owned(),
            outcome,
            opts: opts.clone(),
            commit,
            reply,
        };
        // The receiver lives as long as `self`, so sending cannot fail.
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(job).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(lost(name));
        }
        let queue = self.lock();
        // Every drain takes the oldest batches first and ours is queued, so
        // each round either answers us or writes batches ahead of ours.
        for _ in 0..=QUEUE {
            match answer.try_recv() {
                Ok(r) => return r,
                Err(TryRecvError::Disconnected) => return Err(lost(name)),
                Err(TryRecvError::Empty) => {}
            }
            if self.drain(&queue) == 0 {
                break;
            }
        }
        answer.try_recv().unwrap_or_else(|_| Err(lost(name)))
    }

    /// Commits the index up to the store now (end of a CLI ingest, open).
    pub fn commit(&self) -> Result<usize> {
        let queue = self.lock();
        self.drain(&queue);
        self.index_changes()
    }

    /// Runs `f` as the writer (reindex): no batch is written meanwhile.
    pub fn exclusive<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let queue = self.lock();
        self.drain(&queue);
        f()
    }

    /// Writes the queued batches (at most [`MAX_BATCH`]), commits once, and
    /// answers each caller. Returns how many batches it took.
    fn drain(&self, queue: &Receiver<Job>) -> usize {
        let mut jobs = Vec::new();
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(j) => {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        if jobs.is_empty() {
            return 0;
        }
        let n = jobs.len();
        let hook = self.hook.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut done = Vec::with_capacity(n);
        let mut aborted = None;
        for job in jobs {
            let places = self.places.read().unwrap_or_else(|e| e.into_inner());
            let mut r = write_batch(
                self.store.as_ref(),
                &places,
                &job.name,
                job.outcome,
                &job.opts,
            )
            .map(|(report, changed)| {
                self.keep_for_index(changed);
                report
            });
            drop(places);
            if let Ok(report) = &r {
                report.record_metrics();
            }
            if let (Ok(_), Some(h)) = (&r, &hook) {
                if let Err(e) = h(&job.name) {
                    aborted.get_or_insert_with(|| e.to_string());
                    r = Err(e);
                }
            }
            if let Err(e) = &r {
                tracing::error!(file = %job.name, error = %e, "ingest batch failed");
            }
            done.push((job.reply, job.commit, job.name, r));
        }
        let wants_commit = done.iter().any(|d| d.1);
        let commit = match aborted {
            // A failure injected between write and commit stands for a crash.
            Some(why) => Err(why),
            None if wants_commit || self.pending() >= INDEX_BATCH as u64 => {
                self.index_changes().map(|_| ()).map_err(|e| {
                    tracing::error!(error = %e, "index commit failed");
                    e.to_string()
                })
            }
            None => Ok(()),
        };
        for (reply, wanted, name, r) in done {
            let r = match (&commit, r) {
                (Err(why), Ok(_)) if wanted => Err(Error::Io {
                    path: self.index.path().to_owned(),
                    source: std::io::Error::other(format!(
                        "{name} was stored but the index commit failed: {why}"
                    )),
                }),
                (_, r) => r,
            };
            // A caller that gave up waiting is not an error of the others.
            let _ = reply.send(r);
        }
        self.written.notify_one();
        n
    }

    /// Keeps notices just written for the next index commit, so it does
    /// not decode them back from the store; bounded: past
    /// [`FRESH_MAX`] the rest are read back.
    fn keep_for_index(&self, changed: Vec<Notice>) {
        let mut fresh = self.fresh.lock().unwrap_or_else(|e| e.into_inner());
        for n in changed {
            if fresh.len() >= FRESH_MAX {
                break;
            }
            fresh.insert(n.ocid.clone(), n);
        }
    }

    /// Store changes the index has not seen yet.
    fn pending(&self) -> u64 {
        match self.store.last_seq() {
            Ok(last) => last.saturating_sub(self.index.indexed_seq()),
            Err(_) => u64::MAX, // try the commit; it reports the store error
        }
    }

    /// Applies to the index every change after the one it recorded, read
    /// from the store's change log, and commits with the last sequence
    /// applied. Returns the number of notices applied. Only the writer
    /// (the holder of its lock) calls this.
    fn index_changes(&self) -> Result<usize> {
        let from = self.index.indexed_seq();
        let (ocids, last) = self.store.changes_since(from)?;
        if last == from {
            return Ok(0);
        }
        // Taken out as used: a commit that fails half-way reads the rest
        // back from the store next time, which holds the same notices.
        let mut fresh = std::mem::take(&mut *self.fresh.lock().unwrap_or_else(|e| e.into_inner()));
        for ocid in &ocids {
            let n = match fresh.remove(ocid) {
                Some(n) => Some(n),
                None => self.store.get_notice(ocid)?,
            };
            match n {
                Some(n) => self.index.upsert(&n)?,
                None => self.index.delete(ocid),
            }
        }
        self.index.commit(last)?;
        Ok(ocids.len())
    }

    /// Applies to the index every store change it has not seen (after a
    /// crash, or after the index was wiped for a schema change), as the
    /// writer. Refuses a store that is behind its own index.
    pub fn catch_up_index(&self, data_dir: &std::path::Path) -> Result<usize> {
        self.exclusive(|| {
            let from = self.index.indexed_seq();
            let last = self.store.last_seq()?;
            if from == last {
                return Ok(0);
            }
            if from > last {
                // The store is flushed before every index commit, so an
                // index ahead of the store means the store lost durable
                // writes: rebuilding from it would serve half a store.
                return Err(Error::Refused(format!(
                    "refusing to open {}: the notice store is behind its own index (store change {last}, index at {from}), \
                     so the store lost writes it had made durable. sebroker never serves half a store: restore the data \
                     folder from a copy; to accept the loss, delete {} and re-ingest",
                    data_dir.join("store").display(),
                    data_dir.join("index").display()
                )));
            }
            if from == 0 && self.index.num_docs() > 0 {
                // An index unrelated to the store: rebuild it.
                return self.rebuild_index();
            }
            tracing::info!(from, to = last, "catching the index up with the store");
            self.index_changes()
        })
    }

    /// Rebuilds the index from the store, as the writer. Returns the number
    /// of notices.
    pub fn reindex(&self) -> Result<usize> {
        self.exclusive(|| self.rebuild_index())
    }

    fn rebuild_index(&self) -> Result<usize> {
        let last = self.store.last_seq()?;
        self.index.clear()?;
        let mut n = 0usize;
        self.store.for_each_notice(&mut |notice| {
            self.index
                .upsert(&notice)
                .map_err(|e| sebroker_store::Error::Visit(e.to_string()))?;
            n += 1;
            Ok(())
        })?;
        self.index.commit(last)?;
        Ok(n)
    }
}
