//! A member's interest in notices over HTTP:
//! `POST /api/v1/members/{id}/interests` (`{"ocid": ...}`: "ask the
//! brokerage about this", by the member itself or a broker) and
//! `GET /api/v1/members/{id}/interests`. Who may call them is the policy
//! table's (`MemberInterestAsk`, `MemberInterests`); the work is
//! [`crate::services::interests`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::blocking;
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::services;

/// The body of `POST /api/v1/members/{id}/interests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterestInput {
    /// The notice the member would like the brokerage to look at.
    pub ocid: String,
}

/// 201 with the interest when new, 200 with the first one when the member
/// had asked already.
pub async fn ask(
    caller: Principal,
    State(app): State<super::State>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<InterestInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    blocking(move || {
        let (interest, new) = services::interests::ask(&app, &id, &input.ocid, &caller.key_id)?;
        let status = if new {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((
            status,
            Json(serde_json::json!({ "interest": interest, "new": new })),
        ))
    })
    .await
}

/// The member's interests, newest first.
pub async fn list(
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let list = services::interests::for_member(&app, &id)?;
        Ok(Json(
            serde_json::json!({ "member_id": id, "interests": list }),
        ))
    })
    .await
}
