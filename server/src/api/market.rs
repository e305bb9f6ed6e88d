//! `GET /api/v1/market?by=local_authority|cluster|region|cpv_division`:
//! the market map for brokers, admins and the funder (CSV with
//! `?format=csv`). Counts only: it names no member, so the funder reads
//! the same answer as a broker.

use axum::extract::State;
use axum::Json;

use super::blocking;
use crate::body::ApiQuery;
use crate::error::ApiError;
use sebroker_engine::market::{Market, MarketParams};

pub async fn market(
    State(app): State<super::State>,
    ApiQuery(p): ApiQuery<MarketParams>,
) -> Result<Json<Market>, ApiError> {
    blocking(move || Ok(Json(sebroker_engine::market::market(&app, &p)?))).await
}
