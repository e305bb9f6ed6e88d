//! The HTTP API: JSON under `/api/v1`, errors as
//! `{"error": {"code", "message"}}`, with body-size and time limits.

pub mod alerts;
pub mod anchors;
pub mod error;
pub mod matches;
pub mod notices;
pub mod serve;
pub mod sources;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post, put};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::App;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Requests running longer than this are answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub type State = Arc<App>;

/// The whole router, in one readable place.
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
        .route("/api/v1/sources", get(sources::list))
        .route(
            "/api/v1/anchors/{slug}/opportunities",
            post(anchors::create),
        )
        .fallback(error::not_found)
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
