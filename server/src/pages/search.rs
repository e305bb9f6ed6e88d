//! The search page: opens on open notices closing soonest; facets as links
//! with counts (regions and CPV divisions by name); "21–40 of 51" with
//! previous and next; a bad filter shown at its field with what was typed.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped};

use sebroker_engine::search::{self, SearchPage, SearchParams};
use sebroker_index::query::MAX_WINDOW;

use super::auth::{urlencode, Viewer};
use super::browse::{deadline, money, status_badge};
use super::internal;
use super::layout::page;
use crate::blocking::run as blocking;

/// Results per page.
const PER_PAGE: usize = 20;

/// The fields of the form, as typed (never parsed by axum, so a bad value
/// comes back to its field instead of a plain-text rejection).
const FIELDS: [&str; 8] = [
    "q", "status", "region", "cpv", "source", "type", "sort", "offset",
];

/// The form as typed: field → text. `vcse` is a checkbox.
#[derive(Debug, Clone, Default)]
pub struct SearchForm {
    values: BTreeMap<&'static str, String>,
    vcse: bool,
}

impl SearchForm {
    /// Reads a query string; an empty one is the opening form: open
    /// notices, closing soonest.
    pub fn parse(raw: Option<&str>) -> SearchForm {
        let raw = raw.unwrap_or("");
        let mut f = SearchForm::default();
        if raw.trim().is_empty() {
            f.values.insert("status", "open".into());
            f.values.insert("sort", "deadline".into());
            return f;
        }
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            if k == "vcse" {
                f.vcse = !v.is_empty();
            } else if let Some(name) = FIELDS.iter().find(|n| **n == k) {
                f.values.insert(name, v.into_owned());
            }
        }
        f
    }

    fn get(&self, k: &str) -> &str {
        self.values.get(k).map(String::as_str).unwrap_or("")
    }

    fn opt(&self, k: &str) -> Option<String> {
        Some(self.get(k).trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The search parameters, or the field that is wrong and why.
    fn params(&self) -> Result<SearchParams, (&'static str, String)> {
        let offset = match self.opt("offset") {
            None => 0,
            Some(o) => match o.parse::<usize>() {
                Ok(n) if n.checked_add(PER_PAGE).is_some_and(|end| end <= MAX_WINDOW) => n,
                _ => {
                    return Err((
                        "offset",
                        format!(
                            "{o:?} is not a result number from 0 to {}",
                            MAX_WINDOW - PER_PAGE
                        ),
                    ))
                }
            },
        };
        Ok(SearchParams {
            q: self.opt("q"),
            status: self.opt("status"),
            region: self.opt("region"),
            cpv: self.opt("cpv"),
            source: self.opt("source"),
            notice_type: self.opt("type"),
            vcse: Some(self.vcse),
            sort: self.opt("sort"),
            offset: Some(offset),
            limit: Some(PER_PAGE),
            ..SearchParams::default()
        })
    }

    /// This form's link with `changes` applied (an empty value drops the
    /// field); the offset goes back to the first page unless changed.
    fn link(&self, changes: &[(&str, &str)]) -> String {
        let mut q = Vec::new();
        for k in FIELDS {
            let v = changes
                .iter()
                .find(|(c, _)| *c == k)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| {
                    if k == "offset" {
                        String::new()
                    } else {
                        self.get(k).to_owned()
                    }
                });
            if !v.trim().is_empty() {
                q.push(format!("{k}={}", urlencode(&v)));
            }
        }
        if self.vcse {
            q.push("vcse=1".into());
        }
        // An empty query string would mean the opening form.
        if q.is_empty() {
            q.push("status=".into());
        }
        format!("/search?{}", q.join("&"))
    }
}

/// Names for facet keys: NUTS areas and CPV divisions.
struct Names {
    regions: BTreeMap<String, String>,
    divisions: BTreeMap<String, String>,
}

pub async fn search(
    State(state): State<super::State>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let f = SearchForm::parse(raw.as_deref());
    let app = state.app.clone();
    let params = f.params();
    let done = blocking(move || {
        let params = params?;
        let page = search::search(&app, &params).map_err(field_error)?;
        Ok::<_, (&'static str, String)>((names(&app, &page), page))
    })
    .await;
    let (result, status) = match done {
        Ok(Ok(x)) => (Ok(x), StatusCode::OK),
        Ok(Err(("", m))) => return internal(&m),
        Ok(Err(e)) => (Err(e), StatusCode::BAD_REQUEST),
        Err(e) => return internal(&e),
    };
    let error = result.as_ref().err();
    let body = html! {
        h1 { "Search opportunities" }
        (form(&f, error))
        @if let Ok((names, page)) = &result { (results(&f, names, page)) }
    };
    (status, page(&viewer, "Search", body)).into_response()
}

/// A search failure: the field it is about (the engine's messages start
/// with it), or `""` for the server's own failure.
fn field_error(e: sebroker_engine::Error) -> (&'static str, String) {
    use sebroker_engine::Error as E;
    let known = |m: &str| {
        let (field, rest) = m.split_once(':')?;
        let f = FIELDS.iter().find(|f| **f == field.trim())?;
        Some((*f, rest.trim().to_owned()))
    };
    match &e {
        E::Invalid(m) => known(m).unwrap_or(("q", m.clone())),
        E::Index(sebroker_index::IndexError::Filter { field, message }) => {
            let f = FIELDS.iter().find(|f| *f == field).copied().unwrap_or("q");
            (f, message.clone())
        }
        E::Index(
            e @ (sebroker_index::IndexError::Query { .. }
            | sebroker_index::IndexError::Window { .. }),
        ) => ("q", e.to_string()),
        _ => ("", e.to_string()),
    }
}

fn names(app: &sebroker_engine::Engine, page: &SearchPage) -> Names {
    let mut n = Names {
        regions: BTreeMap::new(),
        divisions: BTreeMap::new(),
    };
    let Some(fc) = &page.facets else { return n };
    {
        let places = app.places();
        for code in fc.region.keys() {
            if let Some(name) = places.name_of(code) {
                n.regions.insert(code.clone(), name.to_owned());
            }
        }
    }
    // Division names are a courtesy: without the CPV table, codes show.
    if let Ok(t) = app.cpv_table() {
        for d in fc.cpv_division.keys() {
            if let Some(name) = t.describe(&format!("{d:0<8}")) {
                n.divisions.insert(d.clone(), name.to_owned());
            }
        }
    }
    n
}

/// One labelled input, with its error when the search refused it.
fn field(
    f: &SearchForm,
    name: &'static str,
    label: &str,
    error: Option<&(&str, String)>,
) -> Markup {
    let bad = error.filter(|(e, _)| *e == name);
    html! {
        div {
            label for=(name) { (label) }
            input id=(name) name=(name) value=(f.get(name))
                aria-invalid=[bad.map(|_| "true")]
                aria-describedby=[bad.map(|_| format!("{name}-error"))];
            @if let Some((_, m)) = bad { p class="error" id={ (name) "-error" } { (m) } }
        }
    }
}

fn form(f: &SearchForm, error: Option<&(&'static str, String)>) -> Markup {
    let select = |name: &'static str, label: &str, options: &[(&str, &str)]| {
        let bad = error.filter(|(e, _)| *e == name);
        let typed = f.get(name);
        html! {
            div {
                label for=(name) { (label) }
                select id=(name) name=(name) aria-invalid=[bad.map(|_| "true")]
                    aria-describedby=[bad.map(|_| format!("{name}-error"))] {
                    @if !typed.is_empty() && !options.iter().any(|(v, _)| *v == typed) {
                        option value=(typed) selected { (typed) }
                    }
                    @for (v, text) in options { option value=(v) selected[typed == *v] { (text) } }
                }
                @if let Some((_, m)) = bad { p class="error" id={ (name) "-error" } { (m) } }
            }
        }
    };
    html! {
        form method="get" action="/search" class="card" role="search" aria-label="Search notices" {
            div class="filters" {
                div { label for="q" { "Words" } input id="q" name="q" type="search" value=(f.get("q")); }
                (select("status", "Status", &[("", "any"), ("open", "open"), ("pipeline", "pipeline"), ("planned", "planned"), ("closed", "closed"), ("awarded", "awarded"), ("cancelled", "cancelled")]))
                (field(f, "region", "Region (NUTS, place or postcode)", error))
                (field(f, "cpv", "CPV code or prefix", error))
                (select("sort", "Sort", &[("deadline", "closing soonest"), ("relevance", "best match for the words"), ("value", "highest value"), ("published", "newest")]))
                div { label { input type="checkbox" name="vcse" value="1" checked[f.vcse]; " VCSE-suitable only" } }
                div { button type="submit" { "Search" } }
            }
            @for hidden in ["source", "type"] {
                @if !f.get(hidden).is_empty() { (field(f, hidden, if hidden == "source" { "Source" } else { "Notice type" }, error)) }
            }
            @if let Some(("offset", m)) = error.map(|(k, m)| (*k, m)) {
                (field(f, "offset", "Start at result", Some(&("offset", m.clone()))))
            }
            @if let Some(("q", m)) = error.map(|(k, m)| (*k, m)) { p class="error" role="alert" { (m) } }
        }
    }
}

/// "21–40 of 51", the results, previous and next.
fn results(f: &SearchForm, names: &Names, page: &SearchPage) -> Markup {
    let first = page.offset + 1;
    let last = page.offset + page.hits.len();
    let prev = page.offset.checked_sub(page.limit).map(|o| o.to_string());
    let more = (last as u64) < page.total && page.offset + 2 * page.limit <= MAX_WINDOW;
    html! {
        @if page.hits.is_empty() {
            div class="card" role="status" {
                p { strong { "No notice matches." } }
                p { "Try fewer or other words, any status instead of one ("
                    a href=(f.link(&[("status", "")])) { "search every status" } "), a wider region or no CPV code." }
            }
        } @else {
            p role="status" { strong { (first) "–" (last) } " of " (page.total) " notices" }
        }
        @if let Some(fc) = &page.facets { (facets(f, names, fc)) }
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
        @if prev.is_some() || more {
            nav class="pager" aria-label="Result pages" {
                @if let Some(o) = &prev { a href=(f.link(&[("offset", o)])) rel="prev" { "Previous " (page.limit) } }
                @if more { a href=(f.link(&[("offset", &(page.offset + page.limit).to_string())])) rel="next" { "Next " (page.limit) } }
            }
        }
    }
}

fn facets(f: &SearchForm, names: &Names, fc: &sebroker_index::Facets) -> Markup {
    let group = |title: &str,
                 field: &str,
                 counts: &BTreeMap<String, u64>,
                 name: &dyn Fn(&str) -> String| {
        html! {
            @if !counts.is_empty() {
                div {
                    h3 { (title) }
                    ul {
                        @for (k, n) in counts {
                            li { a href=(f.link(&[(field, k)])) aria-current=[(f.get(field) == k).then_some("true")] { (name(k)) } " " span class="muted" { "(" (n) ")" } }
                        }
                    }
                }
            }
        }
    };
    let region = |k: &str| match names.regions.get(k) {
        Some(n) => format!("{n} ({k})"),
        None => k.to_owned(),
    };
    let division = |k: &str| match names.divisions.get(k) {
        Some(n) => format!("{k} {n}"),
        None => k.to_owned(),
    };
    let plain = |k: &str| k.to_owned();
    html! {
        section class="facets" aria-label="Narrow the results" {
            (group("Status", "status", &fc.status, &plain))
            (group("Region", "region", &fc.region, &region))
            (group("Services (CPV division)", "cpv", &fc.cpv_division, &division))
            (group("Source", "source", &fc.source, &plain))
            (group("Notice type", "type", &fc.notice_type, &plain))
            p class="muted" { "A region is a NUTS area: one area may cover several councils." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opening_form_is_open_notices_closing_soonest() {
        let f = SearchForm::parse(None);
        let p = f.params().expect("valid");
        assert_eq!(p.status.as_deref(), Some("open"));
        assert_eq!(p.sort.as_deref(), Some("deadline"));
    }

    #[test]
    fn a_bad_offset_is_refused_at_its_field_with_what_was_typed() {
        let f = SearchForm::parse(Some("q=youth&offset=-1"));
        let (field, message) = f.params().expect_err("refused");
        assert_eq!(field, "offset");
        assert!(message.contains("\"-1\""), "{message}");
        assert_eq!(f.get("offset"), "-1");
        assert_eq!(f.get("q"), "youth");
    }

    #[test]
    fn links_keep_the_filters_and_go_back_to_the_first_page() {
        let f = SearchForm::parse(Some("q=a+b&status=open&offset=20&vcse=1"));
        assert_eq!(
            f.link(&[("region", "UKG")]),
            "/search?q=a%20b&status=open&region=UKG&vcse=1"
        );
        assert_eq!(
            f.link(&[("offset", "40")]),
            "/search?q=a%20b&status=open&offset=40&vcse=1"
        );
    }
}
