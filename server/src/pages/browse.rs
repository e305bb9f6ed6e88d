//! The pages: home, search, notice, members, member.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use time::OffsetDateTime;

use sebroker_connectors::money::format_pence;
use sebroker_index::{Notice, Status, Value};

use super::auth::{urlencode, Viewer};
use super::internal;
use super::layout::{message, page};
use super::Role;
use sebroker_engine::search::{self, SearchParams};
use sebroker_matching::{Components, Match};

use crate::blocking::run as blocking;

fn not_found() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        message("Not found", "There is no such page."),
    )
        .into_response()
}

pub async fn home(viewer: Viewer) -> Response {
    let to = match (viewer.session.role, &viewer.session.member_id) {
        (Role::Member, Some(_)) => "/opportunities".to_owned(),
        (Role::Funder, _) => "/dashboard".to_owned(),
        _ => "/search".to_owned(),
    };
    Redirect::to(&to).into_response()
}

fn money(v: &Value) -> String {
    match v.headline_pence() {
        Some(p) if v.currency.as_deref().is_none_or(|c| c == "GBP") => format_pence(p),
        Some(p) => format!(
            "{} {}",
            format_pence(p).trim_start_matches('£'),
            v.currency.as_deref().unwrap_or("")
        ),
        None if v.unbounded => "unbounded".into(),
        None => "not published".into(),
    }
}

fn deadline(d: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    match d {
        Some(d) => {
            let days = (d - now).whole_days();
            html! {
                time datetime=(d.to_string()) { (d.date()) " " (format!("{:02}:{:02}", d.hour(), d.minute())) }
                @if days >= 0 { " (" (days) " days left)" } @else { " (closed)" }
            }
        }
        None => html! { "none published" },
    }
}

fn status_badge(s: Status) -> Markup {
    html! { span class="badge" { (s.as_str()) } }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchForm {
    q: Option<String>,
    status: Option<String>,
    region: Option<String>,
    cpv: Option<String>,
    vcse: Option<String>,
    sort: Option<String>,
    offset: Option<usize>,
}

pub async fn search(
    State(state): State<super::State>,
    viewer: Viewer,
    Query(f): Query<SearchForm>,
) -> Response {
    let empty = |s: &Option<String>| s.clone().filter(|x| !x.trim().is_empty());
    let params = SearchParams {
        q: empty(&f.q),
        status: empty(&f.status),
        region: empty(&f.region),
        cpv: empty(&f.cpv),
        vcse: Some(f.vcse.is_some()),
        sort: empty(&f.sort),
        offset: f.offset,
        limit: Some(20),
        ..SearchParams::default()
    };
    let app = state.app.clone();
    let p2 = params.clone();
    let result = match blocking(move || search::search(&app, &p2)).await {
        Ok(r) => r,
        Err(e) => return internal(&e),
    };
    let body = html! {
        h1 { "Search opportunities" }
        form method="get" action="/search" class="card" role="search" {
            div class="filters" {
                div { label for="q" { "Words" } input id="q" name="q" type="search" value=(f.q.clone().unwrap_or_default()); }
                div { label for="status" { "Status" }
                    select id="status" name="status" {
                        option value="" { "any" }
                        @for s in ["open", "pipeline", "planned", "closed", "awarded", "cancelled"] {
                            option value=(s) selected[f.status.as_deref() == Some(s)] { (s) }
                        }
                    }
                }
                div { label for="region" { "Region (NUTS, place or postcode)" } input id="region" name="region" value=(f.region.clone().unwrap_or_default()); }
                div { label for="cpv" { "CPV prefix" } input id="cpv" name="cpv" inputmode="numeric" value=(f.cpv.clone().unwrap_or_default()); }
                div { label for="sort" { "Sort" }
                    select id="sort" name="sort" {
                        @for s in ["relevance", "deadline", "value", "published"] {
                            option value=(s) selected[f.sort.as_deref() == Some(s)] { (s) }
                        }
                    }
                }
                div { label { input type="checkbox" name="vcse" value="1" checked[f.vcse.is_some()]; " VCSE-suitable only" } }
                div { button type="submit" { "Search" } }
            }
        }
        @match &result {
            Err(e) => { p role="alert" { (e.to_string()) } }
            Ok(page) => {
                p { (page.total) " notices" }
                @if let Some(fc) = &page.facets {
                    div class="facets" aria-label="Facets" {
                        div { strong { "Status: " } @for (k, v) in &fc.status { span class="badge" { (k) " " (v) } } }
                        div { strong { "Source: " } @for (k, v) in &fc.source { span class="badge" { (k) " " (v) } } }
                        div { strong { "Region: " } @for (k, v) in &fc.region { span class="badge" { (k) " " (v) } } }
                    }
                }
                @for h in &page.hits {
                    article class="card" {
                        h2 { a href={ "/notices/" (urlencode(&h.notice.ocid)) } {
                            @if let Some(t) = &h.title_snippet { (PreEscaped(t)) } @else { (h.notice.title) }
                        } }
                        p { (status_badge(h.notice.status)) span class="badge" { (h.notice.source) }
                            @if let Some(t) = &h.notice.notice_type { span class="badge" { (t) } }
                            (h.notice.buyer.clone().unwrap_or_default()) " · " (money(&h.notice.value)) " · deadline " (deadline(h.notice.deadline, page.now)) }
                        @if let Some(d) = &h.description_snippet { p class="muted" { (PreEscaped(d)) } }
                    }
                }
                @if page.offset + page.hits.len() < page.total as usize
                    && page.offset + 2 * page.limit <= sebroker_index::query::MAX_WINDOW {
                    p { a href=(next_page(&f, page.offset + page.limit)) { "Next page" } }
                }
            }
        }
    };
    (search_status(&result), page(&viewer, "Search", body)).into_response()
}

/// 400 for a search the viewer can fix, 500 (logged) for the server's own
/// failure, so errors are never a silently empty page.
fn search_status<T>(result: &sebroker_engine::Result<T>) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    use sebroker_index::IndexError;
    match result {
        Ok(_) => StatusCode::OK,
        Err(sebroker_engine::Error::Invalid(_))
        | Err(sebroker_engine::Error::Index(
            IndexError::Filter { .. } | IndexError::Query { .. } | IndexError::Window { .. },
        )) => StatusCode::BAD_REQUEST,
        Err(e) => {
            tracing::error!(error = %e, "search page failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn next_page(f: &SearchForm, offset: usize) -> String {
    let mut q = vec![format!("offset={offset}")];
    for (k, v) in [
        ("q", &f.q),
        ("status", &f.status),
        ("region", &f.region),
        ("cpv", &f.cpv),
        ("sort", &f.sort),
        ("vcse", &f.vcse),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            q.push(format!("{k}={}", urlencode(v)));
        }
    }
    format!("/search?{}", q.join("&"))
}

fn bars(c: &Components) -> Markup {
    let parts = [
        ("text", c.text),
        ("cpv", c.cpv),
        ("geography", c.geography),
        ("capacity", c.capacity),
        ("timing", c.timing),
        ("suitability", c.suitability),
        ("relationship", c.relationship),
    ];
    html! {
        table aria-label="Score components" {
            @for (name, v) in parts {
                tr { th scope="row" { (name) } td style="width:60%" {
                    div class="bar" role="img" aria-label={ (name) " " (format!("{:.0}", v * 100.0)) "%" } { span style={ "width:" (format!("{:.0}", v * 100.0)) "%" } {} }
                } td { (format!("{:.2}", v)) } }
            }
        }
    }
}

fn match_card(m: &Match, name: &str, open: bool) -> Markup {
    html! {
        details class="card" open[open] {
            summary { strong { (format!("{:.3}", m.score)) } " " a href={ "/members/" (urlencode(&m.member_id)) } { (name) } " (" (m.member_id) ")" }
            (bars(&m.components))
            ul { @for r in &m.reasons { li { (r) } } }
        }
    }
}

/// What the notice page shows: the notice, its matches, consortia, and
/// member names by id.
type NoticePage = (
    Notice,
    Vec<Match>,
    sebroker_matching::consortia::Proposals,
    Vec<(String, String)>,
    Vec<sebroker_ledger::state::Case>,
);

pub async fn notice(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(ocid): Path<String>,
) -> Response {
    let app = state.app.clone();
    let loaded = blocking(move || -> sebroker_engine::Result<Option<NoticePage>> {
        let Some((n, matches)) = app.matches.notice_matches(&ocid, 10)? else {
            return Ok(None);
        };
        let Some((_, proposals)) = app.matches.consortia(&ocid, 4, 3)? else {
            return Ok(None);
        };
        let set = app.member_set();
        let names = set
            .members
            .values()
            .map(|m| (m.id.clone(), m.name.clone()))
            .collect();
        let cases = sebroker_engine::views::cases(&app)
            .into_iter()
            .filter(|c| c.ocid == n.ocid || c.group.contains(&n.ocid))
            .collect();
        Ok(Some((n, matches, proposals, names, cases)))
    })
    .await;
    let (n, matches, proposals, names, cases) = match loaded {
        Ok(Ok(Some(x))) => x,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let name_of = |id: &str| {
        names
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let now = OffsetDateTime::now_utc();
    let body = html! {
        h1 { (n.title) }
        p { (status_badge(n.status(now))) span class="badge" { (n.source) } @if let Some(t) = &n.notice_type { span class="badge" { (t) } }
            @if let Some(u) = &n.source_url { a href=(u) rel="noopener" { "Published notice" } } }
        dl class="card" {
            dt { "Buyer" } dd { (n.buyer.name.clone().unwrap_or_default()) }
            dt { "Value" } dd { (money(&n.value)) }
            dt { "Deadline" } dd { (deadline(n.deadline, now)) }
            dt { "Places" } dd { (n.places.join(", ")) " → " (n.nuts.join(", ")) }
            dt { "CPV" } dd { @for c in &n.cpv { span class="badge" { (c.code) } (c.description.clone().unwrap_or_default()) " " } }
            dt { "Suitable for" } dd { @if n.suitability.vcse { "VCSEs " } @if n.suitability.sme { "SMEs " } @if n.reserved { strong { "Reserved for SMEs/VCSEs" } } }
            @for c in &n.contacts { dt { "Contact" } dd { (c.name.clone().unwrap_or_default()) " " (c.email.clone().unwrap_or_default()) " " (c.telephone.clone().unwrap_or_default()) } }
        }
        @if !n.lots.is_empty() {
            h2 { "Lots" }
            table { tr { th { "Lot" } th { "Title" } th { "Value" } th { "VCSE" } }
                @for l in &n.lots { tr { td { (l.id) } td { (l.title.clone().unwrap_or_default()) } td { (l.value.as_ref().map(money).unwrap_or_default()) } td { @if l.suitability.vcse { "yes" } } } } }
        }
        h2 { "Description" }
        p style="white-space:pre-line" { (n.description) }
        h2 { "Best-matched members" }
        @if matches.is_empty() { p { "No member matches this notice." } }
        @for (i, m) in matches.iter().enumerate() { (match_card(m, &name_of(&m.member_id), i < 3)) }
        h2 { "Consortium proposals" }
        @if proposals.consortia.is_empty() { p { "No consortium covers this notice better than the best single member." } }
        @for c in &proposals.consortia {
            div class="card" {
                p { strong { (format!("{:.3}", c.score)) } " " @for id in &c.members { a href={ "/members/" (urlencode(id)) } { (name_of(id)) } " · " } " lead: " (name_of(&c.lead)) }
                ul { @for r in &c.reasons { li { (r) } } }
            }
        }
        (super::ledger::cases_section(&viewer, &n.ocid, &cases, &matches.iter().map(|m| (m.member_id.clone(), name_of(&m.member_id))).collect::<Vec<_>>()))
        @if !n.awards.is_empty() {
            h2 { "Awards" }
            ul { @for a in &n.awards { li { (a.suppliers.iter().filter_map(|s| s.name.clone()).collect::<Vec<_>>().join(", ")) " — " (a.value.as_ref().map(money).unwrap_or_default()) } } }
        }
    };
    page(&viewer, &n.title, body).into_response()
}

pub async fn members(State(state): State<super::State>, viewer: Viewer) -> Response {
    let app = state.app.clone();
    let list = match blocking(move || app.store.members()).await {
        Ok(Ok(list)) => list,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let body = html! {
        h1 { "Members" }
        table {
            tr { th { "Member" } th { "Cluster" } th { "Legal form" } th { "Turnover" } }
            @for m in &list {
                tr { td { a href={ "/members/" (urlencode(&m.id)) } { (m.name) } } td { (m.cluster) } td { (m.legal_form.clone().unwrap_or_default()) }
                     td { (m.turnover_pence.map(format_pence).unwrap_or_default()) } }
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
    // A member sees only its own page; another member's is "not found".
    let app = state.app.clone();
    let id2 = id.clone();
    let loaded = blocking(move || -> sebroker_engine::Result<_> {
        let set = app.member_set();
        let Some(m) = set.members.get(&id2).cloned() else {
            return Ok(None);
        };
        let matches = sebroker_alerts::selection::member_matches(
            app.as_ref(),
            &id2,
            &[],
            OffsetDateTime::now_utc(),
            20,
        )?;
        Ok(Some((m, matches)))
    })
    .await;
    let (m, matches) = match loaded {
        Ok(Ok(Some(x))) => x,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
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
                p { strong { (format!("{:.3}", x.matched.score)) } " "
                    @if crate::policy::allows(crate::policy::Action::PageNotice, viewer.session.role) { a href={ "/notices/" (urlencode(&x.ocid)) } { (x.title) } } @else { (x.title) }
                    " " (status_badge(x.status)) }
                ul { @for r in &x.matched.reasons { li { (r) } } }
            }
        }
        h2 { "Track record" }
        ul { @for t in &m.track_record { li { (t.title) " — " (t.buyer.clone().unwrap_or_default()) @if let Some(y) = t.year { " (" (y) ")" } } } }
    };
    page(&viewer, &m.name, body).into_response()
}
