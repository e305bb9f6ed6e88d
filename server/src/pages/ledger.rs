//! The ledger in the pages: cases on a notice page (open, introduce, each
//! step, a win with its value) and the pipeline board. The funder
//! dashboard and its CSV downloads are in [`super::dashboard`].

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use sebroker_connectors::money::format_pence;

use super::auth::{urlencode, Viewer};
use super::internal;
use super::layout::{message, page};
use crate::error::{ApiError, Code};
use crate::services;
use sebroker_ledger::input::{CaseEventInput, CaseInput};
use sebroker_ledger::state::Case;

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
