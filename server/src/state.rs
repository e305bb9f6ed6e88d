//! What every handler can reach: the engine, the door (admin token and
//! rate limits) and the pages' sessions, with the tokens sessions and
//! forms use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRef;

use sebroker_engine::Engine;
use sebroker_ledger::auth::Role;

use crate::door::Door;

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

/// What a session was made with, checked again at every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key's text (or the admin token).
    Key(String),
    /// A person's account at the generation it had at sign-in: any change
    /// of the account (disable, role, password) raises it and ends this.
    Account { id: String, generation: u64 },
}

/// A session as stored: the credential it was made with (checked again at
/// every request), its CSRF token and when it began.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub credential: Credential,
    pub csrf: String,
    pub created: Instant,
}

/// What every handler can reach: the application and the pages' sessions.
#[derive(Clone)]
pub struct ServerState {
    pub app: Arc<Engine>,
    pub web: Arc<WebState>,
    /// The admin token and the rate limits.
    pub door: Arc<Door>,
}

impl FromRef<ServerState> for Arc<Engine> {
    fn from_ref(s: &ServerState) -> Arc<Engine> {
        s.app.clone()
    }
}

impl FromRef<ServerState> for Arc<WebState> {
    fn from_ref(s: &ServerState) -> Arc<WebState> {
        s.web.clone()
    }
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
