//! Brokerage cases: `GET/POST /api/v1/cases`, `GET /api/v1/cases/{id}`,
//! `POST /api/v1/cases/{id}/events`, `GET /api/v1/members/{id}/cases`.
//! Brokers and admins write; member keys read their own cases only.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

use super::{blocking, idempotency_key, query, write_status, Paging};
use crate::error::{ApiError, Code};
use crate::principal::Principal;
use sebroker_ledger::auth::Role;
use sebroker_ledger::input::{CaseEventInput, CaseInput};
use sebroker_ledger::model::CaseStatus;
use sebroker_ledger::state::Case;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseFilter {
    /// identified, introduced, interested, bid_submitted, won, lost, withdrawn.
    pub status: Option<String>,
    pub member: Option<String>,
    pub ocid: Option<String>,
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
    #[serde(deserialize_with = "super::bounded::offset")]
    pub offset: Option<usize>,
}

use crate::services::{self, cases::case_not_found};

/// Whether the caller may see this case (members: only their own).
fn visible(caller: &Principal, c: &Case) -> bool {
    match caller.role {
        Role::Member => caller
            .member_id
            .as_ref()
            .is_some_and(|m| c.members.contains(m)),
        _ => true,
    }
}

fn filtered(app: &super::State, caller: &Principal, f: &CaseFilter) -> Result<Vec<Case>, ApiError> {
    let status = f
        .status
        .as_deref()
        .map(|s| {
            CaseStatus::parse(s).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidParameter,
                    format!("status: {s:?} is not a case status"),
                )
            })
        })
        .transpose()?;
    Ok(sebroker_engine::views::cases(app)
        .into_iter()
        .filter(|c| visible(caller, c))
        .filter(|c| status.is_none_or(|s| c.status == s))
        .filter(|c| f.member.as_ref().is_none_or(|m| c.members.contains(m)))
        .filter(|c| {
            f.ocid
                .as_ref()
                .is_none_or(|o| c.ocid == *o || c.group.contains(o))
        })
        .collect())
}

pub async fn list(
    caller: Principal,
    State(app): State<super::State>,
    q: Result<Query<CaseFilter>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let f = query(q)?;
    blocking(move || {
        let list = filtered(&app, &caller, &f)?;
        let page = Paging {
            limit: f.limit,
            offset: f.offset,
        };
        Ok(Json(page.wrap("cases", list)))
    })
    .await
}

pub async fn member_cases(
    caller: Principal,
    State(app): State<super::State>,
    Path(id): Path<String>,
    q: Result<Query<CaseFilter>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut f = query(q)?;
    blocking(move || {
        if app.store.get_member(&id)?.is_none() {
            return Err(crate::principal::member_not_found(&id));
        }
        f.member = Some(id);
        let list = filtered(&app, &caller, &f)?;
        let page = Paging {
            limit: f.limit,
            offset: f.offset,
        };
        Ok(Json(page.wrap("cases", list)))
    })
    .await
}

pub async fn show(
    caller: Principal,
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<Case>, ApiError> {
    blocking(move || match sebroker_engine::views::case(&app, &id) {
        Some(c) if visible(&caller, &c) => Ok(Json(c)),
        _ => Err(case_not_found(&id)),
    })
    .await
}

pub async fn open(
    caller: Principal,
    State(app): State<super::State>,
    headers: HeaderMap,
    crate::body::ApiJson(input): crate::body::ApiJson<CaseInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let key = idempotency_key(&headers)?;
    blocking(move || {
        let (done, case) = services::cases::open_case(&app, caller.actor(), input, key)?;
        Ok((
            write_status(done.replayed),
            Json(serde_json::json!({ "case": case, "seq": done.record.seq, "replayed": done.replayed })),
        ))
    })
    .await
}

pub async fn add_event(
    caller: Principal,
    State(app): State<super::State>,
    Path(id): Path<String>,
    headers: HeaderMap,
    crate::body::ApiJson(input): crate::body::ApiJson<CaseEventInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let key = idempotency_key(&headers)?;
    blocking(move || {
        let (done, case) = services::cases::record_step(&app, caller.actor(), &id, input, key)?;
        Ok((
            write_status(done.replayed),
            Json(serde_json::json!({ "case": case, "seq": done.record.seq, "replayed": done.replayed })),
        ))
    })
    .await
}
