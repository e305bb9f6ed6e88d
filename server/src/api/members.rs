//! Members managed over HTTP: `POST /api/v1/members` (a new member in the
//! import format), `PATCH /api/v1/members/{id}` (a JSON merge patch; a
//! member key only on its own editable fields). Both store the member
//! (flushed before the answer), record a cluster change in the ledger and
//! re-match. See docs/api.md.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::blocking;
use crate::body::ApiJson;
use crate::error::{member_not_found, ApiError, Code};
use crate::principal::Principal;
use sebroker_engine::members::{self as members, MemberWriteError};
use sebroker_ledger::auth::Role;

/// The answer to a member write: the member as stored.
#[derive(Debug, serde::Serialize)]
pub struct MemberAnswer {
    /// The member, with its contact (the caller is a broker, an admin or
    /// the member itself).
    pub member: sebroker_model::Member,
}

/// A refused member write in the API's error shape, naming the field.
fn refused(e: MemberWriteError) -> ApiError {
    match e {
        MemberWriteError::Invalid { field, message } => {
            ApiError::new(Code::InvalidMember, format!("{field}: {message}")).with_field(field)
        }
        MemberWriteError::Forbidden { field } => ApiError::new(
            Code::Forbidden,
            format!(
                "{field}: a member key may change only {}",
                members::MEMBER_EDITABLE.join(", ")
            ),
        )
        .with_field(field),
        MemberWriteError::Exists(id) => ApiError::new(
            Code::MemberExists,
            format!("a member with id {id:?} exists; change it with PATCH /api/v1/members/{id}"),
        )
        .with_field("id"),
        MemberWriteError::NotFound(id) => member_not_found(&id),
        MemberWriteError::Engine(e) => e.into(),
    }
}

/// `POST /api/v1/members`: 201 with the stored member.
pub async fn create(
    caller: Principal,
    State(app): State<super::State>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<MemberAnswer>), ApiError> {
    blocking(move || {
        let member = members::create(&app, body, &caller.actor()).map_err(refused)?;
        Ok((StatusCode::CREATED, Json(MemberAnswer { member })))
    })
    .await
}

/// `PATCH /api/v1/members/{id}`: 200 with the member as changed.
pub async fn update(
    caller: Principal,
    State(app): State<super::State>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Json<MemberAnswer>, ApiError> {
    blocking(move || {
        let own_only = caller.role == Role::Member;
        let member =
            members::update(&app, &id, patch, own_only, &caller.actor()).map_err(refused)?;
        Ok(Json(MemberAnswer { member }))
    })
    .await
}

/// The body of an erasure: the member's id again, so that a mistyped path
/// or a replayed request with another id erases nothing.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseInput {
    /// Must equal the `{id}` of the path.
    pub confirm: String,
}

/// `POST /api/v1/members/{id}/erase` (admins): removes the member's
/// personal data everywhere (`sebroker_engine::erase`); 200 with what was
/// removed. Erasing twice is harmless (the second finds nothing more).
pub async fn erase(
    State(app): State<super::State>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<EraseInput>,
) -> Result<Json<sebroker_engine::erase::Erased>, ApiError> {
    if input.confirm != id {
        return Err(ApiError::new(
            Code::EraseNotConfirmed,
            format!("confirm: send {{\"confirm\": {id:?}}} to erase member {id:?}"),
        )
        .with_field("confirm"));
    }
    blocking(move || {
        sebroker_engine::erase::erase_member(&app, &id)?
            .map(Json)
            .ok_or_else(|| member_not_found(&id))
    })
    .await
}
