//! What the alert engine needs from the engine that runs it: the store,
//! its own log, its configuration and runtime, the members and places as
//! matching sees them, and the open cases of the ledger. The engine
//! implements it; the alert engine never sees the engine itself.

use std::path::Path;
use std::sync::RwLockReadGuard;

use time::{Duration, OffsetDateTime};

use sebroker_connectors::places::Places;
use sebroker_matching::{Matcher, MemberSet, Weights};
use sebroker_store::NoticeStore;

use crate::config::AlertsConfig;
use crate::log::AlertStore;
use crate::runtime::AlertsRuntime;

pub trait Host: Send + Sync + 'static {
    /// The notice store (notices, stored matches, groups, the change log).
    fn store(&self) -> &dyn NoticeStore;
    /// The alert log: settings, alerts, deliveries, marks, the cursor.
    fn alert_log(&self) -> &dyn AlertStore;
    fn config(&self) -> &AlertsConfig;
    fn runtime(&self) -> &AlertsRuntime;
    /// The data folder (the default outbox is `<data_dir>/outbox`).
    fn data_dir(&self) -> &Path;
    fn members(&self) -> RwLockReadGuard<'_, MemberSet>;
    fn places(&self) -> RwLockReadGuard<'_, Places>;
    fn weights(&self) -> Weights;
    /// The ledger's open cases, for the brokers' deadline alerts.
    fn cases(&self) -> &dyn CaseDeadlines;
    /// The last change the matches follower has applied: alerts never
    /// select past it, so a notice is alerted only once it is matched.
    fn matched_upto(&self) -> crate::Result<u64>;
}

/// The matcher over a host's members, places and weights.
pub fn matcher<'a>(host: &dyn Host, set: &'a MemberSet, places: &'a Places) -> Matcher<'a> {
    Matcher {
        members: &set.members,
        index: &set.index,
        places,
        weights: host.weights(),
        ranker: set.ranker(),
    }
}

#[derive(Debug, Clone)]
pub struct CaseDeadline {
    pub case_id: String,
    pub ocid: String,
    pub deadline: OffsetDateTime,
    /// Who works on it, in words.
    pub detail: String,
}

/// Where the cases come from (the engine implements it over the ledger's open cases).
pub trait CaseDeadlines {
    /// Open cases whose notice's deadline falls between `now` and `now + within`.
    fn closing(
        &self,
        app: &dyn Host,
        now: OffsetDateTime,
        within: Duration,
    ) -> crate::Result<Vec<CaseDeadline>>;
}
