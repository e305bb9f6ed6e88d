//! The notice page for brokers: the notice (places by name, lots once),
//! its best-matched members with scores as percentages in plain words, the
//! consortium proposals, its cases, and the forms that open one (for a
//! proposal, for a matched member, or for any member found by name).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use time::OffsetDateTime;

use sebroker_index::{Notice, Status};
use sebroker_ledger::state::Case;
use sebroker_matching::consortia::Proposals;
use sebroker_matching::{Components, Match};

use super::auth::{urlencode, Viewer};
use super::browse::{
    component, deadline, money, not_found, percent, status_badge, COMPONENT_LABELS,
};
use super::cases::step_name;
use super::internal;
use super::layout::page;
use crate::blocking::run as blocking;

/// What the open-a-case form sent when it was refused: shown again at the
/// form with the reason (and the existing case for `case_exists`).
#[derive(Debug, Clone, Default)]
pub struct OpenEcho {
    pub message: String,
    pub notes: String,
    pub member_name: String,
    pub existing: Option<String>,
}

/// Everything the page shows.
struct Loaded {
    notice: Notice,
    matches: Vec<Match>,
    proposals: Proposals,
    /// Every member: id and name (for names and the name search).
    names: Vec<(String, String)>,
    cases: Vec<Case>,
    /// NUTS code → area name.
    places: Vec<(String, String)>,
    /// Members who asked the brokerage about this notice.
    interests: Vec<crate::services::interests::Shown>,
}

impl Loaded {
    fn name_of(&self, id: &str) -> String {
        self.names
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}

pub async fn notice(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(ocid): Path<String>,
) -> Response {
    render(&state, &viewer, ocid, None, StatusCode::OK).await
}

/// The page, with a refused open-a-case form when `echo` is given.
pub async fn render(
    state: &super::State,
    viewer: &Viewer,
    ocid: String,
    echo: Option<OpenEcho>,
    status: StatusCode,
) -> Response {
    let app = state.app.clone();
    let loaded = blocking(move || load(&app, &ocid)).await;
    let l = match loaded {
        Ok(Ok(Some(x))) => x,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let now = OffsetDateTime::now_utc();
    let n = &l.notice;
    let body = html! {
        h1 { (n.title) }
        (facts(&l, now))
        @if !n.lots.is_empty() { (lots(n)) }
        h2 { "Description" }
        p style="white-space:pre-line" { (n.description) }
        h2 { "Best-matched members" }
        @if l.matches.is_empty() { p { "No member matches this notice." } }
        @for (i, m) in l.matches.iter().enumerate() { (match_card(m, &l.name_of(&m.member_id), i < 3)) }
        h2 { "Consortium proposals" }
        @if l.proposals.consortia.is_empty() { p { "No consortium covers this notice better than the best single member." } }
        @for c in &l.proposals.consortia {
            div class="card" {
                p { strong { (percent(c.score)) } " · "
                    @for (i, id) in c.members.iter().enumerate() { @if i > 0 { " + " } a href={ "/members/" (urlencode(id)) } { (l.name_of(id)) } }
                    " · lead: " (l.name_of(&c.lead)) }
                ul { @for r in &c.reasons { li { (r) } } }
                (consortium_form(viewer, &n.ocid, &c.members, &c.lead))
            }
        }
        (super::member::interests_section(&l.interests))
        (cases_section(viewer, &l, n.status(now), echo.as_ref()))
        @if !n.awards.is_empty() {
            h2 { "Awards" }
            ul { @for a in &n.awards { li { (a.suppliers.iter().filter_map(|s| s.name.clone()).collect::<Vec<_>>().join(", ")) " — " (a.value.as_ref().map(money).unwrap_or_default()) } } }
        }
    };
    (status, page(viewer, &n.title, body)).into_response()
}

fn load(app: &sebroker_engine::Engine, ocid: &str) -> sebroker_engine::Result<Option<Loaded>> {
    let Some((notice, matches, proposals)) = app.matches.notice_view(ocid, 10, 4, 3)? else {
        return Ok(None);
    };
    let set = app.member_set();
    let mut names: Vec<(String, String)> = set
        .members
        .values()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    names.sort_by(|a, b| a.1.cmp(&b.1));
    let cases = sebroker_engine::views::cases(app)
        .into_iter()
        .filter(|c| c.ocid == notice.ocid || c.group.contains(&notice.ocid))
        .collect();
    let places = {
        let p = app.places();
        notice
            .nuts
            .iter()
            .map(|c| (c.clone(), p.name_of(c).unwrap_or(c).to_owned()))
            .collect()
    };
    // The interests are a side panel: a failure to read them is logged and
    // the rest of the page still shown.
    let interests = crate::services::interests::for_notice(app, &notice.ocid).unwrap_or_else(|e| {
        tracing::warn!(ocid = %notice.ocid, error = %e.message, "could not read interests");
        Vec::new()
    });
    Ok(Some(Loaded {
        notice,
        matches,
        proposals,
        names,
        cases,
        places,
        interests,
    }))
}

fn facts(l: &Loaded, now: OffsetDateTime) -> Markup {
    let n = &l.notice;
    html! {
        p { (status_badge(n.status(now))) span class="badge" { (n.source) } @if let Some(t) = &n.notice_type { span class="badge" { (t) } }
            @if let Some(u) = &n.source_url { a href=(u) rel="noopener" { "Published notice" } } }
        dl class="card" {
            dt { "Buyer" } dd { (n.buyer.name.clone().unwrap_or_default()) }
            dt { "Value" } dd { (money(&n.value)) }
            dt { "Deadline" } dd { (deadline(n.deadline, now)) }
            dt { "Places" } dd {
                @if l.places.is_empty() && n.places.is_empty() { "none published" }
                @for (i, (code, name)) in l.places.iter().enumerate() { @if i > 0 { ", " } (name) @if name != code { " " span class="muted" { "(" (code) ")" } } }
                @if l.places.is_empty() { (n.places.join(", ")) }
            }
            dt { "Services (CPV)" } dd { @for c in &n.cpv { span class="badge" { (c.code) } (c.description.clone().unwrap_or_default()) " " } }
            dt { "Suitable for" } dd { @if n.suitability.vcse { "VCSEs " } @if n.suitability.sme { "SMEs " } @if n.reserved { strong { "Reserved for SMEs/VCSEs" } } }
            @for c in &n.contacts { dt { "Contact" } dd { (c.name.clone().unwrap_or_default()) " " (c.email.clone().unwrap_or_default()) " " (c.telephone.clone().unwrap_or_default()) } }
        }
    }
}

/// A lot's name once: "Lot 1: Catering" whether the title already says
/// "Lot 1" or not.
pub(crate) fn lot_name(id: &str, title: Option<&str>) -> String {
    let title = title.map(str::trim).filter(|t| !t.is_empty());
    match title {
        Some(t) if t.to_lowercase().starts_with("lot") => t.to_owned(),
        Some(t) => format!("Lot {id}: {t}"),
        None => format!("Lot {id}"),
    }
}

fn lots(n: &Notice) -> Markup {
    html! {
        h2 { "Lots" }
        table {
            caption class="sr-only" { "The notice's lots" }
            tr { th scope="col" { "Lot" } th scope="col" { "Value" } th scope="col" { "Suited to VCSEs" } }
            @for l in &n.lots { tr { td { (lot_name(&l.id, l.title.as_deref())) } td { (l.value.as_ref().map(money).unwrap_or_default()) } td { @if l.suitability.vcse { "yes" } @else { "no" } } } }
        }
    }
}

fn bars(c: &Components) -> Markup {
    html! {
        table {
            caption class="sr-only" { "How the member fits, by part" }
            @for (key, label) in COMPONENT_LABELS {
                @let v = component(c, key);
                tr { th scope="row" { (label) } td style="width:55%" {
                    div class="bar" role="progressbar" aria-label=(label) aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{:.0}", v * 100.0)) aria-valuetext=(percent(v)) {
                        span style={ "width:" (format!("{:.0}", v * 100.0)) "%" } {} }
                } td { (percent(v)) } }
            }
        }
    }
}

fn match_card(m: &Match, name: &str, open: bool) -> Markup {
    html! {
        details class="card" open[open] {
            // A link inside a summary is a control inside a control.
            summary { strong { (percent(m.score)) } " " (name) }
            p { a href={ "/members/" (urlencode(&m.member_id)) } { (name) "'s page" } }
            (bars(&m.components))
            ul { @for r in &m.reasons { li { (r) } } }
        }
    }
}

fn consortium_form(viewer: &Viewer, ocid: &str, members: &[String], lead: &str) -> Markup {
    html! {
        form method="post" action="/cases" {
            input type="hidden" name="csrf" value=(viewer.session.csrf);
            input type="hidden" name="ocid" value=(ocid);
            input type="hidden" name="idempotency_key" value=(super::random_token());
            input type="hidden" name="members" value=(members.join(","));
            input type="hidden" name="lead" value=(lead);
            button type="submit" { "Open a case for this consortium" }
        }
    }
}

fn cases_section(viewer: &Viewer, l: &Loaded, status: Status, echo: Option<&OpenEcho>) -> Markup {
    let csrf = &viewer.session.csrf;
    let ocid = &l.notice.ocid;
    let notes = echo.map(|e| e.notes.as_str()).unwrap_or("");
    let typed = echo.map(|e| e.member_name.as_str()).unwrap_or("");
    html! {
        h2 id="cases" { "Brokerage cases" }
        @if l.cases.is_empty() { p { "No case on this notice yet." } }
        @if !l.cases.is_empty() {
            ul {
                @for c in &l.cases {
                    li { a href={ "/cases/" (urlencode(&c.case_id)) } { "Case " (c.case_id) } " · "
                        span class="badge" { (step_name(c.status)) } " · "
                        (c.members.iter().map(|m| l.name_of(m)).collect::<Vec<_>>().join(" + "))
                        @if let Some(w) = &c.win { " · won " (sebroker_connectors::money::format_pence(w.value_pence)) } }
                }
            }
        }
        form method="post" action="/cases" class="card" id="open-case" {
            h3 { "Open a case" }
            @if matches!(status, Status::Awarded | Status::Closed | Status::Cancelled) {
                p class="warning" role="note" { strong { "This notice is " (status.as_str()) "." } " A case opened now cannot bid; open one only to record work already done." }
            }
            @if let Some(e) = echo {
                div class="error" role="alert" id="open-case-error" {
                    p { (e.message) }
                    @if let Some(id) = &e.existing { p { a href={ "/cases/" (urlencode(id)) } { "Go to case " (id) } } }
                }
            }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="ocid" value=(ocid);
            input type="hidden" name="idempotency_key" value=(super::random_token());
            div class="filters" {
                div { label for="case-member" { "A matched member" }
                    select id="case-member" name="member" {
                        @for m in &l.matches { option value=(m.member_id) { (l.name_of(&m.member_id)) } }
                        option value="" { "(another member, by name)" }
                    } }
                div { label for="case-member-name" { "Or any member, by name" }
                    input id="case-member-name" name="member_name" list="member-names" value=(typed) autocomplete="off";
                    datalist id="member-names" { @for (id, name) in &l.names { option value=(name) { (id) } } } }
                div { label for="case-notes" { "Notes" } input id="case-notes" name="notes" value=(notes); }
                div { button type="submit" { "Open case" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lot_name;

    #[test]
    fn a_lot_is_named_once() {
        assert_eq!(lot_name("1", Some("Lot 1: Catering")), "Lot 1: Catering");
        assert_eq!(lot_name("2", Some("Cleaning")), "Lot 2: Cleaning");
        assert_eq!(lot_name("3", None), "Lot 3");
    }
}
