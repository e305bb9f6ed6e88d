//! People's accounts as pages: the admin's `/admin/people` (list, invite,
//! change role, disable, reset), and the links a person gets,
//! `/invite/{token}` and `/reset/{token}` (set a password, then signed in).
//! They call the same engine service as `/api/v1/accounts`
//! (`sebroker_engine::accounts`); a link is shown once, to the admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::{start_session, Viewer};
use super::{internal, layout, Role};
use crate::state::Credential;
use sebroker_engine::accounts::{
    self as service, Account, NewAccount, TokenKind, MIN_PASSWORD_CHARS,
};
use sebroker_engine::people;

/// What the invitation form sent, kept to show it again after an error.
#[derive(Deserialize, Default, Clone)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    member_id: String,
}

fn role_options(selected: &str) -> Markup {
    html! {
        @for r in Role::ALL {
            option value=(r.as_str()) selected[r.as_str() == selected] { (r.as_str()) }
        }
    }
}

fn host(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn member_of(role: Role, member_id: &str) -> Option<String> {
    let m = member_id.trim();
    (role == Role::Member && !m.is_empty()).then(|| m.to_owned())
}

/// The list with the invitation form; `error` is shown at the form, with
/// what was typed kept.
fn people_page(
    viewer: &Viewer,
    accounts: &[Account],
    typed: &InviteForm,
    error: Option<&str>,
) -> Response {
    let csrf = &viewer.session.csrf;
    let body = html! {
        h1 { "People" }
        p { "People sign in with their e-mail address and password. Every change here ends the person's open sessions." }
        table class="stack" {
            caption { "Accounts (" (accounts.len()) ")" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Change" } } }
            tbody {
                @for a in accounts { (row(a, csrf)) }
            }
        }
        h2 id="invite" { "Invite a person" }
        form method="post" action="/admin/people" class="card" {
            input type="hidden" name="csrf" value=(csrf);
            @if let Some(e) = error { p class="error" role="alert" id="invite-error" { (e) } }
            label for="invite-email" { "E-mail address" }
            input id="invite-email" name="email" type="email" value=(typed.email) required;
            label for="invite-name" { "Name" }
            input id="invite-name" name="name" type="text" value=(typed.name) required;
            label for="invite-role" { "Role" }
            select id="invite-role" name="role" { (role_options(if typed.role.is_empty() { "broker" } else { &typed.role })) }
            label for="invite-member" { "Member id (for a member's person only)" }
            input id="invite-member" name="member_id" type="text" value=(typed.member_id);
            p { button type="submit" { "Invite" } }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, layout::page(viewer, "People", body)).into_response()
}

fn row(a: &Account, csrf: &str) -> Markup {
    let id = &a.id;
    html! {
        tr {
            td { (a.name) }
            td { (a.email) }
            td { (a.role.as_str()) @if let Some(m) = &a.member_id { " of " a href={ "/members/" (m) } { (m) } } }
            td { (a.status.as_str()) }
            td {
                form method="post" action={ "/admin/people/" (id) } class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="role";
                    label for={ "role-" (id) } class="vh" { "Role of " (a.name) }
                    select id={ "role-" (id) } name="role" { (role_options(a.role.as_str())) }
                    label for={ "member-" (id) } class="vh" { "Member id of " (a.name) }
                    input id={ "member-" (id) } name="member_id" type="text" size="8" value=(a.member_id.as_deref().unwrap_or("")) placeholder="member id";
                    button type="submit" { "Change role" span class="vh" { " of " (a.name) } }
                }
                @if a.status != service::AccountStatus::Disabled {
                    form method="post" action={ "/admin/people/" (id) } class="inline" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="reset";
                        button type="submit" { "Reset password" span class="vh" { " of " (a.name) } }
                    }
                    form method="post" action={ "/admin/people/" (id) } class="inline" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="disable";
                        button type="submit" class="danger" { "Disable" span class="vh" { " " (a.name) } }
                    }
                }
            }
        }
    }
}

async fn list_accounts(state: &super::State) -> Result<Vec<Account>, Response> {
    let app = state.app.clone();
    match crate::blocking::run(move || app.accounts.list()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(internal(&e)),
        Err(e) => Err(internal(&e.message)),
    }
}

/// `GET /admin/people`.
pub async fn list(State(state): State<super::State>, viewer: Viewer) -> Response {
    match list_accounts(&state).await {
        Ok(all) => people_page(&viewer, &all, &InviteForm::default(), None),
        Err(r) => r,
    }
}

/// A link shown once, with what it is for.
fn shown_once(
    viewer: &Viewer,
    title: &str,
    who: &Account,
    what: &str,
    id: &str,
    url: &str,
) -> Response {
    let body = html! {
        h1 { (title) }
        p { "Send this link to " (who.name) " (" (who.email) "). " (what) " It is shown only now: copy it before you leave this page." }
        p class="card" { code id=(id) { (url) } }
        p { a href="/admin/people" { "Back to people" } }
    };
    layout::page(viewer, title, body).into_response()
}

/// `POST /admin/people`: an invitation.
pub async fn invite(
    State(state): State<super::State>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    Form(f): Form<InviteForm>,
) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let Some(role) = Role::parse(f.role.trim()) else {
        return refused(&state, &viewer, &f, "Role: choose one of the roles.").await;
    };
    let new = NewAccount {
        email: f.email.clone(),
        name: f.name.clone(),
        role,
        member_id: member_of(role, &f.member_id),
    };
    let app = state.app.clone();
    let host = host(&headers);
    match crate::blocking::run(move || {
        people::invite(&app, new).map(|(a, p)| {
            let url = people::absolute(&app, &p, host.as_deref());
            (a, url)
        })
    })
    .await
    {
        Ok(Ok((a, url))) => shown_once(
            &viewer,
            "Invitation made",
            &a,
            "It works once, for 7 days, to set a password.",
            "invite-link",
            &url,
        ),
        Ok(Err(e)) => refused(&state, &viewer, &f, &message(&e)).await,
        Err(e) => internal(&e.message),
    }
}

fn message(e: &sebroker_engine::Error) -> String {
    match e {
        sebroker_engine::Error::Conflict { message, .. }
        | sebroker_engine::Error::Unprocessable { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

async fn refused(state: &super::State, viewer: &Viewer, typed: &InviteForm, why: &str) -> Response {
    match list_accounts(state).await {
        Ok(all) => people_page(viewer, &all, typed, Some(why)),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    op: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    member_id: String,
}

/// `POST /admin/people/{id}`: `op` is `role`, `disable` or `reset`.
pub async fn change(
    State(state): State<super::State>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ChangeForm>,
) -> Response {
    if let Err(r) = viewer.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let app = state.app.clone();
    let host = host(&headers);
    let done = crate::blocking::run(
        move || -> sebroker_engine::Result<Option<(Account, String)>> {
            match f.op.as_str() {
                "role" => {
                    let role = Role::parse(f.role.trim()).ok_or_else(|| {
                        sebroker_engine::Error::Unprocessable {
                            code: "invalid_account",
                            message: "role: choose one of the roles".into(),
                        }
                    })?;
                    people::set_role(&app, &id, role, member_of(role, &f.member_id)).map(|_| None)
                }
                "disable" => app.accounts.disable(&id).map(|_| None),
                "reset" => people::reset(&app, &id)
                    .map(|(a, p)| Some((a, people::absolute(&app, &p, host.as_deref())))),
                other => Err(sebroker_engine::Error::Unprocessable {
                    code: "invalid_account",
                    message: format!("no such change {other:?}"),
                }),
            }
        },
    )
    .await;
    match done {
        Ok(Ok(None)) => Redirect::to("/admin/people").into_response(),
        Ok(Ok(Some((a, url)))) => shown_once(
            &viewer,
            "Reset link made",
            &a,
            "It works once, for one hour, to set a new password.",
            "reset-link",
            &url,
        ),
        Ok(Err(sebroker_engine::Error::NotFound(_))) => {
            super::auth::Refused::Hidden.into_response()
        }
        Ok(Err(e)) => refused(&state, &viewer, &InviteForm::default(), &message(&e)).await,
        Err(e) => internal(&e.message),
    }
}

/// The set-a-password form of a live token, or the page saying it is not.
fn password_page(
    kind: TokenKind,
    token: &str,
    account: Option<&Account>,
    error: Option<&str>,
) -> Response {
    let (title, verb) = match kind {
        TokenKind::Invite => ("Set your password", "Set password and sign in"),
        TokenKind::Reset => ("Choose a new password", "Save password and sign in"),
    };
    let Some(a) = account else {
        return (
            StatusCode::NOT_FOUND,
            layout::message("This link does not work", "It was used already, it has expired, or the account changed since. Ask the programme's administrators for a new one."),
        )
            .into_response();
    };
    let body = html! {
        h1 { (title) }
        p { "For " (a.name) " (" (a.email) "), " (a.role.as_str()) "." }
        form method="post" action={ (kind.path()) (token) } class="card" {
            @if let Some(e) = error { p class="error" role="alert" id="password-error" { (e) } }
            // A hidden username helps password managers file the password.
            input type="hidden" name="username" autocomplete="username" value=(a.email);
            label for="password" { "New password (at least " (MIN_PASSWORD_CHARS) " characters)" }
            input id="password" name="password" type="password" autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) required;
            label for="confirm" { "The same password again" }
            input id="confirm" name="confirm" type="password" autocomplete="new-password" required;
            p { button type="submit" { (verb) } }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, layout::bare(title, body)).into_response()
}

async fn show(state: super::State, kind: TokenKind, token: String) -> Response {
    let app = state.app.clone();
    let t = token.clone();
    match crate::blocking::run(move || app.accounts.peek(&t, kind)).await {
        Ok(Ok(a)) => password_page(kind, &token, a.as_ref(), None),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e.message),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Uses the token (once), then signs the person in.
async fn set(
    state: super::State,
    headers: axum::http::HeaderMap,
    kind: TokenKind,
    token: String,
    f: PasswordForm,
) -> Response {
    let app = state.app.clone();
    let t = token.clone();
    let peeked = crate::blocking::run(move || app.accounts.peek(&t, kind)).await;
    let account = match peeked {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e.message),
    };
    if account.is_some() && f.password != f.confirm {
        return password_page(
            kind,
            &token,
            account.as_ref(),
            Some("The two passwords differ: type the same password twice."),
        );
    }
    let app = state.app.clone();
    let t = token.clone();
    let password = f.password;
    match crate::blocking::run(move || app.accounts.redeem(&t, kind, &password)).await {
        Ok(Ok(Some(a))) => {
            tracing::info!(account = %a.id, "password set from a link");
            start_session(
                &state,
                &headers,
                Credential::Account {
                    id: a.id,
                    generation: a.generation,
                },
                "/",
            )
        }
        Ok(Ok(None)) => password_page(kind, &token, None, None),
        Ok(Err(e @ sebroker_engine::Error::Unprocessable { .. })) => {
            password_page(kind, &token, account.as_ref(), Some(&message(&e)))
        }
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e.message),
    }
}

/// `GET /invite/{token}`.
pub async fn invite_form(State(state): State<super::State>, Path(token): Path<String>) -> Response {
    show(state, TokenKind::Invite, token).await
}

/// `POST /invite/{token}`.
pub async fn invite_set(
    State(state): State<super::State>,
    headers: axum::http::HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    set(state, headers, TokenKind::Invite, token, f).await
}

/// `GET /reset/{token}`.
pub async fn reset_form(State(state): State<super::State>, Path(token): Path<String>) -> Response {
    show(state, TokenKind::Reset, token).await
}

/// `POST /reset/{token}`.
pub async fn reset_set(
    State(state): State<super::State>,
    headers: axum::http::HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    set(state, headers, TokenKind::Reset, token, f).await
}
