//! The page shell (a skip link, the header with the navigation the
//! viewer's role allows, the footer with the OGL attribution), the HTML
//! 404 page for unknown paths, and the stylesheet: readable on a phone,
//! visible focus, sufficient contrast.

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::auth::Viewer;
use crate::policy::{allows, Action};

const CSS: &str = r#"
:root { --ink:#1b1b1b; --muted:#505a5f; --line:#b1b4b6; --accent:#1d70b8; --bg:#fff; --soft:#f3f2f1; --ok:#00703c; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
a { color:var(--accent); } a:focus, button:focus, input:focus, select:focus { outline:3px solid #fd0; outline-offset:0; }
header { background:#0b0c0c; color:#fff; padding:.5rem 1rem; display:flex; flex-wrap:wrap; gap:1rem; align-items:center; }
header a { color:#fff; font-weight:600; text-decoration:none; } header a:hover { text-decoration:underline; }
header form { margin-left:auto; }
main { max-width:72rem; margin:0 auto; padding:1rem; }
footer { border-top:1px solid var(--line); color:var(--muted); font-size:.875rem; padding:1rem; text-align:center; }
h1 { font-size:1.75rem; margin:.5rem 0 1rem; } h2 { font-size:1.3rem; margin-top:1.5rem; }
.card { border:1px solid var(--line); padding:1rem; margin:.75rem 0; border-radius:4px; }
.muted { color:var(--muted); }
label { display:block; font-weight:600; margin:.5rem 0 .25rem; }
input, select, button { font:inherit; padding:.4rem .6rem; border:2px solid var(--ink); border-radius:0; max-width:100%; }
button { background:var(--ok); color:#fff; border-color:var(--ok); cursor:pointer; }
.filters { display:grid; grid-template-columns:repeat(auto-fit,minmax(10rem,1fr)); gap:.5rem 1rem; align-items:end; }
.badge { display:inline-block; padding:0 .4rem; border:1px solid var(--ink); font-size:.8rem; margin-right:.25rem; }
.bar { background:var(--soft); height:.8rem; width:100%; border:1px solid var(--line); }
.bar > span { display:block; height:100%; background:var(--accent); }
table { border-collapse:collapse; width:100%; } th, td { text-align:left; padding:.35rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
.board { display:grid; grid-template-columns:repeat(auto-fit,minmax(11rem,1fr)); gap:.75rem; }
.board h2 { font-size:1rem; }
.facets { display:flex; flex-wrap:wrap; gap:1rem; font-size:.9rem; }
b { background:#fff2a8; font-weight:700; }
.skip { position:absolute; left:-999rem; top:0; background:#fd0; color:#0b0c0c; padding:.5rem 1rem; z-index:10; }
.skip:focus { left:0; }
.vh { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
form.inline { display:inline-flex; flex-wrap:wrap; gap:.25rem; align-items:center; margin:0 .25rem .25rem 0; }
button.danger { background:#d4351c; border-color:#d4351c; }
.error { color:#d4351c; font-weight:700; }
fieldset { border:1px solid var(--line); margin:.5rem 0; } legend { font-weight:600; }
code { overflow-wrap:anywhere; }
/* A table whose rows become blocks on a phone (each cell on its own line). */
@media (max-width:40rem) {
  table.stack td { overflow-wrap:anywhere; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display:block; width:100%; }
  table.stack thead { position:absolute; left:-999rem; }
  table.stack tr { border-bottom:2px solid var(--line); padding:.25rem 0; }
  table.stack td { border:0; padding:.15rem 0; }
}
@media (max-width:40rem) { header { gap:.5rem; } main { padding:.5rem; } table { font-size:.9rem; } }
/* Member pages and the dashboard (issue 14). */
.subnav { display:flex; flex-wrap:wrap; gap:.25rem 1rem; margin:.25rem 0 .5rem; font-size:.95rem; }
.subnav a[aria-current=page] { font-weight:700; color:var(--ink); }
textarea { font:inherit; width:100%; padding:.4rem .6rem; border:2px solid var(--ink); }
fieldset { border:1px solid var(--line); margin:.75rem 0; padding:.5rem 1rem; min-width:0; }
fieldset label, .card label input[type=checkbox] { font-weight:400; }
.ok { border-color:var(--ok); border-left-width:6px; } .error { border-color:#d4351c; border-left-width:6px; }
.fit td:nth-child(2) { width:40%; }
.chart { width:100%; max-width:48rem; height:auto; display:block; }
.scroll { overflow-x:auto; max-width:100%; }
caption { text-align:left; font-weight:600; padding:.25rem 0; }
pre { overflow-x:auto; max-width:100%; white-space:pre-wrap; overflow-wrap:anywhere; }
code { overflow-wrap:anywhere; }
main { overflow-wrap:anywhere; }
/* Broker pages: search, notice, case, pipeline, members (pages/search.rs, notice.rs, cases.rs, pipeline.rs, members.rs). */
.sr-only { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
.error { color:#b00020; font-weight:600; margin:.25rem 0; } [aria-invalid=true] { border-color:#b00020; }
div.error { border-left:4px solid #b00020; padding-left:.75rem; }
.warning { border-left:4px solid #b58105; padding:.25rem .75rem; background:#fff7e0; }
.facets > div { min-width:10rem; } .facets h3 { font-size:1rem; margin:.25rem 0; } .facets ul { list-style:none; padding:0; margin:0; }
.facets a[aria-current] { font-weight:700; }
.pager { display:flex; gap:1.5rem; margin:1rem 0; }
.log .voided { text-decoration:line-through; color:var(--muted); }
.board { grid-template-columns:repeat(auto-fit,minmax(15rem,1fr)); }
.pipeline-card h3 { font-size:1rem; margin:0 0 .25rem; } .pipeline-card p { margin:.25rem 0; }
.table-wrap { overflow-x:auto; max-width:100%; }
main { overflow-wrap:anywhere; }
@media (max-width:40rem) { .table-wrap th:nth-child(3), .table-wrap td:nth-child(3) { display:none; } }
/* The market map (/market). */
.market { display:grid; grid-template-columns:minmax(0,3fr) minmax(0,2fr); gap:1rem; }
.tiles { max-width:36rem; height:auto; display:block; }
.scroll { overflow-x:auto; max-width:100%; }
.legend .swatch { display:inline-block; width:1rem; height:1rem; border:1px solid var(--line); vertical-align:middle; margin:0 .25rem 0 .5rem; }
.legend .swatch.cluster { border:3px solid #d4351c; }
@media (max-width:40rem) { .market { grid-template-columns:1fr; } }
"#;

pub async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " — sebroker" }
        link rel="stylesheet" href="/static/style.css";
    }
}

fn skip_link() -> Markup {
    html! { a class="skip" href="#main" { "Skip to content" } }
}

fn footer() -> Markup {
    html! {
        footer {
            "Contains public sector information licensed under the Open Government Licence v3.0. "
            "sebroker — procurement brokerage for the West Midlands social economy."
        }
    }
}

/// A page for a signed-in viewer, with the navigation their role allows.
pub fn page(viewer: &Viewer, title: &str, body: Markup) -> Html<String> {
    let role = viewer.session.role;
    let m = html! {
        (head(title))
        html lang="en" {
            body {
                (skip_link())
                header {
                    a href="/" { "sebroker" }
                    // The links the policy table lets this role open.
                    @if allows(Action::PageSearch, role) { a href="/search" { "Search" } }
                    @if allows(Action::PageMembers, role) { a href="/members" { "Members" } }
                    @if allows(Action::PagePipeline, role) { a href="/pipeline" { "Pipeline" } }
                    @if allows(Action::PageDashboard, role) {
                        a href="/dashboard" { "Dashboard" }
                    }
                    @if allows(Action::PageMemberHome, role) {
                        a href="/opportunities" { "Your opportunities" }
                        a href="/alerts" { "Alerts" }
                        a href="/settings" { "Settings" }
                        a href="/profile" { "Profile" }
                    }
                    @if allows(Action::PageMarket, role) { a href="/market" { "Market" } }
                    @if allows(Action::PagePeople, role) { a href="/admin/people" { "People" } }
                    form method="post" action="/signout" {
                        input type="hidden" name="csrf" value=(viewer.session.csrf);
                        span class="muted" style="color:#ddd" { "Signed in as " (role.as_str()) " " }
                        button type="submit" { "Sign out" }
                    }
                }
                main id="main" { (body) }
                (footer())
            }
        }
    };
    Html(m.into_string())
}

/// A page without navigation (sign-in, errors): the site's header with
/// its name and a sign-in link only.
pub fn bare(title: &str, body: Markup) -> Html<String> {
    let m = html! {
        (head(title))
        html lang="en" {
            body {
                (skip_link())
                header {
                    a href="/" { "sebroker" }
                    a href="/signin" { "Sign in" }
                }
                main id="main" { (body) }
                (footer())
            }
        }
    };
    Html(m.into_string())
}

/// The 404 page of an unknown path, for a browser.
pub fn not_found_page() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        message(
            "Page not found",
            "There is no page at this address. Check the address, or start again from the home page.",
        ),
    )
        .into_response()
}

pub fn message(title: &str, text: &str) -> Html<String> {
    bare(
        title,
        html! { h1 { (title) } p { (text) } p { a href="/" { "Home" } } },
    )
}
