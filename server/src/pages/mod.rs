//! Web pages for brokers, members and the funder: server-rendered HTML
//! (maud) served by the same axum server, working without JavaScript.
//! Sign-in exchanges an API key for a session cookie (HttpOnly,
//! SameSite=Strict, Secure behind TLS); the session is checked against its
//! key at every request (see `api::principal`); every form, sign-in
//! included, carries a CSRF token. Routes and who may open them are in
//! `api::routes` and `api::policy`.

pub(crate) mod auth;
pub(crate) mod layout;
pub(crate) mod ledger;
pub(crate) mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use sebroker_ledger::auth::Role;
pub use auth::{urlencode, Viewer};

use crate::api::error::ApiError;
use crate::api::principal::StoredSession;
use sebroker_engine::Engine;

/// Sessions end after this long, signed in or not.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Open sessions kept at most; the oldest go first beyond this.
pub const MAX_SESSIONS: usize = 10_000;

/// A signed-in browser, as the pages see it at this request.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub member_id: Option<String>,
    /// The key id, recorded as the author of ledger writes.
    pub actor: String,
    pub csrf: String,
}

/// What the pages share: the app and the open sessions.
pub struct WebState {
    pub app: Arc<Engine>,
    /// The admin token and the rate limits (shared with the API).
    pub door: Arc<crate::door::Door>,
    pub sessions: Mutex<HashMap<String, StoredSession>>,
    /// Send cookies with `Secure` (the public URL is https).
    pub secure_cookies: bool,
}

impl WebState {
    pub fn new(app: Arc<Engine>, door: Arc<crate::door::Door>, secure_cookies: bool) -> WebState {
        WebState {
            app,
            door,
            sessions: Mutex::new(HashMap::new()),
            secure_cookies,
        }
    }
}

pub type State = Arc<WebState>;

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
    let (status, title, text) = match e.status {
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => (
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.".to_owned(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            e.status,
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

/// A random token for sessions and CSRF (256 bits, hex) from the operating
/// system; `None` when it has no entropy source (then nobody is signed in:
/// a guessable session token would be worse than none).
pub fn secret_token() -> Option<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A unique token for form idempotency keys (not a secret): random when
/// possible, else time-based.
pub fn random_token() -> String {
    secret_token().unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{t:032x}")
    })
}
