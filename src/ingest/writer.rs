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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use sebroker_connectors::ocds::ReadOutcome;

use super::{IngestOptions, IngestReport, INDEX_BATCH};
use crate::app::App;
use crate::error::{Error, Result};

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

/// The writer handle that the application holds.
pub struct Writer {
    tx: SyncSender<Job>,
    /// Holding this lock is being the writer.
    rx: Mutex<Receiver<Job>>,
    hook: RwLock<Option<Hook>>,
    /// Batches sent and not yet taken by a writer.
    queued: AtomicUsize,
}

impl Default for Writer {
    fn default() -> Self {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        Writer {
            tx,
            rx: Mutex::new(rx),
            hook: RwLock::new(None),
            queued: AtomicUsize::new(0),
        }
    }
}

fn lost(name: &str) -> Error {
    Error::Io {
        path: name.into(),
        source: std::io::Error::other(
            "the ingest writer stopped before this batch was written (see the log); retry it",
        ),
    }
}

impl Writer {
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
        app: &App,
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
            if self.drain(app, &queue) == 0 {
                break;
            }
        }
        answer.try_recv().unwrap_or_else(|_| Err(lost(name)))
    }

    /// Commits the index up to the store now (end of a CLI ingest, open).
    pub fn commit(&self, app: &App) -> Result<usize> {
        let queue = self.lock();
        self.drain(app, &queue);
        index_changes(app)
    }

    /// Runs `f` as the writer (reindex): no batch is written meanwhile.
    pub fn exclusive<T>(&self, app: &App, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let queue = self.lock();
        self.drain(app, &queue);
        f()
    }

    /// Writes the queued batches (at most [`MAX_BATCH`]), commits once, and
    /// answers each caller. Returns how many batches it took.
    fn drain(&self, app: &App, queue: &Receiver<Job>) -> usize {
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
            let mut r = super::write_batch(app, &job.name, job.outcome, &job.opts);
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
            None if wants_commit || pending(app) >= INDEX_BATCH as u64 => {
                index_changes(app).map(|_| ()).map_err(|e| {
                    tracing::error!(error = %e, "index commit failed");
                    e.to_string()
                })
            }
            None => Ok(()),
        };
        for (reply, wanted, name, r) in done {
            let r = match (&commit, r) {
                (Err(why), Ok(_)) if wanted => Err(Error::Io {
                    path: app.index.path().to_owned(),
                    source: std::io::Error::other(format!(
                        "{name} was stored but the index commit failed: {why}"
                    )),
                }),
                (_, r) => r,
            };
            // A caller that gave up waiting is not an error of the others.
            let _ = reply.send(r);
        }
        n
    }
}

/// Store changes the index has not seen yet.
fn pending(app: &App) -> u64 {
    match app.store.last_seq() {
        Ok(last) => last.saturating_sub(app.index.indexed_seq()),
        Err(_) => u64::MAX, // try the commit; it reports the store error
    }
}

/// Applies to the index every change after the one it recorded, read from
/// the store's change log, and commits with the last sequence applied.
/// Returns the number of notices applied. Only the writer calls this.
pub(crate) fn index_changes(app: &App) -> Result<usize> {
    let from = app.index.indexed_seq();
    let (ocids, last) = app.store.changes_since(from)?;
    if last == from {
        return Ok(0);
    }
    for ocid in &ocids {
        match app.store.get_notice(ocid)? {
            Some(n) => app.index.upsert(&n)?,
            None => app.index.delete(ocid),
        }
    }
    app.index.commit(last)?;
    Ok(ocids.len())
}
