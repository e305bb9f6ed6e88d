//! Cases in the pages: opening one (for a member found by name, a matched
//! member or a consortium; a second case for the same members is refused
//! with a link to the first), the case page with its log in words, the
//! next steps the ledger allows, voids and corrections. A refused form
//! comes back on its page with what was typed.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use time::OffsetDateTime;

use sebroker_connectors::money::format_pence;
use sebroker_ledger::input::{CaseEventInput, CaseInput};
use sebroker_ledger::model::CaseStatus;
use sebroker_ledger::state::{Case, CaseEvent};

use super::auth::{urlencode, Viewer};
use super::browse::{not_found, when};
use super::internal;
use super::layout::page;
use super::notice::OpenEcho;
use crate::error::{ApiError, Code};
use crate::services;

/// A case status in words.
pub fn step_name(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Identified => "identified",
        CaseStatus::Introduced => "introduced",
        CaseStatus::Interested => "interested",
        CaseStatus::BidSubmitted => "bid submitted",
        CaseStatus::Won => "won",
        CaseStatus::Lost => "lost",
        CaseStatus::Withdrawn => "withdrawn",
    }
}

#[derive(Deserialize)]
pub struct OpenCaseForm {
    csrf: String,
    ocid: String,
    idempotency_key: String,
    /// A matched member's id (the select).
    #[serde(default)]
    member: Option<String>,
    /// Any member by name or id (the search box); wins over `member`.
    #[serde(default)]
    member_name: Option<String>,
    /// A consortium's members, comma-separated, and its lead.
    #[serde(default)]
    members: Option<String>,
    #[serde(default)]
    lead: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

fn actor(viewer: &Viewer) -> String {
    format!("web:{}", viewer.session.actor)
}

fn filled(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The member ids the form names, or why it names none.
fn chosen(app: &sebroker_engine::Engine, f: &OpenCaseForm) -> Result<Vec<String>, String> {
    if let Some(list) = filled(&f.members) {
        return Ok(list
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect());
    }
    if let Some(name) = filled(&f.member_name) {
        let set = app.member_set();
        let lower = name.to_lowercase();
        let found: Vec<&String> = set
            .members
            .values()
            .filter(|m| m.id == name || m.name.to_lowercase() == lower)
            .map(|m| &m.id)
            .collect();
        return match found.as_slice() {
            [one] => Ok(vec![(*one).clone()]),
            [] => Err(format!(
                "No member is called {name:?}. Pick a name from the list as you type."
            )),
            _ => Err(format!(
                "Several members are called {name:?}; type the member id instead."
            )),
        };
    }
    match filled(&f.member) {
        Some(m) => Ok(vec![m.to_owned()]),
        None => Err("Choose a matched member or type a member's name.".into()),
    }
}

pub async fn open_case(
    State(state): State<super::State>,
    viewer: Viewer,
    Form(f): Form<OpenCaseForm>,
) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let echo = |message: String, existing: Option<String>| OpenEcho {
        message,
        notes: f.notes.clone().unwrap_or_default(),
        member_name: f.member_name.clone().unwrap_or_default(),
        existing,
    };
    let members = match chosen(&state.app, &f) {
        Ok(m) => m,
        Err(m) => {
            let e = echo(m, None);
            return super::notice::render(
                &state,
                &viewer,
                f.ocid.clone(),
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let app = state.app.clone();
    let input = CaseInput {
        ocid: f.ocid.clone(),
        members: members.clone(),
        lead: filled(&f.lead).map(str::to_owned),
        notes: filled(&f.notes).map(str::to_owned),
        date: None,
    };
    let (who, key) = (actor(&viewer), format!("web-{}", f.idempotency_key));
    let done = crate::blocking::try_run(move || {
        services::cases::open_case(&app, who, input, key).map(|(_, c)| c.case_id)
    })
    .await;
    match done {
        Ok(id) => Redirect::to(&format!("/cases/{}", urlencode(&id))).into_response(),
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) => {
            let existing = (e.code == Code::CaseExists)
                .then(|| state.app.ledger.state().case_for(&f.ocid, &members))
                .flatten();
            let status = e.status();
            let message = if existing.is_some() {
                "These members already have a case on this notice: record the next step there."
                    .to_owned()
            } else {
                e.message.clone()
            };
            super::notice::render(
                &state,
                &viewer,
                f.ocid.clone(),
                Some(echo(message, existing)),
                status,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct StepForm {
    csrf: String,
    step: String,
    idempotency_key: String,
    #[serde(default)]
    value_gbp: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    /// For `void` and `correct`: the event that no longer counts.
    #[serde(default)]
    voids_seq: Option<u64>,
}

/// What a refused step form sent, shown again on the case page.
#[derive(Debug, Clone, Default)]
pub struct StepEcho {
    message: String,
    step: String,
    value: String,
    notes: String,
}

/// `£12,500.50` or `12500` → pence, exactly.
fn pounds(s: &str) -> Option<i64> {
    match sebroker_connectors::money::parse_amount(s)? {
        sebroker_connectors::money::Amount::Pence(p) if p > 0 => Some(p),
        _ => None,
    }
}

/// The events a step form books: one, or a void and the right win for a
/// correction.
fn step_inputs(f: &StepForm) -> Result<Vec<CaseEventInput>, String> {
    let notes = filled(&f.notes).map(str::to_owned);
    let value = match (f.step.as_str(), filled(&f.value_gbp)) {
        ("won" | "correct", Some(v)) => Some(pounds(v).ok_or_else(|| {
            format!("{v:?} is not an amount in pounds, like 12500 or 12,500.50.")
        })?),
        ("won" | "correct", None) => return Err("A win needs the contract value in pounds.".into()),
        _ => None,
    };
    let event = |kind: &str, value_pence, notes, voids_seq| CaseEventInput {
        kind: kind.to_owned(),
        date: None,
        notes,
        value_pence,
        shares: None,
        voids_seq,
    };
    match f.step.as_str() {
        "void" | "correct" if notes.is_none() => {
            Err("Say why the step no longer counts (notes).".into())
        }
        "void" => Ok(vec![event("void", None, notes, f.voids_seq)]),
        "correct" => Ok(vec![
            event("void", None, notes.clone(), f.voids_seq),
            event("won", value, notes, None),
        ]),
        s => Ok(vec![event(s, value, notes, None)]),
    }
}

/// Equal shares of a consortium's win, the remainder to the lead; `None`
/// for one member (the ledger gives it the whole win).
fn equal_shares(members: &[String], lead: &str) -> Option<Vec<sebroker_ledger::model::Share>> {
    let n = u32::try_from(members.len()).ok().filter(|n| *n > 1)?;
    let each = 10_000 / n;
    let rest = 10_000 - each * n;
    Some(
        members
            .iter()
            .map(|m| sebroker_ledger::model::Share {
                member_id: m.clone(),
                basis_points: each + if m == lead { rest } else { 0 },
            })
            .collect(),
    )
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
    let echo = |message: String| StepEcho {
        message,
        step: f.step.clone(),
        value: f.value_gbp.clone().unwrap_or_default(),
        notes: f.notes.clone().unwrap_or_default(),
    };
    let inputs = match step_inputs(&f) {
        Ok(i) => i,
        Err(m) => {
            return render(
                &state,
                &viewer,
                case_id,
                Some(echo(m)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let app = state.app.clone();
    let (who, key) = (actor(&viewer), format!("web-{}", f.idempotency_key));
    let id = case_id.clone();
    let correcting = f.step == "correct";
    let done = crate::blocking::try_run(move || {
        // A corrected win keeps the shares of the win it replaces; a
        // consortium's first win from the page is shared equally.
        let case = services::cases::case(&app, &id)?;
        let shares = match (correcting, case.win) {
            (true, Some(w)) => Some(w.shares),
            _ => equal_shares(&case.members, &case.lead),
        };
        // A correction's two events have keys of their own, so a retry
        // replays both.
        for (i, mut input) in inputs.into_iter().enumerate() {
            if input.kind == "won" {
                input.shares = shares.clone();
            }
            services::cases::record_step(&app, who.clone(), &id, input, format!("{key}-{i}"))?;
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => Redirect::to(&format!("/cases/{}", urlencode(&case_id))).into_response(),
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) if e.code == Code::CaseNotFound => not_found(),
        Err(e) => {
            let status = e.status();
            render(&state, &viewer, case_id, Some(echo(e.message)), status).await
        }
    }
}

pub async fn case_page(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(case_id): Path<String>,
) -> Response {
    render(&state, &viewer, case_id, None, StatusCode::OK).await
}

/// What the case page shows beside the case: names and record times.
struct Loaded {
    case: Case,
    /// Member id → name.
    names: HashMap<String, String>,
    /// Event seq → (recorded at, who in words).
    recorded: HashMap<u64, (OffsetDateTime, String)>,
}

fn load(app: &sebroker_engine::Engine, id: &str) -> Result<Loaded, ApiError> {
    let case = services::cases::case(app, id)?;
    let set = app.member_set();
    let names = case
        .members
        .iter()
        .map(|m| {
            (
                m.clone(),
                set.members
                    .get(m)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| m.clone()),
            )
        })
        .collect();
    // Who recorded each step: read the records first, then name the people
    // (naming reads the ledger's state again, so not while holding it).
    let stamps: Vec<(u64, OffsetDateTime, String)> = {
        let state = app.ledger.state();
        case.events
            .iter()
            .filter_map(|e| {
                state
                    .record(e.seq)
                    .map(|r| (e.seq, r.recorded_at, e.actor.clone()))
            })
            .collect()
    };
    let recorded = stamps
        .into_iter()
        .map(|(seq, at, actor)| (seq, (at, who(app, &actor))))
        .collect();
    Ok(Loaded {
        case,
        names,
        recorded,
    })
}

/// An actor as people know it: the person's account name, the key's name,
/// or as recorded.
fn who(app: &sebroker_engine::Engine, actor: &str) -> String {
    sebroker_engine::people::person_name(app, actor).unwrap_or_else(|| actor.to_owned())
}

async fn render(
    state: &super::State,
    viewer: &Viewer,
    id: String,
    echo: Option<StepEcho>,
    status: StatusCode,
) -> Response {
    let app = state.app.clone();
    let l = match crate::blocking::try_run(move || load(&app, &id)).await {
        Ok(l) => l,
        Err(e) if e.code == Code::CaseNotFound => return not_found(),
        Err(e) => return internal(&e),
    };
    let c = &l.case;
    let name = |m: &str| l.names.get(m).cloned().unwrap_or_else(|| m.to_owned());
    let body = html! {
        h1 { "Case " (c.case_id) ": " (c.title) }
        dl class="card" {
            dt { "Notice" } dd { a href={ "/notices/" (urlencode(&c.ocid)) } { (c.title) } }
            dt { "For" } dd { @for (i, m) in c.members.iter().enumerate() { @if i > 0 { " + " } a href={ "/members/" (urlencode(m)) } { (name(m)) } } @if c.members.len() > 1 { " (lead: " (name(&c.lead)) ")" } }
            dt { "Stage" } dd { span class="badge" id="case-status" { (step_name(c.status)) } }
            @if let Some(w) = &c.win { dt { "Won" } dd { (format_pence(w.value_pence)) @if w.counted { " (counted as brokered)" } @else { " (not counted: no introduction was recorded)" } } }
        }
        h2 { "Log" }
        ol class="log" { @for e in &c.events { li { (log_line(&l, e)) } } }
        (step_form(viewer, c, echo.as_ref()))
        (void_forms(viewer, c))
    };
    (status, page(viewer, &format!("Case {}", c.case_id), body)).into_response()
}

/// One event in words: when, what, by whom, why.
fn log_line(l: &Loaded, e: &CaseEvent) -> Markup {
    let what = match (e.kind, e.status, e.value_pence, e.voids_seq) {
        ("case_opened", _, _, _) => "case opened".to_owned(),
        ("won", _, Some(v), _) => format!("won, {}", format_pence(v)),
        ("voided", _, _, Some(s)) => format!("step {s} voided"),
        (_, Some(s), _, _) => step_name(s).to_owned(),
        (k, _, _, _) => k.replace('_', " "),
    };
    let (at, by) = l
        .recorded
        .get(&e.seq)
        .cloned()
        .unwrap_or((OffsetDateTime::UNIX_EPOCH, e.actor.clone()));
    html! {
        span class=[e.voided_by.map(|_| "voided")] {
            "Step " (e.seq) " · " (when(at)) " · " strong { (what) } " · by " (by)
            @if let Some(n) = &e.notes { " — " (n) }
        }
        @if let Some(v) = e.voided_by { " " span class="badge" { "voided by step " (v) } }
    }
}

fn step_form(viewer: &Viewer, c: &Case, echo: Option<&StepEcho>) -> Markup {
    let next = c.status.next_steps();
    let typed = |f: fn(&StepEcho) -> &str| echo.map(f).unwrap_or("");
    html! {
        h2 { "Next step" }
        @if let Some(e) = echo { p class="error" role="alert" id="step-error" { (e.message) } }
        @if next.is_empty() {
            p { "This case is " (step_name(c.status)) ". To change that, void its last step below." }
        } @else {
            form method="post" action={ "/cases/" (urlencode(&c.case_id)) "/events" } class="card filters" {
                input type="hidden" name="csrf" value=(viewer.session.csrf);
                input type="hidden" name="idempotency_key" value=(super::random_token());
                div { label for="step" { "Step" }
                    select id="step" name="step" { @for s in &next { option value=(s.as_str()) selected[typed(|e| &e.step) == s.as_str()] { (step_name(*s)) } } } }
                div { label for="value" { "Value won (£, for a win; a consortium's is shared equally)" } input id="value" name="value_gbp" inputmode="decimal" value=(typed(|e| &e.value)); }
                div { label for="notes" { "Notes" } input id="notes" name="notes" value=(typed(|e| &e.notes)); }
                div { button type="submit" { "Record step" } }
            }
        }
    }
}

/// Void (or, for a win, correct) the latest standing step: the only one
/// the ledger lets go, so the history stays a valid path.
fn void_forms(viewer: &Viewer, c: &Case) -> Markup {
    let latest = c
        .events
        .iter()
        .skip(1)
        .rev()
        .find(|e| e.voided_by.is_none() && e.voids_seq.is_none() && e.kind != "voided");
    let Some(e) = latest else { return html! {} };
    let action = format!("/cases/{}/events", urlencode(&c.case_id));
    html! {
        h2 { "Undo the last step" }
        form method="post" action=(action) class="card filters" {
            input type="hidden" name="csrf" value=(viewer.session.csrf);
            input type="hidden" name="idempotency_key" value=(super::random_token());
            input type="hidden" name="step" value="void";
            input type="hidden" name="voids_seq" value=(e.seq);
            div { label for="void-notes" { "Why step " (e.seq) " no longer counts" } input id="void-notes" name="notes" required; }
            div { button type="submit" { "Void step " (e.seq) } }
        }
        @if e.kind == "won" {
            form method="post" action=(action) class="card filters" {
                input type="hidden" name="csrf" value=(viewer.session.csrf);
                input type="hidden" name="idempotency_key" value=(super::random_token());
                input type="hidden" name="step" value="correct";
                input type="hidden" name="voids_seq" value=(e.seq);
                div { label for="correct-value" { "The right value won (£)" } input id="correct-value" name="value_gbp" inputmode="decimal" required; }
                div { label for="correct-notes" { "Why" } input id="correct-notes" name="notes" required; }
                div { button type="submit" { "Correct the win" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::equal_shares;

    #[test]
    fn equal_shares_add_up_with_the_remainder_to_the_lead() {
        let m: Vec<String> = ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect();
        let s = equal_shares(&m, "b").expect("shares");
        assert_eq!(s.iter().map(|x| x.basis_points).sum::<u32>(), 10_000);
        assert_eq!(s[1].basis_points, 3_334);
        assert!(equal_shares(&m[..1], "a").is_none());
    }
}
