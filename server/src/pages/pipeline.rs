//! The pipeline board: a card per open case (member, value, deadline, days
//! in its stage) in a column per stage, filters by cluster, stage and
//! broker, closed cases folded away.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use time::{Date, OffsetDateTime};

use sebroker_connectors::money::format_pence;
use sebroker_ledger::model::CaseStatus;
use sebroker_ledger::state::Case;

use super::auth::{urlencode, Viewer};
use super::browse::{deadline, money};
use super::cases::step_name;
use super::internal;
use super::layout::page;

/// One card's facts beside its case.
struct Card {
    case: Case,
    names: String,
    clusters: BTreeSet<String>,
    broker: String,
    value: String,
    deadline: Option<OffsetDateTime>,
    /// The date the case reached its stage.
    since: Date,
}

fn cards(app: &sebroker_engine::Engine) -> Vec<Card> {
    let set = app.member_set();
    let state = app.ledger.state();
    let broker_of = |actor: &str| {
        let id = actor.strip_prefix("web:").or_else(|| {
            actor
                .strip_prefix("key:")
                .map(|r| r.split(' ').next().unwrap_or(r))
        });
        id.and_then(|id| state.keys.get(id))
            .map(|k| k.name.clone())
            .unwrap_or_else(|| actor.to_owned())
    };
    let mut notices: HashMap<String, (String, Option<OffsetDateTime>)> = HashMap::new();
    let mut out = Vec::new();
    for case in state.all_cases(&app.cluster_lookup()) {
        let n = notices.entry(case.ocid.clone()).or_insert_with(|| {
            match app.store.get_notice(&case.ocid) {
                Ok(Some(n)) => (money(&n.value), n.deadline),
                _ => ("not published".into(), None),
            }
        });
        let member = |m: &String| set.members.get(m);
        let since = case
            .events
            .iter()
            .rev()
            .find(|e| e.voided_by.is_none() && e.status == Some(case.status))
            .map(|e| e.date)
            .unwrap_or(case.opened);
        out.push(Card {
            names: case
                .members
                .iter()
                .map(|m| {
                    member(m)
                        .map(|x| x.name.clone())
                        .unwrap_or_else(|| m.clone())
                })
                .collect::<Vec<_>>()
                .join(" + "),
            clusters: case
                .members
                .iter()
                .filter_map(|m| member(m).map(|x| x.cluster.clone()))
                .collect(),
            broker: case
                .events
                .first()
                .map(|e| broker_of(&e.actor))
                .unwrap_or_default(),
            value: match &case.win {
                Some(w) => format!("won {}", format_pence(w.value_pence)),
                None => n.0.clone(),
            },
            deadline: n.1,
            since,
            case,
        });
    }
    out
}

pub async fn pipeline(
    State(state): State<super::State>,
    viewer: Viewer,
    Query(f): Query<BTreeMap<String, String>>,
) -> Response {
    let app = state.app.clone();
    let loaded = crate::blocking::run(move || {
        let asked = crate::services::interests::all(&app).unwrap_or_else(|e| {
            tracing::warn!(error = %e.message, "could not read interests");
            Vec::new()
        });
        (cards(&app), asked)
    })
    .await;
    let (all, asked) = match loaded {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    let get = |k: &str| f.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let (cluster, stage, broker) = (
        get("cluster"),
        get("stage").and_then(CaseStatus::parse),
        get("broker"),
    );
    let clusters: BTreeSet<&String> = all.iter().flat_map(|c| &c.clusters).collect();
    let brokers: BTreeSet<&String> = all.iter().map(|c| &c.broker).collect();
    let shown: Vec<&Card> = all
        .iter()
        .filter(|c| cluster.is_none_or(|x| c.clusters.contains(x)))
        .filter(|c| stage.is_none_or(|s| c.case.status == s))
        .filter(|c| broker.is_none_or(|b| c.broker == b))
        .collect();
    let now = OffsetDateTime::now_utc();
    let column = |s: CaseStatus| {
        let here: Vec<&&Card> = shown.iter().filter(|c| c.case.status == s).collect();
        html! {
            section class="column" aria-labelledby={ "stage-" (s.as_str()) } {
                h2 id={ "stage-" (s.as_str()) } { (step_name(s)) " (" (here.len()) ")" }
                @for c in here { (card(c, now)) }
            }
        }
    };
    let closed = shown.iter().filter(|c| c.case.status.is_terminal()).count();
    let body = html! {
        h1 { "Pipeline" }
        form method="get" action="/pipeline" class="card filters" aria-label="Filter the pipeline" {
            div { label for="cluster" { "Cluster" } select id="cluster" name="cluster" { option value="" { "every cluster" } @for c in &clusters { option value=(c) selected[cluster == Some(c.as_str())] { (c) } } } }
            div { label for="stage" { "Stage" } select id="stage" name="stage" { option value="" { "every stage" } @for s in CaseStatus::ALL { option value=(s.as_str()) selected[stage == Some(s)] { (step_name(s)) } } } }
            div { label for="broker" { "Broker" } select id="broker" name="broker" { option value="" { "every broker" } @for b in &brokers { option value=(b) selected[broker == Some(b.as_str())] { (b) } } } }
            div { button type="submit" { "Filter" } }
        }
        div class="board" {
            @for s in CaseStatus::ALL.into_iter().filter(|s| s.is_open()) { (column(s)) }
        }
        @if !asked.is_empty() {
            section class="card" aria-labelledby="asked" {
                h2 id="asked" { "Members asking about notices (" (asked.len()) ")" }
                p class="muted" { "A member asked the brokerage about these; an interest opens no case." }
                ul { @for a in asked.iter().take(20) {
                    li { a href={ "/notices/" (urlencode(&a.interest.ocid)) } { (a.interest.ocid) } " — "
                         a href={ "/members/" (urlencode(&a.interest.member_id)) } { (a.member_name) }
                         " asked on " (a.interest.at.date()) }
                } }
            }
        }
        details class="card" id="closed" {
            summary { "Closed cases (" (closed) ")" }
            div class="board" { @for s in CaseStatus::ALL.into_iter().filter(|s| s.is_terminal()) { (column(s)) } }
        }
    };
    page(&viewer, "Pipeline", body).into_response()
}

fn card(c: &Card, now: OffsetDateTime) -> Markup {
    let days = (now.date() - c.since).whole_days().max(0);
    html! {
        article class="card pipeline-card" {
            h3 { a href={ "/cases/" (urlencode(&c.case.case_id)) } { (c.case.title) } }
            p { (c.names) }
            p class="muted" { (c.value) br; "deadline " (deadline(c.deadline, now)) br;
                (days) @if days == 1 { " day" } @else { " days" } " in this stage" }
        }
    }
}
