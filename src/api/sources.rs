//! `GET /api/v1/sources`: each live source's last run, counts, errors and
//! next run.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiError;
use crate::sources::{self, SourceStatus};

#[derive(serde::Serialize)]
pub struct SourcesPage {
    pub sources: Vec<SourceStatus>,
}

pub async fn list(State(app): State<super::State>) -> Result<Json<SourcesPage>, ApiError> {
    let sources = tokio::task::spawn_blocking(move || sources::statuses(&app))
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })??;
    Ok(Json(SourcesPage { sources }))
}
