//! The members list (search, cluster filter, sorting) and a member's page
//! (its opportunities linked to notices, its cases, "open a case").

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use time::OffsetDateTime;

use sebroker_connectors::money::format_pence;

use super::auth::{urlencode, Viewer};
use super::browse::{not_found, percent, status_badge};
use super::cases::step_name;
use super::internal;
use super::layout::page;
use crate::blocking::run as blocking;
use crate::policy::{allows, Action};

pub async fn members(
    State(state): State<super::State>,
    viewer: Viewer,
    Query(f): Query<BTreeMap<String, String>>,
) -> Response {
    let app = state.app.clone();
    let mut list = match blocking(move || app.store.members()).await {
        Ok(Ok(list)) => list,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let get = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let (q, cluster, sort) = (get("q"), get("cluster"), get("sort"));
    let mut clusters: Vec<String> = list.iter().map(|m| m.cluster.clone()).collect();
    clusters.sort();
    clusters.dedup();
    let words = q.to_lowercase();
    list.retain(|m| {
        (cluster.is_empty() || m.cluster == cluster)
            && (words.is_empty()
                || m.name.to_lowercase().contains(&words)
                || m.description.to_lowercase().contains(&words)
                || m.id == q)
    });
    match sort.as_str() {
        "cluster" => list.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name))),
        "turnover" => list.sort_by_key(|m| std::cmp::Reverse(m.turnover_pence)),
        _ => list.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    let body = html! {
        h1 { "Members" }
        form method="get" action="/members" class="card filters" role="search" aria-label="Find members" {
            div { label for="mq" { "Name or words" } input id="mq" name="q" type="search" value=(q); }
            div { label for="mcluster" { "Cluster" } select id="mcluster" name="cluster" { option value="" { "every cluster" } @for c in &clusters { option value=(c) selected[*c == cluster] { (c) } } } }
            div { label for="msort" { "Sort by" } select id="msort" name="sort" {
                @for (v, t) in [("name", "name"), ("cluster", "cluster"), ("turnover", "turnover, largest first")] { option value=(v) selected[sort == v] { (t) } } } }
            div { button type="submit" { "Show" } }
        }
        p role="status" { (list.len()) " members" }
        div class="table-wrap" {
            table {
                caption { "Members of the brokerage" }
                tr { th scope="col" { "Member" } th scope="col" { "Cluster" } th scope="col" { "Legal form" } th scope="col" { "Turnover" } }
                @for m in &list {
                    tr { td { a href={ "/members/" (urlencode(&m.id)) } { (m.name) } } td { (m.cluster) } td { (m.legal_form.clone().unwrap_or_default()) }
                         td { (m.turnover_pence.map(format_pence).unwrap_or_default()) } }
                }
            }
        }
    };
    page(&viewer, "Members", body).into_response()
}

pub async fn member(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    // A member sees only its own page (the policy); another's is "not found".
    let app = state.app.clone();
    let id2 = id.clone();
    let loaded = blocking(move || -> sebroker_engine::Result<_> {
        let set = app.member_set();
        let Some(m) = set.members.get(&id2).cloned() else {
            return Ok(None);
        };
        let now = OffsetDateTime::now_utc();
        let matches = sebroker_alerts::selection::member_matches(app.as_ref(), &id2, &[], now, 20)?;
        let cases: Vec<_> = sebroker_engine::views::cases(&app)
            .into_iter()
            .filter(|c| c.members.contains(&id2))
            .collect();
        Ok(Some((m, matches, cases)))
    })
    .await;
    let (m, matches, cases) = match loaded {
        Ok(Ok(Some(x))) => x,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let role = viewer.session.role;
    let body = html! {
        h1 { (m.name) }
        p { span class="badge" { (m.cluster) } @if let Some(l) = &m.legal_form { span class="badge" { (l) } } }
        p { (m.description) }
        dl class="card" {
            dt { "Services (CPV)" } dd { (m.cpv.join(", ")) }
            dt { "Service areas" } dd { (m.service_areas.join(", ")) }
            dt { "Turnover" } dd { (m.turnover_pence.map(format_pence).unwrap_or_default()) }
        }
        h2 { "Open opportunities" }
        @if matches.is_empty() { p { "No open opportunity fits this member right now." } }
        @for x in &matches {
            div class="card" {
                p { strong { (percent(x.matched.score)) } " "
                    @if allows(Action::PageNotice, role) { a href={ "/notices/" (urlencode(&x.ocid)) } { (x.title) } } @else { (x.title) }
                    " " (status_badge(x.status)) }
                ul { @for r in &x.matched.reasons { li { (r) } } }
                @if allows(Action::PageCaseOpen, role) { (open_form(&viewer, &x.ocid, &m.id, &cases)) }
            }
        }
        @if allows(Action::PageCase, role) || !cases.is_empty() {
            h2 { "Cases" }
            @if cases.is_empty() { p { "No case yet." } }
            ul { @for c in &cases { li {
                @if allows(Action::PageCase, role) { a href={ "/cases/" (urlencode(&c.case_id)) } { "Case " (c.case_id) } } @else { "Case " (c.case_id) }
                " · " (c.title) " · " span class="badge" { (step_name(c.status)) } } } }
        }
        h2 { "Track record" }
        ul { @for t in &m.track_record { li { (t.title) " — " (t.buyer.clone().unwrap_or_default()) @if let Some(y) = t.year { " (" (y) ")" } } } }
    };
    page(&viewer, &m.name, body).into_response()
}

/// "Open a case" for this member on one opportunity, or the link to the
/// case it already has there.
fn open_form(
    viewer: &Viewer,
    ocid: &str,
    member: &str,
    cases: &[sebroker_ledger::state::Case],
) -> Markup {
    let existing = cases.iter().find(|c| {
        c.members == [member.to_owned()] && (c.ocid == ocid || c.group.iter().any(|g| g == ocid))
    });
    html! {
        @if let Some(c) = existing {
            p { a href={ "/cases/" (urlencode(&c.case_id)) } { "Its case " (c.case_id) " (" (step_name(c.status)) ")" } }
        } @else {
            form method="post" action="/cases" {
                input type="hidden" name="csrf" value=(viewer.session.csrf);
                input type="hidden" name="ocid" value=(ocid);
                input type="hidden" name="member" value=(member);
                input type="hidden" name="idempotency_key" value=(super::random_token());
                button type="submit" { "Open a case" }
            }
        }
    }
}
