//! API keys for admins: `GET /api/v1/keys`, `POST /api/v1/keys` (the key
//! is in the answer, once), `POST /api/v1/keys/{id}/revoke`. The CLI's
//! `sebroker keys` goes through these while `serve` holds the data folder.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{blocking, Paging};
use crate::body::ApiQuery;
use crate::error::{ApiError, Code};
use sebroker_ledger::auth::Role;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    pub role: Role,
    #[serde(default)]
    pub member_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `YYYY-MM-DD` (the key stops working at the start of that day, UTC).
    #[serde(default)]
    pub expires: Option<String>,
}

pub async fn list(
    State(app): State<super::State>,
    ApiQuery(page): ApiQuery<Paging>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut keys = app.ledger.keys();
    for k in &mut keys {
        k.hash = String::new();
    }
    Ok(Json(page.wrap("keys", keys)))
}

pub async fn create(
    State(app): State<super::State>,
    crate::body::ApiJson(input): crate::body::ApiJson<KeyInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    blocking(move || {
        let (key, stored) = sebroker_engine::keys::create(&app, input.role, input.member_id, input.name, input.expires)
            .map_err(|e| match e {
                // The body parsed, but asks for a key that cannot be.
                sebroker_engine::Error::Invalid(m) => ApiError::new(Code::InvalidKeyInput, m),
                other => other.into(),
            })?;
        Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({ "id": stored.id, "role": stored.role, "member_id": stored.member_id, "name": stored.name, "key": key })),
        ))
    })
    .await
}

pub async fn revoke(
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let mut k = app.ledger.revoke_key(&id).map_err(|e| match e {
            sebroker_ledger::Error::NotFound(m) => ApiError::new(Code::KeyNotFound, m),
            other => other.into(),
        })?;
        k.hash = String::new();
        Ok(Json(serde_json::json!({ "key": k })))
    })
    .await
}
