//! Web pages for brokers, members and the funder: server-rendered HTML
//! (maud) served by the same axum server, working without JavaScript.
//! Sign-in exchanges an API key for a session cookie (HttpOnly,
//! SameSite=Strict, Secure behind TLS); every form carries a CSRF token.

mod auth;
mod layout;
mod ledger;
mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::Router;

pub use auth::{Role, Viewer};

use crate::app::App;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub member_id: Option<String>,
    /// The key id, recorded as the author of ledger writes.
    pub actor: String,
    pub csrf: String,
    pub created: std::time::Instant,
}

/// What the pages share: the app and the open sessions.
pub struct WebState {
    pub app: Arc<App>,
    pub sessions: Mutex<HashMap<String, Session>>,
    /// Send cookies with `Secure` (the public URL is https).
    pub secure_cookies: bool,
}

pub type State = Arc<WebState>;

/// The page routes.
pub fn router(app: Arc<App>, secure_cookies: bool) -> Router {
    let state = Arc::new(WebState {
        app,
        sessions: Mutex::new(HashMap::new()),
        secure_cookies,
    });
    Router::new()
        .route("/", get(pages::home))
        .route("/signin", get(auth::signin_form).post(auth::signin))
        .route("/signout", post(auth::signout))
        .route("/search", get(pages::search))
        .route("/notices/{ocid}", get(pages::notice))
        .route("/members", get(pages::members))
        .route("/members/{id}", get(pages::member))
        .route("/cases", post(ledger::open_case))
        .route("/cases/{id}/events", post(ledger::record_step))
        .route("/pipeline", get(ledger::pipeline))
        .route("/dashboard", get(ledger::dashboard))
        .route("/dashboard/totals.csv", get(ledger::totals_csv))
        .route("/static/style.css", get(layout::stylesheet))
        .with_state(state)
}

/// A random token for sessions and CSRF (256 bits, hex).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all; then a
    // time-seeded token is still unique, and sessions are short-lived.
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}
