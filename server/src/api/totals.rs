//! What the funder reads: `GET /api/v1/totals?by=...`, `GET /api/v1/kpis`;
//! and for brokers `GET /api/v1/reconciliation` (proposed wins from award
//! notices, and wins without brokerage) and `GET /api/v1/stats`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::blocking;
use crate::body::ApiQuery;
use crate::error::ApiError;
use crate::principal::Principal;
use sebroker_ledger::totals::{By, Kpis, Reconciliation, Totals};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct TotalsParams {
    /// cluster (default), member, source, buyer, cpv_division, month, programme_year.
    pub by: Option<String>,
}

pub async fn totals(
    caller: Principal,
    State(app): State<super::State>,
    ApiQuery(p): ApiQuery<TotalsParams>,
) -> Result<Json<Totals>, ApiError> {
    let by = By::parse(p.by.as_deref().unwrap_or("cluster"))?;
    if by == By::Member {
        // Funders see anonymised aggregates only.
        caller.allows(crate::policy::Action::TotalsByMember)?;
    }
    blocking(move || Ok(Json(sebroker_engine::views::totals(&app, by)))).await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// The day to judge the programme year on (YYYY-MM-DD) [default: today].
    pub today: Option<String>,
}

pub async fn kpis(
    State(app): State<super::State>,
    ApiQuery(p): ApiQuery<KpiParams>,
) -> Result<Json<Kpis>, ApiError> {
    let today = match p.today.as_deref() {
        Some(s) => {
            sebroker_ledger::model::ymd::parse(s).map_err(sebroker_engine::Error::Invalid)?
        }
        None => time::OffsetDateTime::now_utc().date(),
    };
    blocking(move || Ok(Json(sebroker_engine::views::kpis(&app, today)))).await
}

pub async fn reconciliation(
    State(app): State<super::State>,
) -> Result<Json<Reconciliation>, ApiError> {
    blocking(move || Ok(Json(sebroker_engine::views::reconciliation(&app)?))).await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    pub now: Option<String>,
}

/// The same counts as `sebroker stats` (which calls this while `serve`
/// holds the data folder).
pub async fn stats(
    State(app): State<super::State>,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let now = match &p.now {
            Some(s) => sebroker_engine::search::parse_when("now", s, false)?,
            None => time::OffsetDateTime::now_utc(),
        };
        // The command line's counts, and the ledger's.
        let s = sebroker_engine::views::stats(&app, now)?;
        let ledger = app.ledger.state();
        Ok(Json(serde_json::json!({
            "notices": s.notices,
            "releases": s.releases,
            "by_source": s.by_source,
            "by_status": s.by_status,
            "cpv_descriptions": s.cpv_descriptions,
            "index_docs": s.index_docs,
            "index_bytes": s.index_bytes,
            "ledger_events": ledger.last_seq(),
            "brokered_total_pence": ledger.brokered_total(),
        })))
    })
    .await
}
