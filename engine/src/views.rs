//! The ledger as the engine shows it: folded with members' current
//! clusters and the notice store (shared by the CLI and the API).

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Date, OffsetDateTime};

use sebroker_ledger::model::{ymd, Event};
use sebroker_ledger::state::Case;
use sebroker_ledger::totals::{self, By, Kpis, Reconciliation, Totals};
use sebroker_ledger::{Appended, NewEvent};
use sebroker_model::Member;

use crate::error::Result;
use crate::Engine;

/// Every case, folded, in the order they were opened.
pub fn cases(engine: &Engine) -> Vec<Case> {
    let lookup = engine.cluster_lookup();
    engine.ledger.state().all_cases(&lookup)
}

pub fn case(engine: &Engine, id: &str) -> Option<Case> {
    let lookup = engine.cluster_lookup();
    engine.ledger.state().case(id, &lookup)
}

pub fn totals(engine: &Engine, by: By) -> Totals {
    totals::totals(
        &cases(engine),
        by,
        &engine.ledger.settings,
        &engine.config.clusters,
    )
}

pub fn kpis(engine: &Engine, today: Date) -> Kpis {
    let lookup = engine.cluster_lookup();
    let members: Vec<(String, String)> = engine
        .member_set()
        .members
        .values()
        .map(|m| (m.id.clone(), m.cluster.clone()))
        .collect();
    let cases = cases(engine);
    let state = engine.ledger.state();
    totals::kpis(
        &state,
        &cases,
        &members,
        &lookup,
        &engine.ledger.settings,
        &engine.config.clusters,
        today,
    )
}

/// Awards naming members, against open cases: proposals to confirm, and
/// wins without brokerage.
pub fn reconciliation(engine: &Engine) -> Result<Reconciliation> {
    let links = engine.store.links()?;
    let cases = cases(engine);
    // Read every linked notice first, so that a store error fails the
    // answer instead of reading as "no award date".
    let mut dates: std::collections::HashMap<(String, String), Date> =
        std::collections::HashMap::new();
    for l in &links {
        if let Some(n) = engine.store.get_notice(&l.ocid)? {
            for a in &n.awards {
                if let Some(d) = a.date {
                    dates.insert((n.ocid.clone(), a.id.clone()), d.date());
                }
            }
        }
    }
    let award_date = |ocid: &str, award: &str| -> Option<Date> {
        dates.get(&(ocid.to_owned(), award.to_owned())).copied()
    };
    Ok(totals::reconcile(&cases, &links, &award_date))
}

/// Appends to the ledger (durable when it returns).
pub fn record(engine: &Engine, e: NewEvent) -> Result<Appended> {
    Ok(engine.ledger.append(e)?)
}

/// Records in the ledger the members whose cluster changed (or is new),
/// effective `date`, so wins count for the cluster of their day.
pub fn record_clusters(
    engine: &Engine,
    members: &[Member],
    date: Date,
    actor: &str,
) -> Result<usize> {
    let mut n = 0;
    for m in members {
        let (current, count) = {
            let st = engine.ledger.state();
            (
                st.current_cluster(&m.id),
                st.clusters.get(&m.id).map_or(0, Vec::len),
            )
        };
        if current.as_deref() == Some(m.cluster.as_str()) {
            continue;
        }
        engine.ledger.append(NewEvent {
            date: Some(date),
            actor: actor.to_owned(),
            idempotency_key: format!(
                "cluster:{}:{}:{}:{count}",
                m.id,
                m.cluster,
                ymd::format(date)
            ),
            notes: None,
            event: Event::ClusterChanged {
                member_id: m.id.clone(),
                cluster: m.cluster.clone(),
            },
        })?;
        n += 1;
    }
    Ok(n)
}

/// The counts of `sebroker stats` and `GET /api/v1/stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub notices: u64,
    pub releases: u64,
    pub by_source: BTreeMap<String, u64>,
    /// Status judged at the time asked for.
    pub by_status: BTreeMap<String, u64>,
    pub cpv_descriptions: usize,
    pub index_docs: u64,
    pub index_bytes: u64,
}

/// Notices by source and by status at `now`, counted by the index in one
/// search (its facets) instead of decoding every stored notice. The index
/// holds every committed notice, so the counts are those of the last commit.
pub fn index_counts(
    engine: &Engine,
    now: OffsetDateTime,
) -> Result<(BTreeMap<String, u64>, BTreeMap<String, u64>)> {
    let mut req = sebroker_index::SearchRequest::new(String::new(), now);
    req.limit = 1;
    req.facets = true;
    req.snippets = false;
    let facets = engine.index.search(&req)?.facets.unwrap_or_default();
    Ok((facets.source, facets.status))
}

/// Counts the store and the index, judging each notice's status at `now`.
pub fn stats(engine: &Engine, now: OffsetDateTime) -> Result<Stats> {
    let counts = engine.store.counts()?;
    let (by_source, by_status) = index_counts(engine, now)?;
    Ok(Stats {
        notices: counts.notices,
        releases: counts.releases,
        by_source,
        by_status,
        cpv_descriptions: engine.store.cpv_descriptions()?.len(),
        index_docs: engine.index.num_docs(),
        index_bytes: engine.index.size_on_disk(),
    })
}
