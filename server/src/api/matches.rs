//! Matches and consortia over HTTP:
//! `GET /api/v1/notices/{ocid}/matches`, `GET /api/v1/members/{id}/matches`,
//! `GET /api/v1/notices/{ocid}/consortia`, and the member list and profile.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::blocking;
use crate::body::ApiQuery;
use crate::error::{notice_not_found, ApiError, Code};
use crate::principal::{member_not_found, Principal};
use crate::services;
use sebroker_alerts::selection::member_matches;
use sebroker_engine::search::parse_when;
use sebroker_index::Status;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct MatchParams {
    /// How many to list: 1 to 500 for matches (default 10), 1 to 20 for consortia (default 3).
    #[param(minimum = 1, maximum = 500)]
    pub top: Option<usize>,
    /// Comma-separated statuses (open, closed, planned…): a member's matches on notices in them.
    pub status: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`: the clock statuses are judged by.
    pub now: Option<String>,
    /// The largest consortium: 1 to 4 (default 4).
    #[param(minimum = 1, maximum = 4)]
    pub max_size: Option<usize>,
}

/// The most matches one answer lists.
pub const MAX_TOP: usize = 500;
/// The most consortia one answer proposes, and the largest consortium.
pub const MAX_CONSORTIA: usize = 20;
pub const MAX_CONSORTIUM_SIZE: usize = 4;

pub async fn notice_matches(
    State(app): State<super::State>,
    Path(ocid): Path<String>,
    ApiQuery(p): ApiQuery<MatchParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let top = super::bounded("top", p.top, 10, MAX_TOP)?;
    blocking(move || {
        let (_, matches) = app
            .matches
            .notice_matches(&ocid, top)?
            .ok_or_else(|| notice_not_found(&ocid))?;
        Ok(Json(
            serde_json::json!({ "ocid": ocid, "matches": matches }),
        ))
    })
    .await
}

pub async fn member_matches_route(
    State(app): State<super::State>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<MatchParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let top = super::bounded("top", p.top, 10, MAX_TOP)?;
    blocking(move || {
        services::members::must_exist(&app, &id)?;
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
                    Code::InvalidParameter,
                    format!("status: {s:?} is not a status"),
                )
            })?);
        }
        let list = member_matches(app.as_ref(), &id, &statuses, now, top)?;
        Ok(Json(
            serde_json::json!({ "member_id": id, "matches": list }),
        ))
    })
    .await
}

pub async fn consortia(
    State(app): State<super::State>,
    Path(ocid): Path<String>,
    ApiQuery(p): ApiQuery<MatchParams>,
) -> Result<Json<sebroker_matching::consortia::Proposals>, ApiError> {
    let max_size = super::bounded("max_size", p.max_size, 4, MAX_CONSORTIUM_SIZE)?;
    let top = super::bounded("top", p.top, 3, MAX_CONSORTIA)?;
    blocking(move || {
        let (_, proposals) = app
            .matches
            .consortia(&ocid, max_size, top)?
            .ok_or_else(|| notice_not_found(&ocid))?;
        Ok(Json(proposals))
    })
    .await
}

pub async fn members(
    caller: Principal,
    State(app): State<super::State>,
    ApiQuery(page): ApiQuery<super::Paging>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let list: Vec<serde_json::Value> = app
            .store
            .members()?
            .into_iter()
            .filter(|m| caller.sees_member(&m.id))
            .map(|m| serde_json::json!({ "id": m.id, "name": m.name, "cluster": m.cluster, "legal_form": m.legal_form }))
            .collect();
        Ok(Json(page.wrap("members", list)))
    })
    .await
}

pub async fn member(
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<sebroker_index::Member>, ApiError> {
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
