//! Who is asking, decided once per request for the API and the pages alike.
//!
//! [`admit`] runs before every handler (the router wraps each route in
//! it): it reads the route's credential — `Authorization: Bearer KEY` on the
//! API, the session cookie on the pages — and checks it against the ledger's
//! keys *at this request* (a revoked or expired key ends its sessions at
//! once), applies the per-credential rate limit, counts bad credentials per
//! client address, asks the policy table, and hands the handler a
//! [`Principal`].

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Code};
use crate::policy::{self, Action, Decision, Route, Surface};
use crate::state::{Credential, ServerState};
use sebroker_engine::Engine;

use crate::door::Door;
use sebroker_ledger::auth::Role;

/// The name of the pages' session cookie.
pub const SESSION_COOKIE: &str = "sebroker_session";

/// How the principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An API key (or the admin token) on this request.
    Key,
    /// A page session; `csrf` is the token its forms must carry.
    Session { token: String, csrf: String },
    /// The operator's own command line, running the router in-process on a
    /// data folder it holds the lock of (no network request can set this).
    Local,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id, `admin-token`, or an account's id (`acc_…`).
    pub key_id: String,
    pub name: String,
    pub role: Role,
    /// For member keys: the member they may see.
    pub member_id: Option<String>,
    pub via: Via,
}

/// Compares secrets in constant time (over their SHA-256, so lengths leak nothing).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The principal a credential stands for now: the admin token, or a usable
/// ledger key.
pub fn resolve(app: &Engine, door: &Door, credential: &str, via: Via) -> Option<Principal> {
    if credential.is_empty() || credential.len() > MAX_CREDENTIAL_BYTES {
        return None;
    }
    if let Some(t) = &door.admin_token {
        if same_secret(credential, &t.0) {
            return Some(Principal {
                key_id: "admin-token".into(),
                name: "admin token".into(),
                role: Role::Admin,
                member_id: None,
                via,
            });
        }
    }
    let k = app.ledger.authenticate(credential)?;
    Some(Principal {
        key_id: k.id,
        name: k.name,
        role: k.role,
        member_id: k.member_id,
        via,
    })
}

/// Keys are about 60 bytes; anything much longer is not one.
const MAX_CREDENTIAL_BYTES: usize = 512;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// A cookie's value by name.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The client's address as the socket saw it (`local` in-process).
pub fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "local".to_owned(), |c| c.0.ip().to_string())
}

/// The client's address, as an extractor (never fails).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

/// 429 with `Retry-After`.
pub fn too_many(what: &str, wait: u64) -> ApiError {
    let mut e = ApiError::new(
        Code::RateLimited,
        format!("too many {what}; retry in {wait} s"),
    );
    e.retry_after = Some(wait);
    e
}

/// A bad or missing credential: 401, or 429 once this address has made too
/// many (so guessing keys costs time).
fn bad_credential(s: &ServerState, addr: &str, e: ApiError) -> ApiError {
    match s.door.attempts.check(&format!("fail:{addr}")) {
        Ok(()) => e,
        Err(wait) => too_many("failed sign-ins from this address", wait),
    }
}

fn from_bearer(s: &ServerState, parts: &Parts, action: Action) -> Result<Principal, ApiError> {
    let addr = client_addr(parts);
    let Some(token) = bearer(&parts.headers) else {
        return Err(bad_credential(s, &addr, ApiError::of(Code::MissingKey)));
    };
    if let (Action::Metrics, Some(t)) = (action, &s.door.metrics_token) {
        // The metrics token stands for an admin on this one route only.
        if same_secret(token, &t.0) {
            return Ok(Principal {
                key_id: "metrics-token".into(),
                name: "metrics token".into(),
                role: Role::Admin,
                member_id: None,
                via: Via::Key,
            });
        }
    }
    resolve(&s.app, &s.door, token, Via::Key)
        .ok_or_else(|| bad_credential(s, &addr, ApiError::of(Code::InvalidKey)))
}

/// The session's principal, checked against its key or account now; a
/// session whose key no longer works, or whose account changed since
/// sign-in, is ended.
fn from_session(s: &ServerState, headers: &HeaderMap) -> Option<Principal> {
    let token = session_cookie(headers)?;
    let (credential, csrf) = {
        let mut sessions = s.web.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(&token) {
            Some(e) if e.created.elapsed() < crate::state::SESSION_TTL => {
                (e.credential.clone(), e.csrf.clone())
            }
            Some(_) => {
                sessions.remove(&token);
                return None;
            }
            None => return None,
        }
    };
    let via = Via::Session {
        token: token.clone(),
        csrf,
    };
    let p = match credential {
        Credential::Key(key) => resolve(&s.app, &s.door, &key, via),
        Credential::Account { id, generation } => {
            s.app.accounts.current(&id, generation).map(|a| Principal {
                key_id: a.id,
                name: a.name,
                role: a.role,
                member_id: a.member_id,
                via,
            })
        }
    };
    if p.is_none() {
        s.web
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
    }
    p
}

/// Why a request was not admitted; the router answers it as the route's
/// surface does (JSON error, error page, sign-in redirect).
#[derive(Debug)]
pub enum Refusal {
    Refused(ApiError),
    /// A page without a live session: sign in, then come back to `next`.
    SignIn {
        next: String,
    },
}

/// Admits a request to a route, or answers it. On success the principal
/// (none on public routes) is in the request's extensions.
pub async fn admit(s: &ServerState, route: &Route, parts: &mut Parts) -> Result<(), Refusal> {
    if policy::access(route.action) == policy::Access::Public {
        return Ok(());
    }
    let local = parts
        .extensions
        .get::<Principal>()
        .filter(|p| p.via == Via::Local)
        .cloned();
    let principal = match (local, route.surface) {
        (Some(p), _) => p,
        (None, Surface::Api) => from_bearer(s, parts, route.action).map_err(Refusal::Refused)?,
        (None, Surface::Page) => match from_session(s, &parts.headers) {
            Some(p) => p,
            None => {
                // No cookie is ordinary browsing; a cookie that is not a
                // live session counts as a bad credential.
                if session_cookie(&parts.headers).is_some() {
                    let addr = client_addr(parts);
                    if let Err(wait) = s.door.attempts.check(&format!("fail:{addr}")) {
                        return Err(Refusal::Refused(too_many(
                            "failed sign-ins from this address",
                            wait,
                        )));
                    }
                }
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                return Err(Refusal::SignIn {
                    next: next.to_owned(),
                });
            }
        },
    };
    // Known from here on, so that the audit log names who was refused
    // (a refused request never reaches a handler).
    parts.extensions.insert(principal.clone());
    if let Err(wait) = s.door.limiter.check(&principal.key_id) {
        return Err(Refusal::Refused(too_many("requests for this key", wait)));
    }
    let path_member = RawPathParams::from_request_parts(parts, &())
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "id")
                .map(|(_, v)| v.to_owned())
        });
    let decision = policy::decide(
        route.action,
        principal.role,
        principal.member_id.as_deref(),
        path_member.as_deref(),
    );
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err(Refusal::Refused(forbidden(route.action, principal.role))),
        Decision::Hidden => Err(Refusal::Refused(member_not_found(
            path_member.as_deref().unwrap_or(""),
        ))),
    }
}

/// 403 naming who may use the action.
pub fn forbidden(action: Action, role: Role) -> ApiError {
    let names: Vec<&str> = policy::roles(action).iter().map(|r| r.as_str()).collect();
    ApiError::new(
        Code::Forbidden,
        format!(
            "this is for {} keys; this key's role is {}",
            names.join(", "),
            role.as_str()
        ),
    )
}

pub use crate::error::member_not_found;

impl Principal {
    /// Asks the policy table about a refinement of the route's action (e.g.
    /// totals by member).
    pub fn allows(&self, action: Action) -> Result<(), ApiError> {
        match policy::decide(action, self.role, self.member_id.as_deref(), None) {
            Decision::Allow => Ok(()),
            _ => Err(forbidden(action, self.role)),
        }
    }

    /// Whether rows about member `id` belong in this principal's answers
    /// (lists filter with this; a member sees only itself).
    pub fn sees_member(&self, id: &str) -> bool {
        policy::may_see_member(self.role, self.member_id.as_deref(), id)
    }

    /// Whether a record about these members (a case) belongs in this
    /// principal's answers.
    pub fn sees_any_member(&self, members: &[String]) -> bool {
        policy::may_see_any_member(self.role, self.member_id.as_deref(), members)
    }

    /// Who the ledger records as the author of a write.
    pub fn actor(&self) -> String {
        match self.via {
            Via::Key | Via::Local => format!("key:{} ({})", self.key_id, self.name),
            Via::Session { .. } => format!("web:{}", self.key_id),
        }
    }

    /// The CSRF token of a page session.
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf, .. } => Some(csrf),
            Via::Key | Via::Local => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Only a route without a policy entry could get here without one,
        // and the router is built from the table.
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a handler needs a principal its route did not admit");
            ApiError::of(Code::Internal)
        })
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
