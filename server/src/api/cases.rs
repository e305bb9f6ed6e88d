//! Brokerage cases: `GET/POST /api/v1/cases`, `GET /api/v1/cases/{id}`,
//! `POST /api/v1/cases/{id}/events`, `GET /api/v1/members/{id}/cases`.
//! Brokers and admins write; member keys read their own cases only.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::write::LedgerWrite;
use super::{blocking, Paging};
use crate::body::ApiQuery;
use crate::error::{case_not_found, ApiError, Code};
use crate::principal::Principal;
use crate::services;
use sebroker_engine::Engine;
use sebroker_ledger::input::{CaseEventInput, CaseInput};
use sebroker_ledger::model::CaseStatus;
use sebroker_ledger::state::Case;
use sebroker_ledger::{Appended, NewEvent};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct CaseFilter {
    /// identified, introduced, interested, bid_submitted, won, lost, withdrawn.
    pub status: Option<String>,
    pub member: Option<String>,
    pub ocid: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
    #[param(minimum = 0, maximum = 1000000)]
    #[serde(deserialize_with = "super::bounded::offset")]
    pub offset: Option<usize>,
}

/// Whether the caller may see this case (the policy's rule: members only
/// their own).
fn visible(caller: &Principal, c: &Case) -> bool {
    caller.sees_any_member(&c.members)
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
    ApiQuery(f): ApiQuery<CaseFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    ApiQuery(mut f): ApiQuery<CaseFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        services::members::must_exist(&app, &id)?;
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

/// `POST /api/v1/cases`: 201 `{case, seq, replayed}`.
impl LedgerWrite for CaseInput {
    type Params = ();

    fn into_event(
        self,
        app: &Engine,
        _: &(),
        actor: String,
        key: String,
    ) -> Result<NewEvent, ApiError> {
        services::cases::open_event(app, self, actor, key)
    }

    fn answer(app: &Engine, _: &(), done: &Appended) -> Result<serde_json::Value, ApiError> {
        Ok(case_answer(&services::cases::case_of(app, done)?, done))
    }
}

/// `POST /api/v1/cases/{id}/events`: 201 `{case, seq, replayed}`.
impl LedgerWrite for CaseEventInput {
    type Params = Path<String>;

    fn into_event(
        self,
        app: &Engine,
        Path(id): &Path<String>,
        actor: String,
        key: String,
    ) -> Result<NewEvent, ApiError> {
        services::cases::step_event(app, id, self, actor, key)
    }

    fn answer(
        app: &Engine,
        Path(id): &Path<String>,
        done: &Appended,
    ) -> Result<serde_json::Value, ApiError> {
        Ok(case_answer(&services::cases::case(app, id)?, done))
    }
}

fn case_answer(case: &Case, done: &Appended) -> serde_json::Value {
    serde_json::json!({ "case": case, "seq": done.record.seq, "replayed": done.replayed })
}
