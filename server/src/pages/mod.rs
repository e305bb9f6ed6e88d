//! Web pages for brokers, members and the funder: server-rendered HTML
//! (maud) served by the same axum server, working without JavaScript.
//! Sign-in exchanges a person's e-mail and password, or an API key, for a
//! session cookie (HttpOnly, SameSite=Strict, Secure behind TLS); the
//! session is checked against its key or account at every request (see
//! [`crate::principal`]); every form, sign-in included, carries a CSRF
//! token. Routes and who may open them are in
//! [`crate::router`] and [`crate::policy`]; the ledger writes go through
//! [`crate::services`], blocking work through [`crate::blocking`].

pub(crate) mod auth;
pub(crate) mod browse;
pub(crate) mod cases;
pub(crate) mod dashboard;
pub(crate) mod layout;
pub(crate) mod market;
pub(crate) mod member;
pub(crate) mod members;
pub(crate) mod notice;
pub(crate) mod people;
pub(crate) mod pipeline;
pub(crate) mod search;
pub(crate) mod unsubscribe;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use crate::principal::urlencode;
pub use crate::state::{
    random_token, secret_token, Session, State, WebState, MAX_SESSIONS, SESSION_TTL,
};
pub use auth::Viewer;
pub use sebroker_ledger::auth::Role;

use crate::error::ApiError;

/// The server's own failure as a page: logged with its cause, answered
/// 500, never an empty page.
pub fn internal(cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %cause, "page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        layout::message(
            "Something went wrong",
            "The server could not build this page; the error is in its log.",
        ),
    )
        .into_response()
}

/// A refusal as a page: 404 for what the viewer may not know exists, the
/// message otherwise, with `Retry-After` kept.
pub fn refusal_page(e: &ApiError) -> Response {
    let (status, title, text) = match e.status() {
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => (
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.".to_owned(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            e.status(),
            "Too many requests",
            format!("{} Wait a moment and try again.", e.message),
        ),
        s => (s, "Refused", e.message.clone()),
    };
    let mut r = (status, layout::message(title, &text)).into_response();
    if let Some(s) = e.retry_after {
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(s),
        );
    }
    r
}
