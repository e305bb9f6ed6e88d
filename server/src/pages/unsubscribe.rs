//! The e-mail's unsubscribe link, `/unsubscribe/{token}` (the token is the
//! credential): a page with the site's shell and one button, and the
//! button's POST, which is also a mail client's one-click
//! `List-Unsubscribe-Post` (RFC 8058). A browser gets pages; a mail client
//! or script that does not ask for HTML gets the API's JSON error.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::layout;
use crate::blocking::try_run as blocking;
use crate::error::{ApiError, Code};
use sebroker_alerts::settings::SettingsInput;

/// `GET /unsubscribe/{token}`: asks before it stops anything, so a link
/// scanner that follows links in e-mails unsubscribes nobody.
pub async fn page(Path(token): Path<String>) -> Html<String> {
    layout::bare(
        "Stop alert e-mails",
        html! {
            h1 { "Stop alert e-mails" }
            p { "Press the button to stop sebroker's alert e-mails to you. Your alerts stay on your alerts page and in your feed." }
            form method="post" action={ "/unsubscribe/" (token) } {
                button type="submit" { "Stop alert e-mails" }
            }
        },
    )
}

/// `POST /unsubscribe/{token}`: removes the e-mail address from the
/// token's member's alert settings.
pub async fn stop(
    State(app): State<crate::api::State>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let done = blocking(move || {
        let member = app
            .alert_log()
            .member_of_unsubscribe_token(&token)?
            .ok_or_else(|| ApiError::of(Code::UnsubscribeNotFound))?;
        let clear = SettingsInput {
            email: Some(None),
            ..SettingsInput::default()
        };
        sebroker_alerts::put_settings(
            app.as_ref(),
            &member,
            clear,
            time::OffsetDateTime::now_utc(),
        )?;
        tracing::info!(member_id = %member, "unsubscribed from alert emails");
        Ok(())
    })
    .await;
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    match done {
        Ok(()) => layout::message(
            "Alert e-mails stopped",
            "You will get no more sebroker alert e-mails. You can turn them on again in your settings.",
        )
        .into_response(),
        Err(e) if browser && e.status() == StatusCode::NOT_FOUND => (
            StatusCode::NOT_FOUND,
            layout::message(
                "Link not known",
                "This unsubscribe link is not known: it may be from an older e-mail. Sign in and change your alert settings instead.",
            ),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
