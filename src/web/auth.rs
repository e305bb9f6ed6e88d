//! Signing in and out, the session extractor, and CSRF checks.

use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::{layout, random_token, Session};

const COOKIE_NAME: &str = "sebroker_session";
/// Sessions end after this long, signed in or not.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Who is using the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Broker,
    Funder,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Broker => "broker",
            Role::Funder => "funder",
            Role::Member => "member",
        }
    }

    /// Brokers' pages: search, notices, members, cases.
    pub fn brokers(self) -> bool {
        matches!(self, Role::Admin | Role::Broker)
    }
}

/// The signed-in viewer of a page; pages that take it require a session.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub token: String,
    pub session: Session,
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
}

impl FromRequestParts<super::State> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::State,
    ) -> Result<Self, Self::Rejection> {
        let signin = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            Redirect::to(&format!("/signin?next={}", urlencode(next))).into_response()
        };
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(signin());
        };
        let mut sessions = state.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(&token) {
            Some(s) if s.created.elapsed() < SESSION_TTL => Ok(Viewer {
                token,
                session: s.clone(),
            }),
            Some(_) => {
                sessions.remove(&token);
                Err(signin())
            }
            None => Err(signin()),
        }
    }
}

/// Why a page refused a request.
#[derive(Debug, Clone, Copy)]
pub enum Refused {
    /// The form's CSRF token is missing or wrong (403).
    Csrf,
    /// Not for this viewer: answered as if it did not exist (404), so
    /// another member's pages do not even leak their existence.
    Hidden,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Csrf => (
                StatusCode::FORBIDDEN,
                layout::message(
                    "Form refused",
                    "This form has expired or did not come from this site. Go back, reload the page and try again.",
                ),
            )
                .into_response(),
            Refused::Hidden => {
                (StatusCode::NOT_FOUND, layout::message("Not found", "There is no such page.")).into_response()
            }
        }
    }
}

impl Viewer {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), Refused> {
        if constant_eq(sent.as_bytes(), self.session.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(Refused::Csrf)
        }
    }

    pub fn require(&self, ok: bool) -> Result<(), Refused> {
        if ok {
            Ok(())
        } else {
            Err(Refused::Hidden)
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
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

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Deserialize, Default)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn signin_form(Query(q): Query<NextParam>) -> Response {
    let next = safe_next(q.next.as_deref());
    layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to sebroker" }
            form method="post" action="/signin" class="card" {
                input type="hidden" name="next" value=(next);
                label for="key" { "API key" }
                input id="key" name="key" type="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            p class="muted" { "Keys are issued by the programme's administrators. " "The demo server prints demo keys when it starts." }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct SigninForm {
    key: String,
    next: Option<String>,
}

pub async fn signin(
    State(state): State<super::State>,
    headers: HeaderMap,
    Form(f): Form<SigninForm>,
) -> Response {
    let app = state.app.clone();
    let key = f.key.trim().to_owned();
    let who = tokio::task::spawn_blocking(move || resolve_key(&app, &key))
        .await
        .ok()
        .flatten();
    let Some((role, member_id, actor)) = who else {
        return (
            StatusCode::UNAUTHORIZED,
            layout::message(
                "Sign-in failed",
                "That key is not valid. Check it and try again.",
            ),
        )
            .into_response();
    };
    let token = random_token();
    let session = Session {
        role,
        member_id,
        actor,
        csrf: random_token(),
        created: Instant::now(),
    };
    state
        .sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone(), session);
    // Secure when served over TLS, directly configured or behind a proxy.
    let behind_tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = if state.secure_cookies || behind_tls {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    let mut res = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn signout(
    State(state): State<super::State>,
    viewer: Viewer,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r.into_response();
    }
    state
        .sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&viewer.token);
    let mut res = Redirect::to("/signin").into_response();
    res.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("sebroker_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

/// The role, member and key id an API key (or the admin token) stands for.
pub fn resolve_key(app: &crate::app::App, key: &str) -> Option<(Role, Option<String>, String)> {
    if key.is_empty() {
        return None;
    }
    if let Some(t) = &app.admin_token {
        if constant_eq(t.0.as_bytes(), key.as_bytes()) {
            return Some((Role::Admin, None, "admin-token".into()));
        }
    }
    let k = app.ledger.authenticate(key)?;
    let role = match k.role {
        crate::auth::Role::Admin => Role::Admin,
        crate::auth::Role::Broker => Role::Broker,
        crate::auth::Role::Funder => Role::Funder,
        crate::auth::Role::Member => Role::Member,
    };
    Some((role, k.member_id, k.id))
}
