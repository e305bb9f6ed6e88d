//! The ledger in the pages: cases on a notice page (open, introduce, each
//! step, a win with its value), the pipeline board, and the funder
//! dashboard (brokered value against the target, by cluster, over time, the
//! KPI table, CSV downloads).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use time::OffsetDateTime;

use sebroker_connectors::money::format_pence;

use super::auth::{urlencode, Viewer};
use super::internal;
use super::layout::{message, page};
use crate::error::{ApiError, Code};
use crate::services;
use sebroker_ledger::input::{CaseEventInput, CaseInput};
use sebroker_ledger::state::Case;
use sebroker_ledger::totals::By;

/// The case steps a broker records, in pipeline order.
pub const STEPS: [&str; 6] = [
    "introduced",
    "interested",
    "bid_submitted",
    "won",
    "lost",
    "withdrawn",
];
/// Board columns.
const STAGES: [&str; 7] = [
    "identified",
    "introduced",
    "interested",
    "bid_submitted",
    "won",
    "lost",
    "withdrawn",
];

fn refused(text: &str) -> Response {
    (
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message("Not recorded", text),
    )
        .into_response()
}

/// The cases section of a notice page.
pub fn cases_section(
    viewer: &Viewer,
    ocid: &str,
    cases: &[Case],
    candidates: &[(String, String)],
) -> Markup {
    let csrf = &viewer.session.csrf;
    html! {
        h2 id="cases" { "Brokerage cases" }
        @if cases.is_empty() { p { "No case on this notice yet." } }
        @for c in cases {
            div class="card" {
                p { strong { "Case " (c.case_id) } " · " span class="badge" { (c.status.as_str()) } " · "
                    (c.members.join(" + ")) " (lead " (c.lead) ")"
                    @if let Some(w) = &c.win { " · won " (format_pence(w.value_pence)) @if w.counted { " (brokered)" } } }
                ol { @for e in &c.events { li { (e.date) " " (e.kind) @if let Some(v) = e.value_pence { " " (format_pence(v)) } " — " (e.actor) @if let Some(n) = &e.notes { ": " (n) } } } }
                @if c.status.is_open() {
                    form method="post" action={ "/cases/" (urlencode(&c.case_id)) "/events" } class="filters" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="ocid" value=(ocid);
                        input type="hidden" name="idempotency_key" value=(super::random_token());
                        div { label for={ "step-" (c.case_id) } { "Step" }
                            select id={ "step-" (c.case_id) } name="step" { @for s in STEPS { option value=(s) { (s) } } } }
                        div { label for={ "value-" (c.case_id) } { "Value won (£, for a win)" }
                            input id={ "value-" (c.case_id) } name="value_gbp" inputmode="decimal"; }
                        div { label for={ "notes-" (c.case_id) } { "Notes" } input id={ "notes-" (c.case_id) } name="notes"; }
                        div { button type="submit" { "Record step" } }
                    }
                }
            }
        }
        form method="post" action="/cases" class="card filters" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="ocid" value=(ocid);
            input type="hidden" name="idempotency_key" value=(super::random_token());
            div { label for="case-member" { "Open a case for" }
                select id="case-member" name="member" { @for (id, name) in candidates { option value=(id) { (name) " (" (id) ")" } } } }
            div { label for="case-notes" { "Notes" } input id="case-notes" name="notes"; }
            div { button type="submit" { "Open case" } }
        }
    }
}

#[derive(Deserialize)]
pub struct OpenCaseForm {
    csrf: String,
    ocid: String,
    member: String,
    idempotency_key: String,
    #[serde(default)]
    notes: Option<String>,
}

fn actor(viewer: &Viewer) -> String {
    format!("web:{}", viewer.session.actor)
}

pub async fn open_case(
    State(state): State<super::State>,
    viewer: Viewer,
    Form(f): Form<OpenCaseForm>,
) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let app = state.app.clone();
    let ocid = f.ocid.clone();
    let actor = actor(&viewer);
    let input = CaseInput {
        ocid: f.ocid,
        members: vec![f.member],
        lead: None,
        notes: f.notes.filter(|n| !n.trim().is_empty()),
        date: None,
    };
    let key = format!("web-{}", f.idempotency_key);
    let done = crate::blocking::try_run(move || {
        services::cases::open_case(&app, actor, input, key).map(|_| ())
    })
    .await;
    written(done, &ocid)
}

/// A page's ledger write answered: back to the notice's cases, the
/// server's own failure as the internal-error page, a refusal as its page.
fn written(done: Result<(), ApiError>, ocid: &str) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/notices/{}#cases", urlencode(ocid))).into_response(),
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) => super::refusal_page(&e),
    }
}

#[derive(Deserialize)]
pub struct StepForm {
    csrf: String,
    ocid: String,
    step: String,
    idempotency_key: String,
    #[serde(default)]
    value_gbp: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

/// `£12,500.50` or `12500` → pence, exactly.
fn pounds(s: &str) -> Option<i64> {
    match sebroker_connectors::money::parse_amount(s)? {
        sebroker_connectors::money::Amount::Pence(p) if p > 0 => Some(p),
        _ => None,
    }
}

pub async fn record_step(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(case_id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let value = match (
        f.step.as_str(),
        f.value_gbp
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty()),
    ) {
        ("won", Some(v)) => match pounds(v) {
            Some(p) => Some(p),
            None => {
                return refused(
                    "The value won must be an amount in pounds, like 12500 or 12,500.50.",
                )
            }
        },
        ("won", None) => return refused("A win needs the contract value."),
        _ => None,
    };
    let app = state.app.clone();
    let ocid = f.ocid.clone();
    let actor = actor(&viewer);
    let input = CaseEventInput {
        kind: f.step,
        date: None,
        notes: f.notes.filter(|n| !n.trim().is_empty()),
        value_pence: value,
        shares: None,
        voids_seq: None,
    };
    let key = format!("web-{}", f.idempotency_key);
    let done = crate::blocking::try_run(move || {
        services::cases::record_step(&app, actor, &case_id, input, key).map(|_| ())
    })
    .await;
    written(done, &ocid)
}

pub async fn pipeline(State(state): State<super::State>, viewer: Viewer) -> Response {
    let app = state.app.clone();
    let cases = match crate::blocking::run(move || sebroker_engine::views::cases(&app)).await {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    let body = html! {
        h1 { "Pipeline" }
        div class="board" {
            @for stage in STAGES {
                section class="column" aria-label=(stage) {
                    h2 { (stage) " (" (cases.iter().filter(|c| c.status.as_str() == stage).count()) ")" }
                    @for c in cases.iter().filter(|c| c.status.as_str() == stage) {
                        div class="card" { a href={ "/notices/" (urlencode(&c.ocid)) "#cases" } { (c.title) } br; span class="muted" { (c.members.join(" + ")) } }
                    }
                }
            }
        }
    };
    page(&viewer, "Pipeline", body).into_response()
}

/// A server-rendered bar chart of brokered value by month (cumulative line).
fn chart(rows: &[(String, i64)]) -> Markup {
    let (w, h, pad) = (640.0f64, 220.0f64, 40.0f64);
    let mut cum = Vec::new();
    let mut total = 0i64;
    for (_, v) in rows {
        total = total.saturating_add(*v);
        cum.push(total);
    }
    let max = cum.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = rows.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    html! {
        svg viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="Brokered value over time, cumulative by month" {
            title { "Brokered value over time" }
            line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) stroke="#0b0c0c" {}
            @for (i, ((month, _), c)) in rows.iter().zip(&cum).enumerate() {
                @let bh = (*c as f64 / max) * (h - 2.0 * pad);
                @let x = pad + i as f64 * bw;
                rect x=(format!("{:.1}", x + bw * 0.1)) y=(format!("{:.1}", h - pad - bh)) width=(format!("{:.1}", bw * 0.8)) height=(format!("{:.1}", bh)) fill="#1d70b8" {
                    title { (month) ": " (format_pence(*c)) }
                }
                text x=(format!("{:.1}", x + bw / 2.0)) y=(h - pad + 16.0) font-size="11" text-anchor="middle" { (month) }
            }
            text x=(pad) y=(pad - 10.0) font-size="12" { (format_pence(total)) " brokered" }
        }
    }
}

fn bar(percent: f64) -> Markup {
    let p = percent.clamp(0.0, 100.0);
    html! { div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{p:.1}")) { span style={ "width:" (format!("{p:.1}")) "%" } {} } }
}

pub async fn dashboard(State(state): State<super::State>, viewer: Viewer) -> Response {
    let app = state.app.clone();
    let done = crate::blocking::run(move || {
        let today = OffsetDateTime::now_utc().date();
        (
            sebroker_engine::views::totals(&app, By::Cluster),
            sebroker_engine::views::totals(&app, By::Cluster),
            sebroker_engine::views::totals(&app, By::Month),
            sebroker_engine::views::kpis(&app, today),
        )
    })
    .await;
    let (overall, by_cluster, by_month, kpis) = match done {
        Ok(x) => x,
        Err(e) => return internal(&e),
    };
    let months: Vec<(String, i64)> = by_month
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.value_pence))
        .collect();
    let body = html! {
        h1 { "Brokered value" }
        div class="card" {
            p { strong id="total" { (format_pence(overall.total_pence)) } " of " (format_pence(overall.target_pence)) " target (" (format!("{:.1}", overall.progress_percent)) "%) · " (overall.wins) " wins" }
            (bar(overall.progress_percent))
        }
        h2 { "By cluster" }
        table {
            tr { th { "Cluster" } th { "Brokered" } th { "Target" } th { "Progress" } }
            @for r in &by_cluster.rows {
                tr { td { (r.key) } td { (format_pence(r.value_pence)) } td { (r.target_pence.map(format_pence).unwrap_or_default()) }
                     td style="min-width:8rem" { @if let Some(p) = r.progress_percent { (bar(p)) (format!("{p:.1}%")) } } }
            }
        }
        h2 { "Over time" }
        (chart(&months))
        h2 { "KPIs against targets" }
        table {
            tr { th { "Cluster" } th { "Members" } th { "SEGA referrals" } th { "SEDF referrals" } th { "Brokered" } }
            @for c in &kpis.clusters {
                tr { td { (c.cluster) } td { (c.members) " / " (c.members_target) } td { (c.sega_referrals) " / " (c.sega_target) }
                     td { (c.sedf_referrals) " / " (c.sedf_target) } td { (format_pence(c.brokered_pence)) } }
            }
        }
        p { "Downloads: " a href="/dashboard/totals.csv?by=cluster" { "totals by cluster (CSV)" } " · " a href="/dashboard/totals.csv?by=month" { "by month (CSV)" } }
        (PreEscaped(""))
    };
    page(&viewer, "Dashboard", body).into_response()
}

#[derive(Deserialize)]
pub struct ByParam {
    by: Option<String>,
}

pub async fn totals_csv(
    State(state): State<super::State>,
    principal: crate::principal::Principal,
    Query(q): Query<ByParam>,
) -> Response {
    let by = match By::parse(q.by.as_deref().unwrap_or("cluster")) {
        Ok(b) => b,
        Err(e) => return refused(&e.to_string()),
    };
    if by == By::Member {
        // The same refinement the API asks: funders see aggregates only.
        if let Err(e) = principal.allows(crate::policy::Action::TotalsByMember) {
            return super::refusal_page(&e);
        }
    }
    let app = state.app.clone();
    let t = match crate::blocking::run(move || sebroker_engine::views::totals(&app, by)).await {
        Ok(t) => t,
        Err(e) => return internal(&e),
    };
    crate::csv::response(crate::csv::totals(&t), Some("totals.csv"))
}
