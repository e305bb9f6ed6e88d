//! Members' yearly returns (`GET/POST /api/v1/members/{id}/returns`,
//! `GET /api/v1/returns`), referrals to SEGA and SEDF (`GET/POST
//! /api/v1/referrals`), and compensating voids (`POST
//! /api/v1/events/{seq}/void`).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::write::{event_answer, LedgerWrite};
use super::{blocking, Paging};
use crate::body::ApiQuery;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::services;
use sebroker_engine::Engine;
use sebroker_ledger::input::{ReferralInput, ReturnInput};
use sebroker_ledger::model::Event;
use sebroker_ledger::{Appended, NewEvent};

pub async fn member_returns(
    State(app): State<super::State>,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<Paging>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        services::members::must_exist(&app, &id)?;
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
    ApiQuery(page): ApiQuery<Paging>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || Ok(Json(page.wrap("returns", app.ledger.state().returns())))).await
}

/// `POST /api/v1/members/{id}/returns`: 201 `{event, replayed}`.
impl LedgerWrite for ReturnInput {
    type Params = Path<String>;

    fn into_event(
        self,
        app: &Engine,
        Path(id): &Path<String>,
        actor: String,
        key: String,
    ) -> Result<NewEvent, ApiError> {
        services::members::must_exist(app, id)?;
        Ok(self.into_event(app.store.as_ref(), id, actor, key)?)
    }

    fn answer(
        _: &Engine,
        _: &Path<String>,
        done: &Appended,
    ) -> Result<serde_json::Value, ApiError> {
        Ok(event_answer(done))
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct ReferralFilter {
    pub member: Option<String>,
    /// sega or sedf.
    pub programme: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
    #[param(minimum = 0, maximum = 1000000)]
    #[serde(deserialize_with = "super::bounded::offset")]
    pub offset: Option<usize>,
}

pub async fn referrals(
    caller: Principal,
    State(app): State<super::State>,
    ApiQuery(f): ApiQuery<ReferralFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(p) = f.programme.as_deref() {
        // A typo must not look like "no referrals".
        if !matches!(p, "sega" | "sedf") {
            return Err(ApiError::new(
                crate::error::Code::InvalidParameter,
                format!("programme: {p:?} is not sega or sedf"),
            ));
        }
    }
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

/// `POST /api/v1/referrals`: 201 `{event, replayed}`.
impl LedgerWrite for ReferralInput {
    type Params = ();

    fn into_event(
        self,
        app: &Engine,
        _: &(),
        actor: String,
        key: String,
    ) -> Result<NewEvent, ApiError> {
        Ok(self.into_event(app.store.as_ref(), actor, key)?)
    }

    fn answer(_: &Engine, _: &(), done: &Appended) -> Result<serde_json::Value, ApiError> {
        Ok(event_answer(done))
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidInput {
    /// Why the event no longer counts.
    pub reason: String,
}

/// `POST /api/v1/events/{seq}/void`: a compensating event, the event
/// `seq` (a case step, a referral or a return) no longer counts. Nothing is
/// edited or deleted. 201 `{event, replayed}`.
impl LedgerWrite for VoidInput {
    type Params = Path<u64>;

    fn into_event(
        self,
        _: &Engine,
        Path(seq): &Path<u64>,
        actor: String,
        key: String,
    ) -> Result<NewEvent, ApiError> {
        Ok(NewEvent {
            date: None,
            actor,
            idempotency_key: key,
            notes: None,
            event: Event::Voided {
                voids_seq: *seq,
                reason: self.reason,
            },
        })
    }

    fn answer(_: &Engine, _: &Path<u64>, done: &Appended) -> Result<serde_json::Value, ApiError> {
        Ok(event_answer(done))
    }
}
