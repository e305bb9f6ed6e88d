//! The opened application: data folder lock, store, index and reference
//! tables, with the index caught up to the store on open.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use sebroker_connectors::cpv::CpvTable;
use sebroker_connectors::places::Places;
use sebroker_index::NoticeIndex;

use crate::auth::RateLimiter;
use crate::error::Result;
use crate::ledger::{Ledger, LedgerSettings};
use crate::matching::store::MemberSet;
use crate::matching::Weights;
use crate::store::{DirLock, NoticeStore, SledStore};

pub struct App {
    pub data_dir: PathBuf,
    pub store: Arc<dyn NoticeStore>,
    pub index: Arc<NoticeIndex>,
    pub places: Arc<RwLock<Places>>,
    /// Live state of the scheduled sync of each source (`serve`).
    pub sources: crate::sources::Board,
    /// The token that admits anchors' uploads (`admin_token`); none refuses them.
    pub admin_token: Option<crate::config::Secret>,
    pub members: RwLock<MemberSet>,
    pub weights: Weights,
    /// The alert engine's configuration (`[alerts]`, `public_url`).
    pub alerts: crate::config::AlertsConfig,
    /// Wake-ups and in-flight deliveries of the alert engine.
    pub alerts_rt: Arc<crate::alerts::deliver::AlertsRuntime>,
    /// The brokerage ledger and the API keys (`ledger/`, `ledger.head`).
    pub ledger: Arc<Ledger>,
    /// Cluster slugs members may belong to (the configuration's `clusters`).
    pub clusters: Vec<String>,
    /// Requests per minute per API key (and the sessions made with it).
    pub limiter: RateLimiter,
    /// Sign-in attempts and bad credentials per minute per client address.
    pub attempts: RateLimiter,
    /// The single ingest writer: every store write of notices and every
    /// index commit goes through it.
    pub writer: crate::ingest::Writer,
    _lock: DirLock,
}

/// Opens the index; one that cannot be opened (a damaged segment) is
/// derived data: it is wiped and rebuilt from the store by the catch-up.
fn open_index(dir: &Path) -> Result<NoticeIndex> {
    match NoticeIndex::open(dir) {
        Ok(i) => Ok(i),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "the index cannot be opened; rebuilding it from the store");
            std::fs::remove_dir_all(dir).map_err(|source| crate::error::Error::Io {
                path: dir.to_owned(),
                source,
            })?;
            Ok(NoticeIndex::open(dir)?)
        }
    }
}

impl App {
    /// Opens the data folder: lock, store (`store/`), index (`index/`).
    pub fn open(data_dir: &Path) -> Result<App> {
        let lock = DirLock::acquire(data_dir)?;
        let store: Arc<dyn NoticeStore> = Arc::new(SledStore::open(&data_dir.join("store"))?);
        let index = Arc::new(open_index(&data_dir.join("index"))?);
        let mut places = Places::builtin();
        for e in store.place_entries()? {
            places.add(&e);
        }
        let members = RwLock::new(MemberSet::load(store.as_ref())?);
        let ledger = Arc::new(Ledger::open_with(
            data_dir,
            LedgerSettings::default(),
            Some(store.clone()),
        )?);
        let app = App {
            data_dir: data_dir.to_owned(),
            store,
            index,
            places: Arc::new(RwLock::new(places)),
            sources: crate::sources::Board::default(),
            admin_token: None,
            members,
            weights: Weights::default(),
            alerts: crate::config::AlertsConfig::default(),
            alerts_rt: Arc::default(),
            ledger,
            clusters: crate::members::DEFAULT_CLUSTERS
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            limiter: RateLimiter::default(),
            attempts: RateLimiter::new(crate::config::DEFAULT_AUTH_ATTEMPTS_PER_MINUTE),
            writer: crate::ingest::Writer::default(),
            _lock: lock,
        };
        app.catch_up_index()?;
        Ok(app)
    }

    /// Applies the configuration: weights, clusters, ledger targets, rate limit.
    pub fn with_config(mut self, config: &crate::config::Config) -> App {
        self.weights = config.weights;
        self.clusters.clone_from(&config.clusters);
        if let Some(l) = Arc::get_mut(&mut self.ledger) {
            l.settings = config.ledger;
        }
        self.limiter = RateLimiter::new(config.rate_limit_per_minute);
        self.attempts = RateLimiter::new(config.auth_attempts_per_minute);
        self
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

    /// Records in the ledger the members whose cluster changed (or is new),
    /// effective `date`, so wins count for the cluster of their day.
    pub fn record_clusters(
        &self,
        members: &[sebroker_index::Member],
        date: time::Date,
        actor: &str,
    ) -> Result<usize> {
        let mut n = 0;
        for m in members {
            let (current, count) = {
                let st = self.ledger.state();
                (
                    st.current_cluster(&m.id),
                    st.clusters.get(&m.id).map_or(0, Vec::len),
                )
            };
            if current.as_deref() == Some(m.cluster.as_str()) {
                continue;
            }
            self.ledger.append(crate::ledger::NewEvent {
                date: Some(date),
                actor: actor.to_owned(),
                idempotency_key: format!(
                    "cluster:{}:{}:{}:{count}",
                    m.id,
                    m.cluster,
                    crate::ledger::model::ymd::format(date)
                ),
                notes: None,
                event: crate::ledger::model::Event::ClusterChanged {
                    member_id: m.id.clone(),
                    cluster: m.cluster.clone(),
                },
            })?;
            n += 1;
        }
        Ok(n)
    }

    /// Uses these match weights (from the configuration).
    pub fn with_weights(mut self, weights: Weights) -> App {
        self.weights = weights;
        self
    }

    /// Uses this alert configuration.
    pub fn with_alerts(mut self, alerts: crate::config::AlertsConfig) -> App {
        self.alerts = alerts;
        self
    }

    /// Applies to the index every store change it has not seen (after a crash,
    /// or after the index was wiped for a schema change), as the writer.
    pub fn catch_up_index(&self) -> Result<usize> {
        self.writer.exclusive(self, || {
            let from = self.index.indexed_seq();
            let last = self.store.last_seq()?;
            if from == last {
                return Ok(0);
            }
            if from > last {
                // The store is flushed before every index commit, so an
                // index ahead of the store means the store lost durable
                // writes: rebuilding from it would serve half a store.
                return Err(crate::error::Error::Refused(format!(
                    "refusing to open {}: the notice store is behind its own index (store change {last}, index at {from}), \
                     so the store lost writes it had made durable. sebroker never serves half a store: restore the data \
                     folder from a copy; to accept the loss, delete {} and re-ingest",
                    self.data_dir.join("store").display(),
                    self.data_dir.join("index").display()
                )));
            }
            if from == 0 && self.index.num_docs() > 0 {
                // An index unrelated to the store: rebuild it.
                return self.rebuild_index();
            }
            tracing::info!(from, to = last, "catching the index up with the store");
            crate::ingest::index_changes(self)
        })
    }

    /// Rebuilds the index from the store, as the writer. Returns the number
    /// of notices.
    pub fn reindex(&self) -> Result<usize> {
        self.writer.exclusive(self, || self.rebuild_index())
    }

    fn rebuild_index(&self) -> Result<usize> {
        let last = self.store.last_seq()?;
        self.index.clear()?;
        let mut n = 0usize;
        self.store.for_each_notice(&mut |notice| {
            self.index.upsert(&notice)?;
            n += 1;
            Ok(())
        })?;
        self.index.commit(last)?;
        Ok(n)
    }

    pub fn places(&self) -> std::sync::RwLockReadGuard<'_, Places> {
        self.places.read().unwrap_or_else(|e| e.into_inner())
    }

    /// CPV descriptions known to the store.
    pub fn cpv_table(&self) -> Result<CpvTable> {
        let mut t = CpvTable::default();
        for (code, desc) in self.store.cpv_descriptions()? {
            t.set(code, desc);
        }
        Ok(t)
    }
}
