//! Members' yearly returns (`GET/POST /api/v1/members/{id}/returns`,
//! `GET /api/v1/returns`), referrals to SEGA and SEDF (`GET/POST
//! /api/v1/referrals`), and compensating voids (`POST
//! /api/v1/events/{seq}/void`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

use super::{blocking, idempotency_key, query, write_status, Paging};
use crate::error::ApiError;
use crate::principal::{member_not_found, Principal};
use sebroker_ledger::input::{ReferralInput, ReturnInput};
use sebroker_ledger::model::Event;
use sebroker_ledger::NewEvent;

pub async fn member_returns(
    State(app): State<super::State>,
    Path(id): Path<String>,
    q: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let page = query(q)?;
    blocking(move || {
        if app.store.get_member(&id)?.is_none() {
            return Err(member_not_found(&id));
        }
        let list: Vec<_> = app
            .ledger
            .state()
            .returns()
            .into_iter()
            .filter(|r| r.member_id == id)
            .collect();
        Ok(Json(page.wrap("returns", list)))
    })
    .await
}

pub async fn list(
    State(app): State<super::State>,
    q: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let page = query(q)?;
    blocking(move || Ok(Json(page.wrap("returns", app.ledger.state().returns())))).await
}

pub async fn file_return(
    caller: Principal,
    State(app): State<super::State>,
    Path(id): Path<String>,
    headers: HeaderMap,
    crate::body::ApiJson(input): crate::body::ApiJson<ReturnInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let key = idempotency_key(&headers)?;
    blocking(move || {
        if app.store.get_member(&id)?.is_none() {
            return Err(member_not_found(&id));
        }
        let e = input.into_event(app.store.as_ref(), &id, caller.actor(), key)?;
        let done = sebroker_engine::views::record(&app, e)?;
        Ok((
            write_status(done.replayed),
            Json(serde_json::json!({ "event": done.record, "replayed": done.replayed })),
        ))
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReferralFilter {
    pub member: Option<String>,
    /// sega or sedf.
    pub programme: Option<String>,
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
    #[serde(deserialize_with = "super::bounded::offset")]
    pub offset: Option<usize>,
}

pub async fn referrals(
    caller: Principal,
    State(app): State<super::State>,
    q: Result<Query<ReferralFilter>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let f = query(q)?;
    blocking(move || {
        let lookup = app.cluster_lookup();
        let list: Vec<_> = app
            .ledger
            .state()
            .referrals(&lookup)
            .into_iter()
            .filter(|r| caller.sees_member(&r.member_id))
            .filter(|r| f.member.as_ref().is_none_or(|m| *m == r.member_id))
            .filter(|r| {
                f.programme
                    .as_ref()
                    .is_none_or(|p| p == r.programme.as_str())
            })
            .collect();
        let page = Paging {
            limit: f.limit,
            offset: f.offset,
        };
        Ok(Json(page.wrap("referrals", list)))
    })
    .await
}

pub async fn refer(
    caller: Principal,
    State(app): State<super::State>,
    headers: HeaderMap,
    crate::body::ApiJson(input): crate::body::ApiJson<ReferralInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let key = idempotency_key(&headers)?;
    blocking(move || {
        let e = input.into_event(app.store.as_ref(), caller.actor(), key)?;
        let done = sebroker_engine::views::record(&app, e)?;
        Ok((
            write_status(done.replayed),
            Json(serde_json::json!({ "event": done.record, "replayed": done.replayed })),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidInput {
    /// Why the event no longer counts.
    pub reason: String,
}

/// A compensating event: the event `seq` (a case step, a referral or a
/// return) no longer counts. Nothing is edited or deleted.
pub async fn void(
    caller: Principal,
    State(app): State<super::State>,
    Path(seq): Path<u64>,
    headers: HeaderMap,
    crate::body::ApiJson(input): crate::body::ApiJson<VoidInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let key = idempotency_key(&headers)?;
    blocking(move || {
        let done = sebroker_engine::views::record(
            &app,
            NewEvent {
                date: None,
                actor: caller.actor(),
                idempotency_key: key,
                notes: None,
                event: Event::Voided {
                    voids_seq: seq,
                    reason: input.reason,
                },
            },
        )?;
        Ok((
            write_status(done.replayed),
            Json(serde_json::json!({ "event": done.record, "replayed": done.replayed })),
        ))
    })
    .await
}
