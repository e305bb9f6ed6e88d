//! Matches and consortia over HTTP:
//! `GET /api/v1/notices/{ocid}/matches`, `GET /api/v1/members/{id}/matches`,
//! `GET /api/v1/notices/{ocid}/consortia`, and the member list and profile.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::auth::{member_not_found, Caller};
use super::blocking;
use super::error::ApiError;
use crate::auth::Role;
use crate::matching::store::member_matches;
use crate::search::parse_when;
use sebroker_index::Status;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchParams {
    pub top: Option<usize>,
    pub status: Option<String>,
    pub now: Option<String>,
    pub max_size: Option<usize>,
}

fn bad(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", e.body_text())
}

fn notice_not_found(ocid: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "notice_not_found",
        format!("no notice with ocid {ocid:?}"),
    )
}

pub async fn notice_matches(
    caller: Caller,
    State(app): State<super::State>,
    Path(ocid): Path<String>,
    params: Result<Query<MatchParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Broker])?;
    let Query(p) = params.map_err(bad)?;
    blocking(move || {
        let (_, matches) = app
            .notice_matches(&ocid, p.top.unwrap_or(10).min(500))?
            .ok_or_else(|| notice_not_found(&ocid))?;
        Ok(Json(
            serde_json::json!({ "ocid": ocid, "matches": matches }),
        ))
    })
    .await
}

pub async fn member_matches_route(
    caller: Caller,
    State(app): State<super::State>,
    Path(id): Path<String>,
    params: Result<Query<MatchParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.may_see_member(&id)?;
    let Query(p) = params.map_err(bad)?;
    blocking(move || {
        app.store
            .get_member(&id)?
            .ok_or_else(|| member_not_found(&id))?;
        let now = match &p.now {
            Some(s) => parse_when("now", s, false)?,
            None => time::OffsetDateTime::now_utc(),
        };
        let mut statuses = Vec::new();
        for s in p
            .status
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            statuses.push(Status::parse(s).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    format!("status: {s:?} is not a status"),
                )
            })?);
        }
        let list = member_matches(&app, &id, &statuses, now, p.top.unwrap_or(10).min(500))?;
        Ok(Json(
            serde_json::json!({ "member_id": id, "matches": list }),
        ))
    })
    .await
}

pub async fn consortia(
    caller: Caller,
    State(app): State<super::State>,
    Path(ocid): Path<String>,
    params: Result<Query<MatchParams>, QueryRejection>,
) -> Result<Json<crate::consortia::Proposals>, ApiError> {
    caller.require(&[Role::Broker])?;
    let Query(p) = params.map_err(bad)?;
    blocking(move || {
        let (_, proposals) = app
            .consortia(&ocid, p.max_size.unwrap_or(4), p.top.unwrap_or(3).min(20))?
            .ok_or_else(|| notice_not_found(&ocid))?;
        Ok(Json(proposals))
    })
    .await
}

pub async fn members(
    caller: Caller,
    State(app): State<super::State>,
    page: Result<Query<super::Paging>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Broker, Role::Member])?;
    let Query(page) = page.map_err(bad)?;
    blocking(move || {
        let list: Vec<serde_json::Value> = app
            .store
            .members()?
            .into_iter()
            .filter(|m| caller.role != Role::Member || caller.member_id.as_deref() == Some(m.id.as_str()))
            .map(|m| serde_json::json!({ "id": m.id, "name": m.name, "cluster": m.cluster, "legal_form": m.legal_form }))
            .collect();
        Ok(Json(page.wrap("members", list)))
    })
    .await
}

pub async fn member(
    caller: Caller,
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<sebroker_index::Member>, ApiError> {
    caller.may_see_member(&id)?;
    blocking(move || {
        let set = app.member_set();
        set.members
            .get(&id)
            .cloned()
            .map(Json)
            .ok_or_else(|| member_not_found(&id))
    })
    .await
}
