//! The HTTP API: JSON under `/api/v1`, errors as
//! `{"error": {"code", "message"}}`, every route behind an API key and a
//! role check ([`auth::Caller`]), CSV on request (`?format=csv` or
//! `Accept: text/csv`), with body-size and time limits. See docs/api.md.

pub mod alerts;
pub mod anchors;
pub mod auth;
pub mod cases;
pub mod csv;
pub mod error;
pub mod keys;
pub mod matches;
pub mod notices;
pub mod returns;
pub mod serve;
pub mod sources;
pub mod totals;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::App;
use error::ApiError;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Requests running longer than this are answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub type State = Arc<App>;

/// The whole router, in one readable place. Who may call what is checked
/// in each handler through its [`auth::Caller`] (see docs/api.md).
pub fn router(app: State) -> Router {
    let pages = crate::web::router(app.clone(), false);
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/notices", get(notices::list))
        .route("/api/v1/notices/{ocid}", get(notices::show))
        .route(
            "/api/v1/notices/{ocid}/matches",
            get(matches::notice_matches),
        )
        .route("/api/v1/notices/{ocid}/consortia", get(matches::consortia))
        .route("/api/v1/members", get(matches::members))
        .route("/api/v1/members/{id}", get(matches::member))
        .route(
            "/api/v1/members/{id}/matches",
            get(matches::member_matches_route),
        )
        .route("/api/v1/members/{id}/alerts", get(alerts::member_alerts))
        .route(
            "/api/v1/members/{id}/alert-settings",
            put(alerts::put_settings),
        )
        .route("/api/v1/alerts/deliveries", get(alerts::deliveries))
        .route("/api/v1/alerts/run", post(alerts::run))
        .route("/feeds/{file}", get(alerts::feed))
        .route(
            "/unsubscribe/{token}",
            get(alerts::unsubscribe_page).post(alerts::unsubscribe),
        )
        .route(
            "/api/v1/members/{id}/returns",
            get(returns::member_returns).post(returns::file_return),
        )
        .route("/api/v1/members/{id}/cases", get(cases::member_cases))
        .route("/api/v1/returns", get(returns::list))
        .route(
            "/api/v1/referrals",
            get(returns::referrals).post(returns::refer),
        )
        .route("/api/v1/events/{seq}/void", post(returns::void))
        .route("/api/v1/cases", get(cases::list).post(cases::open))
        .route("/api/v1/cases/{id}", get(cases::show))
        .route("/api/v1/cases/{id}/events", post(cases::add_event))
        .route("/api/v1/totals", get(totals::totals))
        .route("/api/v1/kpis", get(totals::kpis))
        .route("/api/v1/reconciliation", get(totals::reconciliation))
        .route("/api/v1/stats", get(totals::stats))
        .route("/api/v1/keys", get(keys::list).post(keys::create))
        .route("/api/v1/keys/{id}/revoke", post(keys::revoke))
        .route("/api/v1/sources", get(sources::list))
        .route(
            "/api/v1/anchors/{slug}/opportunities",
            post(anchors::create),
        )
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(csv::negotiate))
        .with_state(app);
    pages
        .merge(api)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

async fn healthz(
    axum::extract::State(app): axum::extract::State<State>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "notices": app.index.num_docs(),
    }))
}

/// `limit` (default 100, at most 1000) and `offset` on lists.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paging {
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl Paging {
    /// `{ "total", "limit", "offset", <name>: [the page] }`.
    pub fn wrap<T: Serialize>(&self, name: &str, items: Vec<T>) -> serde_json::Value {
        let total = items.len();
        let limit = self.limit.unwrap_or(100).min(1000);
        let offset = self.offset.unwrap_or(0);
        let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let mut v = serde_json::json!({ "total": total, "limit": limit, "offset": offset });
        v[name] = serde_json::to_value(page).unwrap_or_default();
        v
    }
}

/// Runs blocking work (store, ledger) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

/// The `Idempotency-Key` header every write must carry.
pub fn idempotency_key(h: &HeaderMap) -> Result<String, ApiError> {
    h.get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_idempotency_key",
                "every write needs an `Idempotency-Key` header (any unique text; send the same key when retrying)",
            )
        })
}

/// A JSON body parsed with its rejection turned into our error shape.
pub fn body<T>(
    b: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    b.map(|axum::Json(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text()))
}

/// A query string parsed with its rejection turned into our error shape.
pub fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", e.body_text()))
}

/// 201 for a new write, 200 for a replayed one.
pub fn write_status(replayed: bool) -> StatusCode {
    if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}
