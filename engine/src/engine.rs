//! The opened engine: the data folder's lock, the store, the index, the
//! reference tables, the members as matching sees them, the ledger and the
//! alert log, all opened from one [`Config`]; the index caught up with the
//! store on open. HTTP concerns (keys' rate limits, the admin token at the
//! door) are the server's; the engine holds what every command shares.

use std::path::Path;
use std::sync::{Arc, RwLock};

use sebroker_alerts::deliver::AlertsRuntime;
use sebroker_alerts::log::SledAlertStore;
use sebroker_connectors::cpv::CpvTable;
use sebroker_connectors::places::Places;
use sebroker_index::NoticeIndex;
use sebroker_ledger::Ledger;
use sebroker_matching::MemberSet;
use sebroker_store::{DirLock, NoticeStore, SledStore};

use crate::board::Board;
use crate::config::Config;
use crate::consumers::Followers;
use crate::error::{Error, Result};
use crate::matches::Matches;
use crate::writer::Writer;

pub struct Engine {
    /// The configuration it was opened with.
    pub config: Config,
    pub store: Arc<dyn NoticeStore>,
    pub index: Arc<NoticeIndex>,
    pub places: Arc<RwLock<Places>>,
    /// Members, their index and the matcher's weights; stored matches.
    pub matches: Matches,
    /// The brokerage ledger and the API keys (`ledger/`, `ledger.head`).
    pub ledger: Arc<Ledger>,
    /// The alert engine's settings, alerts, deliveries and marks.
    pub(crate) alert_log: Arc<SledAlertStore>,
    /// Wake-ups and in-flight deliveries of the alert engine.
    pub alerts_rt: Arc<AlertsRuntime>,
    /// The single ingest writer: every store write of notices and every
    /// index commit goes through it.
    pub writer: Writer,
    /// The followers of the change log (groups, matches and links).
    pub followers: Followers,
    /// Live state of the scheduled sync of each source (`serve`).
    pub sources: Board,
    /// Every write through the API, the pages and the command line.
    pub audit: Arc<crate::audit::AuditLog>,
    /// Members' interest in notices (`crate::interests`).
    pub interests: Arc<crate::interests::InterestLog>,
    /// People's accounts (e-mail and password sign-in).
    pub accounts: Arc<crate::accounts::Accounts>,
    /// The market map's snapshot of notices and matches (kept by
    /// `engine::market`).
    pub market: crate::derived::Derived,
    _lock: DirLock,
}

/// Opens the index; one that cannot be opened (a damaged segment) is
/// derived data: it is wiped and rebuilt from the store by the catch-up.
fn open_index(dir: &Path) -> Result<NoticeIndex> {
    match NoticeIndex::open(dir) {
        Ok(i) => Ok(i),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "the index cannot be opened; rebuilding it from the store");
            std::fs::remove_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
            Ok(NoticeIndex::open(dir)?)
        }
    }
}

impl Engine {
    /// Opens the data folder of `config`: lock, store (`store/`), index
    /// (`index/`), ledger (`ledger/`); catches the index up with the store.
    pub fn open(config: &Config) -> Result<Engine> {
        let data_dir = config.data_dir.as_path();
        let lock = DirLock::acquire(data_dir)?;
        let sled = SledStore::open(&data_dir.join("store"))?;
        let alert_log = Arc::new(SledAlertStore::open(sled.db())?);
        let audit = Arc::new(crate::audit::AuditLog::open(sled.db())?);
        let interests = Arc::new(crate::interests::InterestLog::open(sled.db())?);
        let accounts = Arc::new(crate::accounts::Accounts::open(sled.db())?);
        let store: Arc<dyn NoticeStore> = Arc::new(sled);
        let index = Arc::new(open_index(&data_dir.join("index"))?);
        let mut places = Places::builtin();
        for e in store.place_entries()? {
            places.add(&e);
        }
        // The market map's authorities (`geo_dir`): search resolves their
        // GSS codes to the same NUTS3 areas the map counts.
        for e in config.authorities.place_entries() {
            places.add(&e);
        }
        if let Some(g) = &config.gazetteer {
            places = places.with_gazetteer(g.clone());
        }
        let places = Arc::new(RwLock::new(places));
        let matches = Matches::new(
            store.clone(),
            places.clone(),
            config.weights,
            config.model.clone(),
        )?;
        let ledger = Arc::new(Ledger::open_with(
            data_dir,
            config.ledger,
            Some(store.clone()),
        )?);
        let writer = Writer::new(store.clone(), index.clone(), places.clone());
        let engine = Engine {
            config: config.clone(),
            store,
            index,
            places,
            matches,
            ledger,
            alert_log,
            alerts_rt: Arc::default(),
            writer,
            followers: Followers::default(),
            sources: Board::default(),
            audit,
            interests,
            accounts,
            market: crate::derived::Derived::default(),
            _lock: lock,
        };
        engine.writer.catch_up_index(data_dir)?;
        Ok(engine)
    }

    /// Opens `dir` with the default configuration (tests, benchmarks).
    pub fn open_dir(dir: &Path) -> Result<Engine> {
        Engine::open(&Config::for_data_dir(dir)?)
    }

    /// The data folder (`config.data_dir`).
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Brings the followers of the change log up to the store (groups,
    /// then matches and links), then wakes the alert engine if anything
    /// was matched. One-shot commands call it before they exit, so what
    /// they ingested is matched when they return.
    pub fn follow(&self) -> Result<crate::consumers::Followed> {
        let done = self.followers.follow(self.store.as_ref(), &self.matches)?;
        if done.changes > 0 {
            self.alerts_rt.ingested.notify_one();
        }
        Ok(done)
    }

    /// Re-matches every notice after members changed (imports, link
    /// decisions). Returns the number of notices matched.
    pub fn rematch_all(&self) -> Result<usize> {
        self.followers
            .rematch_all(self.store.as_ref(), &self.matches)
    }

    /// The alert log: settings, alerts, deliveries, marks.
    pub fn alert_log(&self) -> &dyn sebroker_alerts::AlertStore {
        self.alert_log.as_ref()
    }

    pub fn places(&self) -> std::sync::RwLockReadGuard<'_, Places> {
        self.places.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn member_set(&self) -> std::sync::RwLockReadGuard<'_, MemberSet> {
        self.matches.member_set()
    }

    /// CPV descriptions known to the store.
    pub fn cpv_table(&self) -> Result<CpvTable> {
        let mut t = CpvTable::default();
        for (code, desc) in self.store.cpv_descriptions()? {
            t.set(code, desc);
        }
        Ok(t)
    }

    /// Each member's current cluster, for ledger views of members without
    /// recorded history.
    pub fn cluster_lookup(&self) -> impl Fn(&str) -> String {
        let map: std::collections::HashMap<String, String> = self
            .member_set()
            .members
            .values()
            .map(|m| (m.id.clone(), m.cluster.clone()))
            .collect();
        move |id: &str| map.get(id).cloned().unwrap_or_else(|| "unknown".to_owned())
    }
}

/// The longest the serve task sleeps without being woken by the writer.
const FOLLOW_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the task that keeps the followers up with the writer (`serve`):
/// at start (catching up after a crash), after every writer drain, and at
/// least every [`FOLLOW_IDLE`]. A failed catch-up logs and is retried.
pub fn spawn_followers(engine: Arc<Engine>) -> tokio::task::JoinHandle<()> {
    let written = engine.writer.written();
    tokio::spawn(async move {
        loop {
            let e = engine.clone();
            match tokio::task::spawn_blocking(move || e.follow()).await {
                Ok(Ok(done)) if done.changes > 0 => {
                    tracing::debug!(
                        changes = done.changes,
                        links_new = done.links_new,
                        groups_linked = done.groups_linked,
                        "followers caught up"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "the change-log followers failed; retrying")
                }
                Err(e) => tracing::error!(error = %e, "the change-log followers stopped; retrying"),
            }
            tokio::select! {
                () = written.notified() => {}
                () = tokio::time::sleep(FOLLOW_IDLE) => {}
            }
        }
    })
}
