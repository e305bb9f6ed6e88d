//! Signing in and out (a person's e-mail and password, or an API key),
//! the page viewer extractor, and CSRF checks.
//!
//! Sign-in is rate-limited per client address and its form carries a CSRF
//! token bound to a short-lived cookie (double submit), so another site
//! cannot sign a browser in with a key of its choosing.

use std::time::Instant;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::{layout, secret_token, Session, MAX_SESSIONS, SESSION_TTL};
pub use crate::principal::urlencode;
use crate::principal::{self, Principal, Via, SESSION_COOKIE};
use crate::state::{Credential, StoredSession};

/// The cookie that carries the sign-in form's CSRF token.
const SIGNIN_CSRF_COOKIE: &str = "sebroker_signin";

/// The signed-in viewer of a page, as admitted for this request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub token: String,
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Principal>() {
            Some(Principal {
                key_id,
                role,
                member_id,
                via: Via::Session { token, csrf },
                ..
            }) => Ok(Viewer {
                token: token.clone(),
                session: Session {
                    role: *role,
                    member_id: member_id.clone(),
                    actor: key_id.clone(),
                    csrf: csrf.clone(),
                },
            }),
            _ => Err(Redirect::to("/signin").into_response()),
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
        if principal::same_secret(sent, &self.session.csrf) {
            Ok(())
        } else {
            Err(Refused::Csrf)
        }
    }
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

fn secure_suffix(state: &super::State, headers: &HeaderMap) -> &'static str {
    // Secure when served over TLS, directly configured or behind a proxy.
    let behind_tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    if state.secure_cookies || behind_tls {
        "; Secure"
    } else {
        ""
    }
}

pub async fn signin_form(
    State(state): State<super::State>,
    headers: HeaderMap,
    Query(q): Query<NextParam>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    let Some(csrf) = secret_token() else {
        return no_entropy();
    };
    let mut res = layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to sebroker" }
            // One form: a person signs in with e-mail and password, a
            // machine's key (or the demo's) goes in the key field.
            form method="post" action="/signin" class="card" {
                input type="hidden" name="next" value=(next);
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { "With your e-mail address" }
                    label for="email" { "E-mail address" }
                    input id="email" name="email" type="email" autocomplete="username";
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password";
                }
                fieldset {
                    legend { "Or with an API key" }
                    label for="key" { "API key" }
                    input id="key" name="key" type="password" autocomplete="off";
                }
                button type="submit" { "Sign in" }
            }
            p class="muted" { "Accounts are made by the programme's administrators: your invitation e-mail has a link to set your password. " "The demo server prints demo accounts and keys when it starts." }
        },
    )
    .into_response();
    let cookie = format!(
        "{SIGNIN_CSRF_COOKIE}={csrf}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        secure_suffix(&state, &headers)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

pub(crate) fn no_entropy() -> Response {
    tracing::error!("the operating system's random source failed; nobody can sign in");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        layout::message(
            "Sign-in unavailable",
            "The server cannot make a secure session right now. Try again later.",
        ),
    )
        .into_response()
}

pub(crate) fn failed(status: StatusCode, text: &str) -> Response {
    (status, layout::message("Sign-in failed", text)).into_response()
}

pub async fn signin(
    State(state): State<super::State>,
    headers: HeaderMap,
    principal::ClientAddr(addr): principal::ClientAddr,
    Form(f): Form<SigninForm>,
) -> Response {
    signin_from(state, headers, &addr, f).await
}

async fn signin_from(
    state: super::State,
    headers: HeaderMap,
    addr: &str,
    f: SigninForm,
) -> Response {
    if let Err(wait) = state.door.attempts.check(&format!("signin:{addr}")) {
        return super::refusal_page(&principal::too_many(
            "sign-in attempts from this address",
            wait,
        ));
    }
    let expected = principal::cookie(&headers, SIGNIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !principal::same_secret(&f.csrf, &expected) {
        return Refused::Csrf.into_response();
    }
    let credential = if f.key.trim().is_empty() {
        let email = f.email.trim().to_lowercase();
        // Per e-mail too, so that one person's password is not guessed
        // from many addresses.
        if let Err(wait) = state.door.attempts.check(&format!("signin-email:{email}")) {
            return super::refusal_page(&principal::too_many(
                "sign-in attempts for this e-mail address",
                wait,
            ));
        }
        let app = state.app.clone();
        let password = f.password;
        crate::blocking::run(move || app.accounts.sign_in(&email, &password).ok().flatten())
            .await
            .ok()
            .flatten()
            .map(|a| Credential::Account {
                id: a.id,
                generation: a.generation,
            })
    } else {
        let (app, door) = (state.app.clone(), state.door.clone());
        let key = f.key.trim().to_owned();
        let checked = key.clone();
        // A stopped check is a failed sign-in (logged by the helper).
        let ok = crate::blocking::run(move || {
            principal::resolve(&app, &door, &checked, Via::Key).is_some()
        })
        .await
        .unwrap_or(false);
        ok.then_some(Credential::Key(key))
    };
    let Some(credential) = credential else {
        if let Err(wait) = state.door.attempts.check(&format!("fail:{addr}")) {
            return super::refusal_page(&principal::too_many(
                "failed sign-ins from this address",
                wait,
            ));
        }
        // The same words for an unknown e-mail and a wrong password.
        let text = if f.key.trim().is_empty() {
            "That e-mail address and password do not match an active account. Check them and try again."
        } else {
            "That key is not valid. Check it and try again."
        };
        return failed(StatusCode::UNAUTHORIZED, text);
    };
    let mut res = start_session(&state, &headers, credential, &safe_next(f.next.as_deref()));
    res.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_static(
            "sebroker_signin=; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    res
}

/// Opens a session for `credential` and redirects to `next` with its
/// cookie (sign-in, and a password just set from an invitation or reset).
pub(crate) fn start_session(
    state: &super::State,
    headers: &HeaderMap,
    credential: Credential,
    next: &str,
) -> Response {
    let (Some(token), Some(csrf)) = (secret_token(), secret_token()) else {
        return no_entropy();
    };
    {
        let mut sessions = state.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                sessions.remove(&k);
            }
        }
        sessions.insert(
            token.clone(),
            StoredSession {
                credential,
                csrf,
                created: Instant::now(),
            },
        );
    }
    let secure = secure_suffix(state, headers);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    let mut res = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(SET_COOKIE, v);
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
