//! What the broker's pages share: the home redirect, money, deadlines and
//! times (`<time datetime>` in RFC 3339), status badges, the match
//! components' labels and percentages. The pages themselves are in
//! [`super::search`], [`super::notice`] and [`super::members`].

use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use sebroker_connectors::money::format_pence;
use sebroker_index::{Status, Value};
use sebroker_matching::Components;

use super::auth::Viewer;
use super::layout::message;
use super::Role;

pub use super::members::{member, members};
pub use super::notice::notice;
pub use super::search::search;

pub(crate) fn not_found() -> Response {
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

pub(crate) fn money(v: &Value) -> String {
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

/// A moment as `<time datetime>`: RFC 3339 in the attribute (the only form
/// HTML accepts), day and minute in words for people.
pub(crate) fn when(t: OffsetDateTime) -> Markup {
    html! {
        time datetime=(rfc3339(t)) { (t.date()) " " (format!("{:02}:{:02}", t.hour(), t.minute())) }
    }
}

/// RFC 3339 (`2027-02-12T12:00:00Z`); the debug form if it cannot be
/// written (a year outside 0–9999).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

pub(crate) fn deadline(d: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    match d {
        Some(d) => {
            let days = (d - now).whole_days();
            html! {
                (when(d))
                @if d >= now { " (" (days) " days left)" } @else { " (closed)" }
            }
        }
        None => html! { "none published" },
    }
}

pub(crate) fn status_badge(s: Status) -> Markup {
    html! { span class="badge" { (s.as_str()) } }
}

/// The match components in plain words, in the order bars show them: one
/// table for the bars, their labels and the reasons' headings.
pub(crate) const COMPONENT_LABELS: [(&str, &str); 7] = [
    ("text", "what the notice asks for"),
    ("cpv", "services"),
    ("geography", "place"),
    ("capacity", "size and capacity"),
    ("timing", "time to bid"),
    ("suitability", "suited to VCSEs"),
    ("relationship", "past work with this buyer"),
];

/// A component's value by its name in [`COMPONENT_LABELS`].
pub(crate) fn component(c: &Components, name: &str) -> f64 {
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

/// A score in [0, 1] as a whole percentage, rounded exactly as the
/// matcher's reasons round it (`{:.0}` of `v × 100`), so a bar and its
/// reason never disagree (0.615 was "0.61" on a bar and "62%" in words).
pub(crate) fn percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_attribute_is_rfc3339() {
        let t = time::macros::datetime!(2027-02-12 12:00:00 UTC);
        assert_eq!(rfc3339(t), "2027-02-12T12:00:00Z");
        let html = when(t).into_string();
        assert!(html.contains("datetime=\"2027-02-12T12:00:00Z\""), "{html}");
    }

    #[test]
    fn a_bar_rounds_as_the_reason_does() {
        for v in [0.615, 0.005, 0.995, 0.6149, 1.0, 0.0] {
            let reason = format!("its profile matches the notice text ({:.0}%)", v * 100.0);
            assert!(reason.contains(&percent(v)), "{v}: {reason}");
        }
        assert_eq!(percent(0.5), "50%");
    }
}
