//! A member's own pages: its ranked open opportunities (`/opportunities`),
//! a notice as the member reads it with its own match and "ask the
//! brokerage about this", what it was sent (`/alerts`), its alert settings
//! (`/settings`, with the webhook test) and its profile (`/profile`).
//! Words are addressed to the member ("your services"). The forms call
//! the same services as the API: `alerts::put_settings`,
//! `engine::members::update`, `services::interests::ask`.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use time::OffsetDateTime;

use sebroker_alerts::settings::SettingsInput;
use sebroker_connectors::money::format_pence;
use sebroker_engine::members::MemberWriteError;
use sebroker_index::{Notice, Value};
use sebroker_matching::{Components, Match};
use sebroker_model::Member;

use super::auth::{urlencode, Refused, Viewer};
use super::internal;
use super::layout::page;
use crate::blocking::run as blocking;
use crate::error::{ApiError, Code};
use crate::services;

/// A form's fields as sent, repeated names kept (checkbox lists).
type Fields = Vec<(String, String)>;

fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn fields<'a>(f: &'a Fields, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    f.iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The member the viewer is, or the "not found" page (a member key
/// always has one; anything else never reaches these pages).
fn own(viewer: &Viewer) -> Option<String> {
    viewer.session.member_id.clone()
}

/// The refusal of a form whose CSRF token is not the session's.
fn check(viewer: &Viewer, f: &Fields) -> Option<Response> {
    viewer
        .check_csrf(field(f, "csrf").unwrap_or_default())
        .err()
        .map(IntoResponse::into_response)
}

/// The member's own navigation, on each of its pages.
fn nav(here: &str) -> Markup {
    let links = [
        ("/opportunities", "Your opportunities"),
        ("/alerts", "Your alerts"),
        ("/settings", "Alert settings"),
        ("/profile", "Your profile"),
    ];
    html! {
        nav class="subnav" aria-label="Your pages" {
            @for (href, text) in links {
                @if href == here { a href=(href) aria-current="page" { (text) } }
                @else { a href=(href) { (text) } }
            }
        }
    }
}

fn money(v: &Value) -> String {
    match v.headline_pence() {
        Some(p) if v.currency.as_deref().is_none_or(|c| c == "GBP") => format_pence(p),
        Some(p) => format!(
            "{} {}",
            format_pence(p).trim_start_matches('£'),
            v.currency.as_deref().unwrap_or("")
        ),
        None if v.unbounded => "no upper limit published".into(),
        None => "not published".into(),
    }
}

/// A valid `<time datetime>` (RFC 3339).
fn rfc3339(d: OffsetDateTime) -> String {
    d.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn when(d: OffsetDateTime) -> Markup {
    html! { time datetime=(rfc3339(d)) { (d.date()) " " (format!("{:02}:{:02}", d.hour(), d.minute())) } }
}

fn deadline(d: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    match d {
        Some(d) => {
            let days = (d - now).whole_days();
            html! {
                time datetime=(rfc3339(d)) { (d.date()) }
                @match days {
                    0 if d >= now => " (closes today)",
                    1 => " (1 day left)",
                    n if n > 1 => { " (" (n) " days left)" }
                    _ => " (closed)",
                }
            }
        }
        None => html! { "no deadline published" },
    }
}

/// Each match component in words, as a share of a perfect fit.
const COMPONENTS: [(&str, &str); 7] = [
    (
        "text",
        "what the notice asks for and how you describe your work",
    ),
    ("cpv", "your services"),
    ("geography", "where you work"),
    ("capacity", "the contract's size against your turnover"),
    ("timing", "time left to bid"),
    ("suitability", "suited to VCSEs and small organisations"),
    ("relationship", "your past work with this buyer"),
];

fn component(c: &Components, name: &str) -> f64 {
    match name {
        "text" => c.text,
        "cpv" => c.cpv,
        "geography" => c.geography,
        "capacity" => c.capacity,
        "timing" => c.timing,
        "suitability" => c.suitability,
        _ => c.relationship,
    }
}

/// A share as a whole percentage: the bar's width and its label use the
/// same number.
fn percent(v: f64) -> u32 {
    (v.clamp(0.0, 1.0) * 100.0).round() as u32
}

fn why_it_fits(m: &Match) -> Markup {
    html! {
        p { "Your overall fit: " strong { (percent(m.score)) "%" } }
        table class="fit" {
            caption { "How this notice fits you, part by part" }
            tr { th scope="col" { "Part" } th scope="col" { "Fit" } th scope="col" { "%" } }
            @for (key, words) in COMPONENTS {
                @let p = percent(component(&m.components, key));
                tr { th scope="row" { (words) }
                     td { div class="bar" role="img" aria-label={ (words) ": " (p) "%" } { span style={ "width:" (p) "%" } {} } }
                     td { (p) "%" } }
            }
        }
        @if !m.reasons.is_empty() {
            h3 { "In words" }
            ul { @for r in &m.reasons { li { (r) } } }
        }
    }
}

/// A member's match on one notice, if it has one.
fn own_match(
    app: &sebroker_engine::Engine,
    ocid: &str,
    id: &str,
) -> sebroker_engine::Result<Option<Match>> {
    Ok(app
        .store
        .matches_of_notice(ocid)?
        .into_iter()
        .find(|m| m.member_id == id))
}

/// One row of the member's opportunities.
struct Opportunity {
    notice: Notice,
    score: f64,
    asked: bool,
}

fn load_opportunities(
    app: &sebroker_engine::Engine,
    id: &str,
) -> Result<Vec<Opportunity>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let matches = sebroker_alerts::selection::member_matches(app, id, &[], now, 50)?;
    let asked: BTreeSet<String> = app
        .interests
        .for_member(id)?
        .into_iter()
        .map(|i| i.ocid)
        .collect();
    let mut out = Vec::with_capacity(matches.len());
    for m in matches {
        if let Some(notice) = app.store.get_notice(&m.ocid)? {
            out.push(Opportunity {
                asked: asked.contains(&m.ocid),
                score: m.matched.score,
                notice,
            });
        }
    }
    Ok(out)
}

/// `GET /opportunities`: where a member lands after signing in.
pub async fn home(State(state): State<super::State>, viewer: Viewer) -> Response {
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    let app = state.app.clone();
    let loaded = blocking(move || {
        let name = app.store.get_member(&id)?.map(|m| m.name);
        Ok::<_, ApiError>((name, load_opportunities(&app, &id)?))
    })
    .await;
    let (name, list) = match loaded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let now = OffsetDateTime::now_utc();
    let body = html! {
        (nav("/opportunities"))
        h1 { "Your opportunities" }
        @if let Some(n) = &name { p class="muted" { "Open notices that fit " (n) ", best fit first." } }
        @if list.is_empty() { p { "Nothing open fits you right now. Your alerts will tell you when something does; check that " a href="/profile" { "your profile" } " lists your services and areas." } }
        @for o in &list {
            article class="card" {
                h2 { a href={ "/opportunities/" (urlencode(&o.notice.ocid)) } { (o.notice.title) } }
                p { "Fit " strong { (percent(o.score)) "%" } " · " (o.notice.buyer.name.clone().unwrap_or_else(|| "buyer not named".into()))
                    " · " (money(&o.notice.value)) " · deadline " (deadline(o.notice.deadline, now))
                    @if o.asked { " · " span class="badge" { "you asked the brokerage" } } }
            }
        }
    };
    page(&viewer, "Your opportunities", body).into_response()
}

/// Places by name: the most specific areas of the notice (a region is
/// left out when one of its areas is named).
fn place_names(n: &Notice, places: &sebroker_connectors::places::Places) -> Vec<String> {
    let deepest: Vec<&String> = n
        .nuts
        .iter()
        .filter(|c| {
            !n.nuts
                .iter()
                .any(|o| o.len() > c.len() && o.starts_with(c.as_str()))
        })
        .collect();
    let mut names: Vec<String> = deepest
        .iter()
        .map(|c| {
            places
                .name_of(c)
                .map_or_else(|| (*c).clone(), str::to_owned)
        })
        .collect();
    names.dedup();
    if names.is_empty() {
        names = n.places.clone();
    }
    names
}

fn lots(n: &Notice) -> Markup {
    html! {
        @if !n.lots.is_empty() {
            h2 { "Lots" }
            @for l in &n.lots {
                div class="card" {
                    h3 { (l.title.clone().unwrap_or_else(|| format!("Lot {}", l.id))) }
                    p { "Value: " (l.value.as_ref().map_or_else(|| "not published".into(), money))
                        @if l.suitability.vcse { " · suited to VCSEs" } }
                    @if l.award_criteria.is_empty() { p class="muted" { "No award criteria published for this lot." } }
                    @else {
                        table { caption { "How bids are judged" }
                            tr { th scope="col" { "Criterion" } th scope="col" { "Kind" } th scope="col" { "Weight" } }
                            @for c in &l.award_criteria {
                                tr { td { (c.name.clone().unwrap_or_else(|| "not named".into())) @if c.social_value { " " span class="badge" { "social value" } } }
                                     td { (c.kind.clone().unwrap_or_default()) }
                                     td { @if let Some(w) = c.weight_bp { (w / 100) "." (format!("{:02}", w % 100)) "%" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What the member's notice page shows.
struct NoticeView {
    notice: Notice,
    places: Vec<String>,
    matched: Option<Match>,
    asked: Option<OffsetDateTime>,
}

fn load_notice(
    app: &sebroker_engine::Engine,
    ocid: &str,
    id: &str,
) -> Result<Option<NoticeView>, ApiError> {
    let Some(notice) = app.store.get_notice(ocid)? else {
        return Ok(None);
    };
    let places = place_names(&notice, &app.places());
    let matched = own_match(app, ocid, id)?;
    let asked = app
        .interests
        .for_notice(ocid)?
        .into_iter()
        .find(|i| i.member_id == id)
        .map(|i| i.at);
    Ok(Some(NoticeView {
        notice,
        places,
        matched,
        asked,
    }))
}

fn ask_section(viewer: &Viewer, ocid: &str, asked: Option<OffsetDateTime>) -> Markup {
    html! {
        section class="card" aria-labelledby="ask" {
            h2 id="ask" { "Ask the brokerage about this" }
            @if let Some(at) = asked {
                p role="status" { "You asked the brokerage about this notice on " (when(at)) ". A broker will be in touch." }
            } @else {
                p { "A broker will look at it with you: whether to bid, alone or with partners. This does not commit you to anything." }
                form method="post" action={ "/opportunities/" (urlencode(ocid)) "/interest" } {
                    input type="hidden" name="csrf" value=(viewer.session.csrf);
                    button type="submit" { "Ask the brokerage about this" }
                }
            }
        }
    }
}

fn notice_body(viewer: &Viewer, v: &NoticeView) -> Markup {
    let n = &v.notice;
    let now = OffsetDateTime::now_utc();
    html! {
        (nav(""))
        h1 { (n.title) }
        p { span class="badge" { (n.status(now).as_str()) } span class="badge" { (n.source) }
            @if let Some(u) = &n.source_url { a href=(u) rel="noopener" { "The official notice" } } }
        dl class="card" {
            dt { "Buyer" } dd { (n.buyer.name.clone().unwrap_or_else(|| "not named".into())) }
            dt { "Value" } dd { (money(&n.value)) }
            dt { "Deadline" } dd { (deadline(n.deadline, now)) }
            dt { "Places" } dd { @if v.places.is_empty() { "none published" } @else { (v.places.join(", ")) } }
            dt { "Services (CPV)" } dd { @for c in &n.cpv { span class="badge" { (c.code) } (c.description.clone().unwrap_or_default()) " " } }
        }
        h2 { "Why it fits you" }
        @match &v.matched {
            Some(m) => (why_it_fits(m)),
            None => p { "This notice is not among your matches: it may be outside your services or areas, or no longer open. You can still ask the brokerage about it." },
        }
        (ask_section(viewer, &n.ocid, v.asked))
        (lots(n))
        h2 { "Description" }
        p style="white-space:pre-line" { (n.description) }
    }
}

/// `GET /opportunities/{ocid}`: any published notice (notices are public
/// data); "why it fits" is the member's own match only.
pub async fn notice(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(ocid): Path<String>,
) -> Response {
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    let app = state.app.clone();
    match blocking(move || load_notice(&app, &ocid, &id)).await {
        Ok(Ok(Some(v))) => page(&viewer, &v.notice.title, notice_body(&viewer, &v)).into_response(),
        Ok(Ok(None)) => Refused::Hidden.into_response(),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e),
    }
}

/// `POST /opportunities/{ocid}/interest`: the form behind "ask the
/// brokerage about this" (`POST /api/v1/members/{id}/interests`'s work).
pub async fn ask(
    State(state): State<super::State>,
    viewer: Viewer,
    Path(ocid): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(r) = check(&viewer, &f) {
        return r;
    }
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    let (app, by, o) = (
        state.app.clone(),
        viewer.session.actor.clone(),
        ocid.clone(),
    );
    let done = crate::blocking::try_run(move || services::interests::ask(&app, &id, &o, &by)).await;
    match done {
        Ok(_) => Redirect::to(&format!("/opportunities/{}#ask", urlencode(&ocid))).into_response(),
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) => super::refusal_page(&e),
    }
}

fn alert_card(a: &sebroker_alerts::Alert, sent: &[&sebroker_alerts::Delivery]) -> Markup {
    html! {
        article class="card" {
            h2 { (when(a.created_at)) " · " (a.kind.as_str()) " · " (a.items.len()) @if a.items.len() == 1 { " notice" } @else { " notices" } }
            p { @if sent.is_empty() { "Sent to your Atom feed." } @else {
                @for d in sent { span class="badge" { (d.channel.as_str()) ": " (d.state.as_str()) } } } }
            ul { @for i in &a.items {
                li { a href={ "/opportunities/" (urlencode(&i.ocid)) } { (i.title) } " — " (i.value)
                     @if let Some(s) = i.score { " · fit " (percent(s)) "%" }
                     @if i.kind == "update" { " " span class="badge" { "changed" } } }
            } }
        }
    }
}

/// `GET /alerts`: what was sent to the member, when, by which channel.
pub async fn alerts(State(state): State<super::State>, viewer: Viewer) -> Response {
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    let app = state.app.clone();
    let loaded = blocking(move || -> Result<_, ApiError> {
        let log = app.alert_log();
        let list = log.alerts_of(&id, 50)?;
        let deliveries: Vec<_> = log
            .deliveries()?
            .into_iter()
            .filter(|d| d.recipient == id)
            .collect();
        Ok((list, deliveries))
    })
    .await;
    let (list, deliveries) = match loaded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let body = html! {
        (nav("/alerts"))
        h1 { "Your alerts" }
        p class="muted" { "What sebroker sent you, newest first. Change how often and where in " a href="/settings" { "alert settings" } "." }
        @if list.is_empty() { p { "Nothing has been sent to you yet." } }
        @for a in &list {
            @let sent: Vec<_> = deliveries.iter().filter(|d| d.alert_id == a.id).collect();
            (alert_card(a, &sent))
        }
    };
    page(&viewer, "Your alerts", body).into_response()
}

/// The settings form as typed, kept when it is refused.
#[derive(Default)]
struct SettingsDraft {
    frequency: String,
    threshold: String,
    early_signals: bool,
    email: String,
    webhook_url: String,
    feed: bool,
    feed_url: Option<String>,
    has_webhook: bool,
    /// The key your receiver checks `Sebroker-Signature` with.
    webhook_secret: Option<String>,
}

impl SettingsDraft {
    fn of(v: &sebroker_alerts::SettingsView) -> SettingsDraft {
        SettingsDraft {
            frequency: v.frequency.as_str().to_owned(),
            threshold: percent(v.threshold).to_string(),
            early_signals: v.early_signals,
            email: v.email.clone().unwrap_or_default(),
            webhook_url: v.webhook_url.clone().unwrap_or_default(),
            feed: v.feed,
            feed_url: v.feed_url.clone(),
            has_webhook: v.webhook_url.is_some(),
            webhook_secret: v.webhook_secret.clone(),
        }
    }

    fn typed(f: &Fields) -> SettingsDraft {
        let text = |k: &str| field(f, k).unwrap_or_default().trim().to_owned();
        SettingsDraft {
            frequency: text("frequency"),
            threshold: text("threshold"),
            early_signals: field(f, "early_signals").is_some(),
            email: text("email"),
            webhook_url: text("webhook_url"),
            feed: field(f, "feed").is_some(),
            feed_url: None,
            has_webhook: false,
            webhook_secret: None,
        }
    }
}

/// A message at the top of the settings page: what happened.
enum Outcome {
    None,
    Saved,
    Refused(String),
    Tested(crate::api::alerts::WebhookTest),
}

fn settings_message(m: &Outcome) -> Markup {
    html! {
        @match m {
            Outcome::None => {},
            Outcome::Saved => p class="card ok" role="status" { "Your settings are saved." },
            Outcome::Refused(why) => p class="card error" role="alert" id="settings-error" { "Not saved: " (why) },
            Outcome::Tested(t) if t.delivered => p class="card ok" role="status" { "The test reached " (t.webhook_url) "." },
            Outcome::Tested(t) => p class="card error" role="alert" { "The test did not reach " (t.webhook_url) " (" (t.outcome) "): " (t.detail.clone().unwrap_or_default()) },
        }
    }
}

fn frequency_field(d: &SettingsDraft) -> Markup {
    let choices = [
        ("instant", "as soon as something fits"),
        ("daily", "once a day"),
        ("weekly", "once a week"),
        ("off", "never (alerts off)"),
    ];
    html! {
        div { label for="frequency" { "How often you hear" }
            select id="frequency" name="frequency" {
                @for (v, words) in choices { option value=(v) selected[d.frequency == v] { (words) } }
            } }
    }
}

fn settings_form(viewer: &Viewer, d: &SettingsDraft) -> Markup {
    let csrf = &viewer.session.csrf;
    html! {
        form method="post" action="/settings" class="card" {
            input type="hidden" name="csrf" value=(csrf);
            div class="filters" {
                (frequency_field(d))
                div { label for="threshold" { "Only notices that fit you at least (%)" }
                    input id="threshold" name="threshold" inputmode="numeric" value=(d.threshold); }
                div { label for="email" { "Your e-mail for alerts" }
                    input id="email" name="email" type="email" autocomplete="email" value=(d.email); }
                div { label for="webhook_url" { "Your webhook URL" }
                    input id="webhook_url" name="webhook_url" type="url" value=(d.webhook_url); }
            }
            div { label { input type="checkbox" name="early_signals" value="1" checked[d.early_signals]; " Tell me about early signals (planned work, market engagement)" } }
            div { label { input type="checkbox" name="feed" value="1" checked[d.feed]; " Keep a private Atom feed of my alerts" } }
            p { button type="submit" name="action" value="save" { "Save your settings" } }
        }
    }
}

fn feed_and_test(viewer: &Viewer, d: &SettingsDraft) -> Markup {
    let csrf = &viewer.session.csrf;
    html! {
        h2 { "Your feed" }
        @if let Some(u) = &d.feed_url {
            p { "Your private feed: " code id="feed-url" { (u) } }
            p class="muted" { "Anyone with this address can read your alerts. Rotate it if it leaked: the old address stops working." }
            form method="post" action="/settings" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="rotate_feed";
                button type="submit" { "Rotate your feed address" }
            }
        } @else { p { "You have no feed. Tick the box above and save to get one." } }
        h2 { "Test your webhook" }
        @if d.has_webhook {
            @if let Some(secret) = &d.webhook_secret {
                details { summary { "Your webhook's signing secret" }
                    p { "Each delivery carries " code { "Sebroker-Signature: v1=…" } ", an HMAC-SHA256 of the timestamp, a dot and the body with this secret: " code { (secret) } } }
            }
            form method="post" action="/settings/test" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Send a test" }
            }
        } @else { p { "Set a webhook URL and save, then you can send a test." } }
    }
}

fn settings_page(viewer: &Viewer, d: &SettingsDraft, m: &Outcome) -> Response {
    let status = match m {
        Outcome::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let body = html! {
        (nav("/settings"))
        h1 { "Alert settings" }
        (settings_message(m))
        (settings_form(viewer, d))
        (feed_and_test(viewer, d))
    };
    (status, page(viewer, "Alert settings", body)).into_response()
}

/// The member's settings as they stand (the defaults before any were set).
fn current_settings(app: &sebroker_engine::Engine, id: &str) -> Result<SettingsDraft, ApiError> {
    let s = match app.alert_log().settings(id)? {
        Some(s) => s,
        None => {
            sebroker_alerts::AlertSettings::new(id, &app.config.alerts, OffsetDateTime::now_utc())?
        }
    };
    Ok(SettingsDraft::of(&sebroker_alerts::settings_view(
        &app.config.alerts,
        &s,
        true,
    )))
}

async fn show_settings(state: &super::State, viewer: &Viewer, m: Outcome) -> Response {
    let Some(id) = own(viewer) else {
        return Refused::Hidden.into_response();
    };
    let app = state.app.clone();
    match crate::blocking::try_run(move || current_settings(&app, &id)).await {
        Ok(d) => settings_page(viewer, &d, &m),
        Err(e) => internal(&e),
    }
}

/// `GET /settings`.
pub async fn settings(State(state): State<super::State>, viewer: Viewer) -> Response {
    show_settings(&state, &viewer, Outcome::None).await
}

/// The form as the API's input: empty e-mail or webhook clears it; the
/// threshold is typed in percent.
fn settings_input(f: &Fields) -> Result<SettingsInput, String> {
    if field(f, "action") == Some("rotate_feed") {
        return Ok(SettingsInput {
            rotate_feed_token: true,
            ..SettingsInput::default()
        });
    }
    let d = SettingsDraft::typed(f);
    let threshold = match d.threshold.trim_end_matches('%').trim() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(p) if p <= 100 => Some(f64::from(p) / 100.0),
            _ => {
                return Err(format!(
                    "the fit must be a whole percentage from 0 to 100, not {t:?}"
                ))
            }
        },
    };
    let clearable = |s: String| Some(Some(s).filter(|s| !s.is_empty()));
    Ok(SettingsInput {
        frequency: Some(d.frequency).filter(|s| !s.is_empty()),
        threshold,
        early_signals: Some(d.early_signals),
        email: clearable(d.email),
        webhook_url: clearable(d.webhook_url),
        feed: Some(d.feed),
        ..SettingsInput::default()
    })
}

/// `POST /settings`: saves through `alerts::put_settings` (the API's
/// `PUT /api/v1/members/{id}/alert-settings`), or shows the form again as
/// typed with what was wrong.
pub async fn save_settings(
    State(state): State<super::State>,
    viewer: Viewer,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(r) = check(&viewer, &f) {
        return r;
    }
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    let input = match settings_input(&f) {
        Ok(i) => i,
        Err(why) => {
            return settings_page(&viewer, &SettingsDraft::typed(&f), &Outcome::Refused(why))
        }
    };
    let app = state.app.clone();
    let done = blocking(move || {
        sebroker_alerts::put_settings(app.as_ref(), &id, input, OffsetDateTime::now_utc())
    })
    .await;
    match done {
        Ok(Ok(_)) => show_settings(&state, &viewer, Outcome::Saved).await,
        Ok(Err(sebroker_alerts::Error::Invalid(why))) => {
            settings_page(&viewer, &SettingsDraft::typed(&f), &Outcome::Refused(why))
        }
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e),
    }
}

/// `POST /settings/test`: the webhook test of
/// `POST /api/v1/members/{id}/alert-settings/test`, its outcome on the page.
pub async fn test_webhook(
    State(state): State<super::State>,
    viewer: Viewer,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(r) = check(&viewer, &f) {
        return r;
    }
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    match crate::api::alerts::webhook_test(state.app.clone(), id).await {
        Ok(t) => show_settings(&state, &viewer, Outcome::Tested(t)).await,
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) => show_settings(&state, &viewer, Outcome::Refused(e.message)).await,
    }
}

/// The profile form as typed.
#[derive(Default)]
struct ProfileDraft {
    description: String,
    keywords: String,
    cpv: Vec<String>,
    service_areas: String,
    turnover_gbp: String,
    min_contract_gbp: String,
    max_contract_gbp: String,
}

fn pounds_text(p: Option<i64>) -> String {
    p.map(|p| (p / 100).to_string()).unwrap_or_default()
}

impl ProfileDraft {
    fn of(m: &Member) -> ProfileDraft {
        ProfileDraft {
            description: m.description.clone(),
            keywords: m.keywords.join(", "),
            cpv: m.cpv.clone(),
            service_areas: m.service_areas.join("\n"),
            turnover_gbp: pounds_text(m.turnover_pence),
            min_contract_gbp: pounds_text(m.min_contract_pence),
            max_contract_gbp: pounds_text(m.max_contract_pence),
        }
    }

    fn typed(f: &Fields) -> ProfileDraft {
        let text = |k: &str| field(f, k).unwrap_or_default().trim().to_owned();
        let mut cpv: Vec<String> = fields(f, "cpv")
            .chain(fields(f, "add_cpv"))
            .map(str::to_owned)
            .collect();
        cpv.dedup();
        ProfileDraft {
            description: text("description"),
            keywords: text("keywords"),
            cpv,
            service_areas: text("service_areas"),
            turnover_gbp: text("turnover_gbp"),
            min_contract_gbp: text("min_contract_gbp"),
            max_contract_gbp: text("max_contract_gbp"),
        }
    }
}

/// Whole pounds as typed (`420000`, `£420,000`), or what is wrong.
fn whole_pounds(label: &str, s: &str) -> Result<serde_json::Value, (String, String)> {
    let t: String = s
        .chars()
        .filter(|c| !matches!(c, '£' | ',' | ' '))
        .collect();
    if t.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    t.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .map(serde_json::Value::from)
        .ok_or_else(|| {
            (
                label.to_owned(),
                format!("must be a whole number of pounds, like 420000, not {s:?}"),
            )
        })
}

fn split_list(s: &str, seps: &[char]) -> Vec<String> {
    s.split(seps)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The profile form as a merge patch of the fields a member may change.
fn profile_patch(d: &ProfileDraft) -> Result<serde_json::Value, (String, String)> {
    Ok(serde_json::json!({
        "description": d.description,
        "keywords": split_list(&d.keywords, &[',', '\n']),
        "cpv": d.cpv,
        "service_areas": split_list(&d.service_areas, &['\n', ',', ';']),
        "turnover_gbp": whole_pounds("turnover_gbp", &d.turnover_gbp)?,
        "min_contract_gbp": whole_pounds("min_contract_gbp", &d.min_contract_gbp)?,
        "max_contract_gbp": whole_pounds("max_contract_gbp", &d.max_contract_gbp)?,
    }))
}

/// The CPV descriptions matching a search (code prefix or words), at most 25.
fn cpv_search(app: &sebroker_engine::Engine, q: &str) -> Result<Vec<(String, String)>, ApiError> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<&str> = q.split_whitespace().collect();
    Ok(app
        .store
        .cpv_descriptions()?
        .into_iter()
        .filter(|(code, d)| {
            let d = d.to_lowercase();
            code.starts_with(&q) || words.iter().all(|w| d.contains(w))
        })
        .take(25)
        .collect())
}

/// What the profile page shows besides the form: CPV names, the places the
/// service areas resolve to, and a CPV search's results.
struct ProfileContext {
    name: String,
    cpv_names: Vec<(String, String)>,
    areas: Vec<(String, Option<String>)>,
    found: Vec<(String, String)>,
    query: String,
}

fn profile_context(
    app: &sebroker_engine::Engine,
    m: &Member,
    d: &ProfileDraft,
    q: &str,
) -> Result<ProfileContext, ApiError> {
    let all = app.store.cpv_descriptions()?;
    let describe = |c: &str| {
        all.iter()
            .find(|(k, _)| k == c)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let places = app.places();
    let areas = split_list(&d.service_areas, &['\n', ',', ';'])
        .into_iter()
        .map(|a| {
            let named = places
                .resolve_code(&a)
                .and_then(|c| places.name_of(&c).map(|n| format!("{n} ({c})")));
            (a, named)
        })
        .collect();
    Ok(ProfileContext {
        name: m.name.clone(),
        cpv_names: d.cpv.iter().map(|c| (c.clone(), describe(c))).collect(),
        areas,
        found: cpv_search(app, q)?
            .into_iter()
            .filter(|(c, _)| !d.cpv.contains(c))
            .collect(),
        query: q.to_owned(),
    })
}

fn services_fieldset(d: &ProfileDraft, cx: &ProfileContext) -> Markup {
    html! {
        fieldset {
            legend { "Your services (CPV)" }
            @if d.cpv.is_empty() { p { "You list no services yet: search for them above." } }
            @for (code, words) in &cx.cpv_names {
                div { label { input type="checkbox" name="cpv" value=(code) checked; " " (code) " " (words) } }
            }
            @if !cx.found.is_empty() {
                p { strong { "Found for “" (cx.query) "” — tick to add:" } }
                @for (code, words) in &cx.found {
                    div { label { input type="checkbox" name="add_cpv" value=(code); " " (code) " " (words) } }
                }
            }
        }
    }
}

fn areas_list(cx: &ProfileContext) -> Markup {
    html! {
        @if !cx.areas.is_empty() {
            ul class="muted" { @for (a, named) in &cx.areas {
                li { (a) " → " @match named { Some(n) => (n), None => "not a place we know: try a town, council or postcode district" } }
            } }
        }
    }
}

fn profile_form(viewer: &Viewer, d: &ProfileDraft, cx: &ProfileContext) -> Markup {
    html! {
        form method="post" action="/profile" class="card" {
            input type="hidden" name="csrf" value=(viewer.session.csrf);
            label for="description" { "What your organisation does" }
            textarea id="description" name="description" rows="4" { (d.description) }
            label for="keywords" { "Your keywords (separated by commas)" }
            input id="keywords" name="keywords" value=(d.keywords);
            (services_fieldset(d, cx))
            label for="service_areas" { "Where you work (one place per line: a town, council, postcode district or region)" }
            textarea id="service_areas" name="service_areas" rows="4" { (d.service_areas) }
            (areas_list(cx))
            div class="filters" {
                div { label for="turnover_gbp" { "Your yearly turnover (£)" } input id="turnover_gbp" name="turnover_gbp" inputmode="numeric" value=(d.turnover_gbp); }
                div { label for="min_contract_gbp" { "The smallest contract you want (£)" } input id="min_contract_gbp" name="min_contract_gbp" inputmode="numeric" value=(d.min_contract_gbp); }
                div { label for="max_contract_gbp" { "The largest contract you can take on (£)" } input id="max_contract_gbp" name="max_contract_gbp" inputmode="numeric" value=(d.max_contract_gbp); }
            }
            p { button type="submit" { "Save your profile" } }
        }
    }
}

fn profile_page(viewer: &Viewer, d: &ProfileDraft, cx: &ProfileContext, m: &Outcome) -> Response {
    let status = match m {
        Outcome::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let body = html! {
        (nav("/profile"))
        h1 { "Your profile" }
        p class="muted" { "What " (cx.name) " does, where and at what size: your matches come from this." }
        (settings_message(m))
        form method="get" action="/profile" role="search" class="card" {
            label for="cpv_q" { "Find your services by name (e.g. cleaning, catering)" }
            input id="cpv_q" name="cpv_q" type="search" value=(cx.query);
            button type="submit" { "Find services" }
        }
        (profile_form(viewer, d, cx))
    };
    (status, page(viewer, "Your profile", body)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileQuery {
    cpv_q: Option<String>,
}

async fn show_profile(
    state: &super::State,
    viewer: &Viewer,
    draft: Option<ProfileDraft>,
    q: String,
    m: Outcome,
) -> Response {
    let Some(id) = own(viewer) else {
        return Refused::Hidden.into_response();
    };
    let app = state.app.clone();
    let loaded = crate::blocking::try_run(move || {
        let member = app
            .store
            .get_member(&id)?
            .ok_or_else(|| crate::error::member_not_found(&id))?;
        let d = draft.unwrap_or_else(|| ProfileDraft::of(&member));
        let cx = profile_context(&app, &member, &d, &q)?;
        Ok((d, cx))
    })
    .await;
    match loaded {
        Ok((d, cx)) => profile_page(viewer, &d, &cx, &m),
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) => super::refusal_page(&e),
    }
}

/// `GET /profile` (`?cpv_q=` searches CPV descriptions).
pub async fn profile(
    State(state): State<super::State>,
    viewer: Viewer,
    Query(q): Query<ProfileQuery>,
) -> Response {
    show_profile(
        &state,
        &viewer,
        None,
        q.cpv_q.unwrap_or_default(),
        Outcome::None,
    )
    .await
}

/// A refused profile change in words, naming the field.
fn profile_refusal(e: MemberWriteError) -> Result<String, ApiError> {
    match e {
        MemberWriteError::Invalid { field, message } => Ok(format!("{field}: {message}")),
        MemberWriteError::Forbidden { field } => {
            Ok(format!("{field}: you may not change it here; ask a broker"))
        }
        MemberWriteError::NotFound(id) => Err(crate::error::member_not_found(&id)),
        MemberWriteError::Exists(id) => Ok(format!("a member {id:?} exists")),
        MemberWriteError::Engine(e) => Err(e.into()),
    }
}

/// `POST /profile`: the API's `PATCH /api/v1/members/{id}` with the
/// member's own editable fields; refused changes come back as typed.
pub async fn save_profile(
    State(state): State<super::State>,
    viewer: Viewer,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(r) = check(&viewer, &f) {
        return r;
    }
    let Some(id) = own(&viewer) else {
        return Refused::Hidden.into_response();
    };
    let draft = ProfileDraft::typed(&f);
    let patch = match profile_patch(&draft) {
        Ok(p) => p,
        Err((field, why)) => {
            let m = Outcome::Refused(format!("{field}: {why}"));
            return show_profile(&state, &viewer, Some(draft), String::new(), m).await;
        }
    };
    let (app, actor) = (state.app.clone(), format!("web:{}", viewer.session.actor));
    let done = crate::blocking::try_run(move || {
        match sebroker_engine::members::update(&app, &id, patch, true, &actor) {
            Ok(_) => Ok(None),
            Err(e) => profile_refusal(e).map(Some),
        }
    })
    .await;
    match done {
        Ok(None) => show_profile(&state, &viewer, None, String::new(), Outcome::Saved).await,
        Ok(Some(why)) => {
            show_profile(
                &state,
                &viewer,
                Some(draft),
                String::new(),
                Outcome::Refused(why),
            )
            .await
        }
        Err(e) if e.code == Code::Internal => internal(&e),
        Err(e) => super::refusal_page(&e),
    }
}

/// The members who asked the brokerage about a notice, for the brokers'
/// notice page and pipeline: load them with
/// `services::interests::for_notice(&app, ocid)` (or `all`) off the async
/// threads, then render them here. Empty when nobody asked.
pub fn interests_section(shown: &[services::interests::Shown]) -> Markup {
    html! {
        @if !shown.is_empty() {
            section class="card" aria-labelledby="interests" {
                h2 id="interests" { "Members who asked about this" }
                p class="muted" { "An interest opens no case and counts as no introduction." }
                ul { @for s in shown {
                    li { a href={ "/members/" (urlencode(&s.interest.member_id)) } { (s.member_name) }
                         " asked on " (when(s.interest.at)) }
                } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interests_section_names_who_asked_and_when() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let shown = [services::interests::Shown {
            interest: sebroker_engine::interests::Interest {
                ocid: "o-1".into(),
                member_id: "m 1".into(),
                at,
                by: "k1".into(),
            },
            member_name: "Caldmore <Catering>".into(),
        }];
        let html = interests_section(&shown).into_string();
        assert!(html.contains("href=\"/members/m%201\""), "{html}");
        assert!(html.contains("Caldmore &lt;Catering&gt;"), "{html}");
        assert!(html.contains("datetime=\"1970-01-01T00:00:00Z\""), "{html}");
        assert!(interests_section(&[]).into_string().is_empty());
    }

    #[test]
    fn the_settings_form_reads_percent_and_clears_empty_channels() {
        let f: Fields = vec![
            ("threshold".into(), "70%".into()),
            ("email".into(), " ".into()),
            ("feed".into(), "1".into()),
        ];
        let i = settings_input(&f).expect("valid");
        assert_eq!(i.threshold, Some(0.7));
        assert_eq!(i.email, Some(None));
        assert_eq!(i.feed, Some(true));
        let bad: Fields = vec![("threshold".into(), "101".into())];
        assert!(settings_input(&bad).is_err());
    }

    #[test]
    fn pounds_are_whole_and_typed_freely() {
        assert_eq!(
            whole_pounds("t", "£420,000"),
            Ok(serde_json::json!(420_000))
        );
        assert_eq!(whole_pounds("t", ""), Ok(serde_json::Value::Null));
        assert!(whole_pounds("t", "lots").is_err());
        assert!(whole_pounds("t", "-5").is_err());
        assert!(whole_pounds("t", "12.50").is_err());
    }
}
