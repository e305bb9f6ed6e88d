//! People's accounts for admins: `GET /api/v1/accounts`, `POST
//! /api/v1/accounts` (an invitation; its link is in the answer, once),
//! `PATCH /api/v1/accounts/{id}` (role), `POST /api/v1/accounts/{id}/disable`
//! and `POST /api/v1/accounts/{id}/reset` (a reset link, once). The admin's
//! page `/admin/people` calls the same engine service
//! (`sebroker_engine::accounts`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{blocking, Paging};
use crate::body::ApiQuery;
use crate::error::{ApiError, Code};
use sebroker_engine::accounts::NewAccount;
use sebroker_engine::people;
use sebroker_ledger::auth::Role;

/// An invitation: who, in which role (a member's account names its member).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub member_id: Option<String>,
}

/// A role change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    pub role: Role,
    #[serde(default)]
    pub member_id: Option<String>,
}

/// The engine's refusals as the account routes' codes.
pub fn account_error(e: sebroker_engine::Error) -> ApiError {
    use sebroker_engine::Error as E;
    match e {
        E::NotFound(m) => ApiError::new(Code::AccountNotFound, m),
        E::Unprocessable { message, .. } | E::Invalid(message) => {
            ApiError::new(Code::InvalidAccount, message)
        }
        other => other.into(),
    }
}

pub async fn list(
    State(app): State<super::State>,
    ApiQuery(page): ApiQuery<Paging>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let all = app.accounts.list().map_err(account_error)?;
        Ok(Json(page.wrap("accounts", all)))
    })
    .await
}

fn host(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub async fn create(
    State(app): State<super::State>,
    headers: axum::http::HeaderMap,
    crate::body::ApiJson(input): crate::body::ApiJson<AccountInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    blocking(move || {
        let new = NewAccount {
            email: input.email,
            name: input.name,
            role: input.role,
            member_id: input.member_id,
        };
        let (account, path) = people::invite(&app, new).map_err(account_error)?;
        let url = people::absolute(&app, &path, host(&headers).as_deref());
        Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({ "account": account, "invite_url": url, "invite_path": path })),
        ))
    })
    .await
}

pub async fn update(
    State(app): State<super::State>,
    Path(id): Path<String>,
    crate::body::ApiJson(input): crate::body::ApiJson<AccountUpdate>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let a = people::set_role(&app, &id, input.role, input.member_id).map_err(account_error)?;
        Ok(Json(serde_json::json!({ "account": a })))
    })
    .await
}

pub async fn disable(
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let a = app.accounts.disable(&id).map_err(account_error)?;
        tracing::info!(account = %a.id, "account disabled");
        Ok(Json(serde_json::json!({ "account": a })))
    })
    .await
}

pub async fn reset(
    State(app): State<super::State>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let (a, path) = people::reset(&app, &id).map_err(account_error)?;
        let url = people::absolute(&app, &path, host(&headers).as_deref());
        Ok(Json(
            serde_json::json!({ "account": a, "reset_url": url, "reset_path": path }),
        ))
    })
    .await
}
